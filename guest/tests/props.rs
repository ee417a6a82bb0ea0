//! Property tests of the policy's pure paths (issue 4, item 3), natively,
//! over an in-memory `Env` with an injected clock:
//!
//! - arbitrary bytes as the file on disk, and arbitrary JSON documents with
//!   hostile `schema_version`s: decode, read and write never panic and only
//!   return the typed errors of docs/spec.md §4; a refused write leaves the
//!   file byte-for-byte; a successful write reads back equal;
//! - arbitrary JSON (and arbitrary text) as the caller's input: only
//!   `validation_error`, and nothing touched when refused;
//! - stamping: any sequence of writes under a non-decreasing clock keeps
//!   `first_seen_at` at the first write's time and `last_modified_at`
//!   non-decreasing; a marker is written once and never changes.
//!
//! `PROPTEST_CASES` scales every property (the suite runs the default 256;
//! `just props` runs many more). Seeds of failures found are committed in
//! `tests/props.proptest-regressions` and replayed first.

use exlab_cache_policy::json::Document;
use exlab_cache_policy::memory::MemEnv;
use exlab_cache_policy::policy;
use exlab_cache_policy::records::{self, MarkerKind};
use exlab_cache_policy::{time, Error};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const EQ: &str = "E/.exlab-wizard/equipment.json";
const MARK: &str = "E/P/Runs/.exlab-wizard/runs.json";
const T0: i64 = 1_776_434_400;

/// The typed errors a decode of a stored file may give.
fn is_decode_outcome(e: &Error) -> bool {
    matches!(
        e,
        Error::Decode(_) | Error::Validation { .. } | Error::SchemaMajorMismatch { .. }
    )
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<String>().prop_map(Value::String),
        "[0-9.]{0,6}".prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A `schema_version` as a hostile file might hold it.
fn schema_version() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!("1.0"))),
        "1(\\.[0-9]{0,3}){0,2}".prop_map(|s| Some(json!(s))),
        "[0-9 .a-z]{0,6}".prop_map(|s| Some(json!(s))),
        json_leaf().prop_map(Some),
    ]
}

/// A string field: usually a string, sometimes anything at all.
fn field_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => any::<String>().prop_map(|s| Some(json!(s))),
        1 => Just(None),
        1 => json_leaf().prop_map(Some),
    ]
}

/// An equipment id: mostly valid, sometimes not.
fn equipment_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[A-Z][A-Z0-9_]{0,31}",
        1 => any::<String>(),
    ]
}

/// A JSON object shaped like a stored equipment.json (fields in any
/// order, some missing or mistyped), plus unknown fields.
fn equipment_like() -> impl Strategy<Value = Value> {
    (
        schema_version(),
        prop::collection::vec(field_value(), 6),
        prop::collection::vec(("[a-z_]{1,8}", json_value()), 0..4),
        any::<bool>(),
    )
        .prop_map(|(version, fields, unknown, shuffle)| {
            let mut map = Map::new();
            for (key, value) in unknown {
                map.insert(key, value);
            }
            if let Some(v) = version {
                map.insert("schema_version".into(), v);
            }
            for (name, value) in records::Equipment::FIELDS[1..].iter().zip(fields) {
                if let Some(v) = value {
                    map.insert((*name).into(), v);
                }
            }
            if shuffle {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.reverse();
                map = entries.into_iter().collect();
            }
            Value::Object(map)
        })
}

/// Bytes for the file on disk: random, JSON-ish, or a mangled real record.
fn disk_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        equipment_like().prop_map(|v| v.to_string().into_bytes()),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (equipment_like(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, byte)| {
            let mut bytes = v.to_string().into_bytes();
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            bytes
        }),
        (equipment_like(), any::<prop::sample::Index>()).prop_map(|(v, at)| {
            let bytes = v.to_string().into_bytes();
            let cut = at.index(bytes.len() + 1);
            bytes[..cut].to_vec()
        }),
    ]
}

/// A JSON number as text, including ones no f64 holds exactly.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?[1-9][0-9]{0,40}",
        "-?(0|[1-9][0-9]{0,5})\\.[0-9]{1,30}",
        "-?[1-9](\\.[0-9]{1,5})?[eE][+-]?[0-9]{1,2}",
        Just("-0".to_owned()),
    ]
}

/// The caller's input: an object with the expected keys (valid or not),
/// any JSON value, or any text.
fn equipment_input() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (equipment_id(), any::<String>(), any::<String>(), any::<String>(), json_value())
            .prop_map(|(id, label, local, nas, extra)| json!({
                "id": id, "label": label, "configured_local_root": local,
                "configured_nas_root": nas, "first_seen_at": extra,
            }).to_string()),
        2 => equipment_like().prop_map(|v| v.to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ]
}

fn marker_input() -> impl Strategy<Value = String> {
    let created_at = prop_oneof![
        Just(Value::Null),
        (0i64..253_402_300_799).prop_map(|t| json!(time::format_utc(t))),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z".prop_map(|s| json!(s)),
        json_leaf(),
    ];
    let run_kind = prop_oneof![
        Just(Value::Null),
        Just(json!("experimental")),
        Just(json!("test")),
        json_leaf(),
    ];
    prop_oneof![
        4 => (created_at, run_kind, any::<String>(), "[A-Za-z0-9 ._-]{0,10}", equipment_id())
            .prop_map(|(created_at, run_kind, junk, project, equipment)| json!({
                "created_at": created_at, "run_kind": run_kind, "junk": junk,
                "project": project, "equipment": equipment,
            }).to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => any::<String>(),
    ]
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    // Failure seeds go beside this file (tests/ has no lib.rs for
    // proptest's default to find): tests/props.proptest-regressions.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// The one-pass scan of a stored file agrees with serde_json wherever
    /// serde_json can judge: the same verdict, the same values, the same
    /// members in file order. It also reads what serde_json refuses but is
    /// JSON: nesting past 128 and lone surrogate escapes (issue 10, point 3).
    #[test]
    fn p3_the_stored_file_scan_agrees_with_serde_json(bytes in disk_bytes()) {
        let serde = serde_json::from_slice::<Value>(&bytes);
        match (Document::scan(&bytes), serde) {
            (Ok(doc), Ok(value)) => {
                prop_assert_eq!(serde_json::from_str::<Value>(doc.compact()).unwrap(), value.clone());
                // Raw line breaks and tabs cannot be inside a JSON string.
                prop_assert!(!doc.compact().contains(['\n', '\t', '\r']));
                if let Value::Object(map) = value {
                    let members: Vec<(String, Value)> = doc
                        .members()
                        .map(|m| (m.name.to_owned(), serde_json::from_str(m.value).unwrap()))
                        .collect();
                    prop_assert_eq!(members, map.into_iter().collect::<Vec<_>>());
                }
            }
            (Err(_), Err(_)) => {}
            (Ok(_), Err(e)) => {
                let e = e.to_string();
                prop_assert!(e.contains("recursion limit") || e.contains("surrogate") || e.contains("hex escape"), "{}", e);
            }
            (Err(e), Ok(v)) => prop_assert!(false, "scan refused {} ({})", v, e),
        }
    }

    /// Any bytes on disk: decoding and reading only give decode outcomes.
    #[test]
    fn any_stored_bytes_decode_to_a_record_or_a_typed_error(bytes in disk_bytes()) {
        if let Err(e) = records::decode_equipment(&bytes) {
            prop_assert!(is_decode_outcome(&e), "{e:?}");
        }
        for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
            if let Err(e) = records::decode_marker(kind, &bytes) {
                prop_assert!(is_decode_outcome(&e), "{e:?}");
            }
        }
        let env = MemEnv::at(T0);
        env.files.borrow_mut().insert(EQ.into(), bytes.clone());
        match policy::read_equipment(&&env, EQ) {
            Ok(record) => prop_assert_eq!(Ok(record), records::decode_equipment(&bytes).map(|r| r.0)),
            Err(e) => prop_assert!(is_decode_outcome(&e), "{e:?}"),
        }
    }

    /// A write over any bytes: refused only for another major (file left
    /// byte-for-byte), else written so that it reads back equal.
    #[test]
    fn a_write_over_any_stored_bytes_refuses_or_reads_back_equal(
        bytes in disk_bytes(),
        label in any::<String>(),
        now in 0i64..253_402_300_799,
    ) {
        let env = MemEnv::at(now);
        env.files.borrow_mut().insert(EQ.into(), bytes.clone());
        let input = json!({"id": "E_1", "label": label, "configured_local_root": "/l",
                           "configured_nas_root": "//n"}).to_string();
        let old = records::decode_equipment(&bytes);
        match policy::write_equipment(&&env, EQ, &input) {
            Err(e) => {
                prop_assert!(matches!(e, Error::SchemaMajorMismatch { .. }), "{e:?}");
                prop_assert_eq!(&env.files.borrow()[EQ], &bytes);
                prop_assert!(matches!(old, Err(Error::SchemaMajorMismatch { .. })), "{:?}", old);
            }
            Ok(w) => {
                let on_disk = env.files.borrow()[EQ].clone();
                prop_assert_eq!(on_disk.as_slice(), w.document.as_bytes());
                prop_assert_eq!(policy::read_equipment(&&env, EQ), Ok(w.record.clone()));
                prop_assert_eq!(&w.record.label, &label);
                prop_assert_eq!(&w.record.last_modified_at, &time::format_utc(now));
                match old {
                    Ok((old, old_unknown)) => {
                        // A rewrite: first_seen_at and every unknown field kept, as stored.
                        prop_assert_eq!(&w.record.first_seen_at, &old.first_seen_at);
                        let (_, new_unknown) = records::decode_equipment(&on_disk).unwrap();
                        prop_assert_eq!(new_unknown, old_unknown);
                        prop_assert!(env.warnings.borrow().is_empty());
                    }
                    Err(_) => {
                        // A recovered corrupt file: fresh, with a warning naming it.
                        prop_assert_eq!(&w.record.first_seen_at, &w.record.last_modified_at);
                        prop_assert_eq!(&w.record.schema_version, "1.0");
                        let warnings = env.warnings.borrow();
                        prop_assert_eq!(warnings.len(), 1);
                        prop_assert!(warnings[0].contains(EQ));
                    }
                }
            }
        }
    }

    /// Unknown fields are kept verbatim by a rewrite: their JSON text, not
    /// a float approximation of it (a 30-digit serial stays exact).
    #[test]
    fn a_rewrite_keeps_unknown_fields_as_stored_text(
        numbers in prop::collection::vec(number_text(), 1..4),
        label in any::<String>(),
    ) {
        let mut stored = String::from(r#"{"schema_version":"1.2","id":"E_1","label":"x","configured_local_root":"/l","configured_nas_root":"//n","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z""#);
        for (i, n) in numbers.iter().enumerate() {
            stored += &format!(r#", "u{i}" : {n} , "nested{i}": {{"v": [ {n} ]}}"#);
        }
        stored += "}";
        let env = MemEnv::at(T0);
        env.files.borrow_mut().insert(EQ.into(), stored.into_bytes());
        let input = json!({"id": "E_1", "label": label, "configured_local_root": "/l",
                           "configured_nas_root": "//n"}).to_string();
        let w = policy::write_equipment(&&env, EQ, &input).unwrap();
        for (i, n) in numbers.iter().enumerate() {
            let kept = format!(r#","u{i}":{n},"nested{i}":{{"v":[{n}]}}"#);
            prop_assert!(w.document.contains(&kept), "{} not kept in {}", kept, w.document);
        }
        serde_json::from_str::<Value>(&w.document).unwrap();
    }

    /// Any input to an equipment write: validation_error (nothing locked,
    /// nothing written) or a record that reads back equal.
    #[test]
    fn any_equipment_input_is_refused_untouched_or_reads_back_equal(input in equipment_input()) {
        let env = MemEnv::at(T0);
        match policy::write_equipment(&&env, EQ, &input) {
            Err(e) => {
                prop_assert!(matches!(e, Error::Validation { .. }), "{e:?}");
                prop_assert_eq!(env.locks_taken.get(), 0);
                prop_assert!(env.files.borrow().is_empty());
            }
            Ok(w) => {
                prop_assert!(records::is_equipment_id(&w.record.id));
                prop_assert_eq!(policy::read_equipment(&&env, EQ), Ok(w.record));
            }
        }
    }

    /// Any input to a marker write: validation_error whether or not the
    /// marker exists, or a marker that reads back equal and is never changed.
    #[test]
    fn any_marker_input_is_refused_untouched_or_written_once(
        inputs in prop::collection::vec(marker_input(), 1..6),
    ) {
        let env = MemEnv::at(T0);
        let mut written: Option<Vec<u8>> = None;
        for input in inputs {
            let before = env.files.borrow().get(MARK).cloned();
            match policy::write_marker(&&env, MarkerKind::Runs, MARK, &input) {
                Err(e) => {
                    prop_assert!(matches!(e, Error::Validation { .. }), "{e:?}");
                    prop_assert_eq!(env.files.borrow().get(MARK).cloned(), before);
                }
                Ok(w) => {
                    let on_disk = env.files.borrow()[MARK].clone();
                    prop_assert_eq!(w.document.as_deref().map(str::as_bytes), Some(on_disk.as_slice()));
                    match &written {
                        None => {
                            prop_assert!(w.written);
                            let m = policy::read_marker(&&env, MarkerKind::Runs, MARK).unwrap();
                            prop_assert!(time::is_real_time(&m.created_at));
                            prop_assert_eq!(m.run_kind.as_str(), "experimental");
                            written = Some(on_disk);
                        }
                        Some(first) => {
                            prop_assert!(!w.written);
                            prop_assert_eq!(first, &on_disk);
                        }
                    }
                }
            }
        }
    }

    /// Stamping: under a non-decreasing clock, any sequence of writes keeps
    /// first_seen_at = the first write's time and last_modified_at = the
    /// latest write's, never going back; reads in between agree.
    #[test]
    fn any_sequence_of_writes_keeps_first_seen_at_and_advances_last_modified_at(
        start in 0i64..200_000_000_000,
        steps in prop::collection::vec((0i64..100_000_000, equipment_input(), any::<bool>()), 1..12),
    ) {
        let env = MemEnv::at(start);
        let mut first: Option<String> = None;
        let mut last = String::new();
        for (delta, input, read) in steps {
            env.now.set(env.now.get() + delta);
            match policy::write_equipment(&&env, EQ, &input) {
                Err(e) => prop_assert!(matches!(e, Error::Validation { .. }), "{e:?}"),
                Ok(w) => {
                    let now = time::format_utc(env.now.get());
                    let first_seen = first.get_or_insert_with(|| now.clone());
                    prop_assert_eq!(&w.record.first_seen_at, first_seen);
                    prop_assert_eq!(&w.record.last_modified_at, &now);
                    // The format sorts as time does: compare as text.
                    prop_assert!(w.record.last_modified_at >= last);
                    last = w.record.last_modified_at.clone();
                }
            }
            if read && first.is_some() {
                let r = policy::read_equipment(&&env, EQ).unwrap();
                prop_assert_eq!(Some(&r.first_seen_at), first.as_ref());
                prop_assert_eq!(&r.last_modified_at, &last);
            }
        }
    }

    /// The gate never panics, and agrees with the classification of a
    /// stored string version.
    #[test]
    fn the_gate_is_total(version in prop::option::of(any::<String>()), major in any::<u32>()) {
        match exlab_cache_policy::gate::require_schema_major(version.as_deref(), major) {
            Ok(()) => prop_assert!(version.is_some()),
            Err(Error::SchemaMajorMismatch { expected_major, found_json, .. }) => {
                prop_assert_eq!(expected_major, major);
                let found: Value = serde_json::from_str(&found_json).unwrap();
                prop_assert_eq!(found, version.map_or(Value::Null, Value::String));
            }
            Err(e) => prop_assert!(false, "{e:?}"),
        }
    }

    /// Every formatted time in 0001..=9999 is a real time, and the format
    /// sorts as time does.
    #[test]
    fn formatted_times_are_real_and_sort_as_time(a in -62_135_596_800i64..253_402_300_799, b in -62_135_596_800i64..253_402_300_799) {
        let (fa, fb) = (time::format_utc(a), time::format_utc(b));
        prop_assert!(time::is_real_time(&fa), "{}", fa);
        prop_assert_eq!(a.cmp(&b), fa.cmp(&fb));
    }
}
