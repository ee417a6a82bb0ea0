//! ingest.json against an in-memory `Env` with an injected clock.

use super::*;
use crate::memory::MemEnv;
use serde_json::{json, Value};

const PATH: &str = "CONF_01/PROJ-0042/Runs/Run_1/.exlab-wizard/ingest.json";
const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

fn record(state: &str, history: &[&str]) -> Value {
    let history: Vec<Value> = history
        .iter()
        .map(|s| json!({"state": s, "at": "t0", "host": "labpc-04"}))
        .collect();
    json!({
        "schema_version": "1.1",
        "project_name": "Cortex Q3 Pilot",
        "equipment_id": "CONFOCAL_01",
        "run_kind": "experimental",
        "run_path": "CONFOCAL_01/PROJ-0042/Run_x",
        "transport": "smb_mount",
        "current_state": state,
        "history": history
    })
}

fn staged(state: &str) -> MemEnv {
    let env = MemEnv::at(T0);
    env.put(PATH, record(state, &[state]).to_string().as_bytes());
    env
}

fn on_disk(env: &MemEnv) -> Value {
    serde_json::from_slice(&env.get(PATH).unwrap()).unwrap()
}

fn field(e: Error) -> Option<String> {
    match e {
        Error::Validation { field, .. } => field,
        other => panic!("not a validation error: {other:?}"),
    }
}

#[test]
fn ingest_create_writes_our_version_once_with_defaults_left_out() {
    let env = MemEnv::at(T0);
    let mut input = record("staging", &[]);
    input["schema_version"] = json!("1.0");
    let out = create(&&env, PATH, &input.to_string()).unwrap();
    let written = r#"{"schema_version":"1.1","project_name":"Cortex Q3 Pilot","equipment_id":"CONFOCAL_01","run_kind":"experimental","run_path":"CONFOCAL_01/PROJ-0042/Run_x","transport":"smb_mount","current_state":"staging"}"#;
    assert_eq!(out, format!(r#"{{"written":true,"ingest":{written}}}"#));
    assert_eq!(env.get(PATH).unwrap(), written.as_bytes());
    let again = create(&&env, PATH, &record("complete", &["complete"]).to_string()).unwrap();
    assert_eq!(again, format!(r#"{{"written":false,"ingest":{written}}}"#));
}

#[test]
fn ingest_create_requires_current_state_to_mirror_the_last_history_entry() {
    let env = MemEnv::at(T0);
    let e = create(&&env, PATH, &record("complete", &["staging"]).to_string()).unwrap_err();
    assert_eq!(field(e).as_deref(), Some("current_state"));
    let mut no_state = record("staging", &[]);
    no_state["history"] = json!([{"at": "t0"}]);
    let e = create(&&env, PATH, &no_state.to_string()).unwrap_err();
    assert_eq!(field(e).as_deref(), Some("current_state"));
    assert!(env.files.borrow().is_empty());
    let e = create(&&env, PATH, &record("paused", &[]).to_string()).unwrap_err();
    assert_eq!(field(e).as_deref(), Some("current_state"));
    let mut bad = record("staging", &["staging"]);
    bad["history"] = json!(["staging"]);
    let e = create(&&env, PATH, &bad.to_string()).unwrap_err();
    assert_eq!(field(e).as_deref(), Some("history[0]"));
}

#[test]
fn ingest_transition_appends_an_entry_and_sets_current_state() {
    let env = staged("staging");
    env.now.set(T0 + 60);
    let input = json!({"state": "complete", "host": "labpc-04", "files_received": 142,
        "bytes_received": 48_293_847_234u64, "nas_path": "dropped here"});
    let out = transition(&&env, PATH, &input.to_string()).unwrap();
    assert_eq!(out.as_bytes(), env.get(PATH).unwrap());
    let after = on_disk(&env);
    assert_eq!(after["current_state"], "complete");
    assert_eq!(
        after["history"][1],
        json!({"state": "complete", "at": "2026-04-17T14:01:00Z", "host": "labpc-04",
            "files_received": 142, "bytes_received": 48_293_847_234u64})
    );
    assert_eq!(
        after["history"][0],
        record("staging", &["staging"])["history"][0]
    );
}

#[test]
fn ingest_transition_puts_extras_only_into_their_state_and_defaults_the_host() {
    let env = staged("complete");
    let input = json!({"state": "sync_queued", "files_received": 99, "checksum_file": "c"});
    transition(&&env, PATH, &input.to_string()).unwrap();
    let input = json!({"state": "sync_verified", "host": null, "nas_path": "//nas/run",
        "checksum_file": ".exlab-wizard/checksums.sha256", "bytes_received": 1});
    transition(&&env, PATH, &input.to_string()).unwrap();
    let after = on_disk(&env);
    assert_eq!(
        after["history"][1],
        json!({"state": "sync_queued", "at": "2026-04-17T14:00:00Z", "host": "labpc-test"})
    );
    assert_eq!(
        after["history"][2],
        json!({"state": "sync_verified", "at": "2026-04-17T14:00:00Z", "host": "labpc-test",
            "nas_path": "//nas/run", "checksum_file": ".exlab-wizard/checksums.sha256"})
    );
}

#[test]
fn ingest_walks_the_whole_lifecycle_and_keeps_every_entry() {
    let env = staged("staging");
    for state in ["complete", "sync_queued", "sync_verified", "cleared"] {
        transition(&&env, PATH, &json!({"state": state}).to_string()).unwrap();
    }
    let states: Vec<String> = on_disk(&env)["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["state"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(states, STATES);
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["current_state"], "cleared");
}

#[test]
fn ingest_refuses_an_illegal_transition_on_state_with_the_apps_message_untouched() {
    let cases = [
        ("cleared", "staging", "(allowed: [terminal])"),
        ("sync_verified", "staging", "(allowed: ['cleared'])"),
        ("complete", "staging", "(allowed: ['sync_queued'])"),
        ("staging", "sync_queued", "(allowed: ['complete'])"),
        ("staging", "sync_verified", "(allowed: ['complete'])"),
        ("staging", "cleared", "(allowed: ['complete'])"),
        ("complete", "sync_verified", "(allowed: ['sync_queued'])"),
        ("sync_queued", "cleared", "(allowed: ['sync_verified'])"),
        ("staging", "staging", "(allowed: ['complete'])"),
        ("complete", "complete", "(allowed: ['sync_queued'])"),
    ];
    for (from, to, allowed) in cases {
        let env = staged(from);
        let before = env.get(PATH);
        match transition(&&env, PATH, &json!({"state": to}).to_string()) {
            Err(Error::Validation { field, message }) => {
                assert_eq!(field.as_deref(), Some("state"));
                assert_eq!(
                    message,
                    format!("illegal state transition '{from}' -> '{to}' {allowed}")
                );
            }
            other => panic!("{from} -> {to}: {other:?}"),
        }
        assert_eq!(env.get(PATH), before);
    }
}

#[test]
fn ingest_transition_checks_its_input_in_order_before_anything_is_touched() {
    let cases = [
        (json!({}), Some("state")),
        (json!({"state": "paused"}), Some("state")),
        (json!({"state": 1}), Some("state")),
        (json!({"state": "complete", "host": 5}), Some("host")),
        (
            json!({"state": "complete", "files_received": 1.5, "host": 5}),
            Some("host"),
        ),
        (
            json!({"state": "complete", "files_received": "many"}),
            Some("files_received"),
        ),
        (
            json!({"state": "complete", "bytes_received": true}),
            Some("bytes_received"),
        ),
        (
            json!({"state": "complete", "nas_path": 1}),
            Some("nas_path"),
        ),
        (
            json!({"state": "complete", "checksum_file": []}),
            Some("checksum_file"),
        ),
        (json!([]), None),
    ];
    for (input, want) in cases {
        let env = MemEnv::at(T0);
        assert_eq!(
            field(transition(&&env, PATH, &input.to_string()).unwrap_err()).as_deref(),
            want
        );
        assert_eq!(env.locks_taken.get(), 0);
    }
    let env = MemEnv::at(T0);
    let e = transition(&&env, PATH, r#"{"state":"complete"}"#).unwrap_err();
    assert!(matches!(e, Error::NotFound(_)));
    assert_eq!(env.locks_taken.get(), 0);
    assert!(env.files.borrow().is_empty());
}

#[test]
fn ingest_transition_keeps_unknown_fields_and_bumps_an_older_minor_keeps_a_newer_one() {
    for (version, written) in [("1.0", "1.1"), ("1.1", "1.1"), ("1.4", "1.4")] {
        let env = MemEnv::at(T0);
        let mut stored = record("staging", &["staging"]);
        stored["schema_version"] = json!(version);
        stored["future"] = json!({"a": [1, 2]});
        env.put(PATH, stored.to_string().as_bytes());
        transition(&&env, PATH, r#"{"state":"complete"}"#).unwrap();
        let after = on_disk(&env);
        assert_eq!(after["schema_version"], written);
        assert_eq!(after["future"], json!({"a": [1, 2]}));
    }
}

#[test]
fn ingest_of_a_newer_minor_reads_an_unknown_state_but_cannot_move_from_it() {
    let env = MemEnv::at(T0);
    let mut newer = record("archived", &["archived"]);
    newer["schema_version"] = json!("1.2");
    env.put(PATH, newer.to_string().as_bytes());
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["current_state"], "archived");
    match transition(&&env, PATH, r#"{"state":"cleared"}"#).unwrap_err() {
        Error::Validation { field, message } => {
            assert_eq!(field.as_deref(), Some("state"));
            assert_eq!(message, "unknown source state 'archived'");
        }
        other => panic!("{other:?}"),
    }
    newer["schema_version"] = json!("1.1");
    env.put(PATH, newer.to_string().as_bytes());
    assert_eq!(
        field(read(&&env, PATH).unwrap_err()).as_deref(),
        Some("current_state")
    );
}

#[test]
fn ingest_refuses_another_major_on_read_and_transition_leaving_it_byte_for_byte() {
    for version in ["2.0", "3.7"] {
        let env = MemEnv::at(T0);
        let mut stored = record("staging", &[]);
        stored["schema_version"] = json!(version);
        let bytes = stored.to_string().into_bytes();
        env.put(PATH, &bytes);
        for e in [
            read(&&env, PATH).unwrap_err(),
            transition(&&env, PATH, r#"{"state":"complete"}"#).unwrap_err(),
        ] {
            match e {
                Error::SchemaMajorMismatch {
                    expected_major: 1,
                    found_json,
                    ..
                } => {
                    assert_eq!(found_json, format!("\"{version}\""));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(env.get(PATH).unwrap(), bytes);
    }
    let env = MemEnv::at(T0);
    env.put(PATH, br#"{"project_name":"x"}"#);
    assert_eq!(
        field(read(&&env, PATH).unwrap_err()).as_deref(),
        Some("schema_version")
    );
}

#[test]
fn ingest_read_gives_the_known_fields_with_defaults() {
    let env = MemEnv::at(T0);
    let mut stored = record("staging", &[]);
    stored.as_object_mut().unwrap().remove("history");
    stored["future"] = json!(1);
    env.put(PATH, stored.to_string().as_bytes());
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["history"], json!([]));
    assert_eq!(got.get("future"), None);
}
