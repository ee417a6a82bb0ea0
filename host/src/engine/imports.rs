//! The host side of the `exlab:cache` imports, written once for every
//! interface version (older versions' imports resolve to these): storage
//! over the call's root, the log, the caller's step and the machine's name.
//! Every host call's time is kept off the guest's budget.
//!
//! A `locked-file` handle of the guest's names a storage [`FileLock`] in
//! the call's resource table (the bindings use the generator's placeholder
//! type, so that the interface depends on nothing of the host's): the
//! handle's number is the table entry's.

use wasmtime::component::Resource;

use super::call::CallState;
use crate::interface::latest::exlab::cache::{caller, log, machine, storage, types};
use crate::interface::latest::CacheError;
use crate::storage::FileLock;

type Outcome<T> = wasmtime::Result<Result<T, CacheError>>;

/// The table entry a guest's handle names (borrowed, for a method call).
fn entry(handle: &Resource<storage::LockedFile>) -> Resource<FileLock> {
    Resource::new_borrow(handle.rep())
}

impl types::Host for CallState {}

impl storage::Host for CallState {
    fn lock(&mut self, path: String) -> Outcome<Resource<storage::LockedFile>> {
        let lock = self.host_call(|s| s.root.lock(&path, s.lock_timeout));
        Ok(match lock {
            Ok(lock) => Ok(Resource::new_own(self.table.push(lock)?.rep())),
            Err(e) => Err(e),
        })
    }

    fn read(&mut self, path: String) -> Outcome<Option<Vec<u8>>> {
        let max = self.settings.max_file_size;
        Ok(self.host_call(|s| s.root.read(&path, max)))
    }

    fn append(&mut self, path: String, line: Vec<u8>) -> Outcome<()> {
        Ok(self.host_call(|s| s.root.append(&path, &line)))
    }
}

impl caller::Host for CallState {
    fn step(&mut self, record_json: String) -> wasmtime::Result<Option<String>> {
        // The caller's time, not the guest's.
        Ok(self.host_call(|s| s.step.call(record_json)))
    }
}

impl machine::Host for CallState {
    fn hostname(&mut self) -> wasmtime::Result<String> {
        Ok(self.settings.hostname.clone())
    }
}

impl storage::HostLockedFile for CallState {
    fn read(&mut self, file: Resource<storage::LockedFile>) -> Outcome<Option<Vec<u8>>> {
        let max = self.settings.max_file_size;
        self.host_call(|s| Ok(s.table.get_mut(&entry(&file))?.read(max)))
    }

    fn replace(&mut self, file: Resource<storage::LockedFile>, contents: Vec<u8>) -> Outcome<()> {
        let max = self.settings.max_file_size;
        let (out, lost) = self.host_call(|s| {
            let file = s.table.get(&entry(&file))?;
            let out = file.replace(&contents, max);
            wasmtime::Result::<_>::Ok((out, file.created_meanwhile()))
        })?;
        // The frozen WIT has no word for "lost a first-write race": the guest
        // sees an io-error, and the engine runs the call again.
        self.commit_lost |= lost;
        Ok(out)
    }

    fn drop(&mut self, file: Resource<storage::LockedFile>) -> wasmtime::Result<()> {
        // Dropping the FileLock unlocks its lock file and closes it.
        self.table
            .delete(Resource::<FileLock>::new_own(file.rep()))?;
        Ok(())
    }
}

/// Most warnings a call may leave, and their length: a guest cannot flood the log.
const MAX_WARNINGS: usize = 64;
const MAX_WARNING_LEN: usize = 4096;

impl log::Host for CallState {
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
