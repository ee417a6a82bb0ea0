//! The cache family behind interface 1.1 (docs/spec.md §9): creation.json,
//! ingest.json, readme_fields.json and log lines, through the library, the
//! CLI, and real processes racing each other and the lab app's `filelock`.

use std::convert::Infallible;
use std::process::{Child, Command, Stdio};

use exlab_cache::{Cache, UpdateError};
use exlab_cache_tests::python::{filelock_python, FILELOCK_VERSIONS};
use exlab_cache_tests::*;
use serde_json::{json, Value};

const CREATION: &str = "CONFOCAL_01/PROJ-0042/Runs/Run_1/.exlab-wizard/creation.json";
const INGEST: &str = "CONFOCAL_01/PROJ-0042/Runs/Run_1/.exlab-wizard/ingest.json";
const README: &str = "CONFOCAL_01/PROJ-0042/.exlab-wizard/readme_fields.json";
const LOG_DIR: &str = "CONFOCAL_01/.exlab-wizard";

fn creation(created_by: &str) -> Value {
    json!({
        "created_at": "2026-04-17T14:32:00Z",
        "created_by": created_by,
        "level": "run",
        "run_kind": "experimental",
        "lims_project": {"uid": "8c7e9d2f-1a4b-4e6c-9b3d-7f2a1e5d8c4b", "short_id": "PROJ-0042", "name_at_creation": "Cortex Q3 Pilot"},
        "template": {"name": "confocal_run_v2", "version": "2.1", "source_path": "templates/confocal_run_v2", "run_scope": "both"},
        "variables": {"project_name": "Cortex Q3 Pilot"},
        "paths": {"local": "/x", "nas": "//y"},
    })
}

fn ingest() -> Value {
    json!({
        "project_name": "PROJ-0042",
        "equipment_id": "CONFOCAL_01",
        "run_kind": "experimental",
        "run_path": "/staging/CONFOCAL_01/PROJ-0042/Runs/Run_1",
        "transport": "smb_mount",
        "current_state": "staging",
        "history": [{"state": "staging", "at": "2026-04-17T14:00:00Z", "host": "orch-01"}],
    })
}

fn file(h: &Harness, path: &str) -> Vec<u8> {
    std::fs::read(h.dir.path().join(path)).unwrap()
}

// ------------------------------------------------------------ the library

#[test]
fn s9_creation_is_created_once_and_read_with_every_known_field() {
    let h = Harness::new();
    let created = h
        .cache
        .create_creation(CREATION, &creation("asmith").to_string())
        .unwrap();
    assert!(created.written);
    let on_disk: Value = serde_json::from_slice(&file(&h, CREATION)).unwrap();
    assert_eq!(created.record.as_ref(), Some(&on_disk));
    assert_eq!(on_disk["schema_version"], "1.9");
    let before = file(&h, CREATION);
    let again = h
        .cache
        .create_creation(CREATION, &creation("someone else").to_string())
        .unwrap();
    assert!(!again.written, "a second create writes nothing");
    assert_eq!(again.record.as_ref(), Some(&on_disk));
    assert_eq!(file(&h, CREATION), before);
    let read = h.cache.read_creation(CREATION).unwrap();
    assert_eq!(read["created_by"], "asmith");
    assert_eq!(read["sync_status"], "pending", "defaults filled on read");
    assert_eq!(read["validation_overrides"], json!([]));
}

#[test]
fn s9_an_update_runs_the_callers_step_under_the_lock_and_keeps_unknown_fields() {
    let h = Harness::new();
    let mut stored = creation("asmith");
    stored["schema_version"] = json!("1.7");
    stored["from_a_newer_writer"] = json!({"kept": true});
    std::fs::create_dir_all(h.dir.path().join(CREATION).parent().unwrap()).unwrap();
    std::fs::write(h.dir.path().join(CREATION), stored.to_string()).unwrap();
    let lock = h.dir.path().join(format!("{CREATION}.lock"));
    let written = h
        .cache
        .update_creation(CREATION, |record| {
            // The lock is held while the step runs.
            let held = std::fs::File::open(&lock).unwrap();
            assert!(
                fs4::FileExt::try_lock(&held).is_err(),
                "the step runs under the lock"
            );
            assert_eq!(
                record["lims_project"]["source"], "live",
                "1.7 read with 1.8's defaults"
            );
            record["sync_status"] = json!("synced");
            Ok::<_, Infallible>(())
        })
        .unwrap();
    assert_eq!(written["sync_status"], "synced");
    assert_eq!(
        written["schema_version"], "1.9",
        "an older minor is bumped on write"
    );
    assert_eq!(written["from_a_newer_writer"], json!({"kept": true}));
    let on_disk: Value = serde_json::from_slice(&file(&h, CREATION)).unwrap();
    assert_eq!(on_disk, written);
}

#[test]
fn s9_a_failing_step_writes_nothing_and_its_error_reaches_the_caller() {
    let h = Harness::new();
    h.cache
        .create_creation(CREATION, &creation("asmith").to_string())
        .unwrap();
    let before = file(&h, CREATION);
    let e = h
        .cache
        .update_creation(CREATION, |record| {
            record["sync_status"] = json!("synced");
            Err("the operator cancelled")
        })
        .unwrap_err();
    assert!(
        matches!(e, UpdateError::Step("the operator cancelled")),
        "{e}"
    );
    assert_eq!(file(&h, CREATION), before);
    assert_eq!(temp_files(h.dir.path()), Vec::<String>::new());
    // A step that leaves an invalid record: the policy's validation_error.
    let e = h
        .cache
        .update_creation(CREATION, |record| {
            record["level"] = json!("galaxy");
            Ok::<_, Infallible>(())
        })
        .unwrap_err();
    let UpdateError::Cache(e) = e;
    assert_eq!((e.code(), e.field()), ("validation_error", Some("level")));
    assert_eq!(file(&h, CREATION), before);
}

#[test]
fn s9_an_update_of_a_missing_or_other_major_file_never_calls_the_step() {
    let h = Harness::new();
    let mut called = false;
    let e = h
        .cache
        .update_creation(CREATION, |_| {
            called = true;
            Ok::<_, Infallible>(())
        })
        .unwrap_err();
    assert!(
        matches!(e, UpdateError::Cache(ref e) if e.code() == "not_found"),
        "{e}"
    );
    let newer = br#"{"schema_version":"2.0","created_by":"a newer app"}"#;
    let path = h.dir.path().join(CREATION);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, newer).unwrap();
    let e = h
        .cache
        .update_creation(CREATION, |_| {
            called = true;
            Ok::<_, Infallible>(())
        })
        .unwrap_err();
    assert!(
        matches!(e, UpdateError::Cache(ref e) if e.code() == "schema_major_mismatch"),
        "{e}"
    );
    assert!(!called);
    assert_eq!(file(&h, CREATION), newer);
}

#[test]
fn s9_update_json_hands_over_the_record_as_stored_text() {
    let h = Harness::new();
    let mut record = creation("asmith");
    record["schema_version"] = json!("1.9");
    record["variables"] = json!({"big": 0});
    let stored = record.to_string().replace(
        r#""big":0"#,
        r#""big":1000000000000000000000000000000,"f":0.1000000000000000055511151231257827"#,
    );
    std::fs::create_dir_all(h.dir.path().join(CREATION).parent().unwrap()).unwrap();
    std::fs::write(h.dir.path().join(CREATION), &stored).unwrap();
    let written = h
        .cache
        .update_json("creation", CREATION, |record| {
            assert!(
                record.contains(r#""big":1000000000000000000000000000000"#),
                "{record}"
            );
            Ok::<_, Infallible>(
                record.replace(r#""sync_status":"pending""#, r#""sync_status":"synced""#),
            )
        })
        .unwrap();
    assert!(
        written.contains(r#""big":1000000000000000000000000000000"#),
        "{written}"
    );
    assert!(
        written.contains(r#""f":0.1000000000000000055511151231257827"#),
        "numbers stay as stored: {written}"
    );
    assert!(written.contains(r#""sync_status":"synced""#), "{written}");
    // A record a serde_json::Value cannot hold: a clear refusal, nothing written.
    let deep_text = record.to_string().replace(
        r#""variables":{"big":0}"#,
        &format!(
            r#""variables":{{"deep":{}1{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        ),
    );
    std::fs::write(h.dir.path().join(CREATION), &deep_text).unwrap();
    let e = h
        .cache
        .update_creation(CREATION, |_| Ok::<_, Infallible>(()))
        .unwrap_err();
    let UpdateError::Cache(e) = e;
    assert_eq!(e.code(), "validation_error");
    assert!(e.message().contains("update_json"), "{e}");
    assert_eq!(
        std::fs::read_to_string(h.dir.path().join(CREATION)).unwrap(),
        deep_text
    );
}

#[test]
fn s9_update_refuses_a_record_a_value_would_change_and_writes_nothing() {
    // A Value keeps an integer past 64 bits only as a float: handing it
    // over would rewrite a field the step never touched.
    let h = Harness::new();
    let mut record = creation("asmith");
    record["schema_version"] = json!("1.9");
    record["serial"] = json!(0);
    let stored = record
        .to_string()
        .replace(r#""serial":0"#, r#""serial":18446744073709551616123"#);
    std::fs::create_dir_all(h.dir.path().join(CREATION).parent().unwrap()).unwrap();
    std::fs::write(h.dir.path().join(CREATION), &stored).unwrap();
    let mut called = false;
    let e = h
        .cache
        .update_creation(CREATION, |_| {
            called = true;
            Ok::<_, Infallible>(())
        })
        .unwrap_err();
    let UpdateError::Cache(e) = e;
    assert!(!called, "the step never saw a changed record");
    assert_eq!(e.code(), "validation_error");
    assert!(e.message().contains("18446744073709551616123"), "{e}");
    assert!(e.message().contains("update_json"), "{e}");
    assert_eq!(
        std::fs::read_to_string(h.dir.path().join(CREATION)).unwrap(),
        stored
    );
    assert!(temp_files(h.dir.path()).is_empty());
}

#[test]
fn s9_a_step_may_read_the_cache_again() {
    let h = Harness::new();
    h.cache
        .create_creation(CREATION, &creation("asmith").to_string())
        .unwrap();
    let cache = h.cache.clone();
    let written = h
        .cache
        .update_creation(CREATION, move |record| {
            // A read takes no lock: no deadlock with the lock this update holds.
            let snapshot = cache.read_creation(CREATION).map_err(|e| e.to_string())?;
            record["variables"]["seen_by_step"] = snapshot["created_by"].clone();
            Ok::<_, String>(())
        })
        .unwrap();
    assert_eq!(written["variables"]["seen_by_step"], "asmith");
}

#[test]
fn s9_ingest_moves_forward_only_with_each_states_fields() {
    let h = Harness::new();
    assert!(
        h.cache
            .create_ingest(INGEST, &ingest().to_string())
            .unwrap()
            .written
    );
    h.clock.set(T0 + 60);
    let w = h
        .cache
        .transition_ingest(
            INGEST,
            r#"{"state":"complete","host":"orch-01","files_received":12,"bytes_received":4096,"nas_path":"//ignored"}"#,
        )
        .unwrap();
    assert_eq!(w["current_state"], "complete");
    assert_eq!(
        w["history"][1],
        json!({"state":"complete","at":utc(T0 + 60),"host":"orch-01","files_received":12,"bytes_received":4096})
    );
    let before = file(&h, INGEST);
    let e = h
        .cache
        .transition_ingest(INGEST, r#"{"state":"staging","host":"orch-01"}"#)
        .unwrap_err();
    assert_eq!((e.code(), e.field()), ("validation_error", Some("state")));
    assert!(e.message().contains("illegal state transition"), "{e}");
    assert_eq!(file(&h, INGEST), before);
    let read = h.cache.read_ingest(INGEST).unwrap();
    assert_eq!(read["history"].as_array().unwrap().len(), 2);
}

#[test]
fn s9_readme_fields_are_written_stamped_and_their_limits_hold() {
    let h = Harness::new();
    let record = json!({
        "core_fields": {"label": "Cortex", "operator": "asmith", "objective": "Count synapses."},
        "system_fields": {"created": "2026-04-17T14:32:00Z", "run_kind": "experimental"},
    });
    let w = h
        .cache
        .write_readme_fields(README, &record.to_string())
        .unwrap();
    assert_eq!(w["schema_version"], "1.1");
    assert_eq!(
        h.cache.read_readme_fields(README).unwrap()["core_fields"]["label"],
        "Cortex"
    );
    let mut long = record.clone();
    long["core_fields"]["label"] = json!("x".repeat(101));
    let e = h
        .cache
        .write_readme_fields(README, &long.to_string())
        .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("validation_error", Some("core_fields.label"))
    );
}

#[test]
fn s9_a_log_line_goes_to_this_machines_file_bounded_and_whole() {
    let h = Harness::with(exlab_cache::Policy::builtin().unwrap(), |s| {
        s.hostname = "labpc-04".into();
    });
    let appended = h
        .cache
        .append_log_line(
            LOG_DIR,
            r#"{"level":"INFO","message":"Creation started\non two lines","host":"labpc-04","equipment_id":"CONFOCAL_01"}"#,
        )
        .unwrap();
    assert_eq!(appended.path, format!("{LOG_DIR}/wizard.labpc-04.log"));
    let log = String::from_utf8(file(&h, &appended.path)).unwrap();
    assert_eq!(log, format!("{}\n", appended.line));
    assert!(
        log.starts_with(
            "2026-04-17T14:00:00Z [INFO ] [host:labpc-04] [equip:CONFOCAL_01] Creation started"
        ),
        "{log}"
    );
    assert_eq!(log.lines().count(), 1, "no embedded newline: {log:?}");
    let long = json!({"line": "é".repeat(2000)}).to_string();
    let appended = h.cache.append_log_line(LOG_DIR, &long).unwrap();
    assert!(appended.line.ends_with("...[truncated]"));
    assert!(
        appended.line.len() < 1024,
        "with its newline at most 1024 bytes"
    );
}

#[test]
fn s9_a_kind_the_host_was_not_built_for_is_called_by_name() {
    let h = Harness::new();
    let kinds = h.cache.kinds().unwrap();
    let names: Vec<&str> = kinds.iter().map(|k| k.name.as_str()).collect();
    for name in [
        "equipment",
        "test-runs",
        "runs",
        "creation",
        "ingest",
        "readme-fields",
        "log",
    ] {
        assert!(names.contains(&name), "{names:?}");
    }
    // The 1.0 files by name answer exactly as the typed calls do.
    let by_name = h
        .cache
        .run(
            "equipment",
            "write",
            EQUIPMENT,
            &equipment_input("Confocal"),
        )
        .unwrap();
    assert_eq!(by_name.into_bytes(), file(&h, EQUIPMENT));
    let e = h.cache.run("nope", "read", "x", "null").unwrap_err();
    assert_eq!((e.code(), e.field()), ("validation_error", Some("kind")));
    let e = h.cache.run("creation", "nope", "x", "null").unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("validation_error", Some("operation"))
    );
    assert!(tree(h.dir.path())
        .iter()
        .all(|p| p.starts_with("CONFOCAL_01")));
}

#[test]
fn s9_bad_input_creates_nothing() {
    let h = Harness::new();
    let mut bad = creation("asmith");
    bad["lims_project"]["uid"] = json!(7);
    let e = h
        .cache
        .create_creation(CREATION, &bad.to_string())
        .unwrap_err();
    assert_eq!(
        (e.code(), e.field()),
        ("validation_error", Some("lims_project.uid"))
    );
    let e = h.cache.create_ingest(INGEST, "[1]").unwrap_err();
    assert_eq!((e.code(), e.field()), ("validation_error", None));
    let e = h
        .cache
        .create_creation("../out/creation.json", &creation("a").to_string())
        .unwrap_err();
    assert_eq!(e.code(), "access_denied");
    assert!(tree(h.dir.path()).is_empty(), "{:?}", tree(h.dir.path()));
}

// ----------------------------------------------------------------- the CLI

#[test]
fn s9_cli_creation_create_update_read() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(
        dir.path(),
        &["creation", "create", CREATION],
        &creation("asmith").to_string(),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["written"], true);
    let run = cli(
        dir.path(),
        &["creation", "update", CREATION],
        r#"{"sync_status":"synced","variables":{"operator":"bjones"}}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let on_disk = std::fs::read_to_string(dir.path().join(CREATION)).unwrap();
    assert_eq!(run.stdout, on_disk, "stdout is the file as written");
    let written = run.json();
    assert_eq!(written["sync_status"], "synced");
    assert_eq!(
        written["variables"],
        json!({"project_name": "Cortex Q3 Pilot", "operator": "bjones"}),
        "a merge patch merges"
    );
    let run = cli(dir.path(), &["creation", "read", CREATION], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["created_by"], "asmith");
    // Errors with the spec's exit statuses; stdout stays empty.
    let run = cli(dir.path(), &["creation", "update", CREATION], "not json");
    assert_eq!((run.status, run.code()), (6, "validation_error".into()));
    assert!(run.stdout.is_empty());
    let run = cli(dir.path(), &["creation", "read", "nope/creation.json"], "");
    assert_eq!((run.status, run.code()), (3, "not_found".into()));
    assert!(!dir.path().join("nope").exists());
    let run = cli(
        dir.path(),
        &["creation", "update", CREATION],
        r#"{"level":"galaxy"}"#,
    );
    assert_eq!(run.status, 6);
    assert_eq!(run.error()["field"], "level");
    assert_eq!(
        std::fs::read_to_string(dir.path().join(CREATION)).unwrap(),
        on_disk
    );
}

#[test]
fn s9_cli_update_keeps_the_text_of_every_member_the_patch_does_not_name() {
    // Unknown fields as another writer left them: an integer past 64 bits,
    // a decimal longer than a double, a lone surrogate, in their order.
    let dir = tempfile::tempdir().unwrap();
    let mut record = creation("asmith");
    record["schema_version"] = json!("1.9");
    record["sync_status"] = json!("synced");
    let unknown =
        r#""u1":18446744073709551616123,"u2":0.10000000000000000000001,"u3":"\ud800","u4":4"#;
    let stored = format!("{},{unknown}}}", record.to_string().trim_end_matches('}'));
    std::fs::create_dir_all(dir.path().join(CREATION).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(CREATION), &stored).unwrap();
    // A null removes a member (sync_status back to its default, left out).
    let run = cli(
        dir.path(),
        &["creation", "update", CREATION],
        r#"{"sync_status": null, "variables": {"operator": "bjones"}}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let on_disk = std::fs::read_to_string(dir.path().join(CREATION)).unwrap();
    assert_eq!(run.stdout, on_disk, "stdout is the file as written");
    assert!(on_disk.ends_with(&format!(",{unknown}}}")), "{on_disk}");
    assert!(!on_disk.contains("sync_status"), "{on_disk}");
    assert!(on_disk.contains(r#""operator":"bjones""#), "{on_disk}");
    // The generic form takes the same patch.
    let run = cli(
        dir.path(),
        &["kind", "creation", "update", CREATION],
        r#"{"sync_status":"cleaned"}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let on_disk = std::fs::read_to_string(dir.path().join(CREATION)).unwrap();
    assert!(on_disk.ends_with(&format!(",{unknown}}}")), "{on_disk}");
    assert!(on_disk.contains(r#""sync_status":"cleaned""#), "{on_disk}");
}

#[test]
fn s9_cli_ingest_readme_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(
        dir.path(),
        &["ingest", "create", INGEST],
        &ingest().to_string(),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = cli(
        dir.path(),
        &["ingest", "transition", INGEST],
        r#"{"state":"cleared"}"#,
    );
    assert_eq!(run.status, 6, "{}", run.stderr);
    assert_eq!(run.error()["field"], "state");
    let run = cli(
        dir.path(),
        &["ingest", "transition", INGEST],
        r#"{"state":"complete"}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let host = exlab_cache::machine_hostname();
    assert_eq!(
        run.json()["history"][1]["host"],
        host,
        "the machine's name by default"
    );
    let readme = json!({"core_fields": {"label": "L"}, "system_fields": {}}).to_string();
    let run = cli(dir.path(), &["readme-fields", "write", README], &readme);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = cli(dir.path(), &["readme-fields", "read", README], "");
    assert_eq!(run.json()["core_fields"]["label"], "L");
    let run = cli(
        dir.path(),
        &["log", "append", LOG_DIR],
        r#"{"level":"WARN","message":"disk nearly full"}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let log = dir.path().join(LOG_DIR).join(format!("wizard.{host}.log"));
    let line = std::fs::read_to_string(&log).unwrap();
    assert!(line.contains("[WARN ] disk nearly full\n"), "{line:?}");
    let run = cli(
        dir.path(),
        &["log", "format"],
        r#"{"level":"INFO","message":"m","timestamp":"2026-04-17T14:31:55Z"}"#,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["line"], "2026-04-17T14:31:55Z [INFO ] m");
}

#[test]
fn s9_cli_generic_form_by_kind_name() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(dir.path(), &["kinds"], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let kinds = run.json();
    let creation_ops: Vec<&str> = kinds
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "creation")
        .unwrap()["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(creation_ops.contains(&"update"), "{creation_ops:?}");
    let run = cli(
        dir.path(),
        &["kind", "runs", "write", RUNS],
        &marker_input("P1"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["written"], true);
    let run = cli(dir.path(), &["kind", "creation", "read"], "");
    assert_eq!(run.status, 2, "a PATH the operation needs is a usage error");
    assert!(run.stderr.contains("needs a PATH"), "{}", run.stderr);
    let run = cli(dir.path(), &["kind", "nope", "read", "x"], "");
    assert_eq!(
        (run.status, run.error()["field"].clone()),
        (6, json!("kind"))
    );
}

// ------------------------------------------------- real processes racing

/// Spawns the CLI without waiting for it.
fn spawn(root: &std::path::Path, args: &[&str], stdin: &str) -> Child {
    spawn_cli(root, args, stdin)
}

#[test]
fn s9_concurrent_updates_from_processes_never_lose_one() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    Cache::open(root)
        .unwrap()
        .create_creation(CREATION, &creation("asmith").to_string())
        .unwrap();
    let writers: Vec<Child> = (0..8)
        .map(|i| {
            let patch = json!({"variables": {format!("k{i}"): i}}).to_string();
            spawn(root, &["creation", "update", CREATION], &patch)
        })
        .collect();
    for writer in writers {
        let out = writer.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let record = Cache::open(root).unwrap().read_creation(CREATION).unwrap();
    for i in 0..8 {
        assert_eq!(record["variables"][format!("k{i}")], i, "{record}");
    }
}

/// The lab app's own writer recipe for creation.json: filelock, read,
/// mutate, temp file + os.replace, all under the lock.
const APP_UPDATE: &str = r#"
import json, os, sys, tempfile, filelock
path, key, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
for n in range(rounds):
    with filelock.FileLock(path + ".lock", timeout=30):
        with open(path) as f:
            record = json.load(f)
        record.setdefault("plugins_applied", []).append(
            {"plugin": key, "version": str(n), "files_affected": [], "status": "success"})
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=os.path.basename(path) + ".", suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
        os.replace(tmp, path)
"#;

#[test]
fn s9_updates_exclude_the_lab_apps_filelock_writers() {
    for version in FILELOCK_VERSIONS {
        let python = match filelock_python(version) {
            Ok(python) => python,
            Err(why) => {
                println!("SKIPPED filelock {version}: {why}");
                continue;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let cache = Cache::open(root).unwrap();
        cache
            .create_creation(CREATION, &creation("asmith").to_string())
            .unwrap();
        let path = root.join(CREATION);
        const ROUNDS: usize = 20;
        let apps: Vec<Child> = (0..2)
            .map(|i| {
                Command::new(&python)
                    .args(["-c", APP_UPDATE])
                    .arg(&path)
                    .arg(format!("app{i}"))
                    .arg(ROUNDS.to_string())
                    .stdout(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let ours: Vec<std::thread::JoinHandle<()>> = (0..2)
            .map(|i| {
                let cache = cache.clone();
                std::thread::spawn(move || {
                    for n in 0..ROUNDS {
                        cache
                            .update_creation(CREATION, |record| {
                                let entry = json!({"plugin": format!("host{i}"), "version": n.to_string(), "files_affected": [], "status": "success"});
                                record["plugins_applied"].as_array_mut().unwrap().push(entry);
                                Ok::<_, Infallible>(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for mut app in apps {
            assert!(app.wait().unwrap().success(), "filelock {version}");
        }
        for thread in ours {
            thread.join().unwrap();
        }
        let record = cache.read_creation(CREATION).unwrap();
        let entries = record["plugins_applied"].as_array().unwrap().len();
        assert_eq!(
            entries,
            4 * ROUNDS,
            "filelock {version}: an update was lost"
        );
        println!("filelock {version}: {entries} updates from 4 writers, none lost");
    }
}

#[test]
fn s9_concurrent_log_appenders_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let log = format!("{LOG_DIR}/wizard.race.log");
    const PROCESSES: usize = 6;
    const LINES: usize = 40;
    let script = format!(
        "for i in $(seq {LINES}); do echo '{{\"level\":\"INFO\",\"message\":\"'$0' line '$i' {}\"}}' | {} --root {} log append {log} >/dev/null || exit 1; done",
        "x".repeat(300),
        cli_exe().display(),
        root.display()
    );
    let appenders: Vec<Child> = (0..PROCESSES)
        .map(|p| {
            Command::new("sh")
                .args(["-c", &script, &format!("p{p}")])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut a in appenders {
        assert!(a.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(root.join(&log)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), PROCESSES * LINES);
    for line in lines {
        assert!(
            line.contains("[INFO ] p") && line.ends_with(&"x".repeat(300)),
            "torn: {line}"
        );
    }
}

// ------------------------------------------------------------- AsyncCache

#[tokio::test(flavor = "current_thread")]
async fn s9_async_updates_run_their_step_off_the_runtime_and_lose_none() {
    let h = Harness::new();
    let cache = exlab_cache::AsyncCache::new(h.cache.clone());
    let created = cache
        .create_creation(CREATION, creation("asmith").to_string())
        .await
        .unwrap();
    assert!(created.written);
    // The current-thread runtime runs on this thread: a step here would
    // block it.
    let runtime_thread = std::thread::current().id();
    let updates: Vec<_> = (0..10)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .update_creation(CREATION, move |record| {
                        assert_ne!(std::thread::current().id(), runtime_thread);
                        record["variables"][format!("k{i}")] = json!(i);
                        Ok::<_, Infallible>(())
                    })
                    .await
                    .unwrap()
            })
        })
        .collect();
    for update in updates {
        update.await.unwrap();
    }
    let read = cache.read_creation(CREATION).await.unwrap();
    for i in 0..10 {
        assert_eq!(read["variables"][format!("k{i}")], i);
    }
    let e = cache
        .update_creation(CREATION, |_| Err("no"))
        .await
        .unwrap_err();
    assert!(matches!(e, UpdateError::Step("no")));
    let appended = cache
        .append_log_line(LOG_DIR, r#"{"level":"INFO","message":"async"}"#)
        .await
        .unwrap();
    assert!(appended.line.ends_with("async"));
}
