//! The policy's flows against an in-memory `Env` with an injected clock.

use super::*;
use crate::memory::MemEnv;

const EQ: &str = "CONF_01/.exlab-wizard/equipment.json";
const MARK: &str = "CONF_01/P/TestRuns/.exlab-wizard/test_runs.json";
const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

fn env() -> MemEnv {
    MemEnv::at(T0)
}

fn input(label: &str) -> String {
    format!(
        r#"{{"id":"CONF_01","label":"{label}","configured_local_root":"/data","configured_nas_root":"//nas/lab"}}"#
    )
}

fn file(env: &MemEnv, path: &str) -> String {
    String::from_utf8(env.files.borrow()[path].clone()).unwrap()
}

#[test]
fn first_write_stamps_both_timestamps_equal_from_one_clock_reading() {
    let env = env();
    let w = write_equipment(&&env, EQ, &input("Confocal")).unwrap();
    assert_eq!(w.record.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.record.first_seen_at, w.record.last_modified_at);
    assert_eq!(env.clock_reads.get(), 1);
    assert_eq!(
        file(&env, EQ),
        r#"{"schema_version":"1.0","id":"CONF_01","label":"Confocal","configured_local_root":"/data","configured_nas_root":"//nas/lab","first_seen_at":"2026-04-17T14:00:00Z","last_modified_at":"2026-04-17T14:00:00Z"}"#
    );
    assert_eq!(w.document, file(&env, EQ));
}

#[test]
fn rewrite_keeps_first_seen_at_and_advances_last_modified_at() {
    let env = env();
    write_equipment(&&env, EQ, &input("A")).unwrap();
    env.now.set(T0 + 61);
    let w = write_equipment(&&env, EQ, &input("B")).unwrap();
    assert_eq!(w.record.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.record.last_modified_at, "2026-04-17T14:01:01Z");
    assert_eq!(w.record.label, "B");
}

#[test]
fn caller_timestamps_and_schema_version_are_ignored() {
    let env = env();
    let json = r#"{"schema_version":"9.9","id":"CONF_01","label":"L","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"1999-01-01T00:00:00Z","last_modified_at":"x"}"#;
    let w = write_equipment(&&env, EQ, json).unwrap();
    assert_eq!(w.record.schema_version, "1.0");
    assert_eq!(w.record.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.record.last_modified_at, "2026-04-17T14:00:00Z");
}

#[test]
fn unknown_fields_and_newer_minor_survive_a_rewrite() {
    let env = env();
    env.files.borrow_mut().insert(
        EQ.into(),
        br#"{"schema_version":"1.4","zeta":{"a":[1,2]},"id":"OLD","label":"x","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z","alpha":7}"#.to_vec(),
    );
    let w = write_equipment(&&env, EQ, &input("New")).unwrap();
    assert_eq!(
        w.document,
        r#"{"schema_version":"1.4","id":"CONF_01","label":"New","configured_local_root":"/data","configured_nas_root":"//nas/lab","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2026-04-17T14:00:00Z","zeta":{"a":[1,2]},"alpha":7}"#
    );
}

#[test]
fn other_major_on_disk_is_refused_and_left_byte_for_byte() {
    for stored in [
        &br#"{"schema_version":"2.0","id":"X"}"#[..],
        br#"{"schema_version":"garbage"}"#,
    ] {
        let env = env();
        env.files.borrow_mut().insert(EQ.into(), stored.to_vec());
        let e = write_equipment(&&env, EQ, &input("L")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::SchemaMajorMismatch {
                    expected_major: 1,
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(env.files.borrow()[EQ], stored);
    }
}

#[test]
fn corrupt_file_is_recovered_cleanly_with_a_warning_naming_it() {
    for corrupt in [
        &b"{not json"[..],
        br#"{"schema_version":"1.0","zzz":1}"#,
        b"[]",
    ] {
        let env = env();
        env.files.borrow_mut().insert(EQ.into(), corrupt.to_vec());
        let w = write_equipment(&&env, EQ, &input("L")).unwrap();
        assert_eq!(w.record.first_seen_at, w.record.last_modified_at);
        assert!(!w.document.contains("zzz"));
        let warnings = env.warnings.borrow();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains(EQ), "{}", warnings[0]);
    }
}

#[test]
fn invalid_input_touches_nothing() {
    let env = env();
    let e = write_equipment(&&env, EQ, r#"{"id":"bad id"}"#).unwrap_err();
    assert!(matches!(e, Error::Validation { field: Some(ref f), .. } if f == "id"));
    assert_eq!(env.locks_taken.get(), 0);
    assert!(env.files.borrow().is_empty());
}

#[test]
fn round_trip_and_missing_file() {
    let env = env();
    let w = write_equipment(&&env, EQ, &input("L")).unwrap();
    assert_eq!(read_equipment(&&env, EQ).unwrap(), w.record);
    assert!(matches!(
        read_equipment(&&env, "nope.json"),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn marker_is_written_once_and_stays_byte_identical() {
    let env = env();
    let first = r#"{"project":"P","equipment":"CONF_01","created_at":"2026-01-02T03:04:05Z"}"#;
    let w = write_marker(&&env, MarkerKind::TestRuns, MARK, first).unwrap();
    assert!(w.written);
    let before = file(&env, MARK);
    assert_eq!(
        before,
        r#"{"schema_version":"1.0","run_kind":"test","created_at":"2026-01-02T03:04:05Z","project":"P","equipment":"CONF_01"}"#
    );
    let again = write_marker(
        &&env,
        MarkerKind::TestRuns,
        MARK,
        r#"{"project":"Q","equipment":"OTHER"}"#,
    )
    .unwrap();
    assert!(!again.written);
    assert_eq!(again.document.as_deref(), Some(before.as_str()));
    assert_eq!(file(&env, MARK), before);
}

#[test]
fn marker_created_at_defaults_to_now_and_run_kind_to_the_type() {
    let env = env();
    let w = write_marker(
        &&env,
        MarkerKind::Runs,
        "r/runs.json",
        r#"{"project":"P","equipment":"E","created_at":null}"#,
    )
    .unwrap();
    assert_eq!(
        w.document.unwrap(),
        r#"{"schema_version":"1.0","run_kind":"experimental","created_at":"2026-04-17T14:00:00Z","project":"P","equipment":"E"}"#
    );
}

#[test]
fn existing_marker_is_returned_as_parsed_in_its_own_key_order() {
    let env = env();
    env.files.borrow_mut().insert(
        MARK.into(),
        br#"{ "equipment": "E", "x": [1, 2], "schema_version": "7.0" }"#.to_vec(),
    );
    let w = write_marker(
        &&env,
        MarkerKind::TestRuns,
        MARK,
        r#"{"project":"P","equipment":"E"}"#,
    )
    .unwrap();
    assert_eq!(
        w.document.as_deref(),
        Some(r#"{"equipment":"E","x":[1,2],"schema_version":"7.0"}"#)
    );
    env.files
        .borrow_mut()
        .insert(MARK.into(), b"garbage".to_vec());
    let w = write_marker(
        &&env,
        MarkerKind::TestRuns,
        MARK,
        r#"{"project":"P","equipment":"E"}"#,
    )
    .unwrap();
    assert_eq!((w.written, w.document), (false, None));
    assert!(env.warnings.borrow()[0].contains(MARK));
}

#[test]
fn marker_input_is_validated_even_when_the_marker_exists() {
    let env = env();
    env.files.borrow_mut().insert(MARK.into(), b"{}".to_vec());
    let e = write_marker(
        &&env,
        MarkerKind::TestRuns,
        MARK,
        r#"{"project":"","equipment":"E"}"#,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Validation { field: Some(ref f), .. } if f == "project"));
}

#[test]
fn read_marker_fills_in_run_kind() {
    let env = env();
    env.files.borrow_mut().insert(
        MARK.into(),
        br#"{"schema_version":"1.0","created_at":"2026-04-17T14:00:00Z","project":"P","equipment":"CONF_01"}"#.to_vec(),
    );
    let m = read_marker(&&env, MarkerKind::TestRuns, MARK).unwrap();
    assert_eq!(m.run_kind, "test");
}
