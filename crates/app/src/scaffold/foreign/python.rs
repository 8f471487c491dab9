//! Values written as Python writes them. Cookiecutter and Copier run in
//! Python, so a number or a JSON document in their output is Python's text
//! for it; a render that is to be byte-identical must write the same.

use std::fmt::Write;

use minijinja::value::{Value, ValueKind};

/// Python's `repr(float)`, `nan` and `inf` included.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.into();
    }
    finite_repr(x)
}

/// Python's `repr(float)`: the shortest digits that round-trip, in fixed
/// notation when the decimal exponent is in -4..16, else as `d.ddde+XX`.
fn finite_repr(x: f64) -> String {
    let (digits, exp) = shortest_digits(x);
    let sign = if x.is_sign_negative() { "-" } else { "" };
    if (-4..16).contains(&exp) {
        format!("{sign}{}", fixed_notation(&digits, exp))
    } else {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() { "" } else { "." };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{dot}{rest}e{exp_sign}{:02}",
            exp.unsigned_abs()
        )
    }
}

/// The shortest round-trip digits of |x| and the decimal exponent of the
/// first one (|x| ≈ d.ddd × 10^exp).
fn shortest_digits(x: f64) -> (String, i32) {
    // `{:e}` yields the shortest round-trip digits, e.g. `1.25e-7`.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    (ties_to_even(x.abs(), digits, exp), exp)
}

/// When |x| lies exactly halfway between two shortest candidates, Rust
/// picks the one of larger magnitude and Python (David Gay's dtoa) the even
/// one; so an odd last digit steps down when the one below is as close.
fn ties_to_even(x: f64, digits: String, exp: i32) -> String {
    let (Ok(d), Ok(len)) = (digits.parse::<u64>(), i32::try_from(digits.len())) else {
        return digits;
    };
    // The midpoint of d-1 and d is (10d - 5) × 10^(exp - len).
    let (Some(below), Some(midpoint)) = (
        d.checked_sub(1),
        d.checked_mul(10).and_then(|t| t.checked_sub(5)),
    ) else {
        return digits;
    };
    let text = below.to_string();
    let round_trips = format!("{text}e{}", exp - len + 1).parse::<f64>() == Ok(x);
    if d % 2 == 1
        && text.len() == digits.len()
        && round_trips
        && equals_decimal(x, midpoint, exp - len)
    {
        text
    } else {
        digits
    }
}

/// Whether the positive `x` is exactly `odd` × 10^exp10, `odd` being odd.
fn equals_decimal(x: f64, odd: u64, exp10: i32) -> bool {
    // x = mantissa × 2^exp2, from the IEEE 754 fields.
    let bits = x.to_bits();
    let fraction = bits & ((1 << 52) - 1);
    let biased = i32::try_from(bits >> 52).unwrap_or(0);
    let (mantissa, exp2) = match biased {
        0 => (fraction, -1074),
        _ => (fraction | (1 << 52), biased - 1075),
    };
    if mantissa == 0 {
        return false;
    }
    // Compare the powers of two, then the odd parts (10^e = 5^e × 2^e).
    let twos = mantissa.trailing_zeros();
    let odd_mantissa = u128::from(mantissa >> twos);
    let pow5 = |e: i32| 5u128.checked_pow(e.unsigned_abs());
    let odd_parts_match = if exp10 >= 0 {
        pow5(exp10).and_then(|p| p.checked_mul(u128::from(odd))) == Some(odd_mantissa)
    } else {
        pow5(exp10).and_then(|p| p.checked_mul(odd_mantissa)) == Some(u128::from(odd))
    };
    exp2 + i32::try_from(twos).unwrap_or(0) == exp10 && odd_parts_match
}

/// `digits` (d.ddd × 10^exp) with the point placed, always with a fraction.
fn fixed_notation(digits: &str, exp: i32) -> String {
    let Ok(exp) = usize::try_from(exp) else {
        let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
        return format!("0.{zeros}{digits}");
    };
    let int_len = exp + 1;
    if digits.len() <= int_len {
        format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
    } else {
        format!("{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

/// How `json.dumps` lays a document out.
#[derive(Debug, Clone, Copy)]
pub struct JsonStyle {
    /// `None` writes one line with `", "` and `": "` between items.
    pub indent: Option<usize>,
    pub sort_keys: bool,
}

/// Python's `json.dumps(value, indent=…, sort_keys=…)` with its defaults
/// otherwise: `ensure_ascii`, `NaN` and `Infinity` allowed.
pub fn json_dumps(value: &Value, style: JsonStyle) -> Result<String, String> {
    let mut out = String::new();
    write_json(&mut out, value, style, 0)?;
    Ok(out)
}

fn write_json(
    out: &mut String,
    value: &Value,
    style: JsonStyle,
    depth: usize,
) -> Result<(), String> {
    match value.kind() {
        ValueKind::None | ValueKind::Undefined => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&number(value)),
        ValueKind::String => json_string(out, value.as_str().unwrap_or_default()),
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter().map_err(|e| e.to_string())?.collect();
            let mut parts = Vec::with_capacity(items.len());
            for item in &items {
                let mut part = String::new();
                write_json(&mut part, item, style, depth + 1)?;
                parts.push(part);
            }
            container(out, '[', ']', parts, style, depth);
        }
        ValueKind::Map => {
            let mut keys: Vec<Value> = value.try_iter().map_err(|e| e.to_string())?.collect();
            if style.sort_keys {
                keys.sort_by_key(|k| k.to_string());
            }
            let mut parts = Vec::with_capacity(keys.len());
            for key in &keys {
                let item = value.get_item(key).map_err(|e| e.to_string())?;
                let mut part = String::new();
                json_string(&mut part, &key_text(key)?);
                part.push_str(": ");
                write_json(&mut part, &item, style, depth + 1)?;
                parts.push(part);
            }
            container(out, '{', '}', parts, style, depth);
        }
        other => return Err(format!("a {other} cannot be written as JSON")),
    }
    Ok(())
}

/// A map key as `json.dumps` writes it: strings as they are, numbers and
/// booleans as their JSON text.
fn key_text(key: &Value) -> Result<String, String> {
    match key.kind() {
        ValueKind::String => Ok(key.as_str().unwrap_or_default().to_owned()),
        ValueKind::Number => Ok(number(key)),
        ValueKind::Bool => Ok(if key.is_true() { "true" } else { "false" }.into()),
        ValueKind::None => Ok("null".into()),
        other => Err(format!("a {other} cannot be a JSON key")),
    }
}

fn container(
    out: &mut String,
    open: char,
    close: char,
    parts: Vec<String>,
    style: JsonStyle,
    depth: usize,
) {
    out.push(open);
    if parts.is_empty() {
        out.push(close);
        return;
    }
    match style.indent {
        None => out.push_str(&parts.join(", ")),
        Some(width) => {
            let inner = " ".repeat(width * (depth + 1));
            for (i, part) in parts.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&inner);
                out.push_str(part);
            }
            out.push('\n');
            out.push_str(&" ".repeat(width * depth));
        }
    }
    out.push(close);
}

/// A number as Python writes it: integers whole, floats by [`float_repr`]
/// (`NaN` and `Infinity` are json's spellings).
fn number(value: &Value) -> String {
    if value.is_integer() {
        return value.to_string();
    }
    match f64::try_from(value.clone()) {
        Ok(x) if x.is_nan() => "NaN".into(),
        Ok(x) if x.is_infinite() => if x > 0.0 { "Infinity" } else { "-Infinity" }.into(),
        Ok(x) => float_repr(x),
        Err(_) => value.to_string(),
    }
}

/// A JSON string with `ensure_ascii`: everything outside ASCII as `\uXXXX`
/// (surrogate pairs above the basic plane).
fn json_string(out: &mut String, s: &str) {
    out.push_str(&crate::scaffold::escape::quoted(s, |c, out| match c {
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        ' '..='~' => out.push(c),
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_read_as_python_writes_them() {
        for (x, text) in [
            (19.0, "19.0"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e20, "1e+20"),
            (1.5e-7, "1.5e-07"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (-2.5, "-2.5"),
            (-0.0, "-0.0"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(float_repr(x), text, "{x}");
        }
    }

    #[test]
    fn json_as_python_dumps_it() {
        let value = serde_json::from_value::<Value>(serde_json::json!({
            "b": [1, 2.0, "é\u{1F600}"], "a": {"x": null, "y": true}, "c": []
        }))
        .unwrap();
        let flat = JsonStyle {
            indent: None,
            sort_keys: true,
        };
        assert_eq!(
            json_dumps(&value, flat).unwrap(),
            r#"{"a": {"x": null, "y": true}, "b": [1, 2.0, "\u00e9\ud83d\ude00"], "c": []}"#
        );
        let nice = JsonStyle {
            indent: Some(2),
            sort_keys: true,
        };
        assert_eq!(
            json_dumps(&value, nice).unwrap(),
            "{\n  \"a\": {\n    \"x\": null,\n    \"y\": true\n  },\n  \"b\": [\n    1,\n    2.0,\n    \"\\u00e9\\ud83d\\ude00\"\n  ],\n  \"c\": []\n}"
        );
    }
}
