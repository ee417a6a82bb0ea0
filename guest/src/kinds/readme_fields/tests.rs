//! readme_fields.json against an in-memory `Env` with an injected clock.

use super::*;
use crate::memory::MemEnv;
use serde_json::{json, Value};

const PATH: &str = "CONF_01/PROJ-0042/.exlab-wizard/readme_fields.json";
const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

fn record() -> Value {
    json!({
        "schema_version": "1.1",
        "generated_at": "2026-04-17T14:32:05Z",
        "core_fields": {"label": "Cortex sweep", "operator": "asmith", "objective": "Calibrate."},
        "system_fields": {"created": "2026-04-17T14:32:00Z", "equipment": {"id": "CONFOCAL_01"}},
        "template_fields": {},
        "config_fields": {},
        "custom_fields": []
    })
}

const WRITTEN: &str = r#"{"schema_version":"1.1","generated_at":"2026-04-17T14:32:05Z","core_fields":{"label":"Cortex sweep","operator":"asmith","objective":"Calibrate."},"system_fields":{"created":"2026-04-17T14:32:00Z","equipment":{"id":"CONFOCAL_01"}}}"#;

fn file(env: &MemEnv) -> String {
    String::from_utf8(env.get(PATH).unwrap()).unwrap()
}

fn field(e: Error) -> Option<String> {
    match e {
        Error::Validation { field, .. } => field,
        other => panic!("not a validation error: {other:?}"),
    }
}

#[test]
fn readme_write_stamps_our_version_and_leaves_empty_layers_out() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["schema_version"] = json!("1.0");
    input["future"] = json!(1);
    assert_eq!(write(&&env, PATH, &input.to_string()).unwrap(), WRITTEN);
    assert_eq!(file(&env), WRITTEN);
    let mut layered = record();
    layered["custom_fields"] = json!([{"label": "Collaborator", "value": "Dr. Lee"}]);
    layered["template_fields"] = json!({"sample_type": "Fixed tissue"});
    let out: Value =
        serde_json::from_str(&write(&&env, PATH, &layered.to_string()).unwrap()).unwrap();
    assert_eq!(out["custom_fields"], layered["custom_fields"]);
    assert_eq!(out["template_fields"], layered["template_fields"]);
    assert_eq!(out.get("config_fields"), None);
}

#[test]
fn readme_write_keeps_a_real_generated_at_and_stamps_an_absent_one() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["generated_at"] = Value::Null;
    write(&&env, PATH, &input.to_string()).unwrap();
    assert!(file(&env).contains(r#""generated_at":"2026-04-17T14:00:00Z""#));
    for bad in [json!("2026-04-17 14:32"), json!(1)] {
        let env = MemEnv::at(T0);
        input["generated_at"] = bad;
        assert_eq!(
            field(write(&&env, PATH, &input.to_string()).unwrap_err()).as_deref(),
            Some("generated_at")
        );
        assert!(env.files.borrow().is_empty());
    }
}

#[test]
fn readme_write_bounds_label_and_objective_after_trimming_whitespace() {
    let env = MemEnv::at(T0);
    let mut input = record();
    // Python's strip takes U+001C too; characters, not bytes, are counted.
    input["core_fields"]["label"] = json!(format!("  \u{1c}{}\t", "é".repeat(100)));
    input["core_fields"]["objective"] = json!("o".repeat(2000));
    write(&&env, PATH, &input.to_string()).unwrap();
    for (name, value, want) in [
        ("label", "l".repeat(101), "core_fields.label"),
        (
            "objective",
            format!(" {} ", "o".repeat(2001)),
            "core_fields.objective",
        ),
    ] {
        let env = MemEnv::at(T0);
        let mut input = record();
        input["core_fields"][name] = json!(value);
        input.as_object_mut().unwrap().remove("system_fields"); // later in schema order
        assert_eq!(
            field(write(&&env, PATH, &input.to_string()).unwrap_err()).as_deref(),
            Some(want)
        );
        assert!(env.files.borrow().is_empty());
    }
}

#[test]
fn readme_write_names_the_first_bad_field_in_schema_order() {
    let cases = [
        ("/core_fields/operator", json!(5), "core_fields.operator"),
        ("/core_fields", json!([]), "core_fields"),
        ("/system_fields", json!("x"), "system_fields"),
        (
            "/custom_fields",
            json!([{"label": "a", "value": 2}]),
            "custom_fields[0].value",
        ),
    ];
    for (pointer, value, want) in cases {
        let env = MemEnv::at(T0);
        let mut input = record();
        *input.pointer_mut(pointer).unwrap() = value;
        assert_eq!(
            field(write(&&env, PATH, &input.to_string()).unwrap_err()).as_deref(),
            Some(want)
        );
    }
}

#[test]
fn readme_write_keeps_the_files_unknown_fields_and_newer_minor() {
    let env = MemEnv::at(T0);
    let mut stored = record();
    stored["schema_version"] = json!("1.3");
    stored["\u{e9}tag\u{e8}re"] = json!({"x": [1]});
    env.put(
        PATH,
        stored
            .to_string()
            .replace("\u{e9}tag", "\\u00e9tag")
            .as_bytes(),
    );
    let mut input = record();
    input["core_fields"]["label"] = json!("New");
    let out = write(&&env, PATH, &input.to_string()).unwrap();
    assert!(out.starts_with(r#"{"schema_version":"1.3","#), "{out}");
    assert!(out.ends_with(r#","\u00e9tagère":{"x":[1]}}"#), "{out}");
    assert!(out.contains(r#""label":"New""#));
}

#[test]
fn readme_write_refuses_another_major_and_rewrites_a_corrupt_file_with_a_warning() {
    let env = MemEnv::at(T0);
    let other = br#"{"schema_version":"2.0","core_fields":{}}"#;
    env.put(PATH, other);
    let e = write(&&env, PATH, &record().to_string()).unwrap_err();
    assert!(
        matches!(e, Error::SchemaMajorMismatch { ref found_json, .. } if found_json == "\"2.0\"")
    );
    assert_eq!(env.get(PATH).unwrap(), other);
    for corrupt in [&b"{torn"[..], br#"{"schema_version":"1.1"}"#, b"[]"] {
        let env = MemEnv::at(T0);
        env.put(PATH, corrupt);
        assert_eq!(write(&&env, PATH, &record().to_string()).unwrap(), WRITTEN);
        let warnings = env.warnings.borrow();
        assert!(
            warnings[0].contains("corrupt readme_fields.json rewritten"),
            "{warnings:?}"
        );
    }
}

#[test]
fn readme_read_gives_the_known_fields_with_defaults_and_checks_types_not_lengths() {
    let env = MemEnv::at(T0);
    let mut stored = record();
    stored.as_object_mut().unwrap().remove("custom_fields");
    stored["core_fields"]["label"] = json!("l".repeat(500));
    stored["future"] = json!(1);
    env.put(PATH, stored.to_string().as_bytes());
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["custom_fields"], json!([]));
    assert_eq!(got.get("future"), None);
    for (version, found) in [("2.0", "\"2.0\""), ("3.7", "\"3.7\"")] {
        stored["schema_version"] = json!(version);
        env.put(PATH, stored.to_string().as_bytes());
        assert!(matches!(read(&&env, PATH).unwrap_err(),
            Error::SchemaMajorMismatch { expected_major: 1, ref found_json, .. } if found_json == found));
    }
    assert!(matches!(read(&&env, "none.json"), Err(Error::NotFound(_))));
}

#[test]
fn readme_write_refuses_an_oversized_record_before_the_lock() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["system_fields"] = json!({"blob": "x".repeat(crate::records::DOCUMENT_LIMIT)});
    assert_eq!(
        field(write(&&env, PATH, &input.to_string()).unwrap_err()).as_deref(),
        Some("system_fields")
    );
    assert_eq!(env.locks_taken.get(), 0);
}
