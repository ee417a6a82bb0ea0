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

/// What Python's `json.dumps` writes for a record that a newer minor
/// extended: an unknown field nested 200 deep and a lone surrogate.
fn python_written_record() -> String {
    format!(
        r#"{{"schema_version": "1.4", "id": "OLD", "label": "x \ud800", "configured_local_root": "r", "configured_nas_root": "n", "first_seen_at": "2020-01-01T00:00:00Z", "last_modified_at": "2020-01-01T00:00:00Z", "deep": {}1{}, "s": "\ud800", "n": 1e2}}"#,
        "[".repeat(200),
        "]".repeat(200)
    )
}

#[test]
fn p3_valid_json_that_serde_json_refuses_is_read_and_kept_on_rewrite() {
    let env = env();
    env.put(EQ, python_written_record().as_bytes());
    let read = read_equipment(&&env, EQ).unwrap();
    assert_eq!(read.label, "x \u{FFFD}");
    let w = write_equipment(&&env, EQ, &input("New")).unwrap();
    assert!(env.warnings.borrow().is_empty(), "{:?}", env.warnings);
    assert_eq!(w.record.first_seen_at, "2020-01-01T00:00:00Z");
    assert_eq!(w.record.schema_version, "1.4");
    let kept = format!(
        r#""last_modified_at":"2026-04-17T14:00:00Z","deep":{}1{},"s":"\ud800","n":1e2}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert!(w.document.ends_with(&kept), "{}", w.document);
    assert_eq!(file(&env, EQ), w.document);
}

#[test]
fn p3_an_existing_marker_is_returned_without_whitespace_but_otherwise_as_stored() {
    let env = env();
    let stored = format!(
        r#"{{ "n" : 1e2, "s": "\ud800", "d": {}{}, "big": 123456789012345678901234567890 }}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    env.put(MARK, stored.as_bytes());
    let w = write_marker(
        &&env,
        MarkerKind::TestRuns,
        MARK,
        r#"{"project":"P","equipment":"E"}"#,
    )
    .unwrap();
    let expected = format!(
        r#"{{"n":1e2,"s":"\ud800","d":{}{},"big":123456789012345678901234567890}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    assert_eq!((w.written, w.document), (false, Some(expected)));
    assert_eq!(file(&env, MARK), stored);
}

#[test]
fn p4_a_label_whose_escapes_take_the_document_over_the_limit_is_refused_before_the_lock() {
    // 180k bytes as given, six times that as JSON (`\u0001`).
    let label = "\u{1}".repeat(180_000);
    let input = serde_json::json!({
        "id": "CONF_01", "label": label,
        "configured_local_root": "/data", "configured_nas_root": "//nas/lab",
    });
    let env = env();
    let e = write_equipment(&&env, EQ, &input.to_string()).unwrap_err();
    assert!(
        matches!(e, Error::Validation { field: Some(ref f), .. } if f == "label"),
        "{e:?}"
    );
    assert_eq!(env.locks_taken.get(), 0);
}

/// An equipment input whose document (first write) is `size` bytes.
fn input_of_document_size(size: usize) -> String {
    let skeleton = write_equipment(&&MemEnv::at(T0), EQ, &input("")).unwrap();
    input(&"l".repeat(size - skeleton.document.len()))
}

#[test]
fn p4_a_document_of_exactly_the_limit_is_written_one_byte_more_is_refused_before_the_lock() {
    let env = env();
    let w = write_equipment(&&env, EQ, &input_of_document_size(records::DOCUMENT_LIMIT)).unwrap();
    assert_eq!(w.document.len(), 1 << 20);
    assert_eq!(read_equipment(&&env, EQ).unwrap(), w.record);

    let env = self::env();
    let e = write_equipment(&&env, EQ, &input_of_document_size((1 << 20) + 1)).unwrap_err();
    assert!(
        matches!(e, Error::Validation { field: Some(ref f), ref message } if f == "label" && message.contains("1048577 bytes")),
        "{e:?}"
    );
    assert_eq!(env.locks_taken.get(), 0);
    assert!(env.files.borrow().is_empty());
}

#[test]
fn p4_the_longest_caller_field_is_named_by_its_size_as_json_first_of_equals() {
    let case = |label: &str, local: &str, nas: &str| {
        let json = serde_json::json!({"id": "CONF_01", "label": label,
            "configured_local_root": local, "configured_nas_root": nas})
        .to_string();
        match write_equipment(&&env(), EQ, &json).unwrap_err() {
            Error::Validation { field, .. } => field.unwrap(),
            other => panic!("{other:?}"),
        }
    };
    let half = "x".repeat(600_000);
    assert_eq!(case("", &half, &half), "configured_local_root");
    assert_eq!(case(&half, "", &"y".repeat(600_001)), "configured_nas_root");
    // 200 000 control characters are 1.2 MB as JSON (`\u0001` each).
    let escaped = "\u{1}".repeat(200_000);
    assert_eq!(case(&escaped, &"z".repeat(300_000), ""), "label");
}

#[test]
fn p4_a_rewrite_pushed_over_by_fields_kept_from_disk_is_refused_and_leaves_the_file() {
    let env = env();
    let stored = format!(
        r#"{{"schema_version":"1.0","id":"CONF_01","label":"x","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z","notes":"{}"}}"#,
        "n".repeat(600_000)
    );
    env.put(EQ, stored.as_bytes());
    let e = write_equipment(&&env, EQ, &input(&"l".repeat(500_000))).unwrap_err();
    assert!(
        matches!(e, Error::Validation { field: None, ref message } if message.contains(EQ)),
        "{e:?}"
    );
    assert_eq!(file(&env, EQ), stored);
    // The same label over a file without those fields fits.
    env.put(EQ, b"{}");
    write_equipment(&&env, EQ, &input(&"l".repeat(500_000))).unwrap();
}

#[test]
fn p4_a_marker_project_of_exactly_the_limit_is_written_one_byte_more_is_refused() {
    let marker_input = |project_len: usize| {
        format!(
            r#"{{"project":"{}","equipment":"E","created_at":"2026-01-02T03:04:05Z"}}"#,
            "p".repeat(project_len)
        )
    };
    let skeleton = write_marker(&&env(), MarkerKind::Runs, MARK, &marker_input(1)).unwrap();
    let fitting = records::DOCUMENT_LIMIT - skeleton.document.unwrap().len() + 1;
    let env = env();
    let w = write_marker(&&env, MarkerKind::Runs, MARK, &marker_input(fitting)).unwrap();
    assert_eq!(w.document.map(|d| d.len()), Some(1 << 20));
    assert_eq!(
        read_marker(&&env, MarkerKind::Runs, MARK)
            .unwrap()
            .project
            .len(),
        fitting
    );
    // One byte more: refused before the lock, whether or not the marker exists.
    for existing in [false, true] {
        let env = self::env();
        if existing {
            env.put(MARK, b"{}");
        }
        let e = write_marker(&&env, MarkerKind::Runs, MARK, &marker_input(fitting + 1));
        assert!(
            matches!(e, Err(Error::Validation { field: Some(ref f), .. }) if f == "project"),
            "{e:?}"
        );
        assert_eq!(env.locks_taken.get(), 0);
        assert_eq!(env.files.borrow().len(), usize::from(existing));
    }
}
