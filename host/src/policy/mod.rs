//! A policy: a component admitted, compiled, type-checked against the WIT
//! world and linked once, and the operations it serves.
//!
//! - [`admission`]: the one door every policy comes in by (size, signature,
//!   allow-list, interface version, compile), for the CLI, the library, the watcher, the
//!   gate and the Python package alike.
//! - [`provenance`], [`trust`]: who may ship a policy (sha256 allow-list,
//!   minisign keys).
//! - [`conformance`]: the behaviour gate a policy passes before it serves.
//! - [`status`]: what a host serves, served before, and its last admission
//!   attempts.
//! - [`watch`]: reloading a policy file that a platform drops.
//! - `precompiled`: the on-disk cache of the built-in policy's compiled code.
//!
//! Architecture invariant: a policy knows the engine, storage (a root to
//! call on) and the interface; never a front end (`Cache`, the CLI).

pub mod admission;
pub mod conformance;
mod precompiled;
pub mod provenance;
pub mod status;
pub mod trust;
pub mod watch;

use std::sync::{Arc, OnceLock};

use wasmtime::component::Component;
use wasmtime::Store;

use crate::engine::bindings::{Exports, Outcome, PolicyPre};
use crate::engine::call::{no_root, CallState, NoRoot, Step};
use crate::engine::{linker, pool};
use crate::interface::latest::{
    Equipment, EquipmentWritten, Kind, Marker, MarkerKind, MarkerWritten,
};
use crate::interface::{Version, INTERFACE};
use crate::{sha256_hex, Error, Root, Settings};

pub use admission::Admission;

/// Who a loaded policy is, and exactly which bytes it was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyInfo {
    /// The policy's own name.
    pub name: String,
    /// The policy's semver.
    pub version: String,
    /// The WIT interface it was linked against (`exlab:cache@1.1.0`, or
    /// `exlab:cache@1.0.0` for a policy built before 1.1).
    pub interface: String,
    /// Hex sha256 of the component's bytes.
    pub sha256: String,
    /// Who signed it, when it was admitted with trusted keys configured
    /// (absent from the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<trust::Signer>,
}

/// A policy that took effect by a swap, and the one it replaced.
#[derive(Debug, Clone)]
pub struct Swapped {
    /// The policy that served before.
    pub previous: PolicyInfo,
    /// The policy serving now.
    pub current: PolicyInfo,
    /// What the conformance gate found about it (every scenario passed).
    pub report: conformance::ConformanceReport,
}

/// A rollback: the policy that served before is back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The policy that served until the rollback (the next rollback's target).
    pub previous: PolicyInfo,
    /// The policy serving now.
    pub current: PolicyInfo,
}

/// A policy component, compiled, type-checked against the WIT world and
/// linked once. Cheap to clone; shared by every call and thread.
#[derive(Clone)]
pub struct Policy(Arc<Loaded>);

struct Loaded {
    pre: PolicyPre,
    info: PolicyInfo,
    /// Identity of this policy for the idle instances of each thread; they
    /// hold it weakly, and are dropped once the policy is gone.
    alive: Arc<()>,
}

/// The policy built into this binary.
pub const BUILTIN_POLICY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.wasm"));

/// Its hex sha256, hashed by the build script (a test checks it).
pub(crate) const BUILTIN_POLICY_SHA256: &str =
    include_str!(concat!(env!("OUT_DIR"), "/policy.sha256"));

impl Policy {
    /// The built-in policy, compiled once per process.
    ///
    /// Its compiled code is cached under `$XDG_CACHE_HOME/exlab-cache/` (or
    /// `~/.cache/exlab-cache/`, only when `$HOME` exists), keyed by the
    /// component's sha256 and the engine's compatibility hash, so that later
    /// processes skip compiling; files of other versions are pruned.
    /// `EXLAB_CACHE_CODE_CACHE=off` (or `0`) turns the cache off. A cache
    /// that cannot be read or written only costs a compile (~0.5 s).
    pub fn builtin() -> Result<Policy, Error> {
        static BUILTIN: OnceLock<Result<Policy, Error>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                // Built from the newest WIT (interface's tests pin it): no
                // need to parse it again at every process start.
                let sha256 = BUILTIN_POLICY_SHA256.to_owned();
                let component =
                    precompiled::component(crate::engine::engine(), BUILTIN_POLICY, &sha256);
                Policy::load(component, sha256, Some(INTERFACE.to_owned()), None)
            })
            .clone()
    }

    /// A policy component from a file, admitted with no allow-list (see
    /// [`Policy::admit_file`]).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Policy, Error> {
        Policy::admit_file(path, &Admission::default())
    }

    /// A policy component from its bytes, admitted with no allow-list (see
    /// [`Policy::admit`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy, Error> {
        Policy::admit(bytes, &Admission::default())
    }

    /// Compiles `bytes` (already admitted), checks them against the world
    /// and asks the policy who it is. Nothing is touched.
    fn compile(
        bytes: &[u8],
        interface: Option<String>,
        signer: Option<trust::Signer>,
    ) -> Result<Policy, Error> {
        Policy::load(
            crate::engine::compile(bytes),
            sha256_hex(bytes),
            interface,
            signer,
        )
    }

    /// Checks a compiled component against the world of the interface it
    /// was built for (the newest when it names none) and asks it who it is.
    fn load(
        component: wasmtime::Result<Component>,
        sha256: String,
        interface: Option<String>,
        signer: Option<trust::Signer>,
    ) -> Result<Policy, Error> {
        let interface = interface.unwrap_or_else(|| INTERFACE.into());
        // Admission refused any version this host does not serve.
        let version = Version::of(&interface).unwrap_or(Version::V1_1);
        let unfit = |e: wasmtime::Error| {
            Error::policy(format!(
                "the policy component does not fit the {interface} interface: {e:#}"
            ))
        };
        let component = component
            .map_err(|e| Error::policy(format!("the policy is not a valid component: {e:#}")))?;
        let pre = linker().instantiate_pre(&component).map_err(unfit)?;
        let pre = PolicyPre::new(version, pre).map_err(unfit)?;
        let mut loaded = Loaded {
            pre,
            info: PolicyInfo {
                name: String::new(),
                version: String::new(),
                interface: interface.clone(),
                sha256,
                signer,
            },
            alive: Arc::new(()),
        };
        let who = loaded.call(
            no_root(NoRoot::Loading),
            &Arc::default(),
            None,
            |exports, store| exports.info(store).map(Ok),
        )?;
        loaded.info.name = who.name;
        loaded.info.version = who.version;
        Ok(Policy(Arc::new(loaded)))
    }

    /// Name, version, interface, sha256 and signer.
    pub fn info(&self) -> &PolicyInfo {
        &self.0.info
    }

    /// The schema gate of this policy; it needs no root. The settings are
    /// shared (an `Arc`), as every call's are: nothing is copied per call.
    pub fn require_schema_major(
        &self,
        version: Option<&str>,
        expected_major: u32,
        settings: &Arc<Settings>,
    ) -> Result<(), Error> {
        self.0.call(
            no_root(NoRoot::SchemaGate),
            settings,
            None,
            |exports, store| exports.require_schema_major(store, version, expected_major),
        )
    }

    /// Writes `equipment.json` at `path` under `root`.
    pub(crate) fn write_equipment(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        path: &str,
        input_json: &str,
    ) -> Result<EquipmentWritten, Error> {
        self.0.call(root, settings, None, |exports, store| {
            exports.write_equipment(store, path, input_json)
        })
    }

    /// Reads `equipment.json` at `path` under `root` (no lock).
    pub(crate) fn read_equipment(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        path: &str,
    ) -> Result<Equipment, Error> {
        self.0.call(root, settings, None, |exports, store| {
            exports.read_equipment(store, path)
        })
    }

    /// Writes a marker once at `path` under `root`.
    pub(crate) fn write_marker(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        kind: MarkerKind,
        path: &str,
        input_json: &str,
    ) -> Result<MarkerWritten, Error> {
        self.0.call(root, settings, None, |exports, store| {
            exports.write_marker(store, kind, path, input_json)
        })
    }

    /// Reads a marker at `path` under `root` (no lock).
    pub(crate) fn read_marker(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        kind: MarkerKind,
        path: &str,
    ) -> Result<Marker, Error> {
        self.0.call(root, settings, None, |exports, store| {
            exports.read_marker(store, kind, path)
        })
    }

    /// The record kinds this policy owns (interface 1.1); a 1.0 policy has
    /// none to list, which is a `policy_error` naming both versions.
    pub fn kinds(&self, settings: &Arc<Settings>) -> Result<Vec<Kind>, Error> {
        self.0.require_kinds()?;
        self.0
            .call(no_root(NoRoot::Kinds), settings, None, |exports, store| {
                kinds_of(exports).call_list_kinds(store).map(Ok)
            })
    }

    /// Runs `operation` of the record kind `kind` on `path` under `root`
    /// with `input_json`, and the caller's `step` for an operation of
    /// access `update`; the result as JSON text (interface 1.1).
    pub(crate) fn run_kind(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        call: KindCall<'_>,
        step: Option<Step<'_>>,
    ) -> Result<String, Error> {
        self.0.require_kinds()?;
        self.0.call(root, settings, step, |exports, store| {
            kinds_of(exports).call_run(store, call.kind, call.operation, call.path, call.input_json)
        })
    }

    /// Benchmarks only: with `false`, every call instantiates the policy
    /// afresh (the cost that reusing instances saves). Process-wide.
    #[doc(hidden)]
    pub fn set_instance_reuse(enabled: bool) {
        pool::set_reuse(enabled);
    }
}

/// The `kinds` export of a policy that passed [`Loaded::require_kinds`].
fn kinds_of(exports: &Exports) -> &crate::interface::latest::exports::exlab::cache::kinds::Guest {
    exports
        .kinds()
        .expect("a policy of interface 1.1 exports kinds (checked when linked)")
}

/// One operation of a record kind, by name.
#[derive(Debug, Clone, Copy)]
pub struct KindCall<'a> {
    /// The kind (`creation`, `ingest`, ...).
    pub kind: &'a str,
    /// Its operation (`create`, `update`, `read`, ...).
    pub operation: &'a str,
    /// The file (empty for an operation that touches none).
    pub path: &'a str,
    /// The input, a JSON value (`null` for an operation that takes none).
    pub input_json: &'a str,
}

impl Loaded {
    fn call<R>(
        &self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        step: Option<Step<'_>>,
        f: impl Fn(&Exports, &mut Store<CallState>) -> Outcome<R>,
    ) -> Result<R, Error> {
        pool::run(&self.pre, &self.alive, root, settings, step, f)
    }

    /// Refuses a call of the `kinds` export on a policy built for 1.0,
    /// naming both versions, before any instance is taken.
    fn require_kinds(&self) -> Result<(), Error> {
        match self.pre.version() {
            Version::V1_1 => Ok(()),
            Version::V1_0 => Err(Error::policy(format!(
                "record kinds by name need a policy of {INTERFACE}; {} {} was built for {}",
                self.info.name, self.info.version, self.info.interface
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
