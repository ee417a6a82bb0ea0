//! The test seam: any step of a write can be made to fail.

use std::io;
use std::sync::Arc;

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
pub(super) fn inject(
    faults: &Option<Arc<dyn Faults>>,
    step: WriteStep,
    path: &str,
) -> io::Result<()> {
    match faults {
        None => Ok(()),
        Some(faults) => faults.before(step, path),
    }
}
