//! Reading a file: at most the size limit, a larger file refused.

use cap_std::fs::Dir;
use std::ffi::OsStr;
use std::io::{self, Read};

use super::{fault, StorageError};

pub(super) fn read_file(
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
pub(super) fn read_open_file(
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
