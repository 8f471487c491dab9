//! Credentials the sandbox makes and hands out: the App's private key, its
//! webhook secret, installation and personal tokens. Neither `Debug` nor
//! `Display` shows them; reading one takes a call to [`Secret::expose`].

use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself, for the one place that must send or check it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_credential_is_never_formatted() {
        let token = super::Secret::new("ghs_abc");
        assert_eq!(format!("{token} {token:?}"), "*** Secret(***)");
        assert_eq!(token.expose(), "ghs_abc");
    }
}
