//! What every call runs under: its limits and the services injected into
//! it (the clock the policy stamps with, where warnings go). What decides
//! whether a policy may serve at all is not here: that is admission
//! (`policy::Admission`), a swap-time concern.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::{Clock, SystemClock};

/// Called with each warning a call leaves (a recovered corrupt file, say).
pub type WarningSink = Arc<dyn Fn(&str) + Send + Sync>;

/// Limits and injected services for every call. Cheap to clone: a call's
/// store holds a clone of its caller's settings for the length of the call.
#[derive(Clone)]
pub struct Settings {
    /// How long a write waits for its lock (zero: one try). Default 30 s.
    pub lock_timeout: Duration,
    /// Guest time allowed per call, host calls not counted. Default 5 s.
    pub time_limit: Duration,
    /// Linear memory a guest may grow to, in bytes. Default 64 MiB.
    pub memory_limit: usize,
    /// Largest file the policy may read, in bytes; nothing larger is
    /// written either. Default 1 MiB.
    pub max_file_size: u64,
    /// The policy's "now". Default: the system clock.
    pub clock: Arc<dyn Clock>,
    /// Where warnings go. Default: the `log` crate, target `exlab_cache`.
    pub on_warning: WarningSink,
    /// The machine's name as the policy sees it, for files kept one per
    /// machine (`wizard.<hostname>.log`). Default: this machine's (`uname`).
    pub hostname: String,
}

/// This machine's host name, read once.
pub fn machine_hostname() -> &'static str {
    static HOSTNAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOSTNAME.get_or_init(|| {
        let uname = rustix::system::uname();
        uname.nodename().to_string_lossy().into_owned()
    })
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
            hostname: machine_hostname().to_owned(),
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
            .field("hostname", &self.hostname)
            .finish_non_exhaustive()
    }
}

/// Warnings kept in memory, in order: for the conformance gate, which must
/// see what a policy warns about, and for tests.
#[derive(Clone, Default)]
pub struct CollectedWarnings(Arc<Mutex<Vec<String>>>);

impl CollectedWarnings {
    /// An empty collection.
    pub fn new() -> Self {
        Self::default()
    }

    /// A sink for [`Settings::on_warning`] that adds to this collection.
    pub fn sink(&self) -> WarningSink {
        let warnings = self.0.clone();
        Arc::new(move |w| {
            let mut warnings = warnings.lock().unwrap_or_else(PoisonError::into_inner);
            warnings.push(w.to_owned());
        })
    }

    /// The warnings so far.
    pub fn all(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The warnings so far, leaving the collection empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl fmt::Debug for CollectedWarnings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CollectedWarnings")
            .field(&self.all())
            .finish()
    }
}
