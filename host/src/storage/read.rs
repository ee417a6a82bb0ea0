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
    // Sized by the stat, asking for one byte more: a read that returns
    // exactly the stat's size has met the end, and one syscall read the
    // file. Otherwise (the file grew or shrank meanwhile, or a file system
    // read short) read on to the end; one byte past the limit still
    // catches a file that grew past it.
    let size = meta.len() as usize;
    let mut bytes = vec![0; size + 1];
    let first = read_retrying(&file, &mut bytes).map_err(|e| fault("read", path, e))?;
    bytes.truncate(first);
    if first != size {
        (&file)
            .take(max_size.saturating_add(1) - first as u64)
            .read_to_end(&mut bytes)
            .map_err(|e| fault("read", path, e))?;
    }
    if bytes.len() as u64 > max_size {
        return Err(too_large(path, max_size));
    }
    Ok((bytes, owner))
}

/// One `read`, again when a signal interrupted it.
fn read_retrying(mut file: &cap_std::fs::File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            done => return done,
        }
    }
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

    #[test]
    fn a_file_is_read_whole_up_to_the_limit_and_refused_past_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        for size in [0, 1, 99, 100, 101, 5000] {
            let bytes: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            std::fs::write(tmp.path().join("f.json"), &bytes).unwrap();
            match root.read("f.json", 100) {
                Ok(Some(read)) => assert!(size <= 100 && read == bytes, "{size}"),
                Err(CacheError::IoError(e)) => assert!(size > 100 && e.contains("limit"), "{e}"),
                other => panic!("{size}: {other:?}"),
            }
        }
    }

    /// The first read asks for one byte past the stat's size; a file that
    /// holds more than its stat says (here a /proc file, which says 0) is
    /// read on to its end, and refused past the limit.
    #[test]
    fn a_file_holding_more_than_its_stat_says_is_read_to_its_end() {
        let open =
            || cap_std::fs::File::from_std(std::fs::File::open("/proc/self/mountinfo").unwrap());
        assert_eq!(open().metadata().unwrap().len(), 0);
        let (bytes, _) = read_open_file(open(), "mountinfo", 1 << 20).unwrap();
        assert!(bytes.len() > 1 && bytes.ends_with(b"\n"), "{}", bytes.len());
        assert!(matches!(
            read_open_file(open(), "mountinfo", 1),
            Err(CacheError::IoError(e)) if e.contains("limit")
        ));
    }
}
