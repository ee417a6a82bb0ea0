//! Storage mechanics, scoped to one root folder.
//!
//! Every path a policy names is resolved here, once, against a
//! `cap_std::fs::Dir` for the root: no ambient path calls. A path that is
//! absolute outside the root, climbs out with `..`, or leaves through a
//! symlink is `access_denied`, and nothing outside the root is read, created
//! or locked (links inside the root are followed: docs/spec.md §7.6).
//! Writes are: flock on `<file>.lock` (the lock Python's `filelock` takes,
//! re-checked to still be that file), temp file `<file>.<16 hex>.tmp` in the
//! same folder, write, fsync, rename over the file (one that refuses to
//! replace after a read that saw no file), fsync of the folder; the temp
//! file is removed on any failure. A write sweeps only the orphans of killed
//! writers: our temp files no live writer holds a flock on, and the Python
//! original's older than a minute (§7.5). Tests can make any step fail
//! through [`Faults`].
//!
//! One file per job: [`path`] resolves a path inside the root, [`lock`]
//! takes and releases `<file>.lock`, [`read`] reads a file, [`replace`]
//! is the durable replace and the sweep of orphaned temp files, [`append`]
//! adds one line to a log without a lock, and [`faults`] the test seam.

mod append;
mod faults;
mod lock;
mod path;
mod read;
mod replace;

use cap_std::ambient_authority;
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::Error;

pub use faults::{Faults, WriteStep};
pub use lock::FileLock;

use lock::lock_in;
use read::read_file;

// Storage fails with the boundary's own error: what it returns is what the
// policy sees, with no conversion in between.
pub(crate) use crate::interface::latest::CacheError;

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

    fn dir(&self) -> Result<&Dir, CacheError> {
        self.dir
            .as_ref()
            .map_err(|why| CacheError::IoError(why.clone()))
    }

    /// Reads `path` without a lock: `None` when there is no file. Creates
    /// nothing. Files larger than `max_size` bytes are refused, and so is
    /// anything that is not a regular file.
    pub(crate) fn read(&self, path: &str, max_size: u64) -> Result<Option<Vec<u8>>, CacheError> {
        let root = self.dir()?;
        let (parent, name) = self.resolve(path)?;
        let lexical = parent.join(name);
        // The common case in one open beneath the root; anything unusual (an
        // absolute link, a loop, an odd file) takes the walk, which follows
        // what may be followed and says which step failed.
        match read::open_for_reading(root, &lexical) {
            Ok(file) => return read::read_open_file(file, path, max_size).map(|(b, _)| Some(b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(_) => {}
        }
        let real = self.follow_links(root, &lexical, path)?;
        let (parent, name) = path::split(&real, path)?;
        let folder = match open_folder(root, parent) {
            Ok(folder) => folder,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fault("open the folder of", path, e)),
        };
        Ok(read_file(&folder, name, path, max_size)?.map(|(bytes, _)| bytes))
    }

    /// Creates the parent folders of `path`, then takes the exclusive flock
    /// on `<path>.lock`, waiting at most `timeout` (zero: one try). Symlinks
    /// inside the root are followed (see [`path`]): the lock is that of the
    /// file they lead to.
    pub(crate) fn lock(&self, path: &str, timeout: Duration) -> Result<FileLock, CacheError> {
        let root = self.dir()?;
        let (parent, name) = self.resolve(path)?;
        let file = self.place_for_write(root, &parent.join(name), path)?;
        let in_root = file.in_root;
        // `<file>.lock` that is itself a link: the lock is where it leads.
        let behind_link = || {
            let lock_path = lock_name(in_root.as_os_str());
            let lock = self.place_for_write(root, Path::new(&lock_path), path)?;
            Ok((lock.folder.dir, lock.name))
        };
        let faults = self.faults.clone();
        lock_in(file.folder, &file.name, path, timeout, faults, behind_link)
    }
}

/// `<name>.lock`.
fn lock_name(name: &OsStr) -> OsString {
    let mut lock = name.to_owned();
    lock.push(".lock");
    lock
}

pub(super) fn open_folder(root: &Dir, parent: &Path) -> io::Result<Dir> {
    if parent.as_os_str().is_empty() {
        root.try_clone()
    } else {
        root.open_dir(parent)
    }
}

/// A folder that a write goes to.
pub(super) struct Folder {
    pub(super) dir: Dir,
    /// Whether `dir` is open for reading, so that it can be listed and
    /// fsynced (else it is cap-std's `O_PATH` descriptor, which can be
    /// neither: a folder without read permission).
    pub(super) readable: bool,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
const NO_ATIME: i32 = libc::O_NOATIME;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const NO_ATIME: i32 = 0;

/// Opens the folder `parent` (beneath `root`, links followed as
/// [`open_folder`] follows them) for reading where it may be: one
/// descriptor then serves the lock, the sweep's listing and the folder's
/// fsync, where cap-std's `O_PATH` folder needs a second open for those.
pub(super) fn open_folder_for_write(root: &Dir, parent: &Path) -> io::Result<Folder> {
    let at = match parent.as_os_str().is_empty() {
        true => Path::new("."),
        false => parent,
    };
    let open = |flags| {
        let mut readable = OpenOptions::new();
        readable.read(true).custom_flags(libc::O_DIRECTORY | flags);
        root.open_with(at, &readable)
    };
    // O_NOATIME: the sweep's listing would otherwise stamp the folder's
    // atime after every rename (relatime), a second inode update that the
    // write's fsyncs then pay for (~90 us a rewrite on ext4). Only the
    // folder's owner may ask for it: anyone else lists it as before.
    let opened = match open(NO_ATIME) {
        Err(e) if NO_ATIME != 0 && e.raw_os_error() == Some(libc::EPERM) => open(0),
        other => other,
    };
    match opened {
        Ok(file) => Ok(Folder {
            dir: Dir::from_std_file(file.into_std()),
            readable: true,
        }),
        // No read permission (a real EACCES, not an escape): the folder can
        // still take the write, as before.
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && !is_escape(&e) => Ok(Folder {
            dir: open_folder(root, parent)?,
            readable: false,
        }),
        Err(e) => Err(e),
    }
}

pub(super) fn denied(path: &str, why: &str) -> CacheError {
    CacheError::AccessDenied(format!("{path} {why}"))
}

/// A cap-std escape (a symlink or `..` that leaves the root) carries no OS
/// error code; a real EACCES does, and is an `io_error`.
pub(super) fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none()
}

/// `path` leads out of the root through a symlink.
pub(super) fn escaped(path: &str) -> CacheError {
    denied(path, "leaves the root (through a symlink)")
}

pub(super) fn fault(step: &str, path: &str, e: io::Error) -> CacheError {
    if is_escape(&e) {
        escaped(path)
    } else {
        CacheError::IoError(format!("{step} {path}: {e}"))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A root over a fresh temp folder (the folder goes with the guard).
    pub(super) fn root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn a_lock_through_a_symlinked_folder_out_of_the_root_is_denied() {
        let (tmp, root) = root();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), tmp.path().join("link")).unwrap();
        for path in ["link/f.json", "link/a/f.json"] {
            let e = root.lock(path, Duration::ZERO).err().unwrap();
            assert!(matches!(e, CacheError::AccessDenied(_)), "{path}: {e:?}");
        }
        std::fs::write(tmp.path().join("file"), b"").unwrap();
        let e = root.lock("file/f.json", Duration::ZERO).err().unwrap();
        assert!(matches!(e, CacheError::IoError(_)), "{e:?}");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
    }

    #[test]
    fn an_unavailable_root_fails_every_call_as_io() {
        let root = Root::unavailable("root /nope: missing");
        assert_eq!(
            root.read("a", 10),
            Err(CacheError::IoError("root /nope: missing".into()))
        );
        assert!(matches!(
            root.lock("a", Duration::ZERO),
            Err(CacheError::IoError(_))
        ));
    }
}
