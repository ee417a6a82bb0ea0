//! The 1.1 scenarios: the record kinds this host's front ends call by name
//! keep their invariants (creation.json written once, an update under the
//! lock that keeps unknown fields and writes nothing when the caller gives
//! up or the file is of another major, ingest.json forward-only, a log
//! line bounded and whole).

use serde_json::{json, Value};

use super::{expect, Outcome, Scenario, T0_TEXT};
use crate::interface::latest::Access;
use crate::policy::KindCall;
use crate::Error;

const CREATION: &str = "GATE_01/P1/.exlab-wizard/creation.json";
const INGEST: &str = "GATE_01/P1/Runs/Run_1/.exlab-wizard/ingest.json";
const LOG: &str = "GATE_01/.exlab-wizard/wizard.gate.log";

/// The kinds the host's typed conveniences call, with their operations.
const EXPECTED: &[(&str, &[(&str, Access)])] = &[
    (
        "creation",
        &[
            ("create", Access::Write),
            ("update", Access::Update),
            ("read", Access::Read),
        ],
    ),
    (
        "ingest",
        &[
            ("create", Access::Write),
            ("transition", Access::Write),
            ("read", Access::Read),
        ],
    ),
    (
        "readme-fields",
        &[("write", Access::Write), ("read", Access::Read)],
    ),
    (
        "log",
        &[("format", Access::None), ("append", Access::Append)],
    ),
];

/// A valid creation.json record of a run, as the lab app writes one.
fn creation(created_by: &str) -> Value {
    json!({
        "schema_version": "1.9",
        "created_at": T0_TEXT,
        "created_by": created_by,
        "level": "run",
        "run_kind": "experimental",
        "lims_project": {"uid": "8c7e9d2f-1a4b-4e6c-9b3d-7f2a1e5d8c4b", "short_id": "PROJ-0042", "name_at_creation": "Gate"},
        "template": {"name": "gate_run", "version": "1.0", "source_path": "templates/gate_run"},
        "variables": {"operator": created_by},
        "paths": {"local": "/data/lab/GATE_01/P1", "nas": "//nas01/lab/GATE_01/P1"},
    })
}

fn call<'a>(kind: &'a str, operation: &'a str, path: &'a str, input: &'a str) -> KindCall<'a> {
    KindCall {
        kind,
        operation,
        path,
        input_json: input,
    }
}

impl Scenario<'_> {
    fn run(&self, what: &str, c: KindCall<'_>) -> Result<Value, String> {
        let text = self.call(what, self.cache.run(c, None))?;
        serde_json::from_str(&text).map_err(|e| format!("{what} gave no JSON ({e}): {text}"))
    }

    pub(super) fn kinds_listed(&self) -> Outcome {
        let kinds = self.call("listing the kinds", self.cache.kinds())?;
        for (name, operations) in EXPECTED {
            let kind = kinds
                .iter()
                .find(|k| k.name == *name)
                .ok_or_else(|| format!("no kind {name}"))?;
            for (op, access) in *operations {
                let found = kind.operations.iter().find(|o| o.name == *op);
                let found = found.ok_or_else(|| format!("kind {name} has no operation {op}"))?;
                expect(&format!("the access of {name} {op}"), found.access, access)?;
            }
        }
        Ok(())
    }

    pub(super) fn creation_created_once(&self) -> Outcome {
        let first = creation("asmith").to_string();
        let w = self.run("create", call("creation", "create", CREATION, &first))?;
        expect("written (first create)", &w["written"], json!(true))?;
        let before = self.file(CREATION).ok_or("creation.json is not on disk")?;
        let on_disk: Value = serde_json::from_slice(&before).map_err(|e| e.to_string())?;
        expect("the returned record", &w["creation"], &on_disk)?;
        let again = creation("someone else").to_string();
        let w = self.run(
            "second create",
            call("creation", "create", CREATION, &again),
        )?;
        expect("written (second create)", &w["written"], json!(false))?;
        if self.file(CREATION).as_deref() != Some(&before[..]) {
            return Err("a second create changed creation.json".into());
        }
        Ok(())
    }

    pub(super) fn creation_update_keeps_unknown_fields(&self) -> Outcome {
        let mut stored = creation("asmith");
        stored["schema_version"] = json!("1.5");
        stored["added_later"] = json!({"kept": [1, "two"]});
        stored["lims_project"]["added_later_inside"] = json!("kept too");
        self.put(CREATION, stored.to_string().as_bytes())?;
        let mut seen = None;
        let mut step = |record: String| {
            let mut record: Value = serde_json::from_str(&record).ok()?;
            seen = Some(record.clone());
            record["sync_status"] = json!("synced");
            Some(record.to_string())
        };
        let written = self.call(
            "update",
            self.cache.run(
                call("creation", "update", CREATION, "null"),
                Some(&mut step),
            ),
        )?;
        let seen = seen.ok_or("the policy never called the caller's step")?;
        expect(
            "created_by handed to the step",
            &seen["created_by"],
            json!("asmith"),
        )?;
        let disk = self.on_disk(CREATION)?;
        expect("sync_status on disk", &disk["sync_status"], json!("synced"))?;
        expect(
            "an unknown field on disk",
            disk.get("added_later"),
            Some(&stored["added_later"]),
        )?;
        expect(
            "an unknown field inside lims_project on disk",
            &disk["lims_project"]["added_later_inside"],
            json!("kept too"),
        )?;
        expect(
            "schema_version on disk (an older minor bumped)",
            &disk["schema_version"],
            json!("1.9"),
        )?;
        expect(
            "the returned document",
            written,
            String::from_utf8_lossy(&self.file(CREATION).unwrap_or_default()),
        )
    }

    pub(super) fn update_step_giving_up(&self) -> Outcome {
        let stored = creation("asmith").to_string();
        self.put(CREATION, stored.as_bytes())?;
        let mut step = |_: String| None;
        match self.cache.run(
            call("creation", "update", CREATION, "null"),
            Some(&mut step),
        ) {
            Ok(_) => return Err("an update whose step gave up succeeded".into()),
            Err(e) => {
                self.saw(e);
            }
        }
        if self.file(CREATION).as_deref() != Some(stored.as_bytes()) {
            return Err("an update whose step gave up changed the file".into());
        }
        self.no_temp_files()
    }

    pub(super) fn creation_other_major(&self) -> Outcome {
        let newer = br#"{"schema_version":"2.0","from":"a newer app"}"#;
        self.put(CREATION, newer)?;
        let mut called = false;
        let mut step = |record: String| {
            called = true;
            Some(record)
        };
        let result = self.cache.run(
            call("creation", "update", CREATION, "null"),
            Some(&mut step),
        );
        match result {
            Err(Error::SchemaMajorMismatch { found_json, .. }) if found_json == "\"2.0\"" => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "updating a \"2.0\" creation.json gave {} ({}), expected schema_major_mismatch",
                    e.code(),
                    e.message()
                ));
            }
            Ok(_) => return Err("a \"2.0\" creation.json was updated".into()),
        }
        if called {
            return Err("the caller's step was handed a \"2.0\" file".into());
        }
        if self.file(CREATION).as_deref() != Some(&newer[..]) {
            return Err("the \"2.0\" creation.json was changed".into());
        }
        Ok(())
    }

    pub(super) fn ingest_forward_only(&self) -> Outcome {
        let record = json!({
            "schema_version": "1.1",
            "project_name": "P1",
            "equipment_id": "GATE_01",
            "run_kind": "experimental",
            "run_path": "/staging/GATE_01/P1/Runs/Run_1",
            "transport": "smb_mount",
            "current_state": "staging",
            "history": [{"state": "staging", "at": T0_TEXT, "host": "gate"}],
        })
        .to_string();
        self.run("create", call("ingest", "create", INGEST, &record))?;
        let complete =
            json!({"state": "complete", "host": "gate", "files_received": 3}).to_string();
        let w = self.run(
            "a forward transition",
            call("ingest", "transition", INGEST, &complete),
        )?;
        expect("current_state", &w["current_state"], json!("complete"))?;
        expect(
            "history entries",
            w["history"].as_array().map(Vec::len),
            Some(2),
        )?;
        let before = self.file(INGEST).unwrap_or_default();
        let back = json!({"state": "staging", "host": "gate"}).to_string();
        match self
            .cache
            .run(call("ingest", "transition", INGEST, &back), None)
        {
            Err(Error::Validation { field: Some(f), .. }) if f == "state" => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "a backward transition gave {} ({}), expected validation_error on state",
                    e.code(),
                    e.message()
                ));
            }
            Ok(_) => return Err("a backward transition was written".into()),
        }
        if self.file(INGEST).unwrap_or_default() != before {
            return Err("a refused transition changed ingest.json".into());
        }
        Ok(())
    }

    pub(super) fn log_line_bounded(&self) -> Outcome {
        let message = format!("first line\nsecond line {}", "é".repeat(3000));
        let fields =
            json!({"level": "INFO", "message": message, "equipment_id": "GATE_01"}).to_string();
        self.run("append", call("log", "append", LOG, &fields))?;
        let log = self.file(LOG).ok_or("the log is not on disk")?;
        let lines = log.split_inclusive(|&b| b == b'\n').count();
        expect("lines in the log", lines, 1)?;
        if log.len() > 1024 || log.last() != Some(&b'\n') {
            return Err(format!(
                "the line is {} bytes with its newline (at most 1024, ending in one newline)",
                log.len()
            ));
        }
        std::str::from_utf8(&log)
            .map(drop)
            .map_err(|e| format!("the cut line is not UTF-8: {e}"))
    }

    fn no_temp_files(&self) -> Outcome {
        let folder = self.dir.join(CREATION);
        let folder = folder.parent().unwrap_or(self.dir);
        let temps: Vec<String> = std::fs::read_dir(folder)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".tmp"))
                    .collect()
            })
            .unwrap_or_default();
        expect("temp files left", temps, Vec::<String>::new())
    }
}
