//! Issue 10, points 3 and 4: valid but unusual JSON on disk is read, never recovered; a document that could not be read back is never written.

use exlab_cache::{Error, MarkerKind};
use exlab_cache_tests::*;
use std::process::Command;

/// The policy's limit on a document it writes: the host's default read limit.
const LIMIT: usize = 1 << 20;

const OLD: &str = "2020-01-01T00:00:00Z";

/// An equipment.json as Python's `json.dump` writes it (default separators,
/// `ensure_ascii`), with fields of a newer minor: one nested 200 deep (past
/// serde_json's 128) and a lone surrogate, which `json.dumps` escapes.
const PYTHON_WRITER: &str = r#"
import json, sys
deep = 1
for _ in range(200):
    deep = [deep]
record = {"schema_version": "1.4", "id": "CONFOCAL_01", "label": "Confocal \ud800",
          "configured_local_root": "/data/lab", "configured_nas_root": "//nas01/lab",
          "first_seen_at": "2020-01-01T00:00:00Z", "last_modified_at": "2020-01-01T00:00:00Z",
          "calibration": {"deep": deep}, "note": "\ud800 half a pair", "n": 1e2}
with open(sys.argv[1], "w") as f:
    json.dump(record, f)
assert json.load(open(sys.argv[1]))["calibration"]["deep"] is not None
"#;

fn python_json_file(h: &Harness, relative: &str) -> Option<Vec<u8>> {
    let path = h.path(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("python3")
        .args(["-c", PYTHON_WRITER])
        .arg(&path)
        .status();
    match status {
        Ok(s) if s.success() => Some(h.get(relative)),
        _ => {
            println!("SKIPPED: no python3");
            None
        }
    }
}

/// `s` without the whitespace Python's default separators put in.
fn compact(json: &str) -> String {
    json.replace(", ", ",").replace(": ", ":")
}

#[test]
fn p3_a_file_pythons_json_wrote_is_read_and_rewritten_keeping_everything() {
    let h = Harness::new();
    let Some(stored) = python_json_file(&h, EQUIPMENT) else {
        return;
    };
    let stored = String::from_utf8(stored).unwrap();
    assert!(stored.contains(r#""\ud800 half a pair""#), "{stored}");

    let read = h.cache.read_equipment(EQUIPMENT).unwrap();
    // A WIT string cannot hold a lone surrogate: it reads as U+FFFD.
    assert_eq!(read.label, "Confocal \u{FFFD}");
    assert_eq!(read.schema_version, "1.4");
    assert_eq!(
        h.get(EQUIPMENT),
        stored.as_bytes(),
        "a read changed the file"
    );

    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("Confocal 1"))
        .unwrap();
    assert!(h.warnings().is_empty(), "{:?}", h.warnings());
    assert_eq!(w.equipment.first_seen_at, OLD);
    assert_eq!(w.equipment.schema_version, "1.4");
    let unknown = &stored[stored.find(r#", "calibration""#).unwrap()..];
    assert!(
        w.document.ends_with(&compact(unknown)),
        "unknown fields not kept verbatim: {}",
        w.document
    );
    assert_eq!(h.get(EQUIPMENT), w.document.as_bytes());
    // Read back: the known fields as written, nothing recovered since.
    assert_eq!(h.cache.read_equipment(EQUIPMENT).unwrap(), w.equipment);
}

/// A document of `size` bytes whose unknown field `deep` is nested arrays.
fn deeply_nested_record(size: usize) -> String {
    let head = format!(
        r#"{{"schema_version":"1.4","id":"CONFOCAL_01","label":"Confocal 1","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab","first_seen_at":"{OLD}","last_modified_at":"{OLD}","deep":"#
    );
    let depth = (size - head.len() - 2) / 2;
    let record = format!("{head}{}0{}}}", "[".repeat(depth), "]".repeat(depth));
    assert!(size - record.len() <= 1);
    record
}

#[test]
fn p3_a_megabyte_of_nesting_goes_through_the_component_without_overflowing_its_stack() {
    let h = Harness::new();
    let stored = deeply_nested_record(LIMIT);
    h.put(EQUIPMENT, stored.as_bytes());
    assert_eq!(
        h.cache.read_equipment(EQUIPMENT).unwrap().first_seen_at,
        OLD
    );
    h.clock.set(T0 + 1);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("Confocal 1"))
        .unwrap();
    assert!(h.warnings().is_empty(), "{:?}", h.warnings());
    assert_eq!(w.equipment.first_seen_at, OLD);
    let expected = stored.replacen(
        &format!(r#""last_modified_at":"{OLD}""#),
        r#""last_modified_at":"2026-04-17T14:00:01Z""#,
        1,
    );
    assert_eq!(w.document, expected);
    assert_eq!(h.get(EQUIPMENT), expected.as_bytes());

    // The same nesting as an existing marker: returned as it is on disk.
    h.put(TEST_RUNS, stored.as_bytes());
    let m = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert!(!m.written);
    assert_eq!(m.document.as_deref(), Some(stored.as_str()));
}

#[test]
fn p3_an_existing_marker_is_returned_as_stored_without_whitespace() {
    let h = Harness::new();
    let stored = r#"{ "schema_version": "1.0", "run_kind": "test", "created_at": "2026-01-01T00:00:00Z",
        "project": "P1", "equipment": "CONFOCAL_01", "n": 1e2, "s": "\ud800" }"#;
    h.put(TEST_RUNS, stored.as_bytes());
    let m = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert_eq!(
        m.document.as_deref(),
        Some(
            r#"{"schema_version":"1.0","run_kind":"test","created_at":"2026-01-01T00:00:00Z","project":"P1","equipment":"CONFOCAL_01","n":1e2,"s":"\ud800"}"#
        )
    );
    assert_eq!(h.get(TEST_RUNS), stored.as_bytes());
    assert!(h.warnings().is_empty());
}

#[test]
fn p3_a_file_past_the_read_limit_is_refused_with_io_error_not_recovered() {
    let h = Harness::new();
    // Valid JSON, one byte too big: whitespace after the record.
    let record = deeply_nested_record(1000);
    let stored = format!("{record}{}", " ".repeat(LIMIT + 1 - record.len()));
    h.put(EQUIPMENT, stored.as_bytes());
    let e = h.cache.read_equipment(EQUIPMENT).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert_eq!(h.get(EQUIPMENT), stored.as_bytes());
    assert!(h.warnings().is_empty(), "{:?}", h.warnings());
    assert!(temp_files(h.dir.path()).is_empty());
}

#[test]
fn p3_nan_and_infinity_are_not_json_and_a_write_recovers_them() {
    // Decided: RFC 8259 has no NaN or Infinity (Python's json writes them
    // for such floats), and 1e400 is already refused (docs/spec.md §6).
    for token in ["NaN", "Infinity", "-Infinity", "1e400"] {
        let h = Harness::new();
        let stored = format!(
            r#"{{"schema_version":"1.0","id":"CONFOCAL_01","label":"L","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"{OLD}","last_modified_at":"{OLD}","x":{token}}}"#
        );
        h.put(EQUIPMENT, stored.as_bytes());
        let e = h.cache.read_equipment(EQUIPMENT).unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{token}: {e:?}");
        let w = h
            .cache
            .write_equipment(EQUIPMENT, &equipment_input("L"))
            .unwrap();
        assert_eq!(w.equipment.first_seen_at, w.equipment.last_modified_at);
        assert_eq!(h.warnings().len(), 1, "{token}");
    }
}

/// Equipment input whose first-write document is exactly `size` bytes.
fn equipment_input_of_size(size: usize) -> String {
    let probe = Harness::new();
    let skeleton = probe
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(""))
        .unwrap();
    equipment_input(&"l".repeat(size - skeleton.document.len()))
}

/// Marker input whose document is exactly `size` bytes.
fn marker_input_of_size(size: usize) -> String {
    let probe = Harness::new();
    let skeleton = probe
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input("p"))
        .unwrap();
    marker_input(&"p".repeat(size - skeleton.document.unwrap().len() + 1))
}

fn assert_too_long(e: Error, field: &str) {
    match e {
        Error::Validation {
            field: Some(f),
            message,
        } => {
            assert_eq!(f, field, "{message}");
            assert!(message.contains("1048576-byte limit"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn p4_the_library_writes_a_document_of_exactly_the_limit_and_refuses_one_byte_more() {
    let h = Harness::new();
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input_of_size(LIMIT))
        .unwrap();
    assert_eq!(w.document.len(), LIMIT);
    assert_eq!(h.cache.read_equipment(EQUIPMENT).unwrap(), w.equipment);
    // And it can be rewritten: the lock, the read and the replace all pass.
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input_of_size(LIMIT))
        .unwrap();
    let m = h
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input_of_size(LIMIT))
        .unwrap();
    assert_eq!(m.document.unwrap().len(), LIMIT);
    h.cache.read_marker(MarkerKind::Runs, RUNS).unwrap();

    let h = Harness::new();
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input_of_size(LIMIT + 1))
        .unwrap_err();
    assert_too_long(e, "label");
    let e = h
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &marker_input_of_size(LIMIT + 1))
        .unwrap_err();
    assert_too_long(e, "project");
    assert!(tree(h.dir.path()).is_empty(), "{:?}", tree(h.dir.path()));
}

#[test]
fn p4_a_rewrite_that_fields_kept_from_disk_push_over_the_limit_leaves_the_file() {
    let h = Harness::new();
    let stored = format!(
        r#"{{"schema_version":"1.0","id":"CONFOCAL_01","label":"x","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"{OLD}","last_modified_at":"{OLD}","notes":"{}"}}"#,
        "n".repeat(600_000)
    );
    h.put(EQUIPMENT, stored.as_bytes());
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&"l".repeat(500_000)))
        .unwrap_err();
    assert!(matches!(e, Error::Validation { field: None, .. }), "{e:?}");
    assert_eq!(h.get(EQUIPMENT), stored.as_bytes());
    assert!(temp_files(h.dir.path()).is_empty());
}

#[test]
fn p4_the_cli_refuses_one_byte_over_the_limit_with_exit_6_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    for (args, input, field) in [
        (
            ["equipment", "write", EQUIPMENT],
            equipment_input_of_size(LIMIT + 1),
            "label",
        ),
        (
            ["runs", "write", RUNS],
            marker_input_of_size(LIMIT + 1),
            "project",
        ),
    ] {
        let run = cli(dir.path(), &[&["--root", root][..], &args].concat(), &input);
        assert_eq!(run.status, 6, "{}", run.stderr);
        assert_eq!(run.code(), "validation_error");
        assert_eq!(run.error()["field"], field);
        assert!(run.stdout.is_empty());
        assert!(tree(dir.path()).is_empty(), "{:?}", tree(dir.path()));
    }
    for (write, read, input) in [
        (
            ["equipment", "write", EQUIPMENT],
            ["equipment", "read", EQUIPMENT],
            equipment_input_of_size(LIMIT),
        ),
        (
            ["runs", "write", RUNS],
            ["runs", "read", RUNS],
            marker_input_of_size(LIMIT),
        ),
    ] {
        let run = cli(
            dir.path(),
            &[&["--root", root][..], &write].concat(),
            &input,
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        let run = cli(dir.path(), &[&["--root", root][..], &read].concat(), "");
        assert_eq!(run.status, 0, "{}", run.stderr);
    }
    assert_eq!(
        std::fs::metadata(dir.path().join(EQUIPMENT)).unwrap().len(),
        LIMIT as u64
    );
    assert_eq!(
        std::fs::metadata(dir.path().join(RUNS)).unwrap().len(),
        LIMIT as u64
    );
}
