//! What a host serves, what served before it, and the last admission
//! attempts: for an operator (`Cache::status`, the watcher's status file,
//! `exlab-cache policy status FILE`) and for the Python package (as a dict).

use std::path::Path;

use serde::Serialize;

use super::trust::TrustedKeys;
use super::PolicyInfo;
use crate::Error;

/// How many admission attempts a status keeps (the oldest go first).
pub const MAX_ATTEMPTS: usize = 16;

/// The suffix of the status file the watcher writes beside the policy it
/// watches: `policy.wasm` → `policy.wasm.status.json`.
pub const STATUS_SUFFIX: &str = ".status.json";

/// A policy that serves (or served), and since when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Served {
    /// Who it is (name, version, interface, sha256, signer).
    #[serde(flatten)]
    pub info: PolicyInfo,
    /// When it started serving (UTC, `YYYY-MM-DDTHH:MM:SSZ`): when the
    /// cache was made, or the swap or rollback that put it in place.
    pub since: String,
    /// Whether its signing key is in the trust file now (read when the
    /// status is made). `None` when it is unsigned or no trust file is
    /// configured. `false` means revoked (or an unreadable trust file): it
    /// keeps serving until the next swap.
    pub signer_trusted: Option<bool>,
    /// Why `signer_trusted` is false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_note: Option<String>,
}

/// What started an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A swap: `swap_policy*`, `set_policy`, or the watcher.
    Swap,
    /// `Cache::rollback`.
    Rollback,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The policy serves now (or served after it).
    Admitted,
    /// It was refused; the policy serving went on serving.
    Refused,
}

/// One admission attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attempt {
    /// When it ended (UTC, `YYYY-MM-DDTHH:MM:SSZ`).
    pub at: String,
    /// A swap or a rollback.
    pub action: Action,
    /// Admitted or refused.
    pub outcome: Outcome,
    /// The policy file, when it came from one.
    pub source: Option<String>,
    /// The sha256 of the policy tried, when known (not for a file that could
    /// not be read, nor a rollback with nothing to go back to).
    pub sha256: Option<String>,
    /// Why it was refused (the `policy_error`'s message).
    pub reason: Option<String>,
}

/// A host's policy status: a snapshot, serialisable as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyStatus {
    /// When this status was made (UTC).
    pub at: String,
    /// The trust file configured for admissions, if any.
    pub trusted_keys: Option<String>,
    /// The policy serving.
    pub serving: Served,
    /// The policy that served before it, which `Cache::rollback` returns to.
    pub previous: Option<Served>,
    /// The last [`MAX_ATTEMPTS`] attempts, oldest first.
    pub attempts: Vec<Attempt>,
}

impl PolicyStatus {
    /// Compact JSON (the content of a status file).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a status serializes")
    }
}

/// `info` serving since `since`, its signer checked against `keys` (the
/// trust file as read now, `None` when none is configured).
pub(crate) fn served(
    info: &PolicyInfo,
    since: String,
    keys: &Result<Option<TrustedKeys>, Error>,
) -> Served {
    let (signer_trusted, trust_note) = match (&info.signer, keys) {
        (None, _) | (_, Ok(None)) => (None, None),
        (Some(_), Err(e)) => (Some(false), Some(e.message().to_owned())),
        (Some(signer), Ok(Some(keys))) => match keys.get(&signer.key_id) {
            Some(_) => (Some(true), None),
            None => (
                Some(false),
                Some(format!(
                    "key {} is no longer in {}: the policy keeps serving until the next swap",
                    signer.key_id,
                    keys.source()
                )),
            ),
        },
    };
    Served {
        info: info.clone(),
        since,
        signer_trusted,
        trust_note,
    }
}

/// The largest status file read back: 1 MiB (a status is a few KB).
const MAX_STATUS_FILE: u64 = 1 << 20;

/// A status file as JSON, read like every other file the host is pointed
/// at: a regular file only, opened without blocking, capped. Missing is
/// `not_found`, not JSON `decode_error`, anything else `io_error`.
pub fn read_status_file(path: &Path) -> Result<serde_json::Value, Error> {
    use crate::regular_file::{self, Unreadable};
    let bytes = regular_file::read(path, MAX_STATUS_FILE).map_err(|why| {
        let message = format!("cannot read the policy status {}: {why}", path.display());
        match why {
            Unreadable::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Error::NotFound { message }
            }
            _ => Error::Io { message },
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
        message: format!("the policy status {} is not JSON: {e}", path.display()),
    })
}

/// Where the watcher of the policy file `policy` writes its status.
pub fn status_path(policy: &Path) -> std::path::PathBuf {
    let mut path = policy.as_os_str().to_owned();
    path.push(STATUS_SUFFIX);
    path.into()
}

/// Writes `json` to `path` durably: a temp file beside it, written and
/// fsynced, renamed over it, and the folder fsynced, so a reader sees the
/// old status or the new one, whole.
pub fn write_status_file(path: &Path, json: &str) -> std::io::Result<()> {
    use std::io::Write;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{:016x}.tmp", fastrand::u64(..)));
    let tmp = std::path::PathBuf::from(tmp);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(json.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(folder)?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
