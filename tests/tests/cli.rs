//! The CLI as a user runs it (docs/spec.md §4 to §6): real processes,
//! stdout, the JSON error on the last stderr line, and exit statuses.

use std::path::Path;

use exlab_cache_tests::*;
use serde_json::{json, Value};

/// A temp folder to run the CLI in (it is the default root).
struct Lab(tempfile::TempDir);

impl Lab {
    fn new() -> Self {
        Lab(tempfile::tempdir().unwrap())
    }
    fn dir(&self) -> &Path {
        self.0.path()
    }
    fn run(&self, args: &[&str], stdin: &str) -> Run {
        cli(self.dir(), args, stdin)
    }
    fn put(&self, rel: &str, bytes: &[u8]) {
        let p = self.dir().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    fn get(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.dir().join(rel)).unwrap()
    }
}

/// An error run: the status, the code on the last stderr line, empty stdout.
fn assert_error(run: &Run, status: i32, code: &str) -> Value {
    assert_eq!(run.status, status, "stderr: {}", run.stderr);
    assert_eq!(run.code(), code, "stderr: {}", run.stderr);
    assert_eq!(run.stdout, "", "stdout is empty on error");
    let e = run.error();
    assert!(e["message"].is_string());
    e
}

fn assert_usage_error(run: &Run) {
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(!run.stderr.is_empty());
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        serde_json::from_str::<Value>(last).is_err(),
        "usage errors are plain text: {last}"
    );
}

#[test]
fn equipment_write_prints_the_file_exactly_as_written_and_read_prints_the_record() {
    let lab = Lab::new();
    let w = lab.run(
        &["equipment", "write", EQUIPMENT],
        &equipment_input("Confocal"),
    );
    assert_eq!(w.status, 0, "{}", w.stderr);
    assert_eq!(
        w.stdout.as_bytes(),
        lab.get(EQUIPMENT),
        "stdout is the file, byte for byte"
    );
    let record = w.json();
    assert_eq!(record["first_seen_at"], record["last_modified_at"]);
    let r = lab.run(&["equipment", "read", EQUIPMENT], "");
    assert_eq!(r.status, 0);
    assert_eq!(r.stdout, w.stdout);
}

#[test]
fn equipment_write_keeps_unknown_fields_in_its_stdout() {
    let lab = Lab::new();
    lab.put(
        EQUIPMENT,
        br#"{"schema_version":"1.2","id":"CONFOCAL_01","label":"x","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z","extra":[1]}"#,
    );
    let w = lab.run(&["equipment", "write", EQUIPMENT], &equipment_input("L"));
    assert_eq!(w.status, 0);
    assert_eq!(w.json()["extra"], json!([1]));
    assert_eq!(w.json()["schema_version"], json!("1.2"));
    assert_eq!(w.stdout.as_bytes(), lab.get(EQUIPMENT));
    let r = lab.run(&["equipment", "read", EQUIPMENT], "");
    assert!(
        r.json().get("extra").is_none(),
        "reads return known fields only"
    );
}

#[test]
fn marker_writes_say_whether_they_wrote_and_carry_the_marker_as_on_disk() {
    let lab = Lab::new();
    for (cmd, path, kind) in [
        ("test-runs", TEST_RUNS, "test"),
        ("runs", RUNS, "experimental"),
    ] {
        let first = lab.run(&[cmd, "write", path], &marker_input("P1"));
        assert_eq!(first.status, 0, "{}", first.stderr);
        let out = first.json();
        assert_eq!(out["written"], json!(true));
        assert_eq!(out["marker"]["run_kind"], json!(kind));
        let on_disk: Value = serde_json::from_slice(&lab.get(path)).unwrap();
        assert_eq!(out["marker"], on_disk);
        let bytes = lab.get(path);
        let again = lab.run(&[cmd, "write", path], &marker_input("OTHER"));
        assert_eq!(again.json(), json!({"written": false, "marker": on_disk}));
        assert_eq!(lab.get(path), bytes);
        let read = lab.run(&[cmd, "read", path], "");
        assert_eq!(read.json(), on_disk);
    }
}

#[test]
fn a_marker_written_false_keeps_the_on_disk_key_order_and_an_unparseable_one_is_null() {
    let lab = Lab::new();
    lab.put(TEST_RUNS, br#"{"z":1,"a":2}"#);
    let run = lab.run(&["test-runs", "write", TEST_RUNS], &marker_input("P"));
    assert_eq!(run.stdout, r#"{"written":false,"marker":{"z":1,"a":2}}"#);
    lab.put(RUNS, b"not json");
    let run = lab.run(&["runs", "write", RUNS], &marker_input("P"));
    assert_eq!(run.status, 0);
    assert_eq!(run.stdout, r#"{"written":false,"marker":null}"#);
    assert!(
        run.stderr.lines().any(|l| l.contains(RUNS)),
        "a warning names the file"
    );
}

#[test]
fn each_error_code_has_its_exit_status_and_json_line() {
    let lab = Lab::new();
    assert_error(
        &lab.run(&["equipment", "read", EQUIPMENT], ""),
        3,
        "not_found",
    );
    lab.put("v2.json", br#"{"schema_version":"2.0","id":"X"}"#);
    let e = assert_error(
        &lab.run(&["equipment", "read", "v2.json"], ""),
        4,
        "schema_major_mismatch",
    );
    assert_eq!(e["field"], json!("schema_version"));
    assert_eq!(e["expected_major"], json!(1));
    assert_eq!(e["found"], json!("2.0"));
    lab.put("bad.json", b"{nope");
    assert_error(
        &lab.run(&["equipment", "read", "bad.json"], ""),
        5,
        "decode_error",
    );
    let e = assert_error(
        &lab.run(&["equipment", "write", EQUIPMENT], "{}"),
        6,
        "validation_error",
    );
    assert_eq!(e["field"], json!("id"));
    let e = assert_error(
        &lab.run(&["equipment", "write", EQUIPMENT], "nope"),
        6,
        "validation_error",
    );
    assert_eq!(e["field"], Value::Null);
    assert_error(
        &lab.run(&["equipment", "read", "../outside.json"], ""),
        7,
        "access_denied",
    );
    assert_error(
        &lab.run(&["--policy", "missing.wasm", "policy", "info"], ""),
        9,
        "policy_error",
    );
    assert_error(
        &lab.run(
            &["--root", "no-such-dir", "equipment", "read", EQUIPMENT],
            "",
        ),
        1,
        "io_error",
    );
}

#[test]
fn lock_timeout_exits_8_and_zero_tries_once() {
    let lab = Lab::new();
    lab.run(&["equipment", "write", EQUIPMENT], &equipment_input("L"));
    let lock = std::fs::File::open(lab.dir().join(format!("{EQUIPMENT}.lock"))).unwrap();
    lock.lock().unwrap();
    for secs in ["0", "0.2"] {
        let run = lab.run(
            &["--lock-timeout", secs, "equipment", "write", EQUIPMENT],
            &equipment_input("L"),
        );
        assert_error(&run, 8, "lock_timeout");
    }
    let marker_lock = lab.dir().join(format!("{EQUIPMENT}.lock"));
    assert!(marker_lock.exists());
}

#[test]
fn usage_errors_are_plain_text_with_exit_status_2() {
    let lab = Lab::new();
    for args in [
        &["frobnicate"][..],
        &["equipment"],
        &["equipment", "write"],
        &["equipment", "delete", "x"],
        &["--bogus", "policy", "info"],
        &["schema", "check", "1.0"],
        &["schema", "check", "1.0", "--major", "-1"],
        &["schema", "check", "1.0", "--major", "one"],
        &["--lock-timeout", "-1", "policy", "info"],
        &["--lock-timeout", "abc", "policy", "info"],
        &["--lock-timeout", "1e3", "policy", "info"],
        &["--lock-timeout", "inf", "policy", "info"],
        &["--lock-timeout", "", "policy", "info"],
        &["sync"],
        &[],
    ] {
        assert_usage_error(&lab.run(args, ""));
    }
    let help = lab.run(&["--help"], "");
    assert_eq!(help.status, 0);
    assert!(help.stdout.contains("equipment"));
}

#[test]
fn lock_timeout_accepts_non_negative_decimals() {
    let lab = Lab::new();
    for secs in ["0", "0.5", "30", "2.25", "10."] {
        let run = lab.run(
            &["--lock-timeout", secs, "equipment", "write", EQUIPMENT],
            &equipment_input("L"),
        );
        assert_eq!(run.status, 0, "{secs}: {}", run.stderr);
    }
}

#[test]
fn checks_run_in_order_usage_policy_input_path_lock_file() {
    let lab = Lab::new();
    // policy before input
    let run = lab.run(
        &["--policy", "nope.wasm", "equipment", "write", "../x.json"],
        "not json",
    );
    assert_error(&run, 9, "policy_error");
    // input before path
    let run = lab.run(&["equipment", "write", "../x.json"], "not json");
    assert_error(&run, 6, "validation_error");
    // input before a missing root
    let run = lab.run(
        &["--root", "missing", "equipment", "write", EQUIPMENT],
        "{}",
    );
    assert_error(&run, 6, "validation_error");
    // path before lock and file
    let run = lab.run(
        &["equipment", "write", "/etc/x.json"],
        &equipment_input("L"),
    );
    assert_error(&run, 7, "access_denied");
    assert!(
        tree(lab.dir()).is_empty(),
        "refused before the lock: nothing created"
    );
    assert!(!Path::new("/etc/x.json").exists() && !Path::new("/etc/x.json.lock").exists());
}

#[test]
fn calls_refused_before_the_lock_create_nothing_inside_or_outside_the_root() {
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let r = root.to_str().unwrap();
    let attempts: [(&[&str], &str, i32); 5] = [
        (
            &[
                "--root",
                r,
                "equipment",
                "write",
                "../esc/.exlab-wizard/equipment.json",
            ],
            &equipment_input("L"),
            7,
        ),
        (
            &["--root", r, "test-runs", "write", "A/B/test_runs.json"],
            r#"{"project":"","equipment":"E"}"#,
            6,
        ),
        (&["--root", r, "runs", "write", "A/B/runs.json"], "[]", 6),
        (
            &[
                "--root",
                r,
                "--policy",
                "x.wasm",
                "runs",
                "write",
                "A/runs.json",
            ],
            &marker_input("P"),
            9,
        ),
        (
            &["--root", r, "equipment", "write", "A/equipment.json"],
            r#"{"id":"A","label":1}"#,
            6,
        ),
    ];
    for (args, stdin, status) in attempts {
        let run = cli(outer.path(), args, stdin);
        assert_eq!(run.status, status, "{args:?}: {}", run.stderr);
    }
    assert_eq!(tree(outer.path()), ["root"]);
}

#[test]
fn root_defaults_to_the_current_folder_and_paths_may_be_absolute_inside_it() {
    let lab = Lab::new();
    let inside = lab.dir().join(EQUIPMENT);
    let run = lab.run(
        &["equipment", "write", inside.to_str().unwrap()],
        &equipment_input("L"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let root = lab.dir().to_str().unwrap().to_owned();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = cli(
        elsewhere.path(),
        &["--root", &root, "equipment", "read", EQUIPMENT],
        "",
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let run = cli(
        elsewhere.path(),
        &["--root", &root, "equipment", "read", "/etc/hostname"],
        "",
    );
    assert_error(&run, 7, "access_denied");
}

#[test]
fn root_must_be_an_existing_folder() {
    let lab = Lab::new();
    lab.put("file", b"x");
    for root in ["missing", "file"] {
        let run = lab.run(&["--root", root, "equipment", "read", EQUIPMENT], "");
        assert_error(&run, 1, "io_error");
        let run = lab.run(
            &["--root", root, "equipment", "write", EQUIPMENT],
            &equipment_input("L"),
        );
        assert_error(&run, 1, "io_error");
    }
    assert!(!lab.dir().join("missing").exists());
}

#[test]
fn schema_check_exits_0_when_the_gate_passes_and_ignores_root() {
    let lab = Lab::new();
    for (version, major) in [("1.0", "1"), ("1.99", "1"), ("1", "1"), ("2.5", "2")] {
        let run = lab.run(
            &[
                "--root", "missing", "schema", "check", version, "--major", major,
            ],
            "",
        );
        assert_eq!(
            (run.status, run.stdout.as_str()),
            (0, ""),
            "{version}: {}",
            run.stderr
        );
    }
    for version in ["", "garbage", " 1.0", "2.0", "3.7", "-1"] {
        let run = lab.run(&["schema", "check", version, "--major", "1"], "");
        let e = assert_error(&run, 4, "schema_major_mismatch");
        assert_eq!(e["found"], json!(version));
        assert_eq!(e["expected_major"], json!(1));
        assert_eq!(e["field"], json!("schema_version"));
    }
}

#[test]
fn policy_info_names_the_policy_its_semver_and_interface() {
    let lab = Lab::new();
    let run = lab.run(&["--root", "missing", "policy", "info"], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let info = run.json();
    assert_eq!(info["name"], json!("exlab-cache-policy"));
    assert_eq!(info["interface"], json!(exlab_cache::INTERFACE));
    let version = info["version"].as_str().unwrap();
    assert_eq!(
        version
            .split('.')
            .filter(|p| p.parse::<u64>().is_ok())
            .count(),
        3,
        "{version}"
    );
    assert_eq!(info["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn warnings_go_to_stderr_one_line_naming_the_file() {
    let lab = Lab::new();
    lab.put(EQUIPMENT, b"{corrupt");
    let run = lab.run(&["equipment", "write", EQUIPMENT], &equipment_input("L"));
    assert_eq!(run.status, 0);
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(run.stderr.contains(EQUIPMENT), "{}", run.stderr);
    assert_eq!(run.stdout.as_bytes(), lab.get(EQUIPMENT));
}

#[test]
fn edge_cases_of_section_6() {
    let lab = Lab::new();
    // run_kind null in input means absent
    let run = lab.run(
        &["runs", "write", RUNS],
        r#"{"project":"P","equipment":"E","run_kind":null}"#,
    );
    assert_eq!(run.json()["marker"]["run_kind"], json!("experimental"));
    // ... and on disk it is the wrong type
    lab.put(TEST_RUNS, br#"{"schema_version":"1.0","run_kind":null,"created_at":"t","project":"P","equipment":"E"}"#);
    let e = assert_error(
        &lab.run(&["test-runs", "read", TEST_RUNS], ""),
        6,
        "validation_error",
    );
    assert_eq!(e["field"], json!("run_kind"));
    // a number outside the range of a double is a decode error
    lab.put("big.json", br#"{"schema_version":"1.0","x":1e999}"#);
    assert_error(
        &lab.run(&["equipment", "read", "big.json"], ""),
        5,
        "decode_error",
    );
    // several invalid input fields: the first in section 1 order
    let run = lab.run(
        &["runs", "write", RUNS],
        r#"{"equipment":"bad","project":"","created_at":"nope"}"#,
    );
    assert_eq!(
        assert_error(&run, 6, "validation_error")["field"],
        json!("created_at")
    );
    // a folder where the marker should be
    std::fs::create_dir_all(lab.dir().join("X/runs.json")).unwrap();
    assert_error(
        &lab.run(&["runs", "write", "X/runs.json"], &marker_input("P")),
        1,
        "io_error",
    );
    // a read creates nothing
    let before = tree(lab.dir());
    assert_error(
        &lab.run(&["runs", "read", "Y/Z/runs.json"], ""),
        3,
        "not_found",
    );
    assert_eq!(tree(lab.dir()), before);
    // a recovered corrupt file is rewritten cleanly: nothing kept from it
    lab.put(
        EQUIPMENT,
        br#"{"schema_version":"1.5","id":"CONFOCAL_01","label":"x","extra":1}"#,
    );
    let w = lab
        .run(&["equipment", "write", EQUIPMENT], &equipment_input("L"))
        .json();
    assert_eq!(w["schema_version"], json!("1.0"));
    assert!(w.get("extra").is_none());
}

#[test]
fn a_policy_that_does_not_fit_is_refused_before_anything_is_touched() {
    let lab = Lab::new();
    lab.put("garbage.wasm", b"\0asm not really");
    let wrong = exlab_cache_test_guests::path("wrong-interface");
    for policy in [lab.dir().join("garbage.wasm"), wrong] {
        let run = lab.run(
            &[
                "--policy",
                policy.to_str().unwrap(),
                "equipment",
                "write",
                EQUIPMENT,
            ],
            &equipment_input("L"),
        );
        assert_error(&run, 9, "policy_error");
    }
    assert_eq!(tree(lab.dir()), ["garbage.wasm"]);
}

// ------------------------------------------------------------------ sync

fn write_config(lab: &Lab, rel: &str, yaml: &str) {
    lab.put(rel, yaml.as_bytes());
}

#[test]
fn sync_writes_every_configured_equipment_relative_to_the_config_folder() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.dir().join("conf/disk")).unwrap();
    let abs = tempfile::tempdir().unwrap();
    let yaml = format!(
        "equipment:\n  - id: CONFOCAL_01\n    label: Confocal\n    local_root: disk\n    nas_root: //nas/a\n    extra: ignored\n  - id: SEM_02\n    label: SEM\n    local_root: {}\n    nas_root: //nas/b\n",
        abs.path().display()
    );
    write_config(&lab, "conf/lab.yaml", &yaml);
    let run = lab.run(&["--root", "missing", "sync", "conf/lab.yaml"], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    let first = lab.get("conf/disk/CONFOCAL_01/.exlab-wizard/equipment.json");
    assert_eq!(lines[0].as_bytes(), first);
    let record: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(record["configured_local_root"], json!("disk"), "verbatim");
    assert_eq!(record["configured_nas_root"], json!("//nas/a"));
    assert!(abs
        .path()
        .join("SEM_02/.exlab-wizard/equipment.json")
        .is_file());
}

#[test]
fn sync_reports_failed_entries_goes_on_and_exits_with_the_first_failure() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.dir().join("disk")).unwrap();
    let yaml = "equipment:
  - id: GOOD_1
    label: ok
    local_root: disk
    nas_root: n
  - id: UNMOUNTED
    label: x
    local_root: not-mounted
    nas_root: n
  - id: 42
    label: numeric id
    local_root: disk
    nas_root: n
  - id: NO_LABEL
    local_root: disk
    nas_root: n
  - id: GOOD_2
    label: ok
    local_root: disk
    nas_root: n
";
    write_config(&lab, "lab.yaml", yaml);
    let run = lab.run(&["sync", "lab.yaml"], "");
    assert_eq!(
        run.status, 1,
        "the first failure is io_error: {}",
        run.stderr
    );
    assert_eq!(run.code(), "io_error");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["id"], json!("GOOD_1"));
    assert_eq!(lines[1]["id"], json!("UNMOUNTED"));
    assert_eq!(lines[1]["error"]["code"], json!("io_error"));
    assert_eq!(
        lines[2],
        json!({"id": null, "error": lines[2]["error"].clone()})
    );
    assert_eq!(lines[2]["error"]["field"], json!("id"));
    assert_eq!(lines[3]["id"], json!("NO_LABEL"));
    assert_eq!(lines[3]["error"]["field"], json!("label"));
    assert_eq!(lines[4]["id"], json!("GOOD_2"));
    assert!(
        !lab.dir().join("not-mounted").exists(),
        "an unmounted disk is not replaced by a folder"
    );
}

#[test]
fn sync_reads_yaml_1_2_scalars_so_short_words_stay_strings() {
    let lab = Lab::new();
    std::fs::create_dir_all(lab.dir().join("d")).unwrap();
    write_config(
        &lab,
        "lab.yaml",
        "equipment:\n  - {id: Y, label: no, local_root: d, nas_root: n}\n",
    );
    let run = lab.run(&["sync", "lab.yaml"], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let record: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(
        (&record["label"], &record["configured_nas_root"]),
        (&json!("no"), &json!("n"))
    );
}

#[test]
fn sync_refuses_missing_unparseable_and_listless_configs() {
    let lab = Lab::new();
    assert_error(&lab.run(&["sync", "nope.yaml"], ""), 3, "not_found");
    write_config(&lab, "bad.yaml", "equipment: [unclosed\n  - {");
    assert_error(&lab.run(&["sync", "bad.yaml"], ""), 5, "decode_error");
    for listless in ["lab_name: x\n", "equipment: 5\n", "", "- a\n- b\n"] {
        write_config(&lab, "none.yaml", listless);
        let e = assert_error(&lab.run(&["sync", "none.yaml"], ""), 6, "validation_error");
        assert_eq!(e["field"], json!("equipment"), "{listless:?}");
    }
}
