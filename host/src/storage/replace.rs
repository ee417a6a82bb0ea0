//! The durable replace of a locked file (temp file, write, fsync, rename,
//! fsync of the folder) and the sweep of temp files orphaned by killed writers.

use cap_std::fs::{Dir, OpenOptions};
use std::ffi::OsStr;
use std::io::{self, Write};

use super::faults::inject;
use super::read::read_file;
use super::{fault, FileLock, StorageError, WriteStep};

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
}
