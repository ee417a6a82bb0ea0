//! Reading a file: a regular file only, at most the size limit.

use cap_std::fs::{Dir, FileType, FileTypeExt, MetadataExt, OpenOptions, OpenOptionsExt};
use std::ffi::OsStr;
use std::io::{self, Read};
use std::path::Path;

use super::lock::Owner;
use super::{fault, CacheError};

/// Opens `at` beneath `dir` for reading without blocking: a FIFO without a
/// writer or a device must not hang the call in `open` (`read_open_file`
/// then refuses them), nor make a terminal ours (`O_NOCTTY`).
pub(super) fn open_for_reading(dir: &Dir, at: &Path) -> io::Result<cap_std::fs::File> {
    dir.open_with(
        at,
        OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY),
    )
}

/// The bytes of `name` in `folder` (not a symlink) and the file's mode and
/// owner, `None` when there is none.
pub(super) fn read_file(
    folder: &Dir,
    name: &OsStr,
    path: &str,
    max_size: u64,
) -> Result<Option<(Vec<u8>, Owner)>, CacheError> {
    let file = match open_for_reading(folder, Path::new(name)) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            // A socket cannot be opened at all (ENXIO): say what is there.
            return Err(match folder.metadata(name) {
                Ok(meta) if !meta.is_file() => not_regular(path, meta.file_type()),
                _ => fault("open", path, e),
            });
        }
    };
    read_open_file(file, path, max_size).map(Some)
}

/// Reads at most `max_size` bytes of a regular file; a larger file, or
/// anything that is not a regular file, is refused. With the bytes, the
/// file's mode and owner, from the same `fstat`.
pub(super) fn read_open_file(
    file: cap_std::fs::File,
    path: &str,
    max_size: u64,
) -> Result<(Vec<u8>, Owner), CacheError> {
    let meta = file.metadata().map_err(|e| fault("stat", path, e))?;
    if !meta.is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    let owner = Owner {
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
    };
    if meta.len() > max_size {
        return Err(too_large(path, max_size));
    }
    // Sized by the stat: one read and the one that sees the end. Reading
    // one byte past the limit still catches a file that grew meanwhile.
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| fault("read", path, e))?;
    if bytes.len() as u64 > max_size {
        return Err(too_large(path, max_size));
    }
    Ok((bytes, owner))
}

fn too_large(path: &str, max_size: u64) -> CacheError {
    CacheError::IoError(format!(
        "read {path}: the file is larger than the {max_size}-byte limit"
    ))
}

pub(super) fn not_regular(path: &str, kind: FileType) -> CacheError {
    let what = if kind.is_dir() {
        "a folder"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "something else"
    };
    CacheError::IoError(format!("{path} is {what}, not a regular file"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Root;

    #[test]
    fn p2_a_fifo_or_a_folder_in_the_files_place_is_refused_without_blocking() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        std::fs::create_dir(tmp.path().join("dir.json")).unwrap();
        let fifo = tmp.path().join("fifo.json");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        for (name, what) in [("fifo.json", "a FIFO"), ("dir.json", "a folder")] {
            let message = format!("{name} is {what}, not a regular file");
            assert_eq!(
                root.read(name, 100),
                Err(CacheError::IoError(message.clone()))
            );
            let folder = root.dir().unwrap();
            assert_eq!(
                read_file(folder, OsStr::new(name), name, 100).map(|_| ()),
                Err(CacheError::IoError(message))
            );
        }
    }
}
