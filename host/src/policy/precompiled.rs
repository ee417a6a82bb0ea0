//! An on-disk cache of compiled policy code, so that a process (the CLI,
//! above all) deserializes the built-in policy in well under a millisecond
//! instead of compiling it for tens of milliseconds.
//!
//! The cache is `$XDG_CACHE_HOME/exlab-cache/` when `XDG_CACHE_HOME` is an
//! absolute path, else `$HOME/.cache/exlab-cache/`; one file per component
//! and engine: `<sha256 of the component>-<engine compatibility hash>.cwasm`.
//! Of the folders on that path only the last two (`.cache` or
//! `$XDG_CACHE_HOME`, and `exlab-cache`) are ever created, so a missing
//! `$HOME` (or one on a disk that is not mounted) is never made. A file is
//! written atomically (a temp file, fsync, rename) and loaded only after
//! [`Engine::detect_precompiled`] says it is a component. Writing one prunes
//! the files of other components and engines (names of the form above, and
//! nothing else). Any failure (no home, a read-only or full disk, a file-size
//! limit, a stale or damaged file) falls back to compiling in memory;
//! nothing here can fail a call.
//!
//! `EXLAB_CACHE_CODE_CACHE=off` (or `0`) turns the cache off: nothing is
//! read or written, every process compiles (about half a second).
//!
//! Trust: deserializing compiled code runs it as native code, so
//! [`Component::deserialize`] is `unsafe`. We only deserialize a file that we
//! could have written: a regular file (not followed through a symlink) owned
//! by this process's user and not writable by group or others, in a folder
//! with the same properties. Whoever can write such a file can already run
//! code as this user. Files from anywhere else are never deserialized.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::{Engine, Precompiled};

/// The compiled `bytes` (whose sha256 is `sha256`): from the cache when it
/// holds them, else compiled now and put in the cache.
pub(super) fn component(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
) -> wasmtime::Result<Component> {
    match cache_dir() {
        Some(dir) => load_or_compile(engine, bytes, sha256, &dir),
        None => crate::engine::compile(bytes),
    }
}

/// The environment variable that turns the cache off (see the module docs).
const SWITCH: &str = "EXLAB_CACHE_CODE_CACHE";

/// The cache folder of this user, unless the cache is off or there is no
/// base folder to put it in.
fn cache_dir() -> Option<PathBuf> {
    if matches!(std::env::var(SWITCH).as_deref(), Ok("off" | "0")) {
        return None;
    }
    let absolute = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    let base = absolute("XDG_CACHE_HOME").or_else(|| Some(absolute("HOME")?.join(".cache")))?;
    Some(base.join("exlab-cache"))
}

/// Whether `name` is one this cache writes: `<64 hex>-<16 hex>.cwasm`.
fn is_cache_file_name(name: &str) -> bool {
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    match name.strip_suffix(".cwasm").and_then(|s| s.split_once('-')) {
        Some((sha, engine)) => hex(sha, 64) && hex(engine, 16),
        None => false,
    }
}

/// Removes the cached code of other components and engines from `dir`.
fn prune(dir: &Path, keep: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let stale = entry.file_name().to_str().is_some_and(is_cache_file_name);
        if stale && entry.path() != keep {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The file name for `sha256` compiled by `engine`.
pub(super) fn file_name(engine: &Engine, sha256: &str) -> String {
    // `DefaultHasher::new` is the same in every process of one build; a
    // different build may hash differently, which only costs a recompile.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{sha256}-{:016x}.cwasm", hasher.finish())
}

/// [`component`] with the cache in `dir`.
pub(super) fn load_or_compile(
    engine: &Engine,
    bytes: &[u8],
    sha256: &str,
    dir: &Path,
) -> wasmtime::Result<Component> {
    let path = dir.join(file_name(engine, sha256));
    if let Some(component) = load(engine, dir, &path) {
        return Ok(component);
    }
    let component = crate::engine::compile(bytes)?;
    match store(&component, dir, &path) {
        Ok(()) => prune(dir, &path),
        Err(e) => {
            log::debug!(target: "exlab_cache", "cannot cache the compiled policy in {}: {e}", dir.display());
        }
    }
    Ok(component)
}

/// The cached component at `path`, if it is there, trusted and loads.
fn load(engine: &Engine, dir: &Path, path: &Path) -> Option<Component> {
    let file = trusted::open(dir, path)?;
    // Mapped, not read: reading the 0.7 MB and copying it into code memory
    // faulted in ~350 pages, half the CLI's page faults. The file is opened
    // again through its descriptor, so what is mapped is what was checked.
    // A failure (no /proc, a noexec mount) falls back to reading it.
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let by_fd = format!("/proc/self/fd/{}", file.as_raw_fd());
        // SAFETY: as below; the file is the one `trusted::open` checked.
        match unsafe { Component::deserialize_file(engine, by_fd) } {
            Ok(component) => return Some(component),
            Err(e) => {
                log::debug!(target: "exlab_cache", "cannot map the cached policy {}: {e:#}", path.display());
            }
        }
    }
    let bytes = trusted::read(file)?;
    if Engine::detect_precompiled(&bytes) != Some(Precompiled::Component) {
        return None;
    }
    // SAFETY: `trusted::open` only opens a file that this user wrote (see
    // the module docs), named after the component's sha256 and this
    // engine's compatibility hash; wasmtime checks the rest of the
    // compatibility itself and refuses what does not match.
    match unsafe { Component::deserialize(engine, &bytes) } {
        Ok(component) => Some(component),
        Err(e) => {
            log::debug!(target: "exlab_cache", "ignoring the cached policy {}: {e:#}", path.display());
            None
        }
    }
}

/// Writes the compiled component atomically: temp file, fsync, rename.
fn store(component: &Component, dir: &Path, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    trusted::create_dir(dir)?;
    let code = component.serialize().map_err(std::io::Error::other)?;
    // Past a file-size limit the write would raise SIGXFSZ, which kills a
    // process that does not ignore it (the CLI and Python do).
    if !trusted::fits_size_limit(code.len()) {
        return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
    }
    let mut temp_name = path.as_os_str().to_owned();
    temp_name.push(format!(".{:016x}.tmp", fastrand::u64(..)));
    let temp = PathBuf::from(temp_name);
    let written = (|| {
        let mut file = trusted::create_new(&temp)?;
        file.write_all(&code)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

#[cfg(unix)]
mod trusted {
    //! Only files and folders of this user that nobody else may write.

    use std::fs::{File, OpenOptions};
    use std::io::Read;
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
    use std::path::Path;

    fn ours(meta: &std::fs::Metadata) -> bool {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        meta.uid() == me && meta.mode() & 0o022 == 0
    }

    /// `path` opened, if it and `dir` are ours.
    pub(super) fn open(dir: &Path, path: &Path) -> Option<File> {
        let dir_meta = std::fs::symlink_metadata(dir).ok()?;
        if !dir_meta.is_dir() || !ours(&dir_meta) {
            return None;
        }
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .ok()?;
        // Checked on the open file: what is checked is what is loaded.
        let meta = file.metadata().ok()?;
        (meta.is_file() && ours(&meta)).then_some(file)
    }

    pub(super) fn read(mut file: File) -> Option<Vec<u8>> {
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).ok()?;
        Some(bytes)
    }

    /// Creates `dir` and its parent, not further up: the grandparent (the
    /// home) must exist.
    pub(super) fn create_dir(dir: &Path) -> std::io::Result<()> {
        let create = |dir: &Path| match std::fs::DirBuilder::new().mode(0o700).create(dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
            _ => Ok(()),
        };
        if let Some(parent) = dir.parent() {
            create(parent)?;
        }
        create(dir)
    }

    pub(super) fn fits_size_limit(len: usize) -> bool {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes only the struct it is given.
        let known = unsafe { libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit) } == 0;
        !known || limit.rlim_cur == libc::RLIM_INFINITY || len as u64 <= limit.rlim_cur
    }

    pub(super) fn create_new(path: &Path) -> std::io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
    }
}

#[cfg(not(unix))]
mod trusted {
    //! No ownership checks here: nothing is cached, everything is compiled.

    use std::path::Path;

    pub(super) fn open(_dir: &Path, _path: &Path) -> Option<std::fs::File> {
        None
    }

    pub(super) fn read(_file: std::fs::File) -> Option<Vec<u8>> {
        None
    }

    pub(super) fn create_dir(_dir: &Path) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub(super) fn create_new(_path: &Path) -> std::io::Result<std::fs::File> {
        Err(std::io::ErrorKind::Unsupported.into())
    }

    pub(super) fn fits_size_limit(_len: usize) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_once_then_loads_and_survives_a_damaged_file() {
        let engine = crate::engine::engine();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let bytes = crate::BUILTIN_POLICY;
        let sha = "0123";
        let path = dir.join(file_name(engine, sha));

        load_or_compile(engine, bytes, sha, &dir).unwrap();
        let first = std::fs::read(&path).expect("the compiled code was cached");
        assert_eq!(
            Engine::detect_precompiled(&first),
            Some(Precompiled::Component)
        );
        assert!(
            load(engine, &dir, &path).is_some(),
            "a file we wrote is loaded"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");

        // Damaged or foreign bytes are not loaded; the component is compiled
        // and the cache rewritten.
        std::fs::write(&path, b"not compiled code").unwrap();
        assert!(load(engine, &dir, &path).is_none());
        load_or_compile(engine, bytes, sha, &dir).unwrap();
        assert!(load(engine, &dir, &path).is_some());
    }

    /// Under a file-size limit smaller than the compiled code, caching it is
    /// skipped: the write would raise SIGXFSZ, which kills a process that
    /// does not ignore it, as this test's child (the test binary) does not.
    #[cfg(unix)]
    #[test]
    fn p7_a_file_size_limit_skips_the_cache_instead_of_killing_the_process() {
        use std::os::unix::process::CommandExt;
        const CHILD: &str = "EXLAB_CACHE_TEST_FILE_SIZE_LIMIT_CHILD";
        let name = "p7_a_file_size_limit_skips_the_cache_instead_of_killing_the_process";
        if let Some(dir) = std::env::var_os(CHILD) {
            let engine = crate::engine::engine();
            load_or_compile(engine, crate::BUILTIN_POLICY, "ef", Path::new(&dir)).unwrap();
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let (_, here) = module_path!().split_once("::").unwrap();
        let mut child = std::process::Command::new(std::env::current_exe().unwrap());
        child
            .args(["--exact", &format!("{here}::{name}"), "--test-threads=1"])
            .env(CHILD, &dir);
        let limit = libc::rlimit {
            rlim_cur: 64 << 10,
            rlim_max: 64 << 10,
        };
        // SAFETY: setrlimit is async-signal-safe and changes only the child.
        unsafe {
            child.pre_exec(move || match libc::setrlimit(libc::RLIMIT_FSIZE, &limit) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            });
        }
        let out = child.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{:?}: {stdout}", out.status);
        assert!(stdout.contains("1 passed"), "{stdout}");
        let cached: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(cached.is_empty(), "{cached:?}");
    }

    #[cfg(unix)]
    #[test]
    fn files_others_may_write_are_not_trusted() {
        use std::os::unix::fs::PermissionsExt;
        let engine = crate::engine::engine();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        let path = dir.join(file_name(engine, "ab"));
        load_or_compile(engine, crate::BUILTIN_POLICY, "ab", &dir).unwrap();
        assert!(load(engine, &dir, &path).is_some());

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(load(engine, &dir, &path).is_none(), "a world-writable file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(
            load(engine, &dir, &path).is_none(),
            "a world-writable folder"
        );
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();

        let link = dir.join(file_name(engine, "cd"));
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(load(engine, &dir, &link).is_none(), "a symlink");
    }
}
