//! The durable replace of a locked file (temp file, write, fsync, rename,
//! fsync of the folder) and the sweep of temp files orphaned by killed writers.
//!
//! The promises do not rest on the lock alone: a lock file deleted while it
//! is held (a cleanup job) lets a second writer in, and no lock on a path
//! can exclude that. So a first write commits with a rename that refuses to
//! replace, and a writer holds a flock on its own temp file from creation to
//! rename, which the sweep respects.

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use rustix::fs::{AtFlags, FileType, FlockOperation, Gid, Mode, OFlags, RenameFlags, Uid};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, SystemTime};

use super::faults::inject;
use super::lock::{stat_entry, Owner};
use super::read::read_file;
use super::{fault, CacheError, FileLock, WriteStep};
use crate::interface::latest::Invalid;

/// How old a temp file of the Python original must be before the sweep
/// takes it for an orphan. It carries no flock to tell a live one from a
/// dead one, and its writer holds it for milliseconds.
const PYTHON_TEMP_ORPHANED_AFTER: Duration = Duration::from_secs(60);

/// How a temp file becomes the file.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    /// The locked read saw a file: a rewrite replaces it.
    Replace,
    /// The locked read saw none: refuse to replace one that appeared since.
    WriteOnce,
}

/// Why one attempt at writing a temp file and committing it failed.
enum Failed {
    /// A step failed with this OS error.
    Step(&'static str, io::Error),
    /// The temp file was swept before this writer could flock it.
    TempVanished(io::Error),
    /// A write-once commit found the file there.
    Exists,
}

impl FileLock {
    /// Whether a write-once commit of this lock found the file created
    /// meanwhile (see [`FileLock::replace`]).
    pub(crate) fn created_meanwhile(&self) -> bool {
        self.created_meanwhile.get()
    }

    /// The file's bytes, or `None` when there is none.
    pub(crate) fn read(&mut self, max_size: u64) -> Result<Option<Vec<u8>>, CacheError> {
        let read = read_file(&self.folder, &self.name, &self.path, max_size)?;
        self.saw_file = Some(read.is_some());
        self.read_owner = read.as_ref().map(|(_, owner)| *owner);
        Ok(read.map(|(bytes, _)| bytes))
    }

    /// Replaces the file durably and atomically. On failure before the
    /// rename the old file is untouched and the temp file is removed.
    ///
    /// When the locked read saw no file, the commit refuses to replace one
    /// (an `io-error`, and [`FileLock::created_meanwhile`] says so): a first
    /// write never overwrites another writer's. A rewrite carries the file's permission bits and, where the
    /// process may, its owner over to the new file. Contents larger than
    /// `max_size` (the read limit) are refused: a file is never written that
    /// could not be read back.
    pub(crate) fn replace(&self, contents: &[u8], max_size: u64) -> Result<(), CacheError> {
        if contents.len() as u64 > max_size {
            return Err(CacheError::ValidationError(Invalid {
                field: None,
                message: format!(
                    "{}: the document would be larger than the {max_size}-byte read limit; nothing written",
                    self.path
                ),
            }));
        }
        // The folder's own descriptor, open for reading, serves the sweep now
        // and the folder's fsync after the rename. A folder without read
        // permission (cap-std's O_PATH descriptor) is opened for reading
        // again, which fails for the fsync as it always did.
        let mut read_only = OpenOptions::new();
        read_only.read(true);
        let reopened = (!self.folder_readable).then(|| self.folder.open_with(".", &read_only));
        let listed = match &reopened {
            None => Some(self.folder.as_fd()),
            Some(Ok(file)) => Some(file.as_fd()),
            Some(Err(_)) => None,
        };
        // Under the lock, before this writer adds its own: a no-op (a marker
        // that exists) never pays for the folder listing.
        if let Some(listed) = listed {
            let again = self.listed.replace(true);
            remove_orphaned_temps(&self.folder, listed, &self.name, again);
        }
        let carried = match self.saw_file {
            Some(false) => None,
            _ => self.old_owner(),
        };
        let commit = match self.saw_file {
            Some(false) => Commit::WriteOnce,
            _ => Commit::Replace,
        };
        // A temp file can be swept in the instant between its creation and
        // its flock (by a writer of this file that exclusion failed to stop):
        // once more with a fresh one.
        let committed = match self.write_and_commit(contents, commit, carried) {
            Err(Failed::TempVanished(_)) => self.write_and_commit(contents, commit, carried),
            other => other,
        };
        match committed {
            Ok(()) => {}
            Err(Failed::Exists) => {
                self.created_meanwhile.set(true);
                return Err(CacheError::IoError(format!(
                    "{}: created by another writer meanwhile (its lock file was deleted); nothing overwritten",
                    self.path
                )));
            }
            Err(Failed::Step(step, e)) => {
                return Err(fault(&format!("{step} the temp file of"), &self.path, e))
            }
            Err(Failed::TempVanished(e)) => {
                return Err(fault("rename the temp file of", &self.path, e))
            }
        }
        // A failure here comes after the rename: the new file is in place
        // (and readers see it), but its durability is not confirmed.
        inject(&self.faults, WriteStep::FolderFsync, &self.path)
            .and_then(|()| match listed {
                Some(folder) => rustix::fs::fsync(folder).map_err(io::Error::from),
                // Opened afresh: the open before the sweep failed.
                None => self
                    .folder
                    .open_with(".", &read_only)
                    .and_then(|folder| folder.sync_all()),
            })
            .map_err(|e| fault("fsync the folder of", &self.path, e))
    }

    /// One temp file, written, fsynced and committed; removed on failure.
    /// A rewrite's temp file gets the `carried` mode and owner.
    fn write_and_commit(
        &self,
        contents: &[u8],
        commit: Commit,
        carried: Option<Owner>,
    ) -> Result<(), Failed> {
        let (temp_name, mut temp) = self.create_temp(carried.map(|old| old.mode))?;
        let step = |step| inject(&self.faults, step, &self.path);
        let written = (|| {
            // Flocked until it is renamed (it closes after the commit): the
            // sweep of another writer leaves it alone.
            if rustix::fs::flock(&temp, FlockOperation::NonBlockingLockExclusive).is_err() {
                return Err(Failed::TempVanished(io::Error::from(Errno::NOENT)));
            }
            if let Some(old) = carried {
                carry_permissions(&temp, old).map_err(|e| Failed::Step("chmod", e))?;
            }
            match step(WriteStep::Write) {
                Ok(()) => temp.write_all(contents),
                // An injected failure mid-way: half the bytes reach the temp
                // file first (a short write, then e.g. ENOSPC).
                Err(e) => temp.write_all(&contents[..contents.len() / 2]).and(Err(e)),
            }
            .map_err(|e| Failed::Step("write", e))?;
            step(WriteStep::Fsync)
                .and_then(|()| temp.sync_all())
                .map_err(|e| Failed::Step("fsync", e))?;
            let renamed = step(WriteStep::Rename).and_then(|()| match commit {
                Commit::Replace => self.folder.rename(&temp_name, &self.folder, &self.name),
                Commit::WriteOnce => rename_no_replace(&self.folder, &temp_name, &self.name),
            });
            match renamed {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Failed::Exists),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Failed::TempVanished(e)),
                Err(e) => Err(Failed::Step("rename", e)),
            }
        })();
        drop(temp);
        if written.is_err() {
            let _ = self.folder.remove_file(&temp_name);
        }
        written
    }

    /// `<file>.<16 hex digits>.tmp`, created exclusively beside the file,
    /// with the permission bits of `mode` (less the umask's) when given.
    fn create_temp(&self, mode: Option<u32>) -> Result<(OsString, cap_std::fs::File), Failed> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        if let Some(mode) = mode {
            options.mode(mode & 0o777);
        }
        let mut last_error = None;
        for _ in 0..16 {
            let mut temp_name = self.name.clone();
            temp_name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
            let created = inject(&self.faults, WriteStep::TempCreate, &self.path)
                .and_then(|()| self.folder.open_with(&temp_name, &options));
            match created {
                Ok(file) => return Ok((temp_name, file)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
                Err(e) => return Err(Failed::Step("create", e)),
            }
        }
        let e = last_error.unwrap_or_else(|| io::Error::other("no free temp name"));
        Err(Failed::Step("create", e))
    }

    /// The mode and owner a rewrite carries over: the file's as the locked
    /// read found it; without a read, as it is now (none there: `None`, and
    /// the defaults stay).
    fn old_owner(&self) -> Option<Owner> {
        if self.read_owner.is_some() {
            return self.read_owner;
        }
        match stat_entry(&self.folder, &self.name) {
            Ok(old) if FileType::from_raw_mode(old.st_mode) == FileType::RegularFile => {
                Some(Owner {
                    mode: old.st_mode,
                    uid: old.st_uid,
                    gid: old.st_gid,
                })
            }
            _ => None,
        }
    }
}

/// Gives `temp` (created with `old`'s permission bits, less the umask's)
/// the mode bits and, where allowed, the owner of the file it replaces.
fn carry_permissions(temp: &cap_std::fs::File, old: Owner) -> io::Result<()> {
    let new = rustix::fs::fstat(temp)?;
    let mut chowned = false;
    if (old.uid, old.gid) != (new.st_uid, new.st_gid) {
        // Before the mode: a chown may clear set-id bits. Giving a file
        // away needs privileges most writers lack; they keep their own.
        let owner = rustix::fs::fchown(
            temp,
            Some(Uid::from_raw(old.uid)),
            Some(Gid::from_raw(old.gid)),
        );
        match owner {
            Ok(()) => chowned = true,
            Err(Errno::PERM) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Usually the mode is right from the create (nothing for the umask to
    // take, no set-id bits): no fchmod then.
    if chowned || new.st_mode & 0o7777 != old.mode & 0o7777 {
        rustix::fs::fchmod(temp, Mode::from_raw_mode(old.mode & 0o7777))?;
    }
    Ok(())
}

/// Renames `temp` to `name` unless `name` exists (`AlreadyExists`).
fn rename_no_replace(folder: &Dir, temp: &OsStr, name: &OsStr) -> io::Result<()> {
    match rustix::fs::renameat_with(folder, temp, folder, name, RenameFlags::NOREPLACE) {
        // Some network and FUSE file systems lack RENAME_NOREPLACE.
        Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => link_then_unlink(folder, temp, name),
        other => other.map_err(Into::into),
    }
}

/// The same commit without renameat2: a hard link refuses to replace too.
fn link_then_unlink(folder: &Dir, temp: &OsStr, name: &OsStr) -> io::Result<()> {
    rustix::fs::linkat(folder, temp, folder, name, AtFlags::empty())?;
    // The file is in place; a temp name left over here is only a second
    // name for it, and the next sweep removes it.
    let _ = rustix::fs::unlinkat(folder, temp, AtFlags::empty());
    Ok(())
}

/// Removes the temp files of `name` left by writers that were killed before
/// they could clean up, and only those: ours, `<name>.<16 hex>.tmp`, unless
/// a live writer holds their flock; and the Python original's `mkstemp`
/// files, `<name>.<8 of [a-z0-9_]>.tmp`, once they are old. Nothing else
/// (an operator's `equipment.json.before-edit.tmp`, the temp files of a
/// neighbour `equipment.json.bak`).
/// `again`: `listed` was listed before and is rewound first.
fn remove_orphaned_temps(folder: &Dir, listed: BorrowedFd, name: &OsStr, again: bool) {
    let Some(name) = name.to_str() else {
        return;
    };
    if again && rustix::fs::seek(listed, rustix::fs::SeekFrom::Start(0)).is_err() {
        return;
    }
    for_each_entry(listed, |entry_name, is_file| {
        let Some(tag) = entry_name.to_str().and_then(|n| {
            n.strip_prefix(name)?
                .strip_prefix('.')?
                .strip_suffix(".tmp")
        }) else {
            return;
        };
        let orphaned = if is_our_tag(tag) {
            not_in_flight(folder, entry_name, is_file)
        } else {
            is_mkstemp_tag(tag) && older_than(folder, entry_name, PYTHON_TEMP_ORPHANED_AFTER)
        };
        if orphaned {
            let _ = folder.remove_file(entry_name);
        }
    });
}

/// Calls `f` with the name of each entry of the folder open as `listed`,
/// and whether it is a regular file (`None`: the file system did not say).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn for_each_entry(listed: BorrowedFd, mut f: impl FnMut(&OsStr, Option<bool>)) {
    use rustix::fs::{FileType, RawDir};
    use std::os::unix::ffi::OsStrExt;
    // getdents64 straight on the descriptor: no second open of the folder.
    let mut buf = Vec::with_capacity(8192);
    let mut entries = RawDir::new(listed, buf.spare_capacity_mut());
    while let Some(Ok(entry)) = entries.next() {
        let is_file = match entry.file_type() {
            FileType::Unknown => None,
            t => Some(t == FileType::RegularFile),
        };
        f(OsStr::from_bytes(entry.file_name().to_bytes()), is_file);
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn for_each_entry(listed: BorrowedFd, mut f: impl FnMut(&OsStr, Option<bool>)) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(mut entries) = rustix::fs::Dir::read_from(listed) else {
        return;
    };
    while let Some(Ok(entry)) = entries.next() {
        f(OsStr::from_bytes(entry.file_name().to_bytes()), None);
    }
}

fn is_our_tag(tag: &str) -> bool {
    tag.len() == 16 && tag.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Python's `tempfile` names: 8 characters of `[a-z0-9_]`.
fn is_mkstemp_tag(tag: &str) -> bool {
    tag.len() == 8
        && tag
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// A regular file whose flock is free: no live writer owns it.
fn not_in_flight(folder: &Dir, name: &OsStr, is_file: Option<bool>) -> bool {
    let is_file =
        is_file.unwrap_or_else(|| folder.symlink_metadata(name).is_ok_and(|m| m.is_file()));
    if !is_file {
        return false;
    }
    let mut open = OpenOptions::new();
    open.read(true)
        .custom_flags((OFlags::NONBLOCK | OFlags::NOFOLLOW).bits() as i32);
    folder.open_with(name, &open).is_ok_and(|file| {
        rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok()
    })
}

fn older_than(folder: &Dir, name: &OsStr, age: Duration) -> bool {
    let modified = folder.symlink_metadata(name).and_then(|m| m.modified());
    modified.is_ok_and(|m| {
        SystemTime::now()
            .duration_since(m.into_std())
            .is_ok_and(|d| d > age)
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::root;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replace_leaves_no_temp_file_and_read_caps_the_size() {
        let (tmp, root) = root();
        let mut lock = root.lock("d/f.json", Duration::ZERO).unwrap();
        lock.replace(b"12345", 5).unwrap();
        assert_eq!(lock.read(5).unwrap().unwrap(), b"12345");
        assert!(matches!(lock.read(4), Err(CacheError::IoError(_))));
        assert_eq!(names(&tmp.path().join("d")), ["f.json", "f.json.lock"]);
    }

    #[test]
    fn backstop_a_document_past_the_read_limit_is_refused_and_nothing_written() {
        let (tmp, root) = root();
        std::fs::write(tmp.path().join("f.json"), b"old").unwrap();
        let mut lock = root.lock("f.json", Duration::ZERO).unwrap();
        lock.read(5).unwrap();
        let e = lock.replace(b"123456", 5).unwrap_err();
        assert_eq!(
            e,
            CacheError::ValidationError(Invalid {
                field: None,
                message:
                    "f.json: the document would be larger than the 5-byte read limit; nothing written"
                        .into()
            })
        );
        assert_eq!(std::fs::read(tmp.path().join("f.json")).unwrap(), b"old");
        assert_eq!(names(tmp.path()), ["f.json", "f.json.lock"]);
    }

    #[test]
    fn p1_a_first_write_never_replaces_a_file_that_appeared_after_the_read() {
        let (tmp, root) = root();
        let mut lock = root.lock("f.json", Duration::ZERO).unwrap();
        assert_eq!(lock.read(100).unwrap(), None);
        // Another writer got in while our lock file was deleted.
        std::fs::write(tmp.path().join("f.json"), b"winner").unwrap();
        let e = lock.replace(b"loser", 100).unwrap_err();
        assert!(matches!(e, CacheError::IoError(_)), "{e:?}");
        assert!(lock.created_meanwhile());
        assert_eq!(std::fs::read(tmp.path().join("f.json")).unwrap(), b"winner");
        assert_eq!(names(tmp.path()), ["f.json", "f.json.lock"]);
        // A rewrite (the read saw the file) replaces as ever.
        lock.read(100).unwrap();
        lock.replace(b"rewrite", 100).unwrap();
        assert_eq!(
            std::fs::read(tmp.path().join("f.json")).unwrap(),
            b"rewrite"
        );
    }

    #[test]
    fn p1_the_link_fallback_refuses_to_replace_and_leaves_no_temp_name() {
        let (tmp, root) = root();
        let folder = root.dir().unwrap();
        std::fs::write(tmp.path().join("t1"), b"first").unwrap();
        link_then_unlink(folder, OsStr::new("t1"), OsStr::new("f.json")).unwrap();
        std::fs::write(tmp.path().join("t2"), b"second").unwrap();
        let e = link_then_unlink(folder, OsStr::new("t2"), OsStr::new("f.json")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(tmp.path().join("f.json")).unwrap(), b"first");
        assert_eq!(names(tmp.path()), ["f.json", "t2"]);
    }

    #[test]
    fn p5_the_sweep_removes_only_orphans_of_the_two_writers_patterns() {
        let (tmp, root) = root();
        let old = SystemTime::now() - Duration::from_secs(120);
        let put = |name: &str, old_enough: bool| {
            let file = std::fs::File::create(tmp.path().join(name)).unwrap();
            if old_enough {
                file.set_modified(old).unwrap();
            }
        };
        for orphan in ["f.json.0123456789abcdef.tmp", "f.json.x7_k2p0q.tmp"] {
            put(orphan, true);
        }
        let kept = [
            "f.json.before-edit.tmp",
            "f.json.bak.0123456789abcdef.tmp",
            "f.json.bak.x7_k2p0q.tmp",
            "f.json.0123456789ABCDEF.tmp",
            "f.json.1a2b.tmp",
            "f.json.tmp",
            "f.jsonX.0123456789abcdef.tmp",
            "g.json.0123456789abcdef.tmp",
        ];
        for name in kept {
            put(name, true);
        }
        // A Python writer's temp file of a moment ago: in flight, and kept.
        put("f.json.fresh_01.tmp", false);
        // One of ours in flight: its writer holds its flock.
        put("f.json.fedcba9876543210.tmp", false);
        let in_flight =
            std::fs::File::open(tmp.path().join("f.json.fedcba9876543210.tmp")).unwrap();
        rustix::fs::flock(&in_flight, FlockOperation::LockExclusive).unwrap();

        root.lock("f.json", Duration::ZERO)
            .unwrap()
            .replace(b"new", 100)
            .unwrap();
        let mut expected: Vec<&str> = kept.to_vec();
        expected.extend([
            "f.json",
            "f.json.lock",
            "f.json.fresh_01.tmp",
            "f.json.fedcba9876543210.tmp",
        ]);
        expected.sort();
        assert_eq!(names(tmp.path()), expected);
    }

    #[test]
    fn p5_a_second_replace_under_one_lock_still_sweeps_the_folder() {
        let (tmp, root) = root();
        let mut lock = root.lock("f.json", Duration::ZERO).unwrap();
        lock.read(100).unwrap();
        lock.replace(b"one", 100).unwrap();
        // An orphan that appears after the first listing of the folder.
        std::fs::write(tmp.path().join("f.json.0123456789abcdef.tmp"), b"").unwrap();
        lock.read(100).unwrap();
        lock.replace(b"two", 100).unwrap();
        assert_eq!(names(tmp.path()), ["f.json", "f.json.lock"]);
    }

    #[test]
    fn p8_a_rewrite_keeps_the_mode_and_a_first_write_takes_the_default() {
        let (tmp, root) = root();
        let path = tmp.path().join("f.json");
        let mode =
            |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let mut lock = root.lock("f.json", Duration::ZERO).unwrap();
        lock.read(100).unwrap();
        lock.replace(b"first", 100).unwrap();
        let default = mode(&path);
        assert_ne!(default, 0o600);
        // Modes the create gives (0o600...), one the umask would cut
        // (0o666) and a set-id bit, which only a fchmod carries.
        for kept in [0o600, 0o640, 0o400, 0o666, 0o4640] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(kept)).unwrap();
            lock.read(100).unwrap();
            lock.replace(b"again", 100).unwrap();
            assert_eq!(mode(&path), kept);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
    }
}
