//! The schema-major gate (§11.9.2 reader rule 3) and how a stored
//! `schema_version` is classified before a file's shape is checked.

use crate::{json, Error};
use serde_json::Value;

/// The major of a version string: the ASCII digits before its first `.` (the
/// whole string if it has none). `None` when anything else stands there.
pub fn major_digits(version: &str) -> Option<&str> {
    let head = version.split('.').next().unwrap_or_default();
    (!head.is_empty() && head.bytes().all(|b| b.is_ascii_digit())).then_some(head)
}

/// Whether a run of ASCII digits spells `expected` (leading zeros allowed).
fn digits_equal(digits: &str, expected: u32) -> bool {
    let trimmed = digits.trim_start_matches('0');
    let trimmed = if trimmed.is_empty() { "0" } else { trimmed };
    trimmed == expected.to_string()
}

/// The gate on its own: absent, empty, no major, or another major all fail.
pub fn require_schema_major(version: Option<&str>, expected_major: u32) -> Result<(), Error> {
    let passes = version
        .and_then(major_digits)
        .is_some_and(|digits| digits_equal(digits, expected_major));
    if passes {
        Ok(())
    } else {
        let found = version.map_or(Value::Null, |v| Value::String(v.to_owned()));
        Err(Error::mismatch(expected_major, found.to_string()))
    }
}

/// Whether the JSON number written as `text` has the integer part
/// `expected`, computed on its decimal digits, not on a double (which makes
/// `1.99999999999999999999` major 2 and `0.99999999999999999999` major 1).
pub fn number_major_is(text: &str, expected: u32) -> bool {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = unsigned.split_once(['e', 'E']).unwrap_or((unsigned, "0"));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = [int, frac].concat();
    let all_zero = digits.bytes().all(|b| b == b'0');
    // Where the decimal point falls in `digits`, moved by the exponent.
    let point = match exponent.parse::<i64>() {
        Ok(e) => i64::try_from(int.len())
            .unwrap_or(i64::MAX)
            .saturating_add(e),
        Err(_) if exponent.starts_with('-') => 0,
        Err(_) => i64::MAX,
    };
    let len = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let integer = if point <= 0 || all_zero {
        String::new()
    } else if point <= len {
        digits[..usize::try_from(point).unwrap_or(usize::MAX)].to_owned()
    } else if point - len > 20 {
        return false; // far beyond any u32
    } else {
        digits + &"0".repeat(usize::try_from(point - len).unwrap_or(0))
    };
    let integer = integer.trim_start_matches('0');
    if negative && !integer.is_empty() {
        return false;
    }
    digits_equal(integer, expected)
}

/// What a stored `schema_version` says, before the shape check.
#[derive(Debug, PartialEq)]
pub enum Stored {
    /// Absent, `null` or `""`: a shape fault (validation error).
    Missing,
    /// A different or missing major.
    OtherMajor,
    /// Major `expected` (a string, or a number whose shape check will fail).
    SameMajor,
}

/// Classifies a stored `schema_version`, given as its JSON text:
/// absent/null/`""` is missing; a number's major is the integer part of its
/// digits as stored ([`number_major_is`]); a string follows the gate; any
/// other JSON value has no major.
pub fn classify(json: Option<&str>, expected_major: u32) -> Stored {
    let Some(json) = json else {
        return Stored::Missing;
    };
    let same = match json.as_bytes().first() {
        Some(b'n') => return Stored::Missing,
        Some(b'"') => {
            let version = json::string_value(json);
            if version.is_empty() {
                return Stored::Missing;
            }
            require_schema_major(Some(&version), expected_major).is_ok()
        }
        Some(b'-' | b'0'..=b'9') => number_major_is(json, expected_major),
        _ => false,
    };
    if same {
        Stored::SameMajor
    } else {
        Stored::OtherMajor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gate(v: Option<&str>) -> Result<(), Error> {
        require_schema_major(v, 1)
    }

    #[test]
    fn gate_passes_same_major_any_minor() {
        for v in ["1.0", "1.99", "1", "01.5", "1.5.3", "1."] {
            assert_eq!(gate(Some(v)), Ok(()), "{v}");
        }
    }

    #[test]
    fn gate_refuses_absent_empty_garbage_and_other_majors_with_found_verbatim() {
        let cases = [
            (None, "null"),
            (Some(""), "\"\""),
            (Some("garbage"), "\"garbage\""),
            (Some(" 1.0"), "\" 1.0\""),
            (Some("2.0"), "\"2.0\""),
            (Some("3.7"), "\"3.7\""),
            (Some(".1"), "\".1\""),
            (Some("１.0"), "\"１.0\""),
        ];
        for (v, found) in cases {
            match gate(v) {
                Err(Error::SchemaMajorMismatch {
                    expected_major: 1,
                    found_json,
                    ..
                }) => assert_eq!(found_json, found),
                other => panic!("{v:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn huge_majors_do_not_overflow() {
        assert!(gate(Some("100000000000000000000001.0")).is_err());
        assert_eq!(require_schema_major(Some("0.1"), 0), Ok(()));
    }

    #[test]
    fn a_number_major_is_the_integer_part_of_its_digits_not_of_a_double() {
        // Found by the fuzz target stored_file (fuzz/regressions/stored_file).
        for (text, major) in [
            ("1", 1),
            ("1.99999999999999999999", 1),
            ("0.99999999999999999999", 0),
            ("1.5", 1),
            ("0.15e1", 1),
            ("15E-1", 1),
            ("100e-2", 1),
            ("1e0", 1),
            ("2.50", 2),
            ("1e1", 10),
            ("0", 0),
            ("-0", 0),
            ("-0.5", 0),
            ("0e99999999999999999999", 0),
            ("5e-99999999999999999999", 0),
            ("0.000001e6", 1),
        ] {
            assert!(number_major_is(text, major), "{text} has major {major}");
            for other in [0, 1, 2, 10] {
                if other != major {
                    assert!(!number_major_is(text, other), "{text} is not major {other}");
                }
            }
        }
        for never in [
            "-1",
            "-1.5",
            "1e99999999999999999999",
            "1e30",
            "18446744073709551617",
        ] {
            for expected in [0, 1, 2, u32::MAX] {
                assert!(!number_major_is(never, expected), "{never}");
            }
        }
        assert!(number_major_is("4294967295.9", u32::MAX));
    }

    #[test]
    fn stored_versions_are_classified_in_spec_order() {
        let c = |v: Value| classify(Some(&v.to_string()), 1);
        assert_eq!(classify(None, 1), Stored::Missing);
        assert_eq!(c(Value::Null), Stored::Missing);
        assert_eq!(c(json!("")), Stored::Missing);
        assert_eq!(c(json!("1.7")), Stored::SameMajor);
        assert_eq!(c(json!("2.0")), Stored::OtherMajor);
        assert_eq!(c(json!("garbage")), Stored::OtherMajor);
        assert_eq!(c(json!(2)), Stored::OtherMajor);
        assert_eq!(c(json!(2.5)), Stored::OtherMajor);
        assert_eq!(c(json!(1.5)), Stored::SameMajor);
        assert_eq!(c(json!(1)), Stored::SameMajor);
        assert_eq!(c(json!(-1)), Stored::OtherMajor);
        assert_eq!(c(json!(true)), Stored::OtherMajor);
        assert_eq!(c(json!([1])), Stored::OtherMajor);
        assert_eq!(c(json!({"a": 1})), Stored::OtherMajor);
        // As stored: a lone surrogate reads as U+FFFD, which is no major.
        assert_eq!(classify(Some(r#""1.\ud800""#), 1), Stored::SameMajor);
        assert_eq!(classify(Some(r#""\ud800""#), 1), Stored::OtherMajor);
        assert_eq!(classify(Some(r#""\u0031.5""#), 1), Stored::SameMajor);
    }
}
