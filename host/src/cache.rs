//! The library's front door: a [`Cache`] is a policy serving one root.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use crate::bindings::{Equipment, EquipmentWritten, Marker, MarkerKind, MarkerWritten};
use crate::conformance::{self, ConformanceReport};
use crate::{AllowList, Clock, Error, Policy, PolicyInfo, Root, SystemClock};

/// Called with each warning a call leaves (a recovered corrupt file, say).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Limits and injected services for every call.
#[derive(Clone)]
pub struct Settings {
    /// How long a write waits for its lock (zero: one try). Default 30 s.
    pub lock_timeout: Duration,
    /// Guest time allowed per call, host calls not counted. Default 5 s.
    pub time_limit: Duration,
    /// Linear memory a guest may grow to, in bytes. Default 64 MiB.
    pub memory_limit: usize,
    /// Largest file the policy may read, in bytes. Default 1 MiB.
    pub max_file_size: u64,
    /// The policy's "now". Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// Where warnings go. Default: the `log` crate, target `exlab_cache`.
    pub on_warning: WarningSink,
    /// Provenance: when set, a policy swapped in ([`Cache::swap_policy`] and
    /// friends) must have its sha256 on this list, checked before it is
    /// compiled. The policy a `Cache` is created with is the caller's choice
    /// (check it with [`AllowList::check`] before compiling it, as the CLI's
    /// `--allow-policy-hashes` does). Default: none (any policy that passes
    /// the version check and the conformance gate).
    pub allowed_policies: Option<Arc<AllowList>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lock_timeout: Duration::from_secs(30),
            time_limit: Duration::from_secs(5),
            memory_limit: 64 << 20,
            max_file_size: 1 << 20,
            clock: Arc::new(SystemClock),
            on_warning: Arc::new(|warning| log::warn!(target: "exlab_cache", "{warning}")),
            allowed_policies: None,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("lock_timeout", &self.lock_timeout)
            .field("time_limit", &self.time_limit)
            .field("memory_limit", &self.memory_limit)
            .field("max_file_size", &self.max_file_size)
            .field("allowed_policies", &self.allowed_policies)
            .finish_non_exhaustive()
    }
}

/// A policy serving one root folder. Cheap to clone, `Send + Sync`: call it
/// from as many threads as you like. Paths are relative to the root, or
/// absolute inside it.
///
/// The policy can be replaced while the cache serves ([`Cache::swap_policy`]):
/// clones share it, so a swap reaches every clone.
#[derive(Clone)]
pub struct Cache {
    root: Arc<Root>,
    policy: Arc<PolicySlot>,
    settings: Settings,
}

/// The policy serving now. Each call clones the `Policy` (an `Arc`) out of
/// the lock and runs on that clone, so the lock is held for a pointer copy,
/// a swap never waits for a call, and a call in flight finishes on the
/// policy it started with.
struct PolicySlot {
    current: RwLock<Policy>,
    /// Serialises swaps: the last swap to be asked for is the one that serves.
    swapping: Mutex<()>,
}

/// A policy that took effect, and the one it replaced.
#[derive(Debug, Clone)]
pub struct Swapped {
    /// The policy that served before.
    pub previous: PolicyInfo,
    /// The policy serving now.
    pub current: PolicyInfo,
    /// What the conformance gate found about it (every scenario passed).
    pub report: ConformanceReport,
}

impl Cache {
    /// The built-in policy with default settings, serving the folder `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Cache, Error> {
        Ok(Cache::new(
            Root::open(root)?,
            Policy::builtin()?,
            Settings::default(),
        ))
    }

    /// `policy` serving `root` under `settings`.
    pub fn new(root: Root, policy: Policy, settings: Settings) -> Cache {
        Cache {
            root: Arc::new(root),
            policy: Arc::new(PolicySlot {
                current: RwLock::new(policy),
                swapping: Mutex::new(()),
            }),
            settings,
        }
    }

    /// The policy serving now (a later swap does not change the one returned).
    pub fn policy(&self) -> Policy {
        // The lock guards a pointer copy only: it cannot be poisoned mid-update.
        let current = self.policy.current.read();
        current.unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Name, version, interface and sha256 of the policy serving now.
    pub fn policy_info(&self) -> PolicyInfo {
        self.policy().info().clone()
    }

    /// Replaces the policy with the component `bytes`, once it passed every
    /// check, in this order: the allow-list of [`Settings::allowed_policies`]
    /// and the interface version (both before compiling), compiling and
    /// type-checking against the WIT world, and the conformance gate against
    /// a scratch root. The swap is atomic; calls in flight finish on the old
    /// policy. On any refusal (`policy_error`) the old policy keeps serving.
    pub fn swap_policy(&self, bytes: &[u8]) -> Result<Swapped, Error> {
        if let Some(allowed) = &self.settings.allowed_policies {
            allowed.check(bytes)?;
        }
        let policy = Policy::from_bytes(bytes)?;
        self.install(policy)
    }

    /// [`Cache::swap_policy`] with the component in the file `path` (read as
    /// [`Policy::read_file`] does: a FIFO or an oversize file is refused).
    pub fn swap_policy_file(&self, path: impl AsRef<Path>) -> Result<Swapped, Error> {
        self.swap_policy(&Policy::read_file(path)?)
    }

    /// Replaces the policy with one already compiled, after the allow-list
    /// (by its sha256) and the conformance gate, as [`Cache::swap_policy`].
    pub fn set_policy(&self, policy: Policy) -> Result<Swapped, Error> {
        if let Some(allowed) = &self.settings.allowed_policies {
            allowed.check_hash(&policy.info().sha256)?;
        }
        self.install(policy)
    }

    fn install(&self, policy: Policy) -> Result<Swapped, Error> {
        let _one_at_a_time = self
            .policy
            .swapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let report = conformance::require(&policy, &self.settings)?;
        let current = policy.info().clone();
        let previous = {
            let mut slot = self
                .policy
                .current
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            std::mem::replace(&mut *slot, policy)
        };
        Ok(Swapped {
            previous: previous.info().clone(),
            current,
            report,
        })
        // `previous` drops here; calls still running on it hold their own clone.
    }

    /// The settings every call runs under.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Writes `equipment.json` from a JSON object with `id`, `label`,
    /// `configured_local_root` and `configured_nas_root`.
    pub fn write_equipment(&self, path: &str, input_json: &str) -> Result<EquipmentWritten, Error> {
        self.policy()
            .call(&self.root, &self.settings, |plugin, store| {
                plugin
                    .exlab_cache_policy()
                    .call_write_equipment(store, path, input_json)
            })
    }

    /// Reads `equipment.json` (no lock): the known fields.
    pub fn read_equipment(&self, path: &str) -> Result<Equipment, Error> {
        self.policy()
            .call(&self.root, &self.settings, |plugin, store| {
                plugin.exlab_cache_policy().call_read_equipment(store, path)
            })
    }

    /// Writes a marker once, from a JSON object with `project`, `equipment`
    /// and optionally `created_at`, `run_kind`.
    pub fn write_marker(
        &self,
        kind: MarkerKind,
        path: &str,
        input_json: &str,
    ) -> Result<MarkerWritten, Error> {
        self.policy()
            .call(&self.root, &self.settings, |plugin, store| {
                plugin
                    .exlab_cache_policy()
                    .call_write_marker(store, kind, path, input_json)
            })
    }

    /// Reads a marker (no lock): the known fields.
    pub fn read_marker(&self, kind: MarkerKind, path: &str) -> Result<Marker, Error> {
        self.policy()
            .call(&self.root, &self.settings, |plugin, store| {
                plugin
                    .exlab_cache_policy()
                    .call_read_marker(store, kind, path)
            })
    }

    /// The schema gate: passes when `version`'s major is `expected_major`.
    pub fn require_schema_major(
        &self,
        version: Option<&str>,
        expected_major: u32,
    ) -> Result<(), Error> {
        self.policy()
            .require_schema_major(version, expected_major, &self.settings)
    }
}

impl From<crate::bindings::CacheError> for Error {
    fn from(e: crate::bindings::CacheError) -> Self {
        use crate::bindings::CacheError as W;
        match e {
            W::NotFound(message) => Error::NotFound { message },
            W::SchemaMajorMismatch(m) => Error::SchemaMajorMismatch {
                expected_major: m.expected_major,
                found_json: m.found_json,
                message: m.message,
            },
            W::DecodeError(message) => Error::Decode { message },
            W::ValidationError(i) => Error::Validation {
                field: i.field,
                message: i.message,
            },
            W::AccessDenied(message) => Error::AccessDenied { message },
            W::LockTimeout(message) => Error::LockTimeout { message },
            W::IoError(message) => Error::Io { message },
        }
    }
}
