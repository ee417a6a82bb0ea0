//! Arbitrary bytes as the file on disk: decode (equipment and both markers)
//! never panics and gives a record or a typed error; a write over the file
//! refuses another major leaving it byte-for-byte, or writes a file that
//! reads back equal (keeping `first_seen_at` when the old file decoded, and
//! reaching a fixpoint when written again); a marker write finds the file
//! and leaves it byte-identical.

#![no_main]

use exlab_cache_policy::memory::MemEnv;
use exlab_cache_policy::json::Document;
use exlab_cache_policy::policy::{read_equipment, read_marker, write_equipment, write_marker};
use exlab_cache_policy::records::{self, decode_equipment, decode_marker, Equipment, MarkerKind};
use exlab_cache_policy::{time, Error};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "common.rs"]
mod common;
use common::*;

const INPUT: &str = r#"{"id":"CONF_01","label":"Confocal","configured_local_root":"/data","configured_nas_root":"//nas/lab"}"#;
const MARKER_INPUT: &str = r#"{"project":"P","equipment":"CONF_01"}"#;

fuzz_target!(|bytes: &[u8]| {
    let decoded = decode_equipment(bytes);
    if let Err(e) = &decoded {
        assert_decode_error(e);
    }
    for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
        match decode_marker(kind, bytes) {
            Ok(m) => assert_eq!(m.run_kind, kind.run_kind()),
            Err(e) => assert_decode_error(&e),
        }
    }

    number_versions_by_their_text(bytes, &decoded);
    equipment_write(bytes, &decoded);
    marker_write(bytes);
});

/// A stored `schema_version` that is a JSON number: its major is the integer
/// part of the number as written (docs/spec.md §2), whatever a double
/// makes of it. Major 1 is a shape fault (a number is not a string), any
/// other a mismatch carrying the text as stored.
fn number_versions_by_their_text(
    bytes: &[u8],
    decoded: &Result<(Equipment, Vec<records::KeptField>), Error>,
) {
    type RawMap = std::collections::HashMap<String, Box<serde_json::value::RawValue>>;
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    if !map.get("schema_version").is_some_and(Value::is_number) {
        return;
    }
    let raw = serde_json::from_slice::<RawMap>(bytes).expect("an object is a raw map");
    let text = raw["schema_version"].get();
    match (integer_part_is_one(text), decoded) {
        (true, Err(Error::Validation { field, .. })) => {
            assert_eq!(field.as_deref(), Some("schema_version"))
        }
        (false, Err(Error::SchemaMajorMismatch { found_json, .. })) => {
            assert_eq!(found_json, text)
        }
        (one, other) => panic!("schema_version {text} (major 1: {one}) decoded as {other:?}"),
    }
}

/// Whether a JSON number's text has the integer part 1, computed on its
/// decimal digits: `1`, `1.9999999999999999999`, `0.15e1`, `100e-2`.
fn integer_part_is_one(text: &str) -> bool {
    if text.starts_with('-') {
        return false;
    }
    let (mantissa, exp) = match text.find(['e', 'E']) {
        // An exponent past i64 is a number that is 0 or not read at all.
        Some(i) => match text[i + 1..].parse::<i64>() {
            Ok(exp) => (&text[..i], exp),
            Err(_) => return false,
        },
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = [int, frac].concat();
    // The integer part is digits[..point]; past the digits it would end in 0.
    let point = i64::try_from(int.len()).unwrap().saturating_add(exp);
    if point <= 0 || point > i64::try_from(digits.len()).unwrap() {
        return false;
    }
    digits[..usize::try_from(point).unwrap()].trim_start_matches('0') == "1"
}

fn equipment_write(bytes: &[u8], decoded: &Result<(Equipment, Vec<records::KeptField>), Error>) {
    let env = MemEnv::at(T0);
    env.put(EQ, bytes);
    match (write_equipment(&&env, EQ, INPUT), decoded) {
        (Err(e), Err(Error::SchemaMajorMismatch { .. })) => {
            assert!(matches!(e, Error::SchemaMajorMismatch { .. }), "{e:?}");
            assert_eq!(env.get(EQ).as_deref(), Some(bytes), "refused file changed");
            assert!(env.warnings.borrow().is_empty());
        }
        (Err(e), _) => panic!("write refused a file that decodes or is corrupt: {e:?}"),
        (Ok(_), Err(Error::SchemaMajorMismatch { .. })) => {
            panic!("a file of another major was overwritten")
        }
        (Ok(w), old) => {
            assert_eq!(env.get(EQ).as_deref(), Some(w.document.as_bytes()));
            assert_eq!(read_equipment(&&env, EQ).as_ref(), Ok(&w.record));
            let names = assert_compact_with_known_first(&w.document, &Equipment::FIELDS);
            let now = time::format_utc(T0);
            assert_eq!(w.record.last_modified_at, now);
            match old {
                Ok((old, old_unknown)) => {
                    assert_eq!(w.record.first_seen_at, old.first_seen_at);
                    assert_eq!(
                        w.record.schema_version,
                        records::rewrite_schema_version(&old.schema_version)
                    );
                    assert!(env.warnings.borrow().is_empty());
                    // Unknown fields kept, in their order, as stored.
                    let (_, unknown) = decode_equipment(w.document.as_bytes()).unwrap();
                    assert_eq!(&unknown, old_unknown);
                }
                Err(_) => {
                    assert_eq!(w.record.first_seen_at, now);
                    assert_eq!(w.record.schema_version, "1.0");
                    assert_eq!(
                        names.len(),
                        Equipment::FIELDS.len(),
                        "kept from a corrupt file"
                    );
                    assert_eq!(env.warnings.borrow().len(), 1);
                    assert!(env.warnings.borrow()[0].contains(EQ));
                }
            }
            // Written again later: the same file but for last_modified_at.
            env.now.set(T0 + 1);
            let again = write_equipment(&&env, EQ, INPUT).expect("rewrite of our own file");
            let mut expected = w.record.clone();
            expected.last_modified_at = time::format_utc(T0 + 1);
            assert_eq!(again.record, expected);
            // The pattern cannot occur inside a JSON string (its quotes
            // would be escaped), and the known fields come first.
            let field = |t: &str| format!("\"last_modified_at\":\"{t}\"");
            assert_eq!(
                again.document,
                w.document.replacen(
                    &field(&w.record.last_modified_at),
                    &field(&expected.last_modified_at),
                    1
                )
            );
        }
    }
}

fn marker_write(bytes: &[u8]) {
    for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
        let env = MemEnv::at(T0);
        env.put(MARK, bytes);
        let w = write_marker(&&env, kind, MARK, MARKER_INPUT).expect("valid input");
        assert!(!w.written);
        assert_eq!(
            env.get(MARK).as_deref(),
            Some(bytes),
            "existing marker changed"
        );
        // The marker as stored, but for insignificant whitespace.
        match Document::scan(bytes) {
            Ok(doc) => {
                assert_eq!(w.document.as_deref(), Some(doc.compact()));
                if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
                    assert_eq!(serde_json::from_str::<Value>(doc.compact()).unwrap(), v);
                }
                assert!(env.warnings.borrow().is_empty());
            }
            Err(_) => {
                assert_eq!(w.document, None);
                assert_eq!(env.warnings.borrow().len(), 1);
            }
        }
        // A read of it agrees with a decode.
        let read = read_marker(&&env, kind, MARK);
        match (read, decode_marker(kind, bytes)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("read {a:?} but decode {b:?}"),
        }
    }
}
