//! The conformance gate: before a new policy serves a real root, it runs the
//! golden scenarios of docs/spec.md against a scratch root (a fresh temp folder,
//! never the real one), with a clock the gate moves. A policy that breaks an
//! invariant is refused with a report naming each failed scenario.
//!
//! Each policy is checked against the interface version it implements:
//! every policy runs the 1.0 scenarios ([`v1_0`]), a 1.1 policy the record
//! kinds' too ([`kinds`]).

mod kinds;
mod v1_0;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::interface::latest::{Equipment, EquipmentWritten, MarkerKind, MarkerWritten};
use crate::interface::Version;
use crate::policy::KindCall;
use crate::{CollectedWarnings, Error, ManualClock, Policy, PolicyInfo, Root, Settings};

/// 2026-04-17T14:00:00Z, and one hour later: the gate's clock readings.
const T0: i64 = 1_776_434_400;
const T0_TEXT: &str = "2026-04-17T14:00:00Z";
const T1: i64 = T0 + 3600;
const T1_TEXT: &str = "2026-04-17T15:00:00Z";

const EQUIPMENT: &str = "GATE_01/.exlab-wizard/equipment.json";
const MARKER: &str = "GATE_01/P1/TestRuns/.exlab-wizard/test_runs.json";

/// The golden scenarios of every policy (interface 1.0), in the order they run.
pub const SCENARIOS: &[&str] = &[
    "policy-info",
    "first-write-stamps-both-timestamps",
    "rewrite-keeps-first-seen-at",
    "unknown-fields-survive",
    "marker-written-once",
    "other-major-left-untouched",
    "dotdot-path-denied",
];

/// The scenarios a policy of interface 1.1 runs after [`SCENARIOS`].
pub const KIND_SCENARIOS: &[&str] = &[
    "kinds-listed",
    "creation-created-once",
    "creation-update-keeps-unknown-fields",
    "update-step-giving-up-writes-nothing",
    "creation-other-major-left-untouched",
    "ingest-forward-only",
    "log-line-bounded",
];

/// The scenarios a policy built for `interface` runs, in order.
pub fn scenarios_for(interface: &str) -> Vec<&'static str> {
    match Version::of(interface) {
        Some(Version::V1_0) => SCENARIOS.to_vec(),
        _ => SCENARIOS.iter().chain(KIND_SCENARIOS).copied().collect(),
    }
}

/// One scenario's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScenarioOutcome {
    /// The scenario, one of [`SCENARIOS`] or [`KIND_SCENARIOS`].
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
    for name in scenarios_for(&policy.info().interface) {
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
            "kinds-listed" => env.kinds_listed(),
            "creation-created-once" => env.creation_created_once(),
            "creation-update-keeps-unknown-fields" => env.creation_update_keeps_unknown_fields(),
            "update-step-giving-up-writes-nothing" => env.update_step_giving_up(),
            "creation-other-major-left-untouched" => env.creation_other_major(),
            "ingest-forward-only" => env.ingest_forward_only(),
            "log-line-bounded" => env.log_line_bounded(),
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

    fn kinds(&self) -> Result<Vec<crate::Kind>, Error> {
        self.policy.kinds(self.settings)
    }

    /// An operation of a kind, with the caller's `step` for an update.
    fn run(
        &self,
        call: KindCall<'_>,
        step: Option<crate::engine::call::Step<'_>>,
    ) -> Result<String, Error> {
        self.policy.run_kind(&self.root, self.settings, call, step)
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

    fn put(&self, relative: &str, bytes: &[u8]) -> Outcome {
        let path = self.dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(self.dir))
            .and_then(|()| std::fs::write(&path, bytes))
            .map_err(|e| format!("the gate could not prepare {relative}: {e}"))
    }
}
