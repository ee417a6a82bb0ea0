//! The conformance gate: before a new policy serves a real root, it runs the
//! golden scenarios of docs/spec.md against a scratch root (a fresh temp folder,
//! never the real one), with a clock the gate moves. A policy that breaks an
//! invariant is refused with a report naming each failed scenario.

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::interface::latest::{Equipment, EquipmentWritten, MarkerKind, MarkerWritten};
use crate::{CollectedWarnings, Error, ManualClock, Policy, PolicyInfo, Root, Settings};

/// 2026-04-17T14:00:00Z, and one hour later: the gate's clock readings.
const T0: i64 = 1_776_434_400;
const T0_TEXT: &str = "2026-04-17T14:00:00Z";
const T1: i64 = T0 + 3600;
const T1_TEXT: &str = "2026-04-17T15:00:00Z";

const EQUIPMENT: &str = "GATE_01/.exlab-wizard/equipment.json";
const MARKER: &str = "GATE_01/P1/TestRuns/.exlab-wizard/test_runs.json";

/// The golden scenarios, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "policy-info",
    "first-write-stamps-both-timestamps",
    "rewrite-keeps-first-seen-at",
    "unknown-fields-survive",
    "marker-written-once",
    "other-major-left-untouched",
    "dotdot-path-denied",
];

/// One scenario's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioOutcome {
    /// The scenario, one of [`SCENARIOS`].
    pub name: &'static str,
    /// Whether the policy kept the invariant.
    pub passed: bool,
    /// What went wrong (empty when it passed).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What the gate found about one policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConformanceReport {
    /// The policy checked.
    pub policy: PolicyInfo,
    /// The interface versions this host accepts (the policy's `interface`
    /// is one of them, or it would not have loaded).
    pub host_accepts: &'static [&'static str],
    /// Whether every scenario passed.
    pub passed: bool,
    /// Every scenario, in order.
    pub scenarios: Vec<ScenarioOutcome>,
}

impl ConformanceReport {
    /// The scenarios that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ScenarioOutcome> {
        self.scenarios.iter().filter(|s| !s.passed)
    }

    /// The report as the policy's verdict: itself when every scenario
    /// passed, else a `policy_error` naming the policy and each failed
    /// scenario.
    pub fn into_result(self) -> Result<ConformanceReport, Error> {
        if self.passed {
            return Ok(self);
        }
        let failed: Vec<String> = self
            .failures()
            .map(|s| format!("{}: {}", s.name, s.detail))
            .collect();
        Err(Error::policy(format!(
            "{} failed the conformance gate ({} of {} scenarios): {}",
            describe(&self.policy),
            failed.len(),
            self.scenarios.len(),
            failed.join("; ")
        )))
    }

    /// One compact JSON object: `policy`, `passed`, `scenarios`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report serializes")
    }
}

/// `policy NAME VERSION (sha256 0123456789ab…)`: how errors name a policy.
pub fn describe(info: &PolicyInfo) -> String {
    format!(
        "policy {} {} (sha256 {}…)",
        info.name,
        info.version,
        info.sha256.get(..12).unwrap_or(&info.sha256)
    )
}

/// Runs every golden scenario against `policy` in a fresh scratch root.
/// Limits (time, memory, file size, lock wait) come from `settings`; the
/// clock and the warnings are the gate's own. Only a scratch folder that
/// cannot be made is an `Err`.
pub fn check(policy: &Policy, settings: &Settings) -> Result<ConformanceReport, Error> {
    let scratch = scratch_folder()
        .map_err(|e| Error::io(format!("conformance gate: make a scratch folder: {e}")))?;
    let clock = Arc::new(ManualClock::at(T0));
    // The policy's warnings are about the scratch root: kept from the log.
    let warnings = CollectedWarnings::new();
    let gate_settings = Arc::new(Settings {
        clock: clock.clone(),
        on_warning: warnings.sink(),
        ..settings.clone()
    });
    let mut scenarios = Vec::new();
    let mut broke_down: Option<&str> = None;
    for &name in SCENARIOS {
        if let Some(earlier) = broke_down {
            // A policy that trapped or ran out of time or memory is refused
            // anyway; running it again would only make the gate slow.
            scenarios.push(ScenarioOutcome {
                name,
                passed: false,
                detail: format!("not run: the policy itself failed in {earlier}"),
            });
            continue;
        }
        // Each scenario starts from an empty root at T0.
        let dir = scratch.path().join(name);
        std::fs::create_dir(&dir)
            .map_err(|e| Error::io(format!("conformance gate: make {name}: {e}")))?;
        let root = Root::open(&dir)?;
        let cache = Served {
            policy,
            root: Arc::new(root),
            settings: &gate_settings,
        };
        clock.set(T0);
        let env = Scenario {
            cache: &cache,
            dir: &dir,
            clock: &clock,
            info: policy.info(),
            policy_failed: std::cell::Cell::new(false),
        };
        let outcome = match name {
            "policy-info" => env.policy_info(),
            "first-write-stamps-both-timestamps" => env.first_write(),
            "rewrite-keeps-first-seen-at" => env.rewrite(),
            "unknown-fields-survive" => env.unknown_fields(),
            "marker-written-once" => env.marker_once(),
            "other-major-left-untouched" => env.other_major(),
            "dotdot-path-denied" => env.dotdot(),
            _ => unreachable!("every scenario has a body"),
        };
        if env.policy_failed.get() {
            broke_down = Some(name);
        }
        scenarios.push(ScenarioOutcome {
            name,
            passed: outcome.is_ok(),
            detail: outcome.err().unwrap_or_default(),
        });
    }
    Ok(ConformanceReport {
        policy: policy.info().clone(),
        host_accepts: crate::interface::ACCEPTED_INTERFACES,
        passed: scenarios.iter().all(|s| s.passed),
        scenarios,
    })
    // The scratch folder is removed here.
}

/// A fresh scratch folder for the gate, in memory where the machine has a
/// tmpfs (`/dev/shm`): the scenarios' durable writes then cost no disk
/// flushes, which would only slow a swap while the real root is serving.
/// Else (or if that fails) the usual temp folder.
fn scratch_folder() -> std::io::Result<tempfile::TempDir> {
    let builder = || {
        let mut b = tempfile::Builder::new();
        b.prefix("exlab-cache-gate-");
        b
    };
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(dir) = builder().tempdir_in(shm) {
            return Ok(dir);
        }
    }
    builder().tempdir()
}

/// Runs the gate and turns a failure into a `policy_error`.
pub fn require(policy: &Policy, settings: &Settings) -> Result<ConformanceReport, Error> {
    check(policy, settings)?.into_result()
}

type Outcome = Result<(), String>;

/// The policy under test serving one scenario's scratch root.
struct Served<'a> {
    policy: &'a Policy,
    root: Arc<Root>,
    settings: &'a Arc<Settings>,
}

impl Served<'_> {
    fn write_equipment(&self, path: &str, input: &str) -> Result<EquipmentWritten, Error> {
        (self.policy).write_equipment(&self.root, self.settings, path, input)
    }

    fn read_equipment(&self, path: &str) -> Result<Equipment, Error> {
        self.policy.read_equipment(&self.root, self.settings, path)
    }

    fn write_marker(
        &self,
        kind: MarkerKind,
        path: &str,
        input: &str,
    ) -> Result<MarkerWritten, Error> {
        (self.policy).write_marker(&self.root, self.settings, kind, path, input)
    }
}

struct Scenario<'a> {
    cache: &'a Served<'a>,
    dir: &'a Path,
    clock: &'a ManualClock,
    info: &'a PolicyInfo,
    /// Set when a call failed with `policy_error` (a trap, time, memory).
    policy_failed: std::cell::Cell<bool>,
}

fn input(label: &str) -> String {
    json!({
        "id": "GATE_01",
        "label": label,
        "configured_local_root": "/data/lab",
        "configured_nas_root": "//nas01/lab",
    })
    .to_string()
}

fn expect(what: &str, found: impl std::fmt::Debug, wanted: impl std::fmt::Debug) -> Outcome {
    let (found, wanted) = (format!("{found:?}"), format!("{wanted:?}"));
    if found == wanted {
        Ok(())
    } else {
        Err(format!("{what} is {found}, expected {wanted}"))
    }
}

impl Scenario<'_> {
    /// Notes an error of the policy itself; returns it.
    fn saw(&self, e: Error) -> Error {
        if matches!(e, Error::Policy { .. }) {
            self.policy_failed.set(true);
        }
        e
    }

    fn call<T>(&self, what: &str, result: Result<T, Error>) -> Result<T, String> {
        result.map_err(|e| {
            let e = self.saw(e);
            format!("{what} failed: {} ({})", e.code(), e.message())
        })
    }
    fn file(&self, relative: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(relative)).ok()
    }

    fn on_disk(&self, relative: &str) -> Result<Map<String, Value>, String> {
        let bytes = self
            .file(relative)
            .ok_or_else(|| format!("{relative} is not on disk"))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| format!("{relative} on disk is not a JSON object: {e}"))
    }

    fn policy_info(&self) -> Outcome {
        if self.info.name.trim().is_empty() {
            return Err("the policy reports no name".into());
        }
        semver::Version::parse(&self.info.version)
            .map(drop)
            .map_err(|e| format!("version {:?} is not semver: {e}", self.info.version))
    }

    fn first_write(&self) -> Outcome {
        let w = self.call(
            "first write",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        expect("first_seen_at", &w.equipment.first_seen_at, T0_TEXT)?;
        expect("last_modified_at", &w.equipment.last_modified_at, T0_TEXT)?;
        expect("schema_version", &w.equipment.schema_version, "1.0")?;
        expect("label", &w.equipment.label, "Gate")?;
        let disk = self.file(EQUIPMENT).unwrap_or_default();
        expect(
            "the file on disk",
            String::from_utf8_lossy(&disk),
            &w.document,
        )?;
        let read = self.call("read back", self.cache.read_equipment(EQUIPMENT))?;
        expect("the record read back", &read, &w.equipment)
    }

    fn rewrite(&self) -> Outcome {
        self.call(
            "first write",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        self.clock.set(T1);
        let w = self.call(
            "rewrite",
            self.cache
                .write_equipment(EQUIPMENT, &input("Gate renamed")),
        )?;
        expect(
            "first_seen_at after a rewrite",
            &w.equipment.first_seen_at,
            T0_TEXT,
        )?;
        expect(
            "last_modified_at after a rewrite",
            &w.equipment.last_modified_at,
            T1_TEXT,
        )?;
        expect("label after a rewrite", &w.equipment.label, "Gate renamed")?;
        let disk = self.on_disk(EQUIPMENT)?;
        expect(
            "first_seen_at on disk",
            &disk["first_seen_at"],
            json!(T0_TEXT),
        )?;
        expect(
            "last_modified_at on disk",
            &disk["last_modified_at"],
            json!(T1_TEXT),
        )
    }

    fn unknown_fields(&self) -> Outcome {
        let extra = json!({"nested": [1, "two", null]});
        let existing = json!({
            "schema_version": "1.4",
            "id": "GATE_01",
            "label": "Gate",
            "configured_local_root": "/data/lab",
            "configured_nas_root": "//nas01/lab",
            "first_seen_at": "2020-01-01T00:00:00Z",
            "last_modified_at": "2020-01-01T00:00:00Z",
            "added_in_1_4": extra,
        });
        self.put(EQUIPMENT, existing.to_string().as_bytes())?;
        let w = self.call(
            "rewrite",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        let disk = self.on_disk(EQUIPMENT)?;
        expect(
            "the unknown field on disk",
            disk.get("added_in_1_4"),
            Some(&extra),
        )?;
        expect(
            "schema_version on disk",
            &disk["schema_version"],
            json!("1.4"),
        )?;
        expect(
            "first_seen_at",
            &w.equipment.first_seen_at,
            "2020-01-01T00:00:00Z",
        )?;
        let document: Value = serde_json::from_str(&w.document)
            .map_err(|e| format!("the returned document is not JSON: {e}"))?;
        expect(
            "the unknown field in the returned document",
            document.get("added_in_1_4"),
            Some(&extra),
        )
    }

    fn marker_once(&self) -> Outcome {
        let first = json!({"project": "P1", "equipment": "GATE_01"}).to_string();
        let w = self.call(
            "first marker write",
            self.cache
                .write_marker(MarkerKind::TestRuns, MARKER, &first),
        )?;
        expect("written (first write)", w.written, true)?;
        let before = self.file(MARKER).ok_or("the marker is not on disk")?;
        expect(
            "the returned marker",
            w.document.as_deref(),
            Some(&*String::from_utf8_lossy(&before)),
        )?;
        self.clock.set(T1);
        let again =
            json!({"project": "P1", "equipment": "GATE_01", "created_at": "2026-01-01T00:00:00Z"})
                .to_string();
        let w = self.call(
            "second marker write",
            self.cache
                .write_marker(MarkerKind::TestRuns, MARKER, &again),
        )?;
        expect("written (second write)", w.written, false)?;
        let after = self.file(MARKER).unwrap_or_default();
        if after != before {
            return Err("the second write changed the marker on disk".into());
        }
        Ok(())
    }

    fn other_major(&self) -> Outcome {
        let newer = br#"{ "schema_version": "2.0", "id": "GATE_01", "from": "a newer app" }"#;
        self.put(EQUIPMENT, newer)?;
        match self.cache.write_equipment(EQUIPMENT, &input("Gate")) {
            Err(Error::SchemaMajorMismatch {
                expected_major: 1,
                found_json,
                ..
            }) if found_json == "\"2.0\"" => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "writing over a \"2.0\" file gave {} ({}), expected schema_major_mismatch found \"2.0\"",
                    e.code(),
                    e.message()
                ));
            }
            Ok(_) => return Err("a \"2.0\" file was overwritten".into()),
        }
        if self.file(EQUIPMENT).as_deref() != Some(&newer[..]) {
            return Err("the \"2.0\" file was changed".into());
        }
        Ok(())
    }

    fn dotdot(&self) -> Outcome {
        let escape = "../escape/.exlab-wizard/equipment.json";
        match self.cache.write_equipment(escape, &input("Gate")) {
            Err(Error::AccessDenied { .. }) => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "a write to {escape} gave {}, expected access_denied",
                    e.code()
                ));
            }
            Ok(_) => return Err(format!("a write to {escape} succeeded")),
        }
        match self.cache.read_equipment(escape) {
            Err(Error::AccessDenied { .. }) => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "a read of {escape} gave {}, expected access_denied",
                    e.code()
                ));
            }
            Ok(_) => return Err(format!("a read of {escape} succeeded")),
        }
        let outside = self.dir.parent().map(|p| p.join("escape"));
        if outside.is_some_and(|p| p.exists()) {
            return Err("something was created outside the root".into());
        }
        Ok(())
    }

    fn put(&self, relative: &str, bytes: &[u8]) -> Outcome {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(self.dir))
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| format!("the gate could not prepare {relative}: {e}"))
    }
}
