//! What the fuzz targets share: the in-memory store's paths and clock, and
//! the checks on errors and written documents.

#![allow(dead_code)]

use exlab_cache_policy::json::Document;
use exlab_cache_policy::Error;
use serde_json::Value;

pub const EQ: &str = "CONF_01/.exlab-wizard/equipment.json";
pub const MARK: &str = "CONF_01/P/Runs/.exlab-wizard/runs.json";
pub const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

/// The typed errors (docs/spec.md §4) a decode of a stored file may give,
/// each well formed: a mismatch is for major 1 and carries the stored value
/// as JSON text.
pub fn assert_decode_error(e: &Error) {
    match e {
        Error::Decode(_) | Error::Validation { .. } => {}
        Error::SchemaMajorMismatch {
            expected_major,
            found_json,
            message,
        } => {
            assert_eq!(*expected_major, 1, "{e:?}");
            assert!(
                serde_json::from_str::<Value>(found_json).is_ok(),
                "found is not JSON text: {e:?}"
            );
            assert!(message.contains(found_json.as_str()), "{e:?}");
        }
        other => panic!("not a decode outcome: {other:?}"),
    }
}

/// No whitespace outside JSON strings (unknown fields keep their stored
/// text, `2.50` stays `2.50`, so re-serialising is not the test).
pub fn is_compact(json: &str) -> bool {
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_whitespace() {
            return false;
        }
    }
    true
}

/// A written document: compact JSON (it may hold what serde_json refuses,
/// kept from disk: deep nesting, lone surrogates), an object whose keys
/// begin with `known`, in that order, every one a string. Its key names.
pub fn assert_compact_with_known_first(document: &str, known: &[&str]) -> Vec<String> {
    let doc = Document::scan(document.as_bytes()).expect("written document is JSON");
    assert!(
        is_compact(document) && doc.compact() == document,
        "written document is not compact: {document}"
    );
    assert!(doc.is_object(), "written document is not an object: {document}");
    let names: Vec<String> = doc.members().map(|m| m.name.to_owned()).collect();
    assert!(names.len() >= known.len(), "{document}");
    assert_eq!(&names[..known.len()], known, "{document}");
    for k in known {
        assert!(doc.get(k).unwrap().value.starts_with('"'), "{k} is not a string: {document}");
    }
    names
}
