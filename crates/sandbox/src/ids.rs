//! Random identifiers: tokens, delivery GUIDs, temporary names.

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
    bytes
}

/// `len` random hex digits (len ≤ 64).
pub fn random_hex(len: usize) -> String {
    let mut hex = hex::encode(random_bytes::<32>());
    hex.truncate(len);
    hex
}

/// A GitHub-style token: prefix and 36 alphanumerics, e.g. `ghs_...`.
pub fn token(prefix: &str) -> String {
    let bytes = random_bytes::<36>();
    let chars = bytes
        .iter()
        .map(|b| ALPHANUMERIC[usize::from(*b) % ALPHANUMERIC.len()] as char);
    prefix.chars().chain(chars).collect()
}

/// A random (version 4) UUID, as GitHub uses for `X-GitHub-Delivery`.
pub fn uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        let t = super::token("ghs_");
        assert!(t.starts_with("ghs_") && t.len() == 40);
        let u = super::uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(super::random_hex(8).len(), 8);
    }
}
