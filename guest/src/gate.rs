//! The schema-major gate (§11.9.2 reader rule 3) and how a stored
//! `schema_version` is classified before a file's shape is checked.

use crate::Error;
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

/// Classifies a stored `schema_version`: absent/null/`""` is missing; a
/// number's major is its integer part; a string follows the gate; any other
/// JSON value has no major.
pub fn classify(value: Option<&Value>, expected_major: u32) -> Stored {
    let same = match value {
        None | Some(Value::Null) => return Stored::Missing,
        Some(Value::String(s)) if s.is_empty() => return Stored::Missing,
        Some(Value::String(s)) => require_schema_major(Some(s), expected_major).is_ok(),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i == i64::from(expected_major),
            (_, Some(u), _) => u == u64::from(expected_major),
            (_, _, Some(f)) => f.trunc() == f64::from(expected_major),
            _ => false,
        },
        Some(_) => false,
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
    fn stored_versions_are_classified_in_spec_order() {
        let c = |v: Value| classify(Some(&v), 1);
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
    }
}
