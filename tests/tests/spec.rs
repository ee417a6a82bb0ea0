//! One test per docs/spec.md bullet (sections 1 to 3), through the library with
//! the real policy component and an injected clock.

use std::time::Duration;

use exlab_cache::{Error, MarkerKind, Policy};
use exlab_cache_tests::*;
use serde_json::{json, Value};

fn field(e: &Error) -> Option<&str> {
    assert_eq!(e.code(), "validation_error", "{e:?}");
    e.field()
}

fn full_record(h: &Harness, path: &str) -> Value {
    serde_json::from_slice(&h.get(path)).unwrap()
}

// ---------------------------------------------------------------- section 1

#[test]
fn s1_files_are_compact_json_in_field_order_without_trailing_newline() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("Confocal 1"))
        .unwrap();
    assert_eq!(
        String::from_utf8(h.get(EQUIPMENT)).unwrap(),
        r#"{"schema_version":"1.0","id":"CONFOCAL_01","label":"Confocal 1","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab","first_seen_at":"2026-04-17T14:00:00Z","last_modified_at":"2026-04-17T14:00:00Z"}"#
    );
    h.cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input("P1"))
        .unwrap();
    assert_eq!(
        String::from_utf8(h.get(RUNS)).unwrap(),
        r#"{"schema_version":"1.0","run_kind":"experimental","created_at":"2026-04-17T14:00:00Z","project":"P1","equipment":"CONFOCAL_01"}"#
    );
}

#[test]
fn s1_unknown_fields_follow_the_known_ones() {
    let h = Harness::new();
    h.put(
        EQUIPMENT,
        br#"{"extra":1,"schema_version":"1.0","id":"CONFOCAL_01","label":"x","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z"}"#,
    );
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    assert!(w
        .document
        .ends_with(r#""last_modified_at":"2026-04-17T14:00:00Z","extra":1}"#));
}

// ------------------------------------------------------- section 2: equipment

#[test]
fn s2_write_equipment_creates_missing_parent_folders() {
    let h = Harness::new();
    let deep = "A/B/C/.exlab-wizard/equipment.json";
    h.cache
        .write_equipment(deep, &equipment_input("L"))
        .unwrap();
    assert!(h.path(deep).is_file());
}

#[test]
fn s2_first_write_stamps_first_seen_at_equal_to_last_modified_at() {
    let h = Harness::new();
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.equipment.first_seen_at, w.equipment.last_modified_at);
}

#[test]
fn s2_rewrite_keeps_first_seen_at_and_advances_last_modified_at() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("Old"))
        .unwrap();
    h.clock.advance(3600);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("New"))
        .unwrap();
    assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.equipment.last_modified_at, "2026-04-17T15:00:00Z");
    assert_eq!(w.equipment.label, "New");
    assert_eq!(h.cache.read_equipment(EQUIPMENT).unwrap(), w.equipment);
}

#[test]
fn s2_caller_timestamps_and_schema_version_are_ignored() {
    let h = Harness::new();
    let mut input: Value = serde_json::from_str(&equipment_input("L")).unwrap();
    input["first_seen_at"] = json!("1999-01-01T00:00:00Z");
    input["last_modified_at"] = json!("1999-01-01T00:00:00Z");
    input["schema_version"] = json!("7.0");
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &input.to_string())
        .unwrap();
    assert_eq!(w.equipment.schema_version, "1.0");
    assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
}

#[test]
fn s2_unknown_fields_already_in_the_file_are_kept() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    let mut on_disk = full_record(&h, EQUIPMENT);
    on_disk["room"] = json!({"building": 4, "floor": [1, 2]});
    h.put(EQUIPMENT, on_disk.to_string().as_bytes());
    h.clock.advance(10);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L2"))
        .unwrap();
    assert_eq!(
        full_record(&h, EQUIPMENT)["room"],
        json!({"building": 4, "floor": [1, 2]})
    );
    assert_eq!(w.document.as_bytes(), h.get(EQUIPMENT));
}

#[test]
fn s2_same_major_newer_minor_on_disk_is_kept_never_downgraded() {
    for (disk, written) in [
        ("1.5", "1.5"),
        ("1.99", "1.99"),
        ("1.0", "1.0"),
        ("1", "1.0"),
        ("01.5", "1.0"),
        ("1.5.3", "1.0"),
        ("1.", "1.0"),
    ] {
        let h = Harness::new();
        let stored = json!({"schema_version": disk, "id": "CONFOCAL_01", "label": "x",
            "configured_local_root": "a", "configured_nas_root": "b",
            "first_seen_at": "2020-01-01T00:00:00Z", "last_modified_at": "2020-01-01T00:00:00Z"});
        h.put(EQUIPMENT, stored.to_string().as_bytes());
        let w = h
            .cache
            .write_equipment(EQUIPMENT, &equipment_input("L"))
            .unwrap();
        assert_eq!(w.equipment.schema_version, written, "{disk}");
        assert_eq!(w.equipment.first_seen_at, "2020-01-01T00:00:00Z", "{disk}");
    }
}

#[test]
fn s2_other_major_or_no_major_on_disk_is_not_overwritten() {
    for stored in [
        &br#"{"schema_version":"2.0","id":"X"}"#[..],
        br#"{"schema_version":"garbage"}"#,
        br#"{"schema_version":3}"#,
        br#"{ "schema_version" : "2.0" , "id": "CONFOCAL_01" }"#,
    ] {
        let h = Harness::new();
        h.put(EQUIPMENT, stored);
        let e = h
            .cache
            .write_equipment(EQUIPMENT, &equipment_input("L"))
            .unwrap_err();
        assert_eq!(e.code(), "schema_major_mismatch", "{e:?}");
        assert_eq!(h.get(EQUIPMENT), stored, "left byte-for-byte");
        assert!(temp_files(h.dir.path()).is_empty());
    }
}

#[test]
fn s2_corrupt_file_is_recovered_with_a_fresh_first_seen_at_and_a_warning() {
    for corrupt in [
        &b"{not json"[..],
        b"",
        b"[1,2]",
        br#"{"schema_version":"1.0","id":"CONFOCAL_01"}"#,
        br#"{"id":"CONFOCAL_01","label":"x"}"#,
        br#"{"schema_version":"1.0","id":5,"label":"x","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z","keep":"no"}"#,
    ] {
        let h = Harness::new();
        h.put(EQUIPMENT, corrupt);
        let w = h.cache.write_equipment(EQUIPMENT, &equipment_input("L")).unwrap();
        assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
        assert_eq!(w.equipment.schema_version, "1.0");
        assert!(!w.document.contains("keep"), "nothing kept from a corrupt file");
        let warnings = h.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(EQUIPMENT), "names the file: {}", warnings[0]);
    }
}

#[test]
fn s2_unreadable_file_is_io_error() {
    let h = Harness::new();
    std::fs::create_dir_all(h.path(EQUIPMENT)).unwrap();
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap_err();
    assert_eq!(e.code(), "io_error", "{e:?}");
    assert!(h.path(EQUIPMENT).is_dir());
}

#[test]
fn s2_invalid_input_is_validation_error_naming_the_field_and_writes_nothing() {
    let cases = [
        (
            json!({"label": "L", "configured_local_root": "a", "configured_nas_root": "b"}),
            "id",
        ),
        (
            json!({"id": "lower", "label": "L", "configured_local_root": "a", "configured_nas_root": "b"}),
            "id",
        ),
        (
            json!({"id": "A".repeat(33), "label": "L", "configured_local_root": "a", "configured_nas_root": "b"}),
            "id",
        ),
        (
            json!({"id": "A", "label": 5, "configured_local_root": "a", "configured_nas_root": "b"}),
            "label",
        ),
        (
            json!({"id": "A", "label": "L", "configured_local_root": null, "configured_nas_root": "b"}),
            "configured_local_root",
        ),
        (
            json!({"id": "A", "label": "L", "configured_local_root": "a"}),
            "configured_nas_root",
        ),
        (json!({"id": "bad id", "label": 5}), "id"),
    ];
    for (input, expected) in cases {
        let h = Harness::new();
        let e = h
            .cache
            .write_equipment(EQUIPMENT, &input.to_string())
            .unwrap_err();
        assert_eq!(field(&e), Some(expected), "{input}");
        assert!(tree(h.dir.path()).is_empty(), "nothing written for {input}");
    }
}

#[test]
fn s2_input_that_is_not_json_or_not_an_object_is_validation_error_with_null_field() {
    let h = Harness::new();
    for input in ["", "not json", "[]", "\"CONFOCAL_01\"", "42", "{\"id\":"] {
        let e = h.cache.write_equipment(EQUIPMENT, input).unwrap_err();
        assert_eq!(field(&e), None, "{input:?}");
        let e = h
            .cache
            .write_marker(MarkerKind::TestRuns, TEST_RUNS, input)
            .unwrap_err();
        assert_eq!(field(&e), None, "{input:?}");
    }
    assert!(tree(h.dir.path()).is_empty());
}

// --------------------------------------------------------- section 2: markers

#[test]
fn s2_marker_is_written_once_and_stays_byte_identical() {
    let h = Harness::new();
    let first = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert!(first.written);
    let bytes = h.get(TEST_RUNS);
    h.clock.advance(60);
    let again = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("OTHER"))
        .unwrap();
    assert!(!again.written);
    assert_eq!(h.get(TEST_RUNS), bytes);
    assert_eq!(again.document.unwrap().as_bytes(), bytes);
}

#[test]
fn s2_marker_and_equipment_parent_folders_are_created() {
    let h = Harness::new();
    h.cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input("P1"))
        .unwrap();
    h.cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert!(h.path(RUNS).is_file() && h.path(TEST_RUNS).is_file());
}

#[test]
fn s2_of_n_concurrent_first_marker_writers_in_threads_exactly_one_writes() {
    let h = Harness::new();
    let written: Vec<bool> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..16)
            .map(|i| {
                let cache = &h.cache;
                s.spawn(move || {
                    cache
                        .write_marker(
                            MarkerKind::TestRuns,
                            TEST_RUNS,
                            &marker_input(&format!("P{i}")),
                        )
                        .unwrap()
                        .written
                })
            })
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(written.iter().filter(|w| **w).count(), 1, "{written:?}");
}

#[test]
fn s2_marker_input_is_validated_whether_or_not_the_file_exists() {
    let h = Harness::new();
    h.cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    let cases = [
        (
            json!({"project": "", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": "a/b", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": "a\\b", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": "..", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": ".", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": " P", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": "P ", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (
            json!({"project": "P\u{7}", "equipment": "CONFOCAL_01"}),
            "project",
        ),
        (json!({"project": 1, "equipment": "CONFOCAL_01"}), "project"),
        (json!({"equipment": "CONFOCAL_01"}), "project"),
        (
            json!({"project": "P", "equipment": "confocal"}),
            "equipment",
        ),
        (json!({"project": "P"}), "equipment"),
    ];
    for (input, expected) in cases {
        for path in [TEST_RUNS, "fresh/test_runs.json"] {
            let e = h
                .cache
                .write_marker(MarkerKind::TestRuns, path, &input.to_string())
                .unwrap_err();
            assert_eq!(field(&e), Some(expected), "{input} at {path}");
        }
    }
    assert!(!h.path("fresh").exists());
}

#[test]
fn s2_marker_created_at_must_be_a_real_time_and_absent_or_null_means_now() {
    let h = Harness::new();
    for bad in [
        json!("2026-02-30T00:00:00Z"),
        json!("2026-01-01T24:00:00Z"),
        json!("2026-01-01"),
        json!(17),
        json!("2026-01-01T00:00:60Z"),
    ] {
        let input = json!({"project": "P", "equipment": "E", "created_at": bad});
        let e = h
            .cache
            .write_marker(MarkerKind::Runs, RUNS, &input.to_string())
            .unwrap_err();
        assert_eq!(field(&e), Some("created_at"), "{bad}");
    }
    let given = json!({"project": "P", "equipment": "E", "created_at": "2024-02-29T23:59:59Z"});
    let w = h
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &given.to_string())
        .unwrap();
    assert!(w
        .document
        .unwrap()
        .contains(r#""created_at":"2024-02-29T23:59:59Z""#));
    let null = json!({"project": "P", "equipment": "E", "created_at": null});
    let w = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &null.to_string())
        .unwrap();
    assert!(w
        .document
        .unwrap()
        .contains(r#""created_at":"2026-04-17T14:00:00Z""#));
}

#[test]
fn s2_marker_run_kind_is_fixed_by_the_marker_type() {
    let h = Harness::new();
    for (kind, path, wrong, right) in [
        (MarkerKind::TestRuns, TEST_RUNS, "experimental", "test"),
        (MarkerKind::Runs, RUNS, "test", "experimental"),
    ] {
        let input = json!({"project": "P", "equipment": "E", "run_kind": wrong});
        let e = h
            .cache
            .write_marker(kind, path, &input.to_string())
            .unwrap_err();
        assert_eq!(field(&e), Some("run_kind"));
        let input = json!({"project": "P", "equipment": "E", "run_kind": right, "schema_version": "9.9", "zzz": 1});
        let w = h
            .cache
            .write_marker(kind, path, &input.to_string())
            .unwrap();
        let doc: Value = serde_json::from_str(&w.document.unwrap()).unwrap();
        assert_eq!(doc["run_kind"], json!(right));
        assert_eq!(
            doc["schema_version"],
            json!("1.0"),
            "caller schema_version ignored"
        );
        assert!(doc.get("zzz").is_none(), "unknown keys ignored");
    }
}

#[test]
fn s2_existing_marker_is_returned_as_parsed_not_normalised() {
    let h = Harness::new();
    h.put(
        TEST_RUNS,
        br#"{"project": "Z", "schema_version": "3.0", "n": 1.5}"#,
    );
    let w = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert!(!w.written);
    assert_eq!(
        w.document.as_deref(),
        Some(r#"{"project":"Z","schema_version":"3.0","n":1.5}"#)
    );
    h.put(RUNS, b"{torn");
    let w = h
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input("P1"))
        .unwrap();
    assert_eq!((w.written, w.document), (false, None));
    assert!(
        h.warnings().iter().any(|w| w.contains(RUNS)),
        "{:?}",
        h.warnings()
    );
    assert_eq!(h.get(RUNS), b"{torn");
}

// ------------------------------------------------------------ section 2: read

#[test]
fn s2_read_takes_no_lock_and_creates_nothing() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    let lock = std::fs::File::open(h.path(&format!("{EQUIPMENT}.lock"))).unwrap();
    lock.lock().unwrap();
    let read = h.cache.read_equipment(EQUIPMENT).unwrap();
    assert_eq!(read.label, "L");
    let before = tree(h.dir.path());
    assert_eq!(
        h.cache
            .read_equipment("X/.exlab-wizard/equipment.json")
            .unwrap_err()
            .code(),
        "not_found"
    );
    assert_eq!(tree(h.dir.path()), before, "a read creates nothing");
}

#[test]
fn s2_read_of_a_missing_file_is_not_found() {
    let h = Harness::new();
    assert_eq!(
        h.cache.read_equipment(EQUIPMENT).unwrap_err().code(),
        "not_found"
    );
    let e = h
        .cache
        .read_marker(MarkerKind::TestRuns, TEST_RUNS)
        .unwrap_err();
    assert_eq!(e.code(), "not_found");
}

#[test]
fn s2_read_of_malformed_json_is_decode_error() {
    let h = Harness::new();
    for bad in [
        &b"{nope"[..],
        b"",
        b"\xff\xfe",
        br#"{"schema_version":"1.0","n":1e400}"#,
    ] {
        h.put(EQUIPMENT, bad);
        assert_eq!(
            h.cache.read_equipment(EQUIPMENT).unwrap_err().code(),
            "decode_error"
        );
    }
}

#[test]
fn s2_read_of_another_major_is_schema_major_mismatch_with_found_verbatim() {
    let h = Harness::new();
    for (stored, found) in [
        (r#"{"schema_version":"2.0"}"#, json!("2.0")),
        (r#"{"schema_version":"3.7","id":5}"#, json!("3.7")),
        (r#"{"schema_version":"garbage"}"#, json!("garbage")),
        (r#"{"schema_version":2}"#, json!(2)),
        (r#"{"schema_version":2.5}"#, json!(2.5)),
        (r#"{"schema_version":true}"#, json!(true)),
    ] {
        h.put(EQUIPMENT, stored.as_bytes());
        let e = h.cache.read_equipment(EQUIPMENT).unwrap_err();
        assert_eq!(e.code(), "schema_major_mismatch", "{stored}");
        assert_eq!(e.field(), Some("schema_version"));
        assert_eq!(e.found(), Some(found), "{stored}");
        assert!(matches!(
            e,
            Error::SchemaMajorMismatch {
                expected_major: 1,
                ..
            }
        ));
    }
}

#[test]
fn s2_read_of_the_wrong_shape_is_validation_error() {
    let h = Harness::new();
    for (stored, f) in [
        (r#"{"id":"A"}"#, Some("schema_version")),
        (r#"{"schema_version":null}"#, Some("schema_version")),
        (r#"{"schema_version":""}"#, Some("schema_version")),
        (r#"{"schema_version":1}"#, Some("schema_version")),
        (r#"{"schema_version":"1.0","id":"A"}"#, Some("label")),
        (r#"[]"#, None),
    ] {
        h.put(EQUIPMENT, stored.as_bytes());
        let e = h.cache.read_equipment(EQUIPMENT).unwrap_err();
        assert_eq!(field(&e), f, "{stored}");
    }
}

#[test]
fn s2_read_accepts_any_minor_checks_types_not_formats_and_returns_known_fields() {
    let h = Harness::new();
    h.put(
        EQUIPMENT,
        br#"{"z":1,"last_modified_at":"yesterday","schema_version":"1.99","id":"not an id","label":"","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"x"}"#,
    );
    let r = h.cache.read_equipment(EQUIPMENT).unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"schema_version":"1.99","id":"not an id","label":"","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"x","last_modified_at":"yesterday"}"#
    );
}

#[test]
fn s2_marker_without_run_kind_reads_as_its_type_and_a_contradiction_is_invalid() {
    let h = Harness::new();
    let python_style = br#"{"schema_version":"1.0","created_at":"2026-04-17T14:00:00Z","project":"P1","equipment":"CONFOCAL_01"}"#;
    h.put(TEST_RUNS, python_style);
    h.put(RUNS, python_style);
    assert_eq!(
        h.cache
            .read_marker(MarkerKind::TestRuns, TEST_RUNS)
            .unwrap()
            .run_kind,
        "test"
    );
    assert_eq!(
        h.cache
            .read_marker(MarkerKind::Runs, RUNS)
            .unwrap()
            .run_kind,
        "experimental"
    );
    h.put(RUNS, br#"{"schema_version":"1.0","run_kind":"test","created_at":"t","project":"P","equipment":"E"}"#);
    let e = h.cache.read_marker(MarkerKind::Runs, RUNS).unwrap_err();
    assert_eq!(field(&e), Some("run_kind"));
}

// ------------------------------------------------------ section 2: the gate

#[test]
fn s2_schema_gate_passes_same_major_and_refuses_the_rest_with_found_verbatim() {
    let policy = Policy::builtin().unwrap();
    let settings = std::sync::Arc::new(exlab_cache::Settings::default());
    for ok in ["1.0", "1.99", "1"] {
        policy.require_schema_major(Some(ok), 1, &settings).unwrap();
    }
    for (bad, found) in [
        (None, Value::Null),
        (Some(""), json!("")),
        (Some("garbage"), json!("garbage")),
        (Some(" 1.0"), json!(" 1.0")),
        (Some("2.0"), json!("2.0")),
        (Some("3.7"), json!("3.7")),
    ] {
        let e = policy.require_schema_major(bad, 1, &settings).unwrap_err();
        assert_eq!(e.code(), "schema_major_mismatch");
        assert_eq!(e.found(), Some(found));
    }
}

// -------------------------------------------------------------- section 3

#[test]
fn s3_every_write_holds_the_flock_on_the_sidecar_lock_file() {
    let h = Harness::with(Policy::builtin().unwrap(), |s| {
        s.lock_timeout = Duration::from_millis(100)
    });
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    let before = h.get(EQUIPMENT);
    let lock = std::fs::File::open(h.path(&format!("{EQUIPMENT}.lock"))).unwrap();
    lock.lock().unwrap();
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L2"))
        .unwrap_err();
    assert_eq!(e.code(), "lock_timeout");
    std::fs::create_dir_all(h.path(TEST_RUNS).parent().unwrap()).unwrap();
    let marker_lock = std::fs::File::create(h.path(&format!("{TEST_RUNS}.lock"))).unwrap();
    marker_lock.lock().unwrap();
    let e = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P"))
        .unwrap_err();
    assert_eq!(e.code(), "lock_timeout");
    assert!(!h.path(TEST_RUNS).exists());
    assert_eq!(h.get(EQUIPMENT), before);
    drop(lock);
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L2"))
        .unwrap();
}

#[test]
fn s3_lock_waits_are_bounded_and_zero_tries_once() {
    let h = Harness::with(Policy::builtin().unwrap(), |s| {
        s.lock_timeout = Duration::ZERO
    });
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    let lock = std::fs::File::open(h.path(&format!("{EQUIPMENT}.lock"))).unwrap();
    lock.lock().unwrap();
    let started = std::time::Instant::now();
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap_err();
    assert_eq!(e.code(), "lock_timeout");
    assert!(e.message().contains(EQUIPMENT), "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "one try, no wait"
    );
}

#[test]
fn s3_atomic_replace_leaves_no_temp_file_and_a_complete_file() {
    let h = Harness::new();
    for i in 0..20 {
        h.clock.advance(1);
        let w = h
            .cache
            .write_equipment(EQUIPMENT, &equipment_input(&format!("L{i}")))
            .unwrap();
        assert_eq!(h.get(EQUIPMENT), w.document.as_bytes());
    }
    assert!(temp_files(h.dir.path()).is_empty());
    assert_eq!(
        tree(&h.path("CONFOCAL_01/.exlab-wizard")),
        ["equipment.json", "equipment.json.lock"]
    );
}
