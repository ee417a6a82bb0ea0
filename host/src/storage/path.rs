//! Where a path names, and the one rule for symlinks.
//!
//! A path is first taken lexically: `.` dropped, `..` collapsed, never above
//! the root; an absolute path must start with one of the root's absolute
//! spellings (`Root::absolute`).
//!
//! **Symlinks inside the root are followed, for reads and writes alike;
//! a symlink that leads out of the root is `access_denied`.** It does not
//! matter where the link stands (a folder on the way, the file itself, or
//! its `<file>.lock`) nor how it is spelled: a relative target is taken from
//! the link's own folder (a `..` in it is physical, as the kernel does), an
//! absolute one must start with one of the root's absolute spellings. A
//! write goes to the file the links resolve to: the temp file is created in
//! *that* file's folder and renamed over *it* (the link stays a link), and
//! the lock is `<resolved file>.lock`, so two names of one file exclude each
//! other. More than [`MAX_LINKS`] links on the way (a loop, say) is
//! `io_error`. Nothing is read, created or locked through a denied link.
//!
//! Cost: the common case asks cap-std, whose lookups beneath the root
//! (`openat2` with `RESOLVE_BENEATH`) follow relative links that stay inside
//! in the same single open. Only when that fails, or the file itself is a
//! link, is the path walked here, one component at a time, with `lstat` and
//! `readlink` on the root's capability; the open that follows is again
//! beneath the root, so a link swapped in meanwhile still cannot lead out.

use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{denied, escaped, fault, open_folder, open_folder_for_write, CacheError, Folder, Root};

/// Links followed on one path before giving up, as Linux does (`ELOOP`).
pub(super) const MAX_LINKS: usize = 40;

/// Where a file is: a folder beneath the root and a name in it that is not
/// a symlink (the file, or where it will be created).
pub(super) struct Place {
    pub(super) folder: Folder,
    pub(super) name: OsString,
    /// A spelling of the file relative to the root (links may remain in its
    /// folders, never in its name).
    pub(super) in_root: PathBuf,
}

impl Root {
    /// Resolves `path` to (parent folder, file name) relative to the root,
    /// lexically: `.` dropped, `..` collapsed and never above the root.
    pub(super) fn resolve<'p>(&self, path: &'p str) -> Result<(PathBuf, &'p OsStr), CacheError> {
        if path.is_empty() {
            return Err(CacheError::IoError("the path is empty".into()));
        }
        if path.contains('\0') {
            return Err(CacheError::IoError(format!(
                "{path:?}: the path contains a NUL byte"
            )));
        }
        let given = Path::new(path);
        let relative = if given.is_absolute() {
            self.inside(given)
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
            .ok_or_else(|| CacheError::IoError(format!("{path}: the path names no file")))?;
        Ok((parts.iter().collect(), name))
    }

    /// An absolute path under one of the root's spellings, relative to it.
    fn inside<'p>(&self, absolute: &'p Path) -> Option<&'p Path> {
        self.absolute
            .iter()
            .find_map(|root| absolute.strip_prefix(root).ok())
    }

    /// The path, relative to the root and free of links, `.` and `..`, that
    /// `lexical` leads to once every symlink on the way is followed. Past the
    /// first component that does not exist the rest is taken lexically.
    pub(super) fn follow_links(
        &self,
        root: &Dir,
        lexical: &Path,
        path: &str,
    ) -> Result<PathBuf, CacheError> {
        // Components still to walk, the next one last.
        let mut pending: Vec<OsString> = lexical.iter().rev().map(OsStr::to_owned).collect();
        let mut real = PathBuf::new();
        let mut links = 0;
        let mut exists = true;
        while let Some(part) = pending.pop() {
            if part == "." {
                continue;
            }
            if part == ".." {
                // Only a link's target has `..` here: taken from where it is.
                if !real.pop() {
                    return Err(escaped(path));
                }
                continue;
            }
            real.push(&part);
            if !exists {
                continue;
            }
            match root.symlink_metadata(&real) {
                Ok(meta) if meta.is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(CacheError::IoError(format!(
                            "{path}: more than {MAX_LINKS} symlinks on the way (a loop?)"
                        )));
                    }
                    let target = root
                        .read_link_contents(&real)
                        .map_err(|e| fault("read a symlink on the way to", path, e))?;
                    real.pop();
                    let target = if target.is_absolute() {
                        real.clear();
                        self.inside(&target).ok_or_else(|| escaped(path))?
                    } else {
                        &target
                    };
                    pending.extend(target.iter().rev().map(OsStr::to_owned));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => exists = false,
                Err(e) => return Err(fault("look up", path, e)),
            }
        }
        Ok(real)
    }

    /// Where a write of `path` goes, its folders created: `parent`/`name`
    /// (from [`Root::resolve`]) with every symlink followed.
    pub(super) fn place_for_write(
        &self,
        root: &Dir,
        lexical: &Path,
        path: &str,
    ) -> Result<Place, CacheError> {
        let (parent, name) = split(lexical, path)?;
        // Usually the folder is there and the file is no link: one open and
        // one lstat. Any other answer of the lstat is for the open to report.
        let folder = match open_folder_for_write(root, parent) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => make_last_folder(root, parent),
            folder => folder.ok(),
        };
        if let Some(folder) = folder {
            let is_link = folder
                .dir
                .symlink_metadata(name)
                .is_ok_and(|meta| meta.is_symlink());
            if !is_link {
                return Ok(Place {
                    folder,
                    name: name.to_owned(),
                    in_root: lexical.to_owned(),
                });
            }
        }
        let real = self.follow_links(root, lexical, path)?;
        let (parent, name) = split(&real, path)?;
        let folder = match open_folder_for_write(root, parent) {
            Ok(folder) => folder,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                // `parent` has no links: the folders land inside the root.
                root.create_dir_all(parent)
                    .map_err(|e| fault("create the folders of", path, e))?;
                open_folder_for_write(root, parent)
                    .map_err(|e| fault("open the folder of", path, e))?
            }
            Err(e) => return Err(fault("open the folder of", path, e)),
        };
        Ok(Place {
            folder,
            name: name.to_owned(),
            in_root: real,
        })
    }
}

/// The common first write into a new folder (a run's `.exlab-wizard/`):
/// when the folder above `parent` exists, `parent` made there with one
/// `mkdirat` and opened, not through a link, where the walk of
/// [`Root::follow_links`] would look each component up first. `None` for
/// anything else (more folders missing, an absolute link on the way, the
/// folder made by another writer meanwhile), which the walk then handles.
fn make_last_folder(root: &Dir, parent: &Path) -> Option<Folder> {
    let (above, last) = (parent.parent()?, parent.file_name()?);
    let opened;
    let above = match above.as_os_str().is_empty() {
        true => root,
        false => {
            // Beneath the root, relative links inside it followed.
            opened = open_folder(root, above).ok()?;
            &opened
        }
    };
    rustix::fs::mkdirat(above, last, rustix::fs::Mode::from_raw_mode(0o777)).ok()?;
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW);
    let made = above.open_with(last, &options).ok()?;
    Some(Folder {
        dir: Dir::from_std_file(made.into_std()),
        readable: true,
    })
}

/// (folder, name) of a path relative to the root; the root itself is a
/// folder, not a file.
pub(super) fn split<'p>(
    in_root: &'p Path,
    path: &str,
) -> Result<(&'p Path, &'p OsStr), CacheError> {
    match (in_root.parent(), in_root.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(CacheError::IoError(format!(
            "{path} is a folder, not a regular file"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::root;
    use super::*;
    use std::os::unix::fs::symlink;
    use std::time::Duration;

    #[test]
    fn resolve_collapses_dots_and_refuses_to_climb_out() {
        let (tmp, root) = root();
        let ok = |p: &str| root.resolve(p).map(|(dir, name)| dir.join(name));
        assert_eq!(ok("a/./b/../c.json").unwrap(), Path::new("a/c.json"));
        let inside = tmp.path().join("x/y.json");
        assert_eq!(ok(inside.to_str().unwrap()).unwrap(), Path::new("x/y.json"));
        for bad in ["../x.json", "a/../../x.json", "/etc/passwd", "/"] {
            assert!(matches!(ok(bad), Err(CacheError::AccessDenied(_))), "{bad}");
        }
        for bad in ["", ".", "a/..", "a\0b"] {
            assert!(matches!(ok(bad), Err(CacheError::IoError(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_write_makes_its_folder_where_the_links_lead_and_a_link_in_its_place_is_followed() {
        let (tmp, root) = root();
        let base = tmp.path();
        std::fs::create_dir_all(base.join("real")).unwrap();
        symlink("real", base.join("rel")).unwrap();
        symlink(base.join("real"), base.join("abs")).unwrap();
        // The new folder beneath a relative link, an absolute one, and two
        // levels of new folders.
        for (path, made) in [
            ("rel/new/f.json", "real/new/f.json.lock"),
            ("abs/other/f.json", "real/other/f.json.lock"),
            ("a/b/f.json", "a/b/f.json.lock"),
        ] {
            drop(root.lock(path, Duration::ZERO).unwrap());
            assert!(base.join(made).is_file(), "{path}");
        }
        // A link where the new folder would go: the write goes where it leads.
        std::fs::create_dir(base.join("target")).unwrap();
        symlink("../target", base.join("real/linked")).unwrap();
        drop(root.lock("rel/linked/f.json", Duration::ZERO).unwrap());
        assert!(base.join("target/f.json.lock").is_file());
        assert!(std::fs::symlink_metadata(base.join("real/linked"))
            .unwrap()
            .is_symlink());
    }

    #[test]
    fn p6_follow_links_resolves_relative_and_absolute_links_inside_and_denies_the_rest() {
        let (tmp, root) = root();
        let base = tmp.path();
        std::fs::create_dir_all(base.join("real/sub")).unwrap();
        symlink("real", base.join("rel")).unwrap();
        symlink(base.join("real/sub"), base.join("abs")).unwrap();
        symlink("../../real/sub/../f.json", base.join("real/sub/up.json")).unwrap();
        symlink("..", base.join("real/parent")).unwrap();
        symlink("../..", base.join("real/out")).unwrap();
        symlink("/etc", base.join("etc")).unwrap();
        symlink("loop", base.join("loop")).unwrap();
        let dir = root.dir().unwrap();
        let follow = |p: &str| root.follow_links(dir, Path::new(p), p);
        for (lexical, real) in [
            ("real/f.json", "real/f.json"),
            ("rel/f.json", "real/f.json"),
            ("abs/f.json", "real/sub/f.json"),
            ("rel/sub/up.json", "real/f.json"),
            ("abs/up.json", "real/f.json"),
            ("real/parent/rel/new/deeper", "real/new/deeper"),
            ("missing/x/y", "missing/x/y"),
        ] {
            assert_eq!(follow(lexical).unwrap(), Path::new(real), "{lexical}");
        }
        for out in ["real/out/x", "etc/passwd"] {
            assert_eq!(follow(out), Err(escaped(out)), "{out}");
        }
        assert!(
            matches!(follow("loop/x"), Err(CacheError::IoError(m)) if m.contains("more than 40")),
            "a loop is io_error"
        );
    }
}
