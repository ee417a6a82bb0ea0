//! Storage mechanics, scoped to one root folder.
//!
//! Every path a policy names is resolved here, once, against a
//! `cap_std::fs::Dir` for the root: no ambient path calls. A path that is
//! absolute outside the root, climbs out with `..`, or leaves through a
//! symlink is `access_denied`, and nothing outside the root is read, created
//! or locked. Writes are: flock on `<file>.lock` (the lock Python's
//! `filelock` takes), temp file `<file>.<random>.tmp` in the same folder,
//! write, fsync, rename over the file, fsync of the folder; the temp file is
//! removed on any failure, and temp files orphaned by killed writers are
//! removed by the next holder of the file's lock. Tests can make any step
//! fail through [`Faults`].

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions};
use fs4::TryLockError;
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Error;

/// A storage failure, as the policy sees it (`cache-error` of the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StorageError {
    AccessDenied(String),
    LockTimeout(String),
    Io(String),
}

/// The one folder a cache may touch.
pub struct Root {
    dir: Result<Dir, String>,
    /// Absolute spellings of the root (as given, and with symlinks
    /// resolved) that an absolute path inside it may start with.
    absolute: Vec<PathBuf>,
    /// Test-only fault injection (`None` in production: one branch per step).
    faults: Option<Arc<dyn Faults>>,
}

impl Root {
    /// Opens an existing folder as the root (the only ambient open).
    pub fn open(path: impl AsRef<Path>) -> Result<Root, Error> {
        let path = path.as_ref();
        let dir = Dir::open_ambient_dir(path, ambient_authority())
            .map_err(|e| Error::io(format!("root {}: {e}", path.display())))?;
        let absolute = [
            std::path::absolute(path).ok(),
            std::fs::canonicalize(path).ok(),
        ]
        .into_iter()
        .flatten()
        .collect();
        Ok(Root {
            dir: Ok(dir),
            absolute,
            faults: None,
        })
    }

    /// A root for an already opened capability. With `absolute_path`,
    /// absolute paths under it are accepted too; without, they are denied.
    pub fn from_dir(dir: Dir, absolute_path: Option<PathBuf>) -> Root {
        Root {
            dir: Ok(dir),
            absolute: absolute_path.into_iter().collect(),
            faults: None,
        }
    }

    /// A root that is not there (an unmounted disk, say): every call fails
    /// with `io_error` once its input has been checked, and creates nothing.
    pub fn unavailable(reason: impl Into<String>) -> Root {
        Root {
            dir: Err(reason.into()),
            absolute: Vec::new(),
            faults: None,
        }
    }

    /// For tests: every step of every write first asks `faults` whether
    /// it should fail (see [`Faults`]).
    #[doc(hidden)]
    pub fn with_faults(mut self, faults: Arc<dyn Faults>) -> Root {
        self.faults = Some(faults);
        self
    }

    fn dir(&self) -> Result<&Dir, StorageError> {
        self.dir
            .as_ref()
            .map_err(|why| StorageError::Io(why.clone()))
    }

    /// Resolves `path` to (parent folder, file name) relative to the root,
    /// lexically: `.` dropped, `..` collapsed and never above the root.
    fn resolve<'p>(&self, path: &'p str) -> Result<(PathBuf, &'p OsStr), StorageError> {
        if path.is_empty() {
            return Err(StorageError::Io("the path is empty".into()));
        }
        if path.contains('\0') {
            return Err(StorageError::Io(format!(
                "{path:?}: the path contains a NUL byte"
            )));
        }
        let given = Path::new(path);
        let relative = if given.is_absolute() {
            self.absolute
                .iter()
                .find_map(|root| given.strip_prefix(root).ok())
                .ok_or_else(|| denied(path, "is outside the root"))?
        } else {
            given
        };
        let mut parts: Vec<&OsStr> = Vec::new();
        for component in relative.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(part) => parts.push(part),
                Component::ParentDir => {
                    parts
                        .pop()
                        .ok_or_else(|| denied(path, "climbs out of the root"))?;
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(denied(path, "is outside the root"))
                }
            }
        }
        let name = parts
            .pop()
            .ok_or_else(|| StorageError::Io(format!("{path}: the path names no file")))?;
        Ok((parts.iter().collect(), name))
    }

    /// Reads `path` without a lock: `None` when there is no file. Creates
    /// nothing. Files larger than `max_size` bytes are refused.
    pub(crate) fn read(&self, path: &str, max_size: u64) -> Result<Option<Vec<u8>>, StorageError> {
        let root = self.dir()?;
        let (parent, name) = self.resolve(path)?;
        // The common case in one open beneath the root; anything unusual
        // takes the step-by-step way, which says which step failed.
        match root.open(parent.join(name)) {
            Ok(file) => return read_open_file(file, path, max_size).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(_) => {}
        }
        let folder = match open_folder(root, &parent) {
            Ok(folder) => folder,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fault("open the folder of", path, e)),
        };
        read_file(&folder, name, path, max_size)
    }

    /// Creates the parent folders of `path`, then takes the exclusive flock
    /// on `<path>.lock`, waiting at most `timeout` (zero: one try).
    pub(crate) fn lock(&self, path: &str, timeout: Duration) -> Result<FileLock, StorageError> {
        let root = self.dir()?;
        let (parent, name) = self.resolve(path)?;
        // Usually the folder is there: one open. Otherwise create it first.
        let folder = match open_folder(root, &parent) {
            Ok(folder) => folder,
            Err(e) if is_escape(&e) => return Err(fault("open the folder of", path, e)),
            Err(_) => {
                if !parent.as_os_str().is_empty() {
                    if let Err(e) = root.create_dir_all(&parent) {
                        // A symlink out of the root reads as "exists" here;
                        // opening the folder below tells that escape apart.
                        if e.kind() != io::ErrorKind::AlreadyExists {
                            return Err(fault("create the folders of", path, e));
                        }
                    }
                }
                open_folder(root, &parent).map_err(|e| fault("open the folder of", path, e))?
            }
        };
        let mut lock_name = name.to_owned();
        lock_name.push(".lock");
        let lock_file = inject(&self.faults, WriteStep::LockOpen, path)
            .and_then(|()| {
                folder.open_with(
                    &lock_name,
                    OpenOptions::new().read(true).write(true).create(true),
                )
            })
            .map_err(|e| fault("open the lock file of", path, e))?
            .into_std();
        wait_for_lock(&lock_file, timeout, path)?;
        Ok(FileLock {
            folder,
            name: name.to_owned(),
            path: path.to_owned(),
            lock_file,
            faults: self.faults.clone(),
        })
    }
}

/// A file held under its exclusive lock; dropping it releases the lock.
pub struct FileLock {
    folder: Dir,
    name: std::ffi::OsString,
    path: String,
    lock_file: std::fs::File,
    faults: Option<Arc<dyn Faults>>,
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

impl FileLock {
    /// The file's bytes, or `None` when there is none.
    pub(crate) fn read(&self, max_size: u64) -> Result<Option<Vec<u8>>, StorageError> {
        read_file(&self.folder, &self.name, &self.path, max_size)
    }

    /// Replaces the file durably and atomically. On failure before the
    /// rename the old file is untouched and the temp file is removed.
    pub(crate) fn replace(&self, contents: &[u8]) -> Result<(), StorageError> {
        // Under the lock, before this writer adds its own: a no-op (a marker
        // that exists) never pays for the folder listing.
        remove_stale_temps(&self.folder, &self.name);
        let (temp_name, mut temp) = self.create_temp()?;
        let step = |step| inject(&self.faults, step, &self.path);
        let written = (|| {
            match step(WriteStep::Write) {
                Ok(()) => temp.write_all(contents),
                // An injected failure mid-way: half the bytes reach the temp
                // file first (a short write, then e.g. ENOSPC).
                Err(e) => temp.write_all(&contents[..contents.len() / 2]).and(Err(e)),
            }
            .map_err(|e| ("write", e))?;
            step(WriteStep::Fsync)
                .and_then(|()| temp.sync_all())
                .map_err(|e| ("fsync", e))?;
            drop(temp);
            step(WriteStep::Rename)
                .and_then(|()| self.folder.rename(&temp_name, &self.folder, &self.name))
                .map_err(|e| ("rename", e))
        })();
        if let Err((step, e)) = written {
            let _ = self.folder.remove_file(&temp_name);
            return Err(fault(&format!("{step} the temp file of"), &self.path, e));
        }
        // cap-std holds folders as O_PATH descriptors, which cannot be
        // fsynced: open the folder itself read-only for that.
        // A failure here comes after the rename: the new file is in place
        // (and readers see it), but its durability is not confirmed.
        inject(&self.faults, WriteStep::FolderFsync, &self.path)
            .and_then(|()| self.folder.open_with(".", OpenOptions::new().read(true)))
            .and_then(|folder| folder.sync_all())
            .map_err(|e| fault("fsync the folder of", &self.path, e))
    }

    /// `<file>.<random>.tmp`, created exclusively beside the file.
    fn create_temp(&self) -> Result<(std::ffi::OsString, cap_std::fs::File), StorageError> {
        let mut last_error = None;
        for _ in 0..16 {
            let mut temp_name = self.name.clone();
            temp_name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
            let created = inject(&self.faults, WriteStep::TempCreate, &self.path).and_then(|()| {
                self.folder
                    .open_with(&temp_name, OpenOptions::new().write(true).create_new(true))
            });
            match created {
                Ok(file) => return Ok((temp_name, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => return Err(fault("create the temp file of", &self.path, e)),
            }
        }
        let e = last_error.unwrap_or_else(|| io::Error::other("no free temp name"));
        Err(fault("create the temp file of", &self.path, e))
    }
}

/// A step of a write that [`Faults`] can make fail.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteStep {
    /// Opening (creating) `<file>.lock`.
    LockOpen,
    /// Creating `<file>.<random>.tmp`.
    TempCreate,
    /// Writing the contents to the temp file (an injected failure writes
    /// half the bytes first: a short write).
    Write,
    /// `fsync` of the temp file.
    Fsync,
    /// Renaming the temp file over the file.
    Rename,
    /// `fsync` of the folder, after the rename.
    FolderFsync,
}

impl WriteStep {
    /// Every step, in the order a write takes them.
    pub const ALL: [WriteStep; 6] = [
        WriteStep::LockOpen,
        WriteStep::TempCreate,
        WriteStep::Write,
        WriteStep::Fsync,
        WriteStep::Rename,
        WriteStep::FolderFsync,
    ];
}

/// Test-only fault injection: asked before each step of a write; an error
/// makes that step fail with it, exactly as if the OS had returned it.
#[doc(hidden)]
pub trait Faults: Send + Sync {
    /// `Err` to fail `step` of a write of `path`.
    fn before(&self, step: WriteStep, path: &str) -> io::Result<()>;
}

#[inline]
fn inject(faults: &Option<Arc<dyn Faults>>, step: WriteStep, path: &str) -> io::Result<()> {
    match faults {
        None => Ok(()),
        Some(faults) => faults.before(step, path),
    }
}

fn open_folder(root: &Dir, parent: &Path) -> io::Result<Dir> {
    if parent.as_os_str().is_empty() {
        root.try_clone()
    } else {
        root.open_dir(parent)
    }
}

fn read_file(
    folder: &Dir,
    name: &OsStr,
    path: &str,
    max_size: u64,
) -> Result<Option<Vec<u8>>, StorageError> {
    let file = match folder.open(name) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fault("open", path, e)),
    };
    read_open_file(file, path, max_size).map(Some)
}

/// Reads at most `max_size` bytes; a larger file is refused.
fn read_open_file(
    file: cap_std::fs::File,
    path: &str,
    max_size: u64,
) -> Result<Vec<u8>, StorageError> {
    // Room for a small record up front: one read and the one that sees the
    // end, no probing reads.
    let mut bytes = Vec::with_capacity(max_size.saturating_add(1).min(4096) as usize);
    file.take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fault("read", path, e))?;
    if bytes.len() as u64 > max_size {
        return Err(StorageError::Io(format!(
            "read {path}: the file is larger than the {max_size}-byte limit"
        )));
    }
    Ok(bytes)
}

/// Removes `<name>.<anything>.tmp` left by writers that were killed before
/// they could clean up (ours, or the Python original's `mkstemp` files,
/// which it also creates under this flock). Only called under the file's
/// lock, so no live writer owns one.
fn remove_stale_temps(folder: &Dir, name: &OsStr) {
    let (Some(name), Ok(entries)) = (name.to_str(), folder.entries()) else {
        return;
    };
    let prefix = format!("{name}.");
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let stale = entry_name.to_str().is_some_and(|n| {
            n.len() > prefix.len() + 4 && n.starts_with(&prefix) && n.ends_with(".tmp")
        });
        if stale {
            let _ = folder.remove_file(&entry_name);
        }
    }
}

fn wait_for_lock(file: &std::fs::File, timeout: Duration, path: &str) -> Result<(), StorageError> {
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

fn denied(path: &str, why: &str) -> StorageError {
    StorageError::AccessDenied(format!("{path} {why}"))
}

/// A cap-std escape (a symlink or `..` that leaves the root) carries no OS
/// error code; a real EACCES does, and is an `io_error`.
fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

fn fault(step: &str, path: &str, e: io::Error) -> StorageError {
    if is_escape(&e) {
        denied(path, "leaves the root (through a symlink)")
    } else {
        StorageError::Io(format!("{step} {path}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn resolve_collapses_dots_and_refuses_to_climb_out() {
        let (tmp, root) = root();
        let ok = |p: &str| root.resolve(p).map(|(dir, name)| dir.join(name));
        assert_eq!(ok("a/./b/../c.json").unwrap(), Path::new("a/c.json"));
        let inside = tmp.path().join("x/y.json");
        assert_eq!(ok(inside.to_str().unwrap()).unwrap(), Path::new("x/y.json"));
        for bad in ["../x.json", "a/../../x.json", "/etc/passwd", "/"] {
            assert!(
                matches!(ok(bad), Err(StorageError::AccessDenied(_))),
                "{bad}"
            );
        }
        for bad in ["", ".", "a/..", "a\0b"] {
            assert!(matches!(ok(bad), Err(StorageError::Io(_))), "{bad:?}");
        }
    }

    #[test]
    fn replace_leaves_no_temp_file_and_read_caps_the_size() {
        let (tmp, root) = root();
        let lock = root.lock("d/f.json", Duration::ZERO).unwrap();
        lock.replace(b"12345").unwrap();
        assert_eq!(lock.read(5).unwrap().unwrap(), b"12345");
        assert!(matches!(lock.read(4), Err(StorageError::Io(_))));
        let mut names: Vec<_> = std::fs::read_dir(tmp.path().join("d"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["f.json", "f.json.lock"]);
    }

    #[test]
    fn a_write_sweeps_temp_files_of_killed_writers_only() {
        let (tmp, root) = root();
        for stale in [
            "f.json.1a2b.tmp",
            "f.json.x7_k2p.tmp",
            "g.json.1.tmp",
            "f.json.tmp",
            "f.jsonX.1.tmp",
        ] {
            std::fs::write(tmp.path().join(stale), b"").unwrap();
        }
        root.lock("f.json", Duration::ZERO)
            .unwrap()
            .replace(b"new")
            .unwrap();
        let mut left: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "f.json",
                "f.json.lock",
                "f.json.tmp",
                "f.jsonX.1.tmp",
                "g.json.1.tmp"
            ]
        );
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

    #[test]
    fn a_lock_through_a_symlinked_folder_out_of_the_root_is_denied() {
        let (tmp, root) = root();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("link")).unwrap();
        for path in ["link/f.json", "link/a/f.json"] {
            let e = root.lock(path, Duration::ZERO).err().unwrap();
            assert!(matches!(e, StorageError::AccessDenied(_)), "{path}: {e:?}");
        }
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        let e = root.lock("file/f.json", Duration::ZERO).err().unwrap();
        assert!(matches!(e, StorageError::Io(_)), "{e:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unavailable_root_fails_every_call_as_io() {
        let root = Root::unavailable("root /nope: missing");
        assert_eq!(
            root.read("a", 10),
            Err(StorageError::Io("root /nope: missing".into()))
        );
        assert!(matches!(
            root.lock("a", Duration::ZERO),
            Err(StorageError::Io(_))
        ));
    }
}
