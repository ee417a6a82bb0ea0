//! The library's front door: a [`Cache`] is a policy serving one root.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::SystemTime;

use crate::clock::format_utc;
use crate::interface::latest::{Equipment, EquipmentWritten, Marker, MarkerKind, MarkerWritten};
use crate::policy::admission::Signature;
use crate::policy::conformance;
use crate::policy::status::{self, Action, Attempt, Outcome, PolicyStatus};
use crate::policy::watch::Swappable;
use crate::{
    sha256_hex, Admission, Error, Policy, PolicyInfo, RolledBack, Root, Settings, Swapped,
};

/// A policy serving one root folder. Cheap to clone, `Send + Sync`: call it
/// from as many threads as you like. Paths are relative to the root, or
/// absolute inside it.
///
/// The policy can be replaced while the cache serves ([`Cache::swap_policy`])
/// and rolled back ([`Cache::rollback`]): clones share it, so a swap reaches
/// every clone.
#[derive(Clone)]
pub struct Cache {
    pub(super) root: Arc<Root>,
    policy: Arc<PolicySlot>,
    pub(super) settings: Arc<Settings>,
}

/// The policy serving now. Each call clones the `Policy` (an `Arc`) out of
/// the lock and runs on that clone, so the lock is held for a pointer copy,
/// a swap never waits for a call, and a call in flight finishes on the
/// policy it started with.
///
/// Lock order: `swapping`, then `record`, then `current`.
struct PolicySlot {
    current: RwLock<Policy>,
    /// Serialises swaps and rollbacks (the last one asked for is the one
    /// that serves), and holds what a swapped-in policy must show.
    swapping: Mutex<Admission>,
    /// What the status reports; its own lock, so that a status is never
    /// kept waiting by a swap that is compiling.
    record: Mutex<Record>,
}

struct Record {
    /// When the policy in `current` started serving.
    since: SystemTime,
    /// The one before it, and when that one started serving.
    previous: Option<(Policy, SystemTime)>,
    attempts: VecDeque<Attempt>,
    /// A copy of the admission's trust file, for the status.
    trusted_keys: Option<PathBuf>,
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
    /// is admitted with no allow-list or trust file until
    /// [`Cache::set_admission`] says otherwise (the policy given here is the
    /// caller's own choice: admit it with [`Policy::admit_file`] first, as
    /// the CLI does).
    pub fn new(root: Root, policy: Policy, settings: Settings) -> Cache {
        let since = settings.clock.now();
        Cache {
            root: Arc::new(root),
            policy: Arc::new(PolicySlot {
                current: RwLock::new(policy),
                swapping: Mutex::new(Admission::default()),
                record: Mutex::new(Record {
                    since,
                    previous: None,
                    attempts: VecDeque::new(),
                    trusted_keys: None,
                }),
            }),
            settings: Arc::new(settings),
        }
    }

    /// What a policy swapped in from now on must show (shared by clones):
    /// an allow-list, a trust file (`Admission::trusted_keys`), or both.
    pub fn set_admission(&self, admission: Admission) {
        let mut swaps = self.lock_swaps();
        self.lock_record().trusted_keys = admission.trusted_keys.clone();
        *swaps = admission;
    }

    /// The policy serving now (a later swap does not change the one returned).
    pub fn policy(&self) -> Policy {
        // The lock guards a pointer copy only: it cannot be poisoned mid-update.
        let current = self.policy.current.read();
        current.unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Name, version, interface, sha256 and signer of the policy serving now.
    pub fn policy_info(&self) -> PolicyInfo {
        self.policy().info().clone()
    }

    /// Replaces the policy with the component `bytes`, once it passed every
    /// check, in this order: admission (size, the trust file and the
    /// allow-list of [`Cache::set_admission`], the interface version, all
    /// before compiling; then compiling and type-checking against the WIT
    /// world), and the conformance gate against a scratch root. The swap is
    /// atomic; calls in flight finish on the old policy. On any refusal
    /// (`policy_error`) the old policy keeps serving. With a trust file,
    /// bytes alone are refused: use [`Cache::swap_policy_signed`].
    pub fn swap_policy(&self, bytes: &[u8]) -> Result<Swapped, Error> {
        self.swap_bytes(None, bytes, Signature::None)
    }

    /// [`Cache::swap_policy`] for bytes with the text of their `.minisig`.
    pub fn swap_policy_signed(&self, bytes: &[u8], signature: &str) -> Result<Swapped, Error> {
        self.swap_bytes(None, bytes, Signature::Text(signature))
    }

    /// [`Cache::swap_policy`] with the component in the file `path` (read
    /// as [`Policy::read_file`] does: a FIFO or a device is refused at
    /// once), and with a trust file its signature `<path>.minisig`.
    pub fn swap_policy_file(&self, path: impl AsRef<Path>) -> Result<Swapped, Error> {
        let path = path.as_ref();
        let admission = self.lock_swaps();
        let read = Policy::read_file(path);
        let sha256 = read.as_ref().ok().map(|bytes| sha256_hex(bytes));
        let result = read
            .and_then(|bytes| Policy::admit_beside(path, &bytes, &admission))
            .and_then(|policy| self.install(policy));
        self.log(Action::Swap, Some(path), sha256, &result);
        result
    }

    /// Replaces the policy with one already compiled, after admission (its
    /// sha256 on the allow-list; with a trust file, a signer trusted now)
    /// and the conformance gate, as [`Cache::swap_policy`].
    pub fn set_policy(&self, policy: Policy) -> Result<Swapped, Error> {
        let admission = self.lock_swaps();
        let sha256 = Some(policy.info().sha256.clone());
        let result = admission
            .check_compiled(&policy)
            .and_then(|()| self.install(policy));
        self.log(Action::Swap, None, sha256, &result);
        result
    }

    /// Puts the policy that served before the current one back, atomically
    /// and with the same guarantees as a swap (calls in flight finish on
    /// the policy they started with); the current one becomes the previous,
    /// so a second rollback undoes the first. It passed the gate when it was
    /// swapped in and is not gated again; but a signed one whose key is no
    /// longer trusted does not come back. Nothing to go back to, or that
    /// key, is a `policy_error`, and nothing changes.
    pub fn rollback(&self) -> Result<RolledBack, Error> {
        let admission = self.lock_swaps();
        let mut record = self.lock_record();
        let sha256 = record
            .previous
            .as_ref()
            .map(|(p, _)| p.info().sha256.clone());
        let result = match record.previous.take() {
            None => {
                let info = self.policy_info();
                Err(Error::policy(format!(
                    "nothing to roll back to: {} {} is the only policy this cache has served",
                    info.name, info.version
                )))
            }
            Some((previous, since)) => match admission.check_signer(previous.info()) {
                Err(e) => {
                    record.previous = Some((previous, since));
                    Err(Error::policy(format!("rollback refused: {}", e.message())))
                }
                Ok(()) => {
                    let current = previous.info().clone();
                    let replaced = self.put_in_place(previous);
                    let now = self.settings.clock.now();
                    let replaced_since = std::mem::replace(&mut record.since, now);
                    let rolled = RolledBack {
                        previous: replaced.info().clone(),
                        current,
                    };
                    record.previous = Some((replaced, replaced_since));
                    Ok(rolled)
                }
            },
        };
        self.log_locked(&mut record, Action::Rollback, None, sha256, &result);
        result
    }

    /// What this cache serves, what served before (the rollback target),
    /// and the last [`status::MAX_ATTEMPTS`] swap and rollback attempts.
    /// The trust file is read now, so a revoked signer shows at once.
    pub fn status(&self) -> PolicyStatus {
        let record = self.lock_record();
        let keys = match &record.trusted_keys {
            None => Ok(None),
            Some(path) => crate::trust::TrustedKeys::from_file(path).map(Some),
        };
        PolicyStatus {
            at: format_utc(self.settings.clock.now()),
            trusted_keys: record
                .trusted_keys
                .as_ref()
                .map(|p| p.display().to_string()),
            serving: status::served(self.policy().info(), format_utc(record.since), &keys),
            previous: record
                .previous
                .as_ref()
                .map(|(p, since)| status::served(p.info(), format_utc(*since), &keys)),
            attempts: record.attempts.iter().cloned().collect(),
        }
    }

    fn swap_bytes(
        &self,
        source: Option<&Path>,
        bytes: &[u8],
        signature: Signature,
    ) -> Result<Swapped, Error> {
        let admission = self.lock_swaps();
        let result =
            Policy::admit_as(bytes, signature, &admission).and_then(|policy| self.install(policy));
        self.log(Action::Swap, source, Some(sha256_hex(bytes)), &result);
        result
    }

    fn lock_swaps(&self) -> MutexGuard<'_, Admission> {
        self.policy
            .swapping
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_record(&self) -> MutexGuard<'_, Record> {
        self.policy
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Gates `policy` and puts it in place; the caller holds the swap lock.
    fn install(&self, policy: Policy) -> Result<Swapped, Error> {
        let report = conformance::require(&policy, &self.settings)?;
        let current = policy.info().clone();
        let mut record = self.lock_record();
        let previous = self.put_in_place(policy);
        let now = self.settings.clock.now();
        let since = std::mem::replace(&mut record.since, now);
        let swapped = Swapped {
            previous: previous.info().clone(),
            current,
            report,
        };
        // Kept for a rollback; calls still running on it hold their own clone.
        record.previous = Some((previous, since));
        Ok(swapped)
    }

    /// Swaps `policy` into the slot; returns the one it replaced.
    fn put_in_place(&self, policy: Policy) -> Policy {
        let mut slot = self
            .policy
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *slot, policy)
    }

    fn log<T>(
        &self,
        action: Action,
        source: Option<&Path>,
        sha256: Option<String>,
        result: &Result<T, Error>,
    ) {
        self.log_locked(&mut self.lock_record(), action, source, sha256, result);
    }

    fn log_locked<T>(
        &self,
        record: &mut Record,
        action: Action,
        source: Option<&Path>,
        sha256: Option<String>,
        result: &Result<T, Error>,
    ) {
        if record.attempts.len() == status::MAX_ATTEMPTS {
            record.attempts.pop_front();
        }
        record.attempts.push_back(Attempt {
            at: format_utc(self.settings.clock.now()),
            action,
            outcome: match result {
                Ok(_) => Outcome::Admitted,
                Err(_) => Outcome::Refused,
            },
            source: source.map(|p| p.display().to_string()),
            sha256,
            reason: result.as_ref().err().map(|e| e.message().to_owned()),
        });
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
        self.policy()
            .require_schema_major(version, expected_major, &self.settings)
    }
}

impl Swappable for Cache {
    fn serving_sha256(&self) -> String {
        self.policy_info().sha256
    }

    fn swap_file(
        &self,
        path: &Path,
        bytes: &[u8],
        signature: &Result<String, Error>,
    ) -> Result<Swapped, Error> {
        self.swap_bytes(Some(path), bytes, Signature::Beside(path, signature))
    }

    fn status_json(&self) -> Option<String> {
        Some(self.status().to_json())
    }
}
