//! Log lines: the app's shape, one event per line, the byte limit.

use super::super::list;
use super::*;
use crate::memory::MemEnv;
use serde_json::{json, Value};

const T: i64 = 1_776_436_315; // 2026-04-17T14:31:55Z

fn line_of(env: &MemEnv, input: Value) -> String {
    let out: Value = serde_json::from_str(&format(&env, &input.to_string()).unwrap()).unwrap();
    out["line"].as_str().unwrap().to_owned()
}

fn field(e: Error) -> Option<String> {
    match e {
        Error::Validation { field, .. } => field,
        other => panic!("not a validation error: {other:?}"),
    }
}

#[test]
fn log_format_matches_the_spec_example() {
    let env = MemEnv::at(T);
    let line = line_of(
        &env,
        json!({"level": "INFO", "host": "labpc-04",
        "equipment_id": "CONFOCAL_01", "project_short_id": "PROJ-0042", "run_kind": "experimental",
        "message": "Creation started: new_run on CONFOCAL_01/PROJ-0042"}),
    );
    assert_eq!(
        line,
        "2026-04-17T14:31:55Z [INFO ] [host:labpc-04] [equip:CONFOCAL_01] [proj:PROJ-0042] \
         [kind:experimental] Creation started: new_run on CONFOCAL_01/PROJ-0042"
    );
}

#[test]
fn log_format_puts_the_run_tag_last_and_leaves_out_absent_or_null_tags() {
    let env = MemEnv::at(T);
    let line = line_of(
        &env,
        json!({"run_id": "Run_1", "level": "WARN", "message": "m",
        "host": null, "run_kind": "test", "timestamp": "2026-01-02T03:04:05Z"}),
    );
    assert_eq!(
        line,
        "2026-01-02T03:04:05Z [WARN ] [kind:test] [run:Run_1] m"
    );
    let line = line_of(&env, json!({"level": "INFO", "message": "bare message"}));
    assert_eq!(line, "2026-04-17T14:31:55Z [INFO ] bare message");
}

#[test]
fn log_format_pads_the_level_to_five_characters() {
    let env = MemEnv::at(T);
    for (level, shown) in [
        ("INFO", "[INFO ]"),
        ("DEBUG", "[DEBUG]"),
        ("É", "[É    ]"),
        ("TRACE2", "[TRACE2]"),
    ] {
        assert!(
            line_of(&env, json!({"level": level, "message": "m"})).contains(shown),
            "{level}"
        );
    }
}

#[test]
fn log_format_checks_its_input_in_order() {
    let env = MemEnv::at(T);
    let cases = [
        (json!({"message": "m"}), Some("level")),
        (json!({"level": 1, "message": 2}), Some("level")),
        (json!({"level": "INFO"}), Some("message")),
        (
            json!({"level": "INFO", "message": "m", "timestamp": "2026-04-17T14:31:55+00:00"}),
            Some("timestamp"),
        ),
        (
            json!({"level": "INFO", "message": "m", "run_id": 5, "host": []}),
            Some("host"),
        ),
        (
            json!({"level": "INFO", "message": "m", "max_bytes": 0}),
            Some("max_bytes"),
        ),
        (
            json!({"level": "INFO", "message": "m", "max_bytes": 65537}),
            Some("max_bytes"),
        ),
        (
            json!({"level": "INFO", "message": "m", "max_bytes": 1.5}),
            Some("max_bytes"),
        ),
        (json!("INFO m"), None),
    ];
    for (input, want) in cases {
        assert_eq!(
            field(format(&&env, &input.to_string()).unwrap_err()).as_deref(),
            want,
            "{input}"
        );
    }
}

#[test]
fn log_lines_never_hold_a_line_break() {
    let env = MemEnv::at(T);
    let line = line_of(
        &env,
        json!({"level": "ERROR\n", "host": "a\rb", "message":
        "Traceback:\r\n  File x\u{2028}y\u{b}z\u{85}"}),
    );
    assert_eq!(
        line,
        "2026-04-17T14:31:55Z [ERROR\\n] [host:a\\rb] Traceback:\\r\\n  File x\\u2028y\\x0bz\\x85"
    );
    assert_eq!(line.lines().count(), 1);
}

#[test]
fn log_line_with_its_newline_fits_max_bytes_or_is_cut_with_the_marker() {
    let env = MemEnv::at(T);
    let prefix = "2026-04-17T14:31:55Z [INFO ] ".len();
    let fits = line_of(
        &env,
        json!({"level": "INFO", "message": "x".repeat(1023 - prefix)}),
    );
    assert_eq!(fits.len(), 1023);
    assert!(!fits.ends_with(MARKER));
    let cut = line_of(
        &env,
        json!({"level": "INFO", "message": "x".repeat(1024 - prefix)}),
    );
    assert_eq!(cut.len(), 1023);
    assert!(cut.ends_with(&format!("x{MARKER}")));
    // As the app counts (the line without its newline): one more byte.
    let app = line_of(
        &env,
        json!({"level": "INFO", "message": "x".repeat(1024 - prefix),
        "max_bytes": 1025}),
    );
    assert_eq!(app.len(), 1024);
    assert!(!app.ends_with(MARKER));
}

#[test]
fn log_cut_keeps_whole_utf8_characters() {
    let env = MemEnv::at(T);
    // A 38-byte prefix leaves 971 bytes before the marker: 485 'é' and one byte over.
    let line = line_of(
        &env,
        json!({"level": "INFO", "host": "h", "message": "é".repeat(600)}),
    );
    assert_eq!(line.len(), 38 + 970 + MARKER.len());
    assert!(line.ends_with(&format!("é{MARKER}")));
    let emoji = line_of(
        &env,
        json!({"level": "INFO", "message": "😀".repeat(300), "max_bytes": 50}),
    );
    assert_eq!(emoji, format!("2026-04-17T14:31:55Z [INFO ] 😀{MARKER}"));
}

#[test]
fn log_cut_keeps_the_apps_pathological_shapes() {
    let env = MemEnv::at(T);
    let line = |max_bytes: u64| {
        line_of(
            &env,
            json!({"level": "INFO", "message": "msg",
        "host": "a-very-long-host-name", "max_bytes": max_bytes}),
        )
    };
    // No room for the marker: the marker alone.
    assert_eq!(line(1), MARKER);
    assert_eq!(line(15), MARKER);
    // The prefix alone is too long: it is cut, then the marker.
    assert_eq!(line(16), format!("2{MARKER}"));
    assert_eq!(line(19), format!("2026{MARKER}"));
    assert_eq!(line(40), format!("2026-04-17T14:31:55Z [INF{MARKER}"));
}

#[test]
fn log_append_writes_one_line_to_this_machines_file_in_a_folder() {
    let env = MemEnv::at(T);
    *env.hostname.borrow_mut() = Some("lab/pc\\04".to_owned());
    let out = append(
        &&env,
        "E/.exlab-wizard",
        r#"{"level":"INFO","message":"one"}"#,
    )
    .unwrap();
    append(&&env, "E/.exlab-wizard/", r#"{"line":"two\nlines"}"#).unwrap();
    let file = "E/.exlab-wizard/wizard.lab_pc_04.log";
    assert_eq!(
        out,
        format!(r#"{{"path":"{file}","line":"2026-04-17T14:31:55Z [INFO ] one"}}"#)
    );
    assert_eq!(
        env.get(file).unwrap(),
        b"2026-04-17T14:31:55Z [INFO ] one\ntwo\\nlines\n"
    );
    let kind = list(&&env).into_iter().find(|k| k.name == "log").unwrap();
    assert_eq!(kind.file_name, "wizard.lab_pc_04.log");
}

#[test]
fn log_append_to_a_log_file_path_uses_it_and_cuts_a_given_line() {
    let env = MemEnv::at(T);
    let input = json!({"line": "é".repeat(20), "max_bytes": 30});
    let out: Value =
        serde_json::from_str(&append(&&env, "E/wizard.other.log", &input.to_string()).unwrap())
            .unwrap();
    assert_eq!(out["path"], "E/wizard.other.log");
    assert_eq!(out["line"], format!("{}{MARKER}", "é".repeat(7)));
    let written = env.get("E/wizard.other.log").unwrap();
    assert_eq!(written.len(), 29);
    assert_eq!(log_file("", "h"), "wizard.h.log");
    assert_eq!(log_file("/", "h"), "/wizard.h.log");
}

#[test]
fn log_append_of_bad_input_appends_nothing() {
    let env = MemEnv::at(T);
    for input in [
        r#"{"line":5}"#,
        r#"{"line":"x","max_bytes":0}"#,
        r#"{"message":"m"}"#,
        "nope",
    ] {
        assert!(
            matches!(append(&&env, "E", input), Err(Error::Validation { .. })),
            "{input}"
        );
    }
    assert!(env.files.borrow().is_empty());
}
