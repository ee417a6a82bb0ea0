//! Issue 10, point 7: the environment's limits (a file-size rlimit, the
//! compiled-code cache, fork) are not the policy's fault; and point 2's
//! second bullet: odd policy and config files (a FIFO, a device, a folder,
//! an oversize file) are refused at once. Real CLI processes, each under a
//! timeout so that a hang fails the test instead of stalling the suite.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use exlab_cache::watch::{Watch, WatchEvent};
use exlab_cache::{Cache, Policy};
use exlab_cache_tests::{cli_exe, equipment_input, temp_files, tree, Run, EQUIPMENT};

/// A refusal is quick; a hang is a failure, not a stalled suite.
const TIMEOUT: Duration = Duration::from_secs(20);

/// How a CLI process is started: its environment and its file-size limit.
#[derive(Default, Clone)]
struct Env {
    vars: Vec<(&'static str, OsString)>,
    removed: Vec<&'static str>,
    /// RLIMIT_FSIZE, in bytes.
    file_size_limit: Option<u64>,
    /// RLIMIT_AS, in bytes.
    address_space_limit: Option<u64>,
    /// Runs as this user and group (id), with no supplementary groups.
    user: Option<u32>,
}

impl Env {
    /// The compiled-code cache under `xdg` (`$XDG_CACHE_HOME`).
    fn cache_in(xdg: &Path) -> Env {
        Env::default().var("XDG_CACHE_HOME", xdg)
    }

    fn var(mut self, name: &'static str, value: impl Into<OsString>) -> Env {
        self.vars.push((name, value.into()));
        self
    }

    fn without(mut self, name: &'static str) -> Env {
        self.removed.push(name);
        self
    }

    fn user(mut self, id: u32) -> Env {
        self.user = Some(id);
        self
    }

    fn file_size_limit(mut self, bytes: u64) -> Env {
        self.file_size_limit = Some(bytes);
        self
    }
}

/// Runs the CLI in `cwd`; panics if it has not exited within [`TIMEOUT`].
fn run(cwd: &Path, args: &[&str], stdin: &str, env: &Env) -> Run {
    let mut command = Command::new(cli_exe());
    command
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in &env.removed {
        command.env_remove(name);
    }
    command.envs(env.vars.iter().map(|(k, v)| (k, v)));
    let limits = [
        (libc::RLIMIT_FSIZE, env.file_size_limit),
        (libc::RLIMIT_AS, env.address_space_limit),
    ];
    let user = env.user;
    // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe
    // and change only the child.
    unsafe {
        command.pre_exec(move || {
            if let Some(id) = user {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(id) != 0
                    || libc::setuid(id) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (resource, bytes) in limits {
                let Some(bytes) = bytes else { continue };
                let limit = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("stdin: {e}"),
        _ => {}
    }
    let pid = child.id() as libc::pid_t;
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output().unwrap()));
    let output = outcome.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
        // SAFETY: kills the child this test started, by its id.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("exlab-cache {args:?} hung for {TIMEOUT:?}")
    });
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn cwasm_files(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    tree(dir)
        .into_iter()
        .filter(|p| p.ends_with(".cwasm"))
        .collect()
}

// ------------------------------------------------ point 7: a file-size limit

#[test]
fn p7_under_a_file_size_limit_every_command_works_and_an_oversize_write_is_io_error() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let xdg = tmp.path().join("xdg");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    // 16 KiB: `ulimit -f 16` in bash. The compiled code (megabytes) cannot
    // be cached under it, so the first process compiles in memory.
    let limited = Env::cache_in(&xdg).file_size_limit(16 << 10);

    let gate = run(
        &root,
        &["schema", "check", "1.0", "--major", "1"],
        "",
        &limited,
    );
    assert_eq!(gate.status, 0, "{}", gate.stderr);
    assert_eq!(
        cwasm_files(&xdg),
        Vec::<String>::new(),
        "too large to cache"
    );
    let missing = run(&root, &["equipment", "read", EQUIPMENT], "", &limited);
    assert_eq!(missing.code(), "not_found", "{}", missing.stderr);

    // And with the compiled code already cached (written without a limit).
    let warm = run(&root, &["policy", "info"], "", &Env::cache_in(&xdg));
    assert_eq!(warm.status, 0, "{}", warm.stderr);
    assert_eq!(cwasm_files(&xdg).len(), 1);
    let small = run(
        &root,
        &["equipment", "write", EQUIPMENT],
        &equipment_input("small"),
        &limited,
    );
    assert_eq!(small.status, 0, "{}", small.stderr);
    let read = run(&root, &["equipment", "read", EQUIPMENT], "", &limited);
    assert_eq!(read.json()["label"], "small", "{}", read.stderr);

    // A write past the limit gets EFBIG (SIGXFSZ is ignored), not a kill.
    let before = std::fs::read(root.join(EQUIPMENT)).unwrap();
    let big = run(
        &root,
        &["equipment", "write", EQUIPMENT],
        &equipment_input(&"x".repeat(20 << 10)),
        &limited,
    );
    assert_eq!(big.status, 1, "{}", big.stderr);
    assert_eq!(big.code(), "io_error");
    assert!(big.error()["message"]
        .as_str()
        .unwrap()
        .contains("File too large"));
    assert_eq!(big.stdout, "");
    assert_eq!(std::fs::read(root.join(EQUIPMENT)).unwrap(), before);
    assert_eq!(temp_files(&root), Vec::<String>::new());
}

#[test]
fn p7_the_machine_refusing_the_runtime_memory_is_io_error_not_policy_error() {
    let tmp = tempfile::tempdir().unwrap();
    // `ulimit -v 2000000`: wasmtime cannot reserve a guest's 4 GiB address
    // range. That is the machine's limit, not the policy's fault.
    let env = Env {
        address_space_limit: Some(2 << 30),
        ..Env::default()
    };
    let out = run(
        tmp.path(),
        &["schema", "check", "1.0", "--major", "1"],
        "",
        &env,
    );
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert_eq!(out.code(), "io_error");
    let message = out.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("Cannot allocate memory"), "{message}");
    assert_eq!(tree(tmp.path()), Vec::<String>::new());
}

// ------------------------------------------ point 7: the compiled-code cache

/// The sha256-named file this cache writes for the built-in policy.
fn is_cache_file(name: &str) -> bool {
    let stem = name.strip_suffix(".cwasm").unwrap_or_default();
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    matches!(stem.split_once('-'), Some((sha, engine)) if hex(sha, 64) && hex(engine, 16))
}

/// A refused call (bad input): it needs the policy, so it loads it.
fn refused_call(cwd: &Path, env: &Env) {
    let out = run(cwd, &["equipment", "write", EQUIPMENT], "{\"id\":1}", env);
    assert_eq!(out.code(), "validation_error", "{}", out.stderr);
}

#[test]
fn p7_a_missing_home_is_not_created() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home/operator");
    let env = Env::default().without("XDG_CACHE_HOME").var("HOME", &home);
    refused_call(tmp.path(), &env);
    assert_eq!(tree(tmp.path()), Vec::<String>::new(), "nothing created");

    // A relative XDG_CACHE_HOME is ignored (the XDG rule), and so is one whose
    // parent is missing: neither is created.
    for xdg in [
        "relative/cache",
        &*tmp.path().join("gone/cache").to_string_lossy(),
    ] {
        refused_call(tmp.path(), &env.clone().var("XDG_CACHE_HOME", xdg));
        assert_eq!(tree(tmp.path()), Vec::<String>::new(), "{xdg}");
    }

    // An existing home gets ~/.cache/exlab-cache/<sha>-<engine>.cwasm.
    std::fs::create_dir_all(&home).unwrap();
    refused_call(tmp.path(), &env);
    let cached = cwasm_files(&home.join(".cache/exlab-cache"));
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert!(is_cache_file(&cached[0]), "{cached:?}");
}

#[test]
fn p7_an_unusable_cache_falls_back_to_compiling_in_memory() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    std::fs::create_dir(&root).unwrap();

    // A file where the cache folder should be (unwritable even for root).
    let blocked = tmp.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("exlab-cache"), "not a folder").unwrap();
    // A read-only cache folder (unwritable for anyone but root).
    let read_only = tmp.path().join("read-only");
    std::fs::create_dir_all(read_only.join("exlab-cache")).unwrap();
    std::fs::set_permissions(
        read_only.join("exlab-cache"),
        std::fs::Permissions::from_mode(0o500),
    )
    .unwrap();
    // A damaged cache file, in a folder that cannot be written.
    let damaged = tmp.path().join("damaged");
    let warm = run(&root, &["policy", "info"], "", &Env::cache_in(&damaged));
    assert_eq!(warm.status, 0, "{}", warm.stderr);
    let cached = damaged.join(&cwasm_files(&damaged)[0]);
    std::fs::write(&cached, "damaged").unwrap();
    std::fs::set_permissions(
        damaged.join("exlab-cache"),
        std::fs::Permissions::from_mode(0o500),
    )
    .unwrap();

    for xdg in [&blocked, &read_only, &damaged] {
        let env = Env::cache_in(xdg);
        let write = run(
            &root,
            &["equipment", "write", EQUIPMENT],
            &equipment_input("x"),
            &env,
        );
        assert_eq!(write.status, 0, "{xdg:?}: {}", write.stderr);
        let read = run(&root, &["equipment", "read", EQUIPMENT], "", &env);
        assert_eq!(read.json()["label"], "x", "{xdg:?}: {}", read.stderr);
    }
    std::fs::set_permissions(
        damaged.join("exlab-cache"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::fs::set_permissions(
        read_only.join("exlab-cache"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
}

#[test]
fn p7_exlab_cache_code_cache_off_reads_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&xdg).unwrap();
    for off in ["off", "0"] {
        let env = Env::cache_in(&xdg)
            .var("HOME", &home)
            .var("EXLAB_CACHE_CODE_CACHE", off);
        refused_call(&home, &env);
        let info = run(&home, &["policy", "info"], "", &env);
        assert_eq!(info.status, 0, "{}", info.stderr);
        assert_eq!(tree(tmp.path()), ["home", "xdg"], "{off}");
    }
}

#[test]
fn p7_a_new_cache_file_prunes_other_versions_and_leaves_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let dir = xdg.join("exlab-cache");
    std::fs::create_dir_all(&dir).unwrap();
    let sha = sha256_of_builtin();
    let stale = [
        format!("{}-0123456789abcdef.cwasm", "0".repeat(64)), // another policy
        format!("{sha}-fedcba9876543210.cwasm"),              // another engine
    ];
    let foreign = [
        "notes.txt".to_owned(),
        "mine.cwasm".to_owned(),
        format!("{sha}.cwasm"),
        format!("{sha}-0123456789abcdef.cwasm.bak"),
        format!("{}-0123456789abcdef.cwasm", "0".repeat(63)),
    ];
    for name in stale.iter().chain(&foreign) {
        std::fs::write(dir.join(name), "old").unwrap();
    }
    refused_call(tmp.path(), &Env::cache_in(&xdg));
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    let written: Vec<&String> = left
        .iter()
        .filter(|n| n.starts_with(&format!("{sha}-")) && n.ends_with(".cwasm"))
        .collect();
    assert_eq!(written.len(), 1, "{left:?}");
    let mut expected: Vec<String> = foreign.to_vec();
    expected.push(written[0].clone());
    expected.sort();
    assert_eq!(left, expected, "stale files pruned, foreign ones kept");
}

fn sha256_of_builtin() -> String {
    exlab_cache::sha256_hex(exlab_cache::BUILTIN_POLICY)
}

// --------------------------------------------- folders the writer does not own

/// The folder's atime, as stat reports it.
fn atime(path: &Path) -> (i64, i64) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).unwrap();
    (meta.atime(), meta.atime_nsec())
}

#[test]
fn a_rewrite_leaves_the_folders_atime_alone() {
    // The sweep lists the folder on every write; without O_NOATIME that
    // listing stamps the atime after each rename, an inode update the
    // write's fsyncs pay for.
    let tmp = tempfile::tempdir().unwrap();
    let cache = Cache::open(tmp.path()).unwrap();
    cache
        .write_equipment(EQUIPMENT, &equipment_input("A"))
        .unwrap();
    let folder = tmp.path().join(EQUIPMENT).parent().unwrap().to_owned();
    let long_ago = timespec(1_000_000_000);
    set_atime(&folder, long_ago);
    cache
        .write_equipment(EQUIPMENT, &equipment_input("B"))
        .unwrap();
    assert_eq!(atime(&folder), (long_ago.tv_sec, long_ago.tv_nsec));
}

fn timespec(seconds: i64) -> libc::timespec {
    libc::timespec {
        tv_sec: seconds,
        tv_nsec: 0,
    }
}

fn set_atime(path: &Path, at: libc::timespec) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    let omit = libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::UTIME_OMIT,
    };
    // SAFETY: a valid C string and two timespecs.
    let ok = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), [at, omit].as_ptr(), 0) };
    assert_eq!(ok, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn another_users_folders_still_take_writes_readable_or_not() {
    // O_NOATIME is the owner's to ask for: anyone else gets EPERM and lists
    // the folder as before. A folder it cannot read takes the write through
    // cap-std's O_PATH descriptor, but cannot be fsynced: the new file is in
    // place and the write says its durability is unconfirmed (io_error).
    // Needs root, to be someone else.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: not root, cannot run the CLI as another user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mode = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let nobody = 65534;
    let env = Env::default()
        .user(nobody)
        .var("EXLAB_CACHE_CODE_CACHE", "off");
    for (folder_mode, readable) in [(0o777, true), (0o733, false)] {
        let root = tmp
            .path()
            .join(if readable { "readable" } else { "unreadable" });
        let folder = root.join(EQUIPMENT).parent().unwrap().to_owned();
        std::fs::create_dir_all(&folder).unwrap();
        for dir in folder.ancestors().take_while(|d| d.starts_with(tmp.path())) {
            mode(dir, 0o755);
        }
        mode(&folder, folder_mode);
        let root_arg = root.to_str().unwrap();
        for label in ["A", "B"] {
            let out = run(
                &root,
                &["--root", root_arg, "equipment", "write", EQUIPMENT],
                &equipment_input(label),
                &env,
            );
            if readable {
                assert_eq!(out.status, 0, "write {label}: {}", out.stderr);
            } else {
                assert_eq!(out.code(), "io_error", "write {label}");
                assert!(out.stderr.contains("fsync the folder"), "{}", out.stderr);
            }
            let written: serde_json::Value =
                serde_json::from_slice(&std::fs::read(root.join(EQUIPMENT)).unwrap()).unwrap();
            assert_eq!(written["label"], label, "readable: {readable}");
        }
        assert!(temp_files(&root).is_empty(), "readable: {readable}");
    }
}

// ------------------------------------- point 2: odd policy and config files

/// A folder of odd files outside the root: a FIFO (no writer: opening it
/// for reading would block), a folder, and sparse files just over and at a
/// cap. Names the device `/dev/zero` (read forever).
struct OddFiles {
    _dir: tempfile::TempDir,
    fifo: PathBuf,
    folder: PathBuf,
    dir: PathBuf,
}

impl OddFiles {
    fn new() -> OddFiles {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid C string; mkfifo touches nothing else.
        assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        OddFiles {
            fifo,
            folder,
            dir: dir.path().to_owned(),
            _dir: dir,
        }
    }

    /// A sparse file of `len` bytes (costs no disk).
    fn sized(&self, name: &str, len: u64) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::File::create(&path).unwrap().set_len(len).unwrap();
        path
    }

    /// The files to refuse, each with the reason the message gives.
    fn refused(&self, cap: u64) -> Vec<(PathBuf, &'static str)> {
        vec![
            ("/dev/zero".into(), "not a regular file (a device)"),
            (self.fifo.clone(), "not a regular file (a FIFO)"),
            (self.folder.clone(), "not a regular file (a folder)"),
            (
                self.sized("oversize", cap + 1),
                "larger than the", // ... N-byte limit
            ),
        ]
    }
}

/// Asserts `out` is `code` naming `file` and `why`, quickly.
fn assert_refused(out: &Run, started: Instant, code: &str, file: &Path, why: &str) {
    let message = out.error()["message"].as_str().unwrap().to_owned();
    assert_eq!(out.code(), code, "{}", out.stderr);
    assert!(message.contains(&*file.to_string_lossy()), "{message}");
    assert!(message.contains(why), "{message}");
    assert_eq!(out.stdout, "");
    assert!(started.elapsed() < Duration::from_secs(10), "{message}");
}

#[test]
fn p2_odd_policy_files_are_refused_at_once_and_nothing_is_touched() {
    let odd = OddFiles::new();
    let root = tempfile::tempdir().unwrap();
    for (file, why) in odd.refused(Policy::MAX_FILE_SIZE) {
        let policy = file.to_str().unwrap();
        for args in [
            vec!["--policy", policy, "equipment", "write", EQUIPMENT],
            vec!["--policy", policy, "schema", "check", "1.0", "--major", "1"],
            vec!["policy", "check", policy],
        ] {
            let started = Instant::now();
            let out = run(root.path(), &args, &equipment_input("x"), &Env::default());
            assert_eq!(out.status, 9, "{args:?}: {}", out.stderr);
            assert_refused(&out, started, "policy_error", &file, why);
        }
    }
    assert_eq!(tree(root.path()), Vec::<String>::new());

    // At the cap, the file is read (and is no component).
    let at_cap = odd.sized("at-cap", Policy::MAX_FILE_SIZE);
    let at_cap = at_cap.to_str().unwrap();
    let out = run(
        root.path(),
        &["policy", "check", at_cap],
        "",
        &Env::default(),
    );
    assert_eq!(out.code(), "policy_error");
    assert!(!out.stderr.contains("limit"), "{}", out.stderr);
}

/// `f` on another thread: a hang fails the test instead of stalling it.
fn within_timeout<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, outcome) = mpsc::channel();
    std::thread::spawn(move || done.send(f()));
    outcome.recv_timeout(TIMEOUT).expect("hung")
}

#[test]
fn p2_every_library_door_refuses_odd_policy_files() {
    let odd = OddFiles::new();
    let root = tempfile::tempdir().unwrap();
    let cache = Cache::open(root.path()).unwrap();
    let serving = cache.policy_info();
    for (file, why) in odd.refused(Policy::MAX_FILE_SIZE) {
        let (c, f) = (cache.clone(), file.clone());
        let (loaded, swapped, watched) = within_timeout(move || {
            let loaded = Policy::from_file(&f).map(|_| ());
            let swapped = c.swap_policy_file(&f).map(|_| ());
            let watched = Watch::new(c, &f, Duration::ZERO).poll(Instant::now());
            (loaded, swapped, watched)
        });
        for e in [loaded.unwrap_err(), swapped.unwrap_err()] {
            assert_eq!(e.code(), "policy_error", "{e:?}");
            assert!(e.message().contains(why), "{e:?}");
        }
        match watched {
            Some(WatchEvent::Unreadable { message }) => assert!(message.contains(why), "{message}"),
            other => panic!("{file:?}: {other:?}"),
        }
    }
    assert_eq!(cache.policy_info(), serving);
    assert_eq!(tree(root.path()), Vec::<String>::new());
}

#[test]
fn p2_odd_config_files_are_refused_at_once_with_the_spec_codes() {
    let odd = OddFiles::new();
    let cwd = tempfile::tempdir().unwrap();
    for (file, why) in odd.refused(exlab_cache::sync::MAX_CONFIG_SIZE) {
        let started = Instant::now();
        let out = run(
            cwd.path(),
            &["sync", file.to_str().unwrap()],
            "",
            &Env::default(),
        );
        assert_eq!(out.status, 1, "{file:?}: {}", out.stderr);
        assert_refused(&out, started, "io_error", &file, why);
    }
    let missing = odd.dir.join("missing.yaml");
    let out = run(
        cwd.path(),
        &["sync", missing.to_str().unwrap()],
        "",
        &Env::default(),
    );
    assert_eq!(out.code(), "not_found", "{}", out.stderr);
    let binary = odd.dir.join("binary.yaml");
    std::fs::write(&binary, b"equipment: [\xff\xfe").unwrap();
    let out = run(
        cwd.path(),
        &["sync", binary.to_str().unwrap()],
        "",
        &Env::default(),
    );
    assert_eq!(out.code(), "decode_error", "{}", out.stderr);
    // At the cap, the file is read: blank YAML, so no equipment: list.
    let blank = odd.dir.join("blank.yaml");
    std::fs::write(
        &blank,
        " ".repeat(exlab_cache::sync::MAX_CONFIG_SIZE as usize),
    )
    .unwrap();
    let out = run(
        cwd.path(),
        &["sync", blank.to_str().unwrap()],
        "",
        &Env::default(),
    );
    assert_eq!(out.error()["field"], "equipment", "{}", out.stderr);
    assert_eq!(tree(cwd.path()), Vec::<String>::new());
}
