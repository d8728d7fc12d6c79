//! Canonical `numeric` text, exactly as PostgreSQL 15 prints `'<input>'::numeric`.
//!
//! monday stores numbers as JSON *strings* (`"1231"`, `"-12.50"`). `to_jsonb(v::numeric)` keeps the
//! display scale of the input (`-12.50`, not `-12.5`), drops leading zeros and a `+`, folds `-0` to
//! `0`, and expands exponents (`1.5e2` → `150`, `1e-2` → `0.01`). This module reproduces that in
//! pure Rust so the codec needs no round trip through Postgres.

use compact_str::CompactString;

/// A parsed numeric in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numeric {
    /// Canonical decimal text, e.g. `-12.50`, `0.001`, `150`.
    Finite(CompactString),
    /// `NaN`, `Infinity`, `-Infinity`: valid numerics that `to_jsonb` renders as JSON strings.
    Special(&'static str),
}

/// PostgreSQL rejects exponents outside ±NUMERIC_MAX_PRECISION (1000) as invalid syntax.
const MAX_EXPONENT: i64 = 1000;

/// Parses `s` the way PostgreSQL 15's `numeric_in` does (leading/trailing whitespace allowed; no
/// underscores or hex, which arrived in 16). Returns `None` for anything `numeric_in` rejects.
pub fn parse(s: &str) -> Option<Numeric> {
    if is_canonical(s) {
        return Some(Numeric::Finite(CompactString::new(s)));
    }
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    let (negative, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    if body.eq_ignore_ascii_case("nan") {
        // numeric_in accepts NaN only unsigned.
        return if t.len() == body.len() {
            Some(Numeric::Special("NaN"))
        } else {
            None
        };
    }
    if body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf") {
        return Some(Numeric::Special(if negative {
            "-Infinity"
        } else {
            "Infinity"
        }));
    }

    let bytes = body.as_bytes();
    let mut i = 0;
    let mut int_digits = String::new();
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        int_digits.push(bytes[i] as char);
        i += 1;
    }
    let mut frac_digits = String::new();
    if i < bytes.len() && bytes[i] == b'.' {
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            frac_digits.push(bytes[i] as char);
            i += 1;
        }
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let mut exponent: i64 = 0;
    if i < bytes.len() && (bytes[i] == b'e' || bytes[i] == b'E') {
        i += 1;
        let mut exp_neg = false;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            exp_neg = bytes[i] == b'-';
            i += 1;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add((bytes[i] - b'0') as i64);
            i += 1;
        }
        if i == start || exponent > MAX_EXPONENT {
            return None;
        }
        if exp_neg {
            exponent = -exponent;
        }
    }
    if i != bytes.len() {
        return None;
    }

    // Display scale: digits after the point, shifted by the exponent, never below zero.
    let scale = (frac_digits.len() as i64 - exponent).max(0) as usize;
    // All significant digits, and the position of the decimal point within them.
    let mut digits = int_digits;
    let point = digits.len() as i64 + exponent;
    digits.push_str(&frac_digits);

    let (int_part, frac_part): (String, String) = if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        (String::new(), zeros + &digits)
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (digits + &zeros, String::new())
    } else {
        let (a, b) = digits.split_at(point as usize);
        (a.to_string(), b.to_string())
    };

    let int_trimmed = int_part.trim_start_matches('0');
    let int_text = if int_trimmed.is_empty() {
        "0"
    } else {
        int_trimmed
    };
    // Pad or cut the fraction to exactly `scale` digits. Cutting only drops zeros: the scale is at
    // least the number of significant fractional digits.
    let mut frac_text: String = frac_part.chars().take(scale).collect();
    while frac_text.len() < scale {
        frac_text.push('0');
    }

    let is_zero = int_text == "0" && frac_text.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(int_text.len() + frac_text.len() + 2);
    if negative && !is_zero {
        out.push('-');
    }
    out.push_str(int_text);
    if scale > 0 {
        out.push('.');
        out.push_str(&frac_text);
    }
    Some(Numeric::Finite(out.into()))
}

/// Already in `numeric_out` form: `-?(0|[1-9][0-9]*)(\.[0-9]+)?`, and not a negative zero.
/// Most monday numbers are, and then parsing is a copy.
fn is_canonical(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) => (&digits[..p], Some(&digits[p + 1..])),
        None => (digits, None),
    };
    let int_ok =
        !int.is_empty() && int.iter().all(u8::is_ascii_digit) && (int[0] != b'0' || int.len() == 1);
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && f.iter().all(u8::is_ascii_digit));
    let negative_zero = b.len() != digits.len() && digits.iter().all(|&c| c == b'0' || c == b'.');
    int_ok && frac_ok && !negative_zero
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fin(s: &str) -> String {
        match parse(s) {
            Some(Numeric::Finite(t)) => t.into(),
            other => panic!("{s:?} gave {other:?}"),
        }
    }

    #[test]
    fn matches_postgres_numeric_out() {
        // Expected values are what PostgreSQL 15 prints for SELECT '<input>'::numeric.
        let cases = [
            ("1231", "1231"),
            ("-12.50", "-12.50"),
            ("+5", "5"),
            ("  42  ", "42"),
            ("007", "7"),
            (".5", "0.5"),
            ("5.", "5"),
            ("-0", "0"),
            ("-0.00", "0.00"),
            ("1e3", "1000"),
            ("1.5e2", "150"),
            ("1.50e1", "15.0"),
            ("1e-2", "0.01"),
            ("12.345E-1", "1.2345"),
            ("0.000", "0.000"),
            (
                "123456789012345678901234567890.5",
                "123456789012345678901234567890.5",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(fin(input), want, "input {input:?}");
        }
    }

    #[test]
    fn canonical_inputs_take_the_fast_path_unchanged() {
        for s in ["0", "7", "-7", "1231", "-12.50", "0.001", "12500.00"] {
            assert!(is_canonical(s), "{s}");
            assert_eq!(fin(s), s);
        }
        for s in [
            "-0", "-0.0", "007", "+5", "5.", ".5", "1e3", " 1", "1,5", "",
        ] {
            assert!(!is_canonical(s), "{s}");
        }
    }

    #[test]
    fn specials() {
        assert_eq!(parse("NaN"), Some(Numeric::Special("NaN")));
        assert_eq!(parse("-inf"), Some(Numeric::Special("-Infinity")));
        assert_eq!(parse("Infinity"), Some(Numeric::Special("Infinity")));
        assert_eq!(parse("-NaN"), None);
    }

    #[test]
    fn rejects_what_numeric_in_rejects() {
        for bad in [
            "", " ", "abc", "1,234", "1_000", "0x10", "1e", "1e+", "--1", "1.2.3", "1e1001", "$5",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} should be rejected");
        }
    }
}
