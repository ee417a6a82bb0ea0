//! The exclusive advisory lock on `<file>.lock`: `flock`, the lock Python's
//! `filelock` takes, waited for within a bound and released on drop.

use cap_std::fs::Dir;
use fs4::TryLockError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{fault, Faults, StorageError};

/// A file held under its exclusive lock; dropping it releases the lock.
pub struct FileLock {
    pub(super) folder: Dir,
    pub(super) name: std::ffi::OsString,
    pub(super) path: String,
    pub(super) lock_file: std::fs::File,
    pub(super) faults: Option<Arc<dyn Faults>>,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Unlock before the descriptor closes. A flock belongs to the open
        // file description, and a child that another thread forked holds a
        // copy of it until it execs: closing alone would leave the lock held
        // until then.
        let _ = fs4::FileExt::unlock(&self.lock_file);
    }
}

pub(super) fn wait_for_lock(
    file: &std::fs::File,
    timeout: Duration,
    path: &str,
) -> Result<(), StorageError> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        // Called through the trait: std's inherent `File::try_lock` would shadow it.
        match fs4::FileExt::try_lock(file) {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(fault("lock", path, e)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(StorageError::LockTimeout(format!(
                "{path}: the lock {path}.lock was not had within {}s",
                timeout.as_secs_f64()
            )));
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Root, StorageError};
    use std::time::Duration;

    fn root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn a_dropped_lock_is_free_even_while_a_forked_child_holds_a_copy_of_its_descriptor() {
        let (_tmp, root) = root();
        let held = root.lock("f.json", Duration::ZERO).unwrap();
        // What a child forked by another thread holds until it execs.
        let child_copy = held.lock_file.try_clone().unwrap();
        drop(held);
        root.lock("f.json", Duration::ZERO)
            .expect("the lock is free once its holder is dropped");
        drop(child_copy);
    }

    #[test]
    fn a_held_lock_times_out_a_second_taker() {
        let (_tmp, root) = root();
        let held = root.lock("f.json", Duration::ZERO).unwrap();
        let e = root
            .lock("f.json", Duration::from_millis(30))
            .err()
            .unwrap();
        assert!(matches!(e, StorageError::LockTimeout(_)));
        drop(held);
        root.lock("f.json", Duration::ZERO).unwrap();
    }
}
