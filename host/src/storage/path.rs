//! Where a path names: resolved lexically against the root, never above it.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use super::{denied, Root, StorageError};

impl Root {
    /// Resolves `path` to (parent folder, file name) relative to the root,
    /// lexically: `.` dropped, `..` collapsed and never above the root.
    pub(super) fn resolve<'p>(&self, path: &'p str) -> Result<(PathBuf, &'p OsStr), StorageError> {
        if path.is_empty() {
            return Err(StorageError::Io("the path is empty".into()));
        }
        if path.contains('\0') {
            return Err(StorageError::Io(format!(
                "{path:?}: the path contains a NUL byte"
            )));
        }
        let given = Path::new(path);
        let relative = if given.is_absolute() {
            self.absolute
                .iter()
                .find_map(|root| given.strip_prefix(root).ok())
                .ok_or_else(|| denied(path, "is outside the root"))?
        } else {
            given
        };
        let mut parts: Vec<&OsStr> = Vec::new();
        for component in relative.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(part) => parts.push(part),
                Component::ParentDir => {
                    parts
                        .pop()
                        .ok_or_else(|| denied(path, "climbs out of the root"))?;
                }
                Component::RootDir | Component::Prefix(_) => {
                    return Err(denied(path, "is outside the root"))
                }
            }
        }
        let name = parts
            .pop()
            .ok_or_else(|| StorageError::Io(format!("{path}: the path names no file")))?;
        Ok((parts.iter().collect(), name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> (tempfile::TempDir, Root) {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::open(tmp.path()).unwrap();
        (tmp, root)
    }

    #[test]
    fn resolve_collapses_dots_and_refuses_to_climb_out() {
        let (tmp, root) = root();
        let ok = |p: &str| root.resolve(p).map(|(dir, name)| dir.join(name));
        assert_eq!(ok("a/./b/../c.json").unwrap(), Path::new("a/c.json"));
        let inside = tmp.path().join("x/y.json");
        assert_eq!(ok(inside.to_str().unwrap()).unwrap(), Path::new("x/y.json"));
        for bad in ["../x.json", "a/../../x.json", "/etc/passwd", "/"] {
            assert!(
                matches!(ok(bad), Err(StorageError::AccessDenied(_))),
                "{bad}"
            );
        }
        for bad in ["", ".", "a/..", "a\0b"] {
            assert!(matches!(ok(bad), Err(StorageError::Io(_))), "{bad:?}");
        }
    }
}
