//! creation.json against an in-memory `Env` with an injected clock:
//! create and read here, update in `update.rs`.

use super::*;
use crate::memory::MemEnv;
use serde_json::{json, Value};

mod update;

const PATH: &str = "CONF_01/PROJ-0042/Runs/Run_1/.exlab-wizard/creation.json";
const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

/// The app's minimal record (its tests' `_build_minimal_payload`, by shape).
fn record() -> Value {
    json!({
        "schema_version": "1.9",
        "created_at": "2026-04-17T14:32:00Z",
        "created_by": "asmith",
        "level": "run",
        "run_kind": "experimental",
        "lims_project": {"uid": "8c7e", "short_id": "PROJ-0042", "name_at_creation": "Cortex"},
        "template": {"name": "confocal", "version": "2.1", "source_path": "templates/c", "run_scope": "both"},
        "variables": {"project_name": "Cortex"},
        "paths": {"local": "/x", "nas": "//y"}
    })
}

/// As the app writes `record()` (msgspec, `omit_defaults=True`).
const WRITTEN: &str = r#"{"schema_version":"1.9","created_at":"2026-04-17T14:32:00Z","created_by":"asmith","level":"run","run_kind":"experimental","lims_project":{"uid":"8c7e","short_id":"PROJ-0042","name_at_creation":"Cortex"},"template":{"name":"confocal","version":"2.1","source_path":"templates/c","run_scope":"both"},"variables":{"project_name":"Cortex"},"paths":{"local":"/x","nas":"//y"}}"#;

fn file(env: &MemEnv) -> String {
    String::from_utf8(env.get(PATH).unwrap()).unwrap()
}

fn stored(env: &MemEnv, record: &Value) {
    env.put(PATH, record.to_string().as_bytes());
}

fn field(e: Error) -> Option<String> {
    match e {
        Error::Validation { field, .. } => field,
        other => panic!("not a validation error: {other:?}"),
    }
}

/// A caller's step as the app's would be: the record through its typed
/// struct (unknown fields gone at every level), changed by `change`.
fn typed_step(change: impl Fn(&mut Value) + 'static) -> impl Fn(&str) -> Option<String> {
    move |json| {
        let mut record: Value = serde_json::from_str(json).unwrap();
        let map = record.as_object_mut().unwrap();
        map.retain(|k, _| FIELDS.iter().any(|f| f.name == k));
        if let Some(lims) = map.get_mut("lims_project").and_then(Value::as_object_mut) {
            lims.remove("extra");
        }
        change(&mut record);
        Some(record.to_string())
    }
}

#[test]
fn creation_create_stamps_our_version_and_writes_as_msgspec_omit_defaults() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["schema_version"] = json!("1.7");
    input["sync_status"] = json!("pending");
    input["plugins_applied"] = json!([]);
    let out = create(&&env, PATH, &input.to_string()).unwrap();
    assert_eq!(file(&env), WRITTEN);
    assert_eq!(out, format!(r#"{{"written":true,"creation":{WRITTEN}}}"#));
}

#[test]
fn creation_create_stamps_created_at_when_absent_or_null_and_refuses_an_unreal_time() {
    for given in [None, Some(Value::Null)] {
        let env = MemEnv::at(T0);
        let mut input = record();
        match &given {
            None => input.as_object_mut().unwrap().remove("created_at"),
            Some(v) => input
                .as_object_mut()
                .unwrap()
                .insert("created_at".into(), v.clone()),
        };
        create(&&env, PATH, &input.to_string()).unwrap();
        assert!(file(&env).contains(r#""created_at":"2026-04-17T14:00:00Z""#));
    }
    for bad in [json!("2026-02-30T00:00:00Z"), json!("yesterday"), json!(5)] {
        let env = MemEnv::at(T0);
        let mut input = record();
        input["created_at"] = bad;
        input["level"] = json!("nope"); // later in schema order
        let e = create(&&env, PATH, &input.to_string()).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("created_at"));
        assert!(env.files.borrow().is_empty());
        assert_eq!(env.locks_taken.get(), 0);
    }
}

#[test]
fn creation_create_writes_once_and_answers_the_file_on_disk() {
    let env = MemEnv::at(T0);
    create(&&env, PATH, &record().to_string()).unwrap();
    let mut other = record();
    other["created_by"] = json!("someone else");
    let out = create(&&env, PATH, &other.to_string()).unwrap();
    assert_eq!(out, format!(r#"{{"written":false,"creation":{WRITTEN}}}"#));
    assert_eq!(file(&env), WRITTEN);

    env.put(PATH, b"{ \"schema_version\" : \"2.0\" }");
    let out = create(&&env, PATH, &record().to_string()).unwrap();
    assert_eq!(
        out,
        r#"{"written":false,"creation":{"schema_version":"2.0"}}"#
    );
    env.put(PATH, b"{torn");
    let out = create(&&env, PATH, &record().to_string()).unwrap();
    assert_eq!(out, r#"{"written":false,"creation":null}"#);
    assert!(env.warnings.borrow()[0].contains("not JSON"));
    assert_eq!(env.get(PATH).unwrap(), b"{torn");
}

#[test]
fn creation_create_names_the_first_bad_field_in_schema_order_as_a_dotted_path() {
    let cases: [(&str, Value, &str); 8] = [
        ("/lims_project/uid", json!(5), "lims_project.uid"),
        ("/template", json!({"name": "t"}), "template.version"),
        ("/paths", json!({"local": "/x"}), "paths.nas"),
        ("/level", json!("equipment"), "level"),
        (
            "/plugins_applied",
            json!([{"plugin": "p", "version": "1", "files_affected": [], "status": "success"},
                   {"plugin": "p", "version": "1", "files_affected": ["a", 1], "status": "success"}]),
            "plugins_applied[1].files_affected[1]",
        ),
        (
            "/plugins_applied",
            json!([{"plugin": "p", "version": "1", "files_affected": [], "status": "success",
                    "isolation": {"duration_ms": 1, "exit_code": 1.5, "peak_memory_mb": 1}}]),
            "plugins_applied[0].isolation.exit_code",
        ),
        (
            "/orchestrator",
            json!({"enabled": "yes", "host": "h", "label": "l"}),
            "orchestrator.enabled",
        ),
        (
            "/validation_overrides",
            json!([{"id": "a"}, "x"]),
            "validation_overrides[1]",
        ),
    ];
    for (pointer, value, want) in cases {
        let env = MemEnv::at(T0);
        let mut input = record();
        match input.pointer_mut(pointer) {
            Some(slot) => *slot = value,
            None => {
                input[&pointer[1..]] = value;
            }
        }
        if pointer != "/validation_overrides" {
            input["sync_status"] = json!(7); // after all of them but the last
        }
        let e = create(&&env, PATH, &input.to_string()).unwrap_err();
        assert_eq!(field(e).as_deref(), Some(want), "{pointer}");
        assert!(env.files.borrow().is_empty());
    }
    let env = MemEnv::at(T0);
    for not_an_object in ["", "[]", "\"x\"", "{"] {
        let e = create(&&env, PATH, not_an_object).unwrap_err();
        assert_eq!(field(e), None);
    }
}

#[test]
fn creation_create_ignores_unknown_input_fields_at_every_level() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["future"] = json!(1);
    input["lims_project"]["extra"] = json!(2);
    create(&&env, PATH, &input.to_string()).unwrap();
    assert_eq!(file(&env), WRITTEN);
}

#[test]
fn creation_create_refuses_an_oversized_record_before_the_lock_naming_the_longest_field() {
    let env = MemEnv::at(T0);
    let mut input = record();
    input["variables"] = json!({"big": "x".repeat(crate::records::DOCUMENT_LIMIT)});
    let e = create(&&env, PATH, &input.to_string()).unwrap_err();
    assert_eq!(field(e).as_deref(), Some("variables"));
    assert_eq!(env.locks_taken.get(), 0);
    assert!(env.files.borrow().is_empty());
}

#[test]
fn creation_read_fills_every_default_and_leaves_unknown_fields_out() {
    let env = MemEnv::at(T0);
    let mut on_disk = record();
    on_disk["future"] = json!({"a": 1});
    on_disk["lims_project"]["extra"] = json!(true);
    stored(&env, &on_disk);
    let got = read(&&env, PATH).unwrap();
    assert_eq!(
        got,
        r#"{"schema_version":"1.9","created_at":"2026-04-17T14:32:00Z","created_by":"asmith","level":"run","run_kind":"experimental","lims_project":{"uid":"8c7e","short_id":"PROJ-0042","name_at_creation":"Cortex","source":"live","cache_freshness_at_use":null},"template":{"name":"confocal","version":"2.1","source_path":"templates/c","run_scope":"both"},"variables":{"project_name":"Cortex"},"paths":{"local":"/x","nas":"//y"},"plugins_applied":[],"orchestrator":null,"sync_status":"pending","validation_overrides":[]}"#
    );
    assert_eq!(env.locks_taken.get(), 0);
}

#[test]
fn creation_read_of_an_older_minor_applies_the_history_tables_defaults() {
    let env = MemEnv::at(T0);
    let mut old = record();
    let map = old.as_object_mut().unwrap();
    map.insert("schema_version".into(), json!("1.0"));
    map.remove("run_kind");
    map.remove("lims_project");
    stored(&env, &old);
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["run_kind"], "experimental");
    assert_eq!(got.get("lims_project"), None); // treated as absent before 1.5
    assert_eq!(got["validation_overrides"], json!([]));

    let mut old = record();
    old["schema_version"] = json!("1.7");
    stored(&env, &old);
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["lims_project"]["source"], "live");
    assert_eq!(got["lims_project"]["cache_freshness_at_use"], Value::Null);

    // As the app's reader: `run_kind` defaults whatever the minor; from 1.5
    // on, `lims_project` is required.
    let mut current = record();
    current.as_object_mut().unwrap().remove("run_kind");
    stored(&env, &current);
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["run_kind"], "experimental");
    current["schema_version"] = json!("1.5");
    current.as_object_mut().unwrap().remove("lims_project");
    stored(&env, &current);
    assert_eq!(
        field(read(&&env, PATH).unwrap_err()).as_deref(),
        Some("lims_project")
    );
    env.put(PATH, br#"{"schema_version":"1.9"}"#);
    assert_eq!(
        field(read(&&env, PATH).unwrap_err()).as_deref(),
        Some("created_at")
    );
}

#[test]
fn creation_read_of_a_newer_minor_reads_an_unknown_enum_value_as_it_is() {
    let env = MemEnv::at(T0);
    let mut newer = record();
    newer["schema_version"] = json!("1.12");
    newer["sync_status"] = json!("archived");
    newer["lims_project"]["source"] = json!("carrier_pigeon");
    stored(&env, &newer);
    let got: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    assert_eq!(got["sync_status"], "archived");
    assert_eq!(got["lims_project"]["source"], "carrier_pigeon");
    assert_eq!(got["schema_version"], "1.12");

    for ours_or_older in ["1.9", "1.5", "1.09"] {
        newer["schema_version"] = json!(ours_or_older);
        stored(&env, &newer);
        let e = read(&&env, PATH).unwrap_err();
        assert_eq!(
            field(e).as_deref(),
            Some("lims_project.source"),
            "{ours_or_older}"
        );
    }
}

#[test]
fn creation_read_refuses_another_major_and_a_file_without_a_version() {
    let env = MemEnv::at(T0);
    for (version, found) in [
        (Some(json!("2.0")), r#""2.0""#),
        (Some(json!("3.7")), r#""3.7""#),
        (Some(json!("garbage")), r#""garbage""#),
        (Some(json!("")), r#""""#),
        (Some(Value::Null), "null"),
        (None, "null"),
    ] {
        let mut on_disk = record();
        match &version {
            Some(v) => on_disk["schema_version"] = v.clone(),
            None => {
                on_disk.as_object_mut().unwrap().remove("schema_version");
            }
        }
        stored(&env, &on_disk);
        match read(&&env, PATH).unwrap_err() {
            Error::SchemaMajorMismatch {
                expected_major: 1,
                found_json,
                ..
            } => assert_eq!(found_json, found),
            other => panic!("{version:?}: {other:?}"),
        }
    }
    assert!(matches!(read(&&env, "nope.json"), Err(Error::NotFound(_))));
    env.put(PATH, b"[1]");
    assert_eq!(field(read(&&env, PATH).unwrap_err()), None);
    env.put(PATH, b"{nope");
    assert!(matches!(read(&&env, PATH), Err(Error::Decode(_))));
}
