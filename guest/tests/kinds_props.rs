//! Property tests of the record kinds of interface 1.1, natively, over an
//! in-memory `Env`: records mangled at any place (a field replaced by any
//! JSON, removed, or joined by an unknown one), as a stored file and as
//! caller input.
//!
//! - a read never panics, answers only the typed errors of docs/spec.md
//!   §4, and two reads of one file agree;
//! - an update whose step hands back what it was given either fails and
//!   leaves the file byte for byte, or writes a file that a second such
//!   update leaves as it is;
//! - a create refused for its input creates nothing.

use exlab_cache_policy::kinds::run;
use exlab_cache_policy::memory::MemEnv;
use exlab_cache_policy::Error;
use proptest::prelude::*;
use serde_json::{json, Value};

const PATH: &str = "E/P/.exlab-wizard/creation.json";
const T0: i64 = 1_776_434_400;

fn creation() -> Value {
    json!({
        "schema_version": "1.9",
        "created_at": "2026-04-17T14:32:00Z",
        "created_by": "asmith",
        "level": "run",
        "run_kind": "experimental",
        "lims_project": {"uid": "u", "short_id": "PROJ-0042", "name_at_creation": "C",
            "source": "cache", "cache_freshness_at_use": "2026-04-17T00:00:00Z"},
        "template": {"name": "t", "version": "2", "source_path": "p", "run_scope": "both"},
        "variables": {"a": [1, {"b": null}]},
        "paths": {"local": "/x", "nas": "//y"},
        "plugins_applied": [{"plugin": "p", "version": "1", "files_affected": ["f"],
            "status": "timeout", "isolation": {"duration_ms": 1, "exit_code": 0, "peak_memory_mb": 2}}],
        "orchestrator": {"enabled": true, "host": "h", "label": "l", "completeness_signal": "manifest"},
        "sync_status": "synced",
        "validation_overrides": [{"id": "a", "problem_class": "orphan", "revoked": false},
            {"problem_class": "orphan", "revoked": true, "revokes": "a"}]
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-z0-9._-]{0,6}".prop_map(Value::String),
        Just(json!("1.12")),
        Just(json!("2.0")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[a-z_]{1,6}", inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// One change at the place a path of indices picks in the record.
#[derive(Debug, Clone)]
enum Change {
    Replace(Value),
    Remove,
    AddUnknown(Value),
}

fn change() -> impl Strategy<Value = (Vec<usize>, Change)> {
    let change = prop_oneof![
        json_value().prop_map(Change::Replace),
        Just(Change::Remove),
        json_value().prop_map(Change::AddUnknown),
    ];
    (prop::collection::vec(0usize..16, 1..4), change)
}

/// Applies a change where `at` leads (each index picks a member or an item).
fn apply(value: &mut Value, at: &[usize], change: &Change) {
    let (first, rest) = (at[0], &at[1..]);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(first % map.len()).cloned().unwrap();
            if rest.is_empty() || !map[&key].is_object() && !map[&key].is_array() {
                match change {
                    Change::Replace(v) => map[&key] = v.clone(),
                    Change::Remove => drop(map.remove(&key)),
                    Change::AddUnknown(v) => drop(map.insert("zz_unknown".into(), v.clone())),
                }
            } else {
                apply(map.get_mut(&key).unwrap(), rest, change);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let len = items.len();
            apply(
                &mut items[first % len],
                if rest.is_empty() { at } else { rest },
                change,
            );
        }
        _ => {}
    }
}

fn mangled() -> impl Strategy<Value = Value> {
    prop::collection::vec(change(), 0..3).prop_map(|changes| {
        let mut record = creation();
        for (at, change) in &changes {
            apply(&mut record, at, change);
        }
        record
    })
}

fn typed(e: &Error) -> bool {
    matches!(
        e,
        Error::Decode(_) | Error::Validation { .. } | Error::SchemaMajorMismatch { .. }
    )
}

proptest! {
    #[test]
    fn a_mangled_creation_json_reads_the_same_twice_or_fails_typed(record in mangled()) {
        let env = MemEnv::at(T0);
        env.put(PATH, record.to_string().as_bytes());
        match run(&&env, "creation", "read", PATH, "null") {
            Ok(first) => {
                prop_assert_eq!(Some(first), run(&&env, "creation", "read", PATH, "null").ok());
            }
            Err(e) => prop_assert!(typed(&e), "{:?}", e),
        }
        prop_assert_eq!(env.locks_taken.get(), 0);
    }

    #[test]
    fn an_update_handing_back_the_snapshot_fails_untouched_or_settles(record in mangled()) {
        let env = MemEnv::at(T0).with_step(|json| Some(json.to_owned()));
        let stored = record.to_string().into_bytes();
        env.put(PATH, &stored);
        match run(&&env, "creation", "update", PATH, "null") {
            Ok(written) => {
                prop_assert_eq!(env.get(PATH).unwrap(), written.as_bytes());
                let again = run(&&env, "creation", "update", PATH, "null");
                prop_assert_eq!(again.ok(), Some(written));
            }
            Err(e) => {
                prop_assert!(typed(&e), "{:?}", e);
                prop_assert_eq!(env.get(PATH).unwrap(), stored);
            }
        }
    }

    #[test]
    fn a_create_refused_for_its_input_creates_nothing(record in mangled()) {
        let env = MemEnv::at(T0);
        match run(&&env, "creation", "create", PATH, &record.to_string()) {
            Ok(out) => {
                let out: Value = serde_json::from_str(&out).unwrap();
                prop_assert_eq!(&out["written"], &json!(true));
                let read = run(&&env, "creation", "read", PATH, "null");
                prop_assert!(read.is_ok(), "{:?}", read);
            }
            Err(e) => {
                prop_assert!(matches!(e, Error::Validation { .. }), "{:?}", e);
                prop_assert!(env.files.borrow().is_empty());
                prop_assert_eq!(env.locks_taken.get(), 0);
            }
        }
    }
}
