//! The exclusive advisory lock on `<file>.lock`: `flock`, the lock Python's
//! `filelock` takes, waited for within a bound and released on drop.
//!
//! A flock excludes only holders of the *same inode*, so after `flock`
//! succeeds the lock is checked to still be the file named `<file>.lock`:
//! `filelock` 3.21 to 3.29 unlinks it on release (a waiter then holds a lock
//! on a file nobody else will open), and a cleanup job may delete `*.lock`.
//! A stale lock is dropped and the name opened and locked afresh, within the
//! same bounded wait.
//!
//! Our own release does **not** unlink `<file>.lock`. Unlinking would stop
//! lock files piling up, but a waiter that does not re-check the name after
//! its `flock` (`filelock` up to 3.20, still common, and any plain
//! `fcntl.flock` caller) would then win a lock on the unlinked inode while
//! the next acquirer creates and locks a new file: two holders. Lock files
//! are empty and there is one per record, so keeping them costs next to
//! nothing; `filelock` 4 keeps them for the same reason.

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use fs4::TryLockError;
use rustix::fs::{FileType, OFlags};
use std::ffi::{OsStr, OsString};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::faults::inject;
use super::{fault, CacheError, Faults, Folder, WriteStep};

/// A file held under its exclusive lock; dropping it releases the lock.
pub struct FileLock {
    pub(super) folder: Dir,
    /// Whether `folder` is open for reading: listed and fsynced as it is.
    pub(super) folder_readable: bool,
    pub(super) name: OsString,
    pub(super) path: String,
    pub(super) lock_file: std::fs::File,
    pub(super) faults: Option<Arc<dyn Faults>>,
    /// What the locked read found: `Some(false)` makes the next replace a
    /// write-once commit (see [`FileLock::replace`]).
    pub(super) saw_file: Option<bool>,
    /// Set when a write-once commit found the file created meanwhile (by a
    /// writer that got in while the lock file was deleted): nothing was
    /// overwritten, and the engine runs the call again.
    pub(super) created_meanwhile: std::cell::Cell<bool>,
    /// The mode and owner of the file the locked read found, for the
    /// rewrite to carry over (see [`FileLock::replace`]).
    pub(super) read_owner: Option<Owner>,
    /// Whether a replace has listed `folder` (a second one rewinds it).
    pub(super) listed: std::cell::Cell<bool>,
}

/// A file's permission bits and owner.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Owner {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
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

/// Takes the exclusive flock on `<name>.lock` in `folder` (creating the
/// file), waiting at most `timeout` (zero: one try), for the write of `path`.
/// When `<name>.lock` is itself a symlink, `behind_link` says where it leads
/// (by the root's one rule for links) and that file is the lock.
pub(super) fn lock_in(
    folder: Folder,
    name: &OsStr,
    path: &str,
    timeout: Duration,
    faults: Option<Arc<dyn Faults>>,
    behind_link: impl Fn() -> Result<(Dir, OsString), CacheError>,
) -> Result<FileLock, CacheError> {
    let mut lock_name = name.to_owned();
    lock_name.push(".lock");
    // The folder of the file a `<name>.lock` link leads to, once seen.
    let mut linked: Option<Dir> = None;
    let start = Instant::now();
    let mut reopened = false;
    loop {
        let lock_folder = linked.as_ref().unwrap_or(&folder.dir);
        let (lock_file, held) = match open_lock_file(lock_folder, &lock_name, path, &faults)? {
            Some(opened) => opened,
            None if linked.is_none() => {
                let (to_folder, to_name) = behind_link()?;
                linked = Some(to_folder);
                lock_name = to_name;
                continue;
            }
            None => {
                return Err(CacheError::IoError(format!(
                    "open the lock file of {path}: it changed into a link while being locked"
                )))
            }
        };
        wait_for_flock(&lock_file, start, timeout, path)?;
        let lock_folder = linked.as_ref().unwrap_or(&folder.dir);
        if still_named(lock_folder, &lock_name, &held).map_err(|e| fault("stat", path, e))? {
            return Ok(FileLock {
                folder: folder.dir,
                folder_readable: folder.readable,
                name: name.to_owned(),
                path: path.to_owned(),
                lock_file,
                faults,
                saw_file: None,
                created_meanwhile: Default::default(),
                read_owner: None,
                listed: Default::default(),
            });
        }
        let _ = fs4::FileExt::unlock(&lock_file);
        // A stale lock is always worth one more try, even with a zero
        // timeout: it is what a `filelock` release leaves behind, and the
        // lock may well be free. Beyond that, the deadline bounds a cleanup
        // job that deletes the file over and over.
        if reopened && start.elapsed() >= timeout {
            return Err(timed_out(path, timeout));
        }
        reopened = true;
    }
}

/// Opens (creates) the lock file without blocking in `open`, and refuses one
/// that is not a regular file: a FIFO or a device in its place must neither
/// hang the writer nor be "locked". Never through a symlink: `None` when
/// the name is a link, which the caller resolves by the root's rule. With
/// the file, its `fstat` (for the identity check after the `flock`).
fn open_lock_file(
    folder: &Dir,
    lock_name: &OsStr,
    path: &str,
    faults: &Option<Arc<dyn Faults>>,
) -> Result<Option<(std::fs::File, rustix::fs::Stat)>, CacheError> {
    let opened = inject(faults, WriteStep::LockOpen, path).and_then(|()| {
        folder.open_with(
            lock_name,
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32),
        )
    });
    let file = match opened {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        opened => opened.map_err(|e| fault("open the lock file of", path, e))?,
    }
    .into_std();
    let stat =
        rustix::fs::fstat(&file).map_err(|e| fault("stat the lock file of", path, e.into()))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
        return Err(CacheError::IoError(format!(
            "open the lock file of {path}: {path}.lock is not a regular file"
        )));
    }
    Ok(Some((file, stat)))
}

/// Whether the file `held` (its `fstat`) is still the file named
/// `lock_name` (not unlinked, not replaced by a new file of that name, nor
/// by a link). Device and inode come from before the `flock` (they never
/// change); that the name leads to them also says the file still has a
/// link, and an open file's inode number is never reused meanwhile.
fn still_named(folder: &Dir, lock_name: &OsStr, held: &rustix::fs::Stat) -> io::Result<bool> {
    let named = match stat_entry(folder, lock_name) {
        Ok(named) => named,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    Ok(held.st_dev == named.st_dev && held.st_ino == named.st_ino)
}

/// The entry `name` of `folder`, not followed if it is a link: one
/// `fstatat`, where cap-std's `metadata` opens, stats and closes. Only for
/// a plain name (no `/`, not `.` or `..`), which cannot leave the folder.
pub(super) fn stat_entry(folder: &Dir, name: &OsStr) -> io::Result<rustix::fs::Stat> {
    use std::os::unix::ffi::OsStrExt;
    let plain = !name.as_bytes().contains(&b'/') && name != "." && name != "..";
    if !plain || name.is_empty() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    Ok(rustix::fs::statat(
        folder,
        name,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )?)
}

fn wait_for_flock(
    file: &std::fs::File,
    start: Instant,
    timeout: Duration,
    path: &str,
) -> Result<(), CacheError> {
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
            return Err(timed_out(path, timeout));
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

fn timed_out(path: &str, timeout: Duration) -> CacheError {
    CacheError::LockTimeout(format!(
        "{path}: the lock {path}.lock was not had within {}s",
        timeout.as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::super::tests::root;
    use super::*;

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
        assert!(matches!(e, CacheError::LockTimeout(_)));
        drop(held);
        root.lock("f.json", Duration::ZERO).unwrap();
    }

    #[test]
    fn p1_a_lock_file_deleted_and_recreated_under_a_waiter_is_locked_afresh() {
        let (tmp, root) = root();
        let lock_path = tmp.path().join("f.json.lock");
        // A `filelock` >= 3.21 holder: holds the lock, then releases it by
        // unlinking the file first, and a second app writer takes a new one.
        let first = std::fs::File::create(&lock_path).unwrap();
        fs4::FileExt::lock(&first).unwrap();
        std::thread::scope(|s| {
            let waiter = s.spawn(|| root.lock("f.json", Duration::from_secs(10)));
            std::thread::sleep(Duration::from_millis(50));
            std::fs::remove_file(&lock_path).unwrap();
            let second = std::fs::File::create(&lock_path).unwrap();
            fs4::FileExt::lock(&second).unwrap();
            fs4::FileExt::unlock(&first).unwrap();
            // The waiter got the old inode's flock and must not keep it.
            std::thread::sleep(Duration::from_millis(100));
            assert!(!waiter.is_finished(), "the waiter took a deleted lock");
            fs4::FileExt::unlock(&second).unwrap();
            let held = waiter.join().unwrap().unwrap();
            let held = rustix::fs::fstat(&held.lock_file).unwrap();
            assert!(still_named(root.dir().unwrap(), OsStr::new("f.json.lock"), &held).unwrap());
        });
    }

    #[test]
    fn p1_a_zero_timeout_still_gets_a_free_lock_whose_old_file_was_unlinked() {
        let (tmp, root) = root();
        let lock_path = tmp.path().join("f.json.lock");
        std::fs::write(&lock_path, b"").unwrap();
        let stale = std::fs::File::open(&lock_path).unwrap();
        let stale = rustix::fs::fstat(&stale).unwrap();
        std::fs::remove_file(&lock_path).unwrap();
        assert!(!still_named(root.dir().unwrap(), OsStr::new("f.json.lock"), &stale).unwrap());
        root.lock("f.json", Duration::ZERO).unwrap();
        assert!(lock_path.exists());
    }

    #[test]
    fn p1_a_fifo_or_a_folder_in_place_of_the_lock_file_is_refused_at_once() {
        let (tmp, root) = root();
        let fifo = tmp.path().join("f.json.lock");
        let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o644) }, 0);
        std::fs::create_dir(tmp.path().join("g.json.lock")).unwrap();
        for path in ["f.json", "g.json"] {
            let started = Instant::now();
            let e = root.lock(path, Duration::from_secs(5)).err().unwrap();
            assert!(started.elapsed() < Duration::from_secs(2), "{path}");
            assert!(
                matches!(&e, CacheError::IoError(m) if m.contains("lock file") && m.contains(path)),
                "{path}: {e:?}"
            );
        }
    }
}
