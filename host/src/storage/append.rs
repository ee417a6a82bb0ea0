//! Appending one line to a file (a per-machine log): no lock, one
//! `O_APPEND` write. On a regular file the kernel moves to the end and
//! writes in one step under the file's own lock, so lines of concurrent
//! appenders, threads or processes, never interleave or overwrite each other.

use cap_std::fs::{OpenOptions, OpenOptionsExt};
use std::io::Write;
use std::path::Path;

use super::read::not_regular;
use super::{fault, CacheError, Root};
use crate::interface::latest::Invalid;

/// The largest line one append takes: a log line is a kilobyte, and a
/// runaway policy must not fill the disk in large strides.
pub(crate) const MAX_APPEND: usize = 64 << 10;

impl Root {
    /// Creates the parent folders of `path`, then appends `line` to it
    /// (creating the file) with one write. Symlinks inside the root are
    /// followed as for any write; the file must be a regular one (a FIFO in
    /// its place is refused without blocking).
    pub(crate) fn append(&self, path: &str, line: &[u8]) -> Result<(), CacheError> {
        if line.len() > MAX_APPEND {
            return Err(CacheError::ValidationError(Invalid {
                field: None,
                message: format!(
                    "{path}: a line of {} bytes is over the {MAX_APPEND}-byte append limit; nothing written",
                    line.len()
                ),
            }));
        }
        let root = self.dir()?;
        let (parent, name) = self.resolve(path)?;
        let lexical = parent.join(name);
        let mut appending = OpenOptions::new();
        appending
            .append(true)
            .create(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
        // The common case in one open beneath the root (links inside it
        // followed, as a write follows them); anything unusual (a missing
        // folder, an absolute link, a link out) takes the walk, which creates
        // the folders, follows what may be followed and says what failed.
        let opened = match root.open_with(&lexical, &appending) {
            Ok(file) => Ok(file),
            Err(_) => {
                let place = self.place_for_write(root, &lexical, path)?;
                place
                    .folder
                    .dir
                    .open_with(Path::new(&place.name), &appending)
            }
        };
        let mut file = opened.map_err(|e| fault("open for appending", path, e))?;
        let meta = file.metadata().map_err(|e| fault("stat", path, e))?;
        if !meta.is_file() {
            return Err(not_regular(path, meta.file_type()));
        }
        // One write(2): a short one (a full disk, a size limit) is reported,
        // never completed by a second write that another line could precede.
        let written = file.write(line).map_err(|e| fault("append to", path, e))?;
        if written < line.len() {
            return Err(CacheError::IoError(format!(
                "append to {path}: only {written} of {} bytes written (the disk or a size limit)",
                line.len()
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::root;
    use super::*;

    #[test]
    fn appends_create_the_folders_and_the_file_and_add_at_the_end() {
        let (tmp, root) = root();
        root.append("E/.exlab-wizard/wizard.h.log", b"one\n")
            .unwrap();
        root.append("E/.exlab-wizard/wizard.h.log", b"two\n")
            .unwrap();
        let log = std::fs::read(tmp.path().join("E/.exlab-wizard/wizard.h.log")).unwrap();
        assert_eq!(log, b"one\ntwo\n");
    }

    #[test]
    fn an_append_through_a_link_inside_the_root_goes_where_it_leads() {
        let (tmp, root) = root();
        let base = tmp.path();
        std::fs::create_dir(base.join("logs")).unwrap();
        std::os::unix::fs::symlink("logs/real.log", base.join("rel.log")).unwrap();
        std::os::unix::fs::symlink(base.join("logs/real.log"), base.join("abs.log")).unwrap();
        root.append("rel.log", b"one\n").unwrap();
        root.append("abs.log", b"two\n").unwrap();
        assert_eq!(
            std::fs::read(base.join("logs/real.log")).unwrap(),
            b"one\ntwo\n"
        );
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("x.log"), base.join("out.log")).unwrap();
        assert!(matches!(
            root.append("out.log", b"x\n"),
            Err(CacheError::AccessDenied(_))
        ));
        assert!(!outside.path().join("x.log").exists());
    }

    #[test]
    fn an_append_out_of_the_root_or_over_the_limit_or_onto_a_fifo_touches_nothing() {
        let (tmp, root) = root();
        assert!(matches!(
            root.append("../out.log", b"x\n"),
            Err(CacheError::AccessDenied(_))
        ));
        let big = vec![b'x'; MAX_APPEND + 1];
        assert!(matches!(
            root.append("new/big.log", &big),
            Err(CacheError::ValidationError(_))
        ));
        assert!(
            !tmp.path().join("new").exists(),
            "a refused append creates nothing"
        );
        let fifo = tmp.path().join("fifo.log");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        // Opening a FIFO without a reader for writing fails at once (ENXIO)
        // under O_NONBLOCK: never a hang.
        assert!(matches!(
            root.append("fifo.log", b"x\n"),
            Err(CacheError::IoError(_))
        ));
    }
}
