//! Arbitrary strings through the schema gate, against a reference written
//! from docs/spec.md §2 alone: the major is the ASCII digits before the
//! first `.` (the whole string without one), compared by numeric value; no
//! such digits, or any other character there, fails. A refusal carries
//! the value as JSON text. `classify` of the string as a stored value agrees.

#![no_main]

use exlab_cache_policy::gate::{classify, require_schema_major, Stored};
use exlab_cache_policy::Error;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The spec's rule, independently: the major's value, if it has one (`None`
/// also for a value past u64, which no u32 `expected` can equal).
fn reference_major(version: &str) -> Option<Option<u64>> {
    let head = match version.find('.') {
        Some(i) => &version[..i],
        None => version,
    };
    if head.is_empty() || !head.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(head.bytes().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    }))
}

fuzz_target!(|data: &[u8]| {
    let (expected, rest) = match data.split_first() {
        // Mostly 1 (the policy's major), sometimes another small one.
        Some((&b, rest)) => (if b < 192 { 1 } else { u32::from(b - 192) }, rest),
        None => (1, data),
    };
    let Ok(version) = std::str::from_utf8(rest) else {
        return;
    };
    let should_pass = reference_major(version) == Some(Some(u64::from(expected)));
    match require_schema_major(Some(version), expected) {
        Ok(()) => assert!(should_pass, "{version:?} passed for major {expected}"),
        Err(Error::SchemaMajorMismatch {
            expected_major,
            found_json,
            ..
        }) => {
            assert!(!should_pass, "{version:?} refused for major {expected}");
            assert_eq!(expected_major, expected);
            assert_eq!(
                serde_json::from_str::<Value>(&found_json).ok(),
                Some(Value::String(version.to_owned()))
            );
        }
        Err(other) => panic!("{other:?}"),
    }
    let stored = classify(Some(&Value::String(version.to_owned()).to_string()), expected);
    let want = if version.is_empty() {
        Stored::Missing
    } else if should_pass {
        Stored::SameMajor
    } else {
        Stored::OtherMajor
    };
    assert_eq!(stored, want, "{version:?}");
    assert!(require_schema_major(None, expected).is_err());
});
