//! Host side of the `exlab:cache` WIT world: generated from the same files
//! the guest is built from, and the imports implemented over [`Root`].
//!
//! [`Root`]: crate::Root

use std::time::Instant;

use wasmtime::component::Resource;

use crate::runtime::CallState;
use crate::storage::{FileLock, StorageError};

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/since_v1.0.0",
    with: { "exlab:cache/storage.locked-file": crate::storage::FileLock },
    // A bad resource handle is a broken guest: a trap, not a domain error.
    imports: { default: trappable },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
});

use exlab::cache::types::Invalid;
pub use exlab::cache::types::{CacheError, Equipment, Marker, MarkerKind};
pub use exports::exlab::cache::policy::{EquipmentWritten, MarkerWritten};

type Outcome<T> = wasmtime::Result<Result<T, CacheError>>;

impl From<StorageError> for CacheError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::AccessDenied(m) => CacheError::AccessDenied(m),
            StorageError::LockTimeout(m) => CacheError::LockTimeout(m),
            StorageError::Validation(message) => CacheError::ValidationError(Invalid {
                field: None,
                message,
            }),
            StorageError::CreatedMeanwhile(m) | StorageError::Io(m) => CacheError::IoError(m),
        }
    }
}

impl CallState {
    /// Runs a host call, keeping its time off the guest's time budget
    /// (epoch interruption cannot stop a host call anyway).
    fn host_call<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let start = Instant::now();
        let out = f(self);
        self.host_time += start.elapsed();
        out
    }
}

impl exlab::cache::types::Host for CallState {}

impl exlab::cache::storage::Host for CallState {
    fn lock(&mut self, path: String) -> Outcome<Resource<FileLock>> {
        let lock = self.host_call(|s| s.root.lock(&path, s.settings.lock_timeout));
        match lock {
            Ok(lock) => Ok(Ok(self.table.push(lock)?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    fn read(&mut self, path: String) -> Outcome<Option<Vec<u8>>> {
        let max = self.settings.max_file_size;
        Ok(self
            .host_call(|s| s.root.read(&path, max))
            .map_err(Into::into))
    }
}

impl exlab::cache::storage::HostLockedFile for CallState {
    fn read(&mut self, file: Resource<FileLock>) -> Outcome<Option<Vec<u8>>> {
        let max = self.settings.max_file_size;
        let file = self.table.get_mut(&file)?;
        let start = Instant::now();
        let out = file.read(max).map_err(Into::into);
        self.host_time += start.elapsed();
        Ok(out)
    }

    fn replace(&mut self, file: Resource<FileLock>, contents: Vec<u8>) -> Outcome<()> {
        let max = self.settings.max_file_size;
        let file = self.table.get(&file)?;
        let start = Instant::now();
        let out = file.replace(&contents, max);
        self.host_time += start.elapsed();
        // The WIT (frozen) has no word for "lost a first-write race": the
        // guest sees an io-error, and the host runs the call again.
        if matches!(out, Err(StorageError::CreatedMeanwhile(_))) {
            self.commit_lost = true;
        }
        Ok(out.map_err(Into::into))
    }

    fn drop(&mut self, file: Resource<FileLock>) -> wasmtime::Result<()> {
        // Dropping the FileLock unlocks its lock file and closes it.
        self.table.delete(file)?;
        Ok(())
    }
}

/// Most warnings a call may leave, and their length: a guest cannot flood the log.
const MAX_WARNINGS: usize = 64;
const MAX_WARNING_LEN: usize = 4096;

impl exlab::cache::log::Host for CallState {
    fn warn(&mut self, message: String) -> wasmtime::Result<()> {
        if self.warnings.len() < MAX_WARNINGS {
            let mut message = message;
            if message.len() > MAX_WARNING_LEN {
                let mut cut = MAX_WARNING_LEN;
                while !message.is_char_boundary(cut) {
                    cut -= 1;
                }
                message.truncate(cut);
                message.push('…');
            }
            self.warnings.push(message);
        }
        Ok(())
    }
}
