//! The test harness every test of this workspace shares (the host's own
//! unit tests and the integration tests crate): a cache over a fresh temp
//! root, with a `ManualClock` and the warnings collected. Built for this
//! crate's tests and with the `testing` feature only.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::{Cache, CollectedWarnings, ManualClock, Policy, Root, Settings};

/// 2026-04-17T14:00:00Z, where every harness clock starts.
pub const T0: i64 = 1_776_434_400;

/// A cache over a fresh temp root, with a manual clock and captured warnings.
pub struct Harness {
    /// The root.
    pub dir: tempfile::TempDir,
    /// The cache serving it.
    pub cache: Cache,
    /// Its clock.
    pub clock: Arc<ManualClock>,
    /// Its warnings.
    pub warnings: CollectedWarnings,
}

impl Default for Harness {
    fn default() -> Self {
        Self::new()
    }
}

impl Harness {
    /// The built-in policy, default settings but for the clock, the warnings
    /// and a 10 s lock timeout.
    pub fn new() -> Self {
        Self::with(Policy::builtin().unwrap(), |_| {})
    }

    /// A harness running `policy`, with `tweak` applied to its settings.
    pub fn with(policy: Policy, tweak: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::at(T0));
        let warnings = CollectedWarnings::new();
        let mut settings = Settings {
            clock: clock.clone(),
            on_warning: warnings.sink(),
            lock_timeout: Duration::from_secs(10),
            ..Settings::default()
        };
        tweak(&mut settings);
        let cache = Cache::new(Root::open(dir.path()).unwrap(), policy, settings);
        Harness {
            dir,
            cache,
            clock,
            warnings,
        }
    }

    /// `relative` under the root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    /// Writes a file under the root, folders first.
    pub fn put(&self, relative: &str, bytes: &[u8]) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// A file's bytes under the root.
    pub fn get(&self, relative: &str) -> Vec<u8> {
        std::fs::read(self.path(relative)).unwrap()
    }

    /// The warnings so far.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.all()
    }
}
