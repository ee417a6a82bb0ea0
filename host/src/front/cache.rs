//! The library's front door: a [`Cache`] is a policy serving one root.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::interface::latest::{Equipment, EquipmentWritten, Marker, MarkerKind, MarkerWritten};
use crate::policy::conformance;
use crate::policy::watch::Swappable;
use crate::{Admission, Error, Policy, PolicyInfo, Root, Settings, Swapped};

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
    settings: Arc<Settings>,
}

/// The policy serving now. Each call clones the `Policy` (an `Arc`) out of
/// the lock and runs on that clone, so the lock is held for a pointer copy,
/// a swap never waits for a call, and a call in flight finishes on the
/// policy it started with.
struct PolicySlot {
    current: RwLock<Policy>,
    /// Serialises swaps (the last swap to be asked for is the one that
    /// serves), and holds what a swapped-in policy must show.
    swapping: Mutex<Admission>,
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

    /// `policy` serving `root` under `settings`. Any policy swapped in later
    /// is admitted with no allow-list until [`Cache::set_admission`] says
    /// otherwise (the policy given here is the caller's own choice: admit it
    /// with [`Policy::admit`] first, as the CLI does).
    pub fn new(root: Root, policy: Policy, settings: Settings) -> Cache {
        Cache {
            root: Arc::new(root),
            policy: Arc::new(PolicySlot {
                current: RwLock::new(policy),
                swapping: Mutex::new(Admission::default()),
            }),
            settings: Arc::new(settings),
        }
    }

    /// What a policy swapped in from now on must show (shared by clones).
    pub fn set_admission(&self, admission: Admission) {
        *self.lock_swaps() = admission;
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
    /// check, in this order: admission (size, the allow-list of
    /// [`Cache::set_admission`], the interface version, all before
    /// compiling; then compiling and type-checking against the WIT world),
    /// and the conformance gate against a scratch root. The swap is atomic;
    /// calls in flight finish on the old policy. On any refusal
    /// (`policy_error`) the old policy keeps serving.
    pub fn swap_policy(&self, bytes: &[u8]) -> Result<Swapped, Error> {
        let admission = self.lock_swaps();
        let policy = Policy::admit(bytes, &admission)?;
        self.install(policy, admission)
    }

    /// [`Cache::swap_policy`] with the component in the file `path` (read
    /// as [`Policy::read_file`] does: a FIFO or a device is refused at once).
    pub fn swap_policy_file(&self, path: impl AsRef<Path>) -> Result<Swapped, Error> {
        self.swap_policy(&Policy::read_file(path)?)
    }

    /// Replaces the policy with one already compiled, after admission (by its
    /// sha256) and the conformance gate, as [`Cache::swap_policy`].
    pub fn set_policy(&self, policy: Policy) -> Result<Swapped, Error> {
        let admission = self.lock_swaps();
        admission.check_compiled(&policy)?;
        self.install(policy, admission)
    }

    fn lock_swaps(&self) -> std::sync::MutexGuard<'_, Admission> {
        self.policy
            .swapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gates `policy` and puts it in place; `_one_at_a_time` is the swap lock.
    fn install(
        &self,
        policy: Policy,
        _one_at_a_time: std::sync::MutexGuard<'_, Admission>,
    ) -> Result<Swapped, Error> {
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
            .write_equipment(&self.root, &self.settings, path, input_json)
    }

    /// Reads `equipment.json` (no lock): the known fields.
    pub fn read_equipment(&self, path: &str) -> Result<Equipment, Error> {
        self.policy()
            .read_equipment(&self.root, &self.settings, path)
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
            .write_marker(&self.root, &self.settings, kind, path, input_json)
    }

    /// Reads a marker (no lock): the known fields.
    pub fn read_marker(&self, kind: MarkerKind, path: &str) -> Result<Marker, Error> {
        self.policy()
            .read_marker(&self.root, &self.settings, kind, path)
    }

    /// The schema gate: passes when `version`'s major is `expected_major`.
    pub fn require_schema_major(
        &self,
        version: Option<&str>,
        expected_major: u32,
    ) -> Result<(), Error> {
        self.policy().gate(version, expected_major, &self.settings)
    }
}

impl Swappable for Cache {
    fn serving_sha256(&self) -> String {
        self.policy_info().sha256
    }

    fn swap(&self, bytes: &[u8]) -> Result<Swapped, Error> {
        self.swap_policy(bytes)
    }
}
