//! Issue 10, points 2 and 6: odd files in a record's place (FIFO, device,
//! socket) are `io_error` at once instead of hanging, and one rule for
//! symlinks: followed while they stay inside the root, for reads and writes
//! alike (the lock is that of the file they lead to), `access_denied` when
//! they lead out.

use std::io;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use exlab_cache::{Cache, Faults, MarkerKind, Policy, Root, Settings, WriteStep};
use exlab_cache_tests::*;

// ---- Point 2: no hangs on odd files ------------------------------------

/// Runs the CLI and fails (instead of hanging the suite) if it is still
/// running after `limit`.
fn cli_within(cwd: &Path, args: &[&str], stdin: &str, limit: Duration) -> Run {
    let mut child = spawn_cli(cwd, args, stdin);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("exlab-cache {args:?} hung: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

const HANG_LIMIT: Duration = Duration::from_secs(20);

/// What the error calls each odd file.
const ODD_FILES: [&str; 4] = ["a FIFO", "a socket", "a character device", "a block device"];

fn mknod(kind: &str, major: &str, minor: &str, at: &Path) -> bool {
    std::process::Command::new("mknod")
        .arg(at)
        .args([kind, major, minor])
        .status()
        .is_ok_and(|s| s.success())
}

/// Puts `what` at `at`; `false` when the machine does not allow it.
fn put_odd_file(what: &str, at: &Path) -> bool {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    match what {
        "a FIFO" => std::process::Command::new("mkfifo")
            .arg(at)
            .status()
            .unwrap()
            .success(),
        // The socket file stays when the listener is gone.
        "a socket" => std::os::unix::net::UnixListener::bind(at).is_ok(),
        // /dev/null's numbers: open and read would work, and see no JSON.
        "a character device" => mknod("c", "1", "3", at),
        // A loop device that is not there: open fails (ENXIO).
        "a block device" => mknod("b", "7", "250", at),
        _ => unreachable!("{what}"),
    }
}

/// (device, inode, kind bits) of `at`, not following a link.
fn identity(at: &Path) -> (u64, u64, u32) {
    let meta = std::fs::symlink_metadata(at).unwrap();
    (meta.dev(), meta.ino(), meta.mode() & 0o170000)
}

#[test]
fn p2_odd_files_in_a_records_place_are_io_error_at_once_and_stay() {
    for what in ODD_FILES {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let records = [
            ("equipment", EQUIPMENT, equipment_input("L")),
            ("test-runs", TEST_RUNS, marker_input("P1")),
        ];
        for (_, path, _) in &records {
            if !put_odd_file(what, &root.join(path)) {
                eprintln!("skipped: cannot make {what} here (mknod needs root)");
                return;
            }
        }
        let before: Vec<_> = records.iter().map(|r| identity(&root.join(r.1))).collect();
        for (command, path, input) in &records {
            for op in ["read", "write"] {
                let started = Instant::now();
                let args = ["--lock-timeout", "5", command, op, path];
                let run = cli_within(root, &args, input, HANG_LIMIT);
                assert_eq!(run.status, 1, "{what}: {args:?}: {}", run.stderr);
                assert_eq!(run.code(), "io_error");
                let message = run.error()["message"].as_str().unwrap().to_owned();
                assert!(
                    message.contains(&format!("{path} is {what}, not a regular file")),
                    "{what}: {args:?}: {message}"
                );
                assert_eq!(run.stdout, "");
                // At once: not after waiting for a lock a hung call holds.
                assert!(started.elapsed() < Duration::from_secs(5), "{args:?}");
            }
        }
        let after: Vec<_> = records.iter().map(|r| identity(&root.join(r.1))).collect();
        assert_eq!(after, before, "{what} was replaced");
        assert_eq!(temp_files(root), Vec::<String>::new());
        // The writers of other files are unaffected.
        let other = "OTHER_01/.exlab-wizard/equipment.json";
        let run = cli_within(
            root,
            &["equipment", "write", other],
            &equipment_input("L"),
            HANG_LIMIT,
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        let run = cli_within(
            root,
            &["runs", "write", RUNS],
            &marker_input("P1"),
            HANG_LIMIT,
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
    }
}

// ---- Point 6: one rule for symlinks ------------------------------------

/// A root (`outer/root`) beside a folder that must stay out of reach
/// (`outer/secret`).
struct Tree {
    outer: tempfile::TempDir,
    cache: Cache,
}

impl Tree {
    fn new() -> Tree {
        let outer = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(outer.path().join("root")).unwrap();
        std::fs::create_dir_all(outer.path().join("secret")).unwrap();
        let settings = Settings {
            lock_timeout: Duration::from_millis(300),
            on_warning: Arc::new(|_| {}),
            ..Settings::default()
        };
        let root = Root::open(outer.path().join("root")).unwrap();
        let cache = Cache::new(root, Policy::builtin().unwrap(), settings);
        Tree { outer, cache }
    }

    fn root(&self) -> PathBuf {
        self.outer.path().join("root")
    }

    /// `inside`: under the root; else under `outer/secret`.
    fn base(&self, inside: bool) -> PathBuf {
        self.outer
            .path()
            .join(if inside { "root" } else { "secret" })
    }

    fn put(&self, at: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        std::fs::write(at, bytes).unwrap();
    }

    /// Makes `link` (relative to the root) point at `real` (relative to the
    /// base), spelled relative to the link's folder or absolute.
    fn link(&self, link: &str, real: &str, inside: bool, absolute: bool) {
        let at = self.root().join(link);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        let target = if absolute {
            self.base(inside).join(real)
        } else {
            let up_to_root = "../".repeat(Path::new(link).components().count() - 1);
            let up = if inside {
                up_to_root
            } else {
                up_to_root + "../secret/"
            };
            PathBuf::from(up + real)
        };
        symlink(target, at).unwrap();
    }

    /// Every path under `outer`, with its bytes for files.
    fn snapshot(&self) -> Vec<(String, Option<Vec<u8>>)> {
        tree(self.outer.path())
            .into_iter()
            .map(|p| {
                let bytes = std::fs::read(self.outer.path().join(&p)).ok();
                (p, bytes)
            })
            .collect()
    }
}

const MARKER_ON_DISK: &[u8] = br#"{"schema_version":"1.0","run_kind":"test","created_at":"2026-01-02T03:04:05Z","project":"P1","equipment":"CONFOCAL_01","note":"kept"}"#;

/// Where a link stands for a record at `record`: (the link, where it leads
/// relative to the base). The record itself then lives at the link's
/// target plus the rest of the path.
fn link_positions(record: &str) -> [(&'static str, String, String); 4] {
    let parent = Path::new(record).parent().unwrap().to_str().unwrap();
    let name = Path::new(record).file_name().unwrap().to_str().unwrap();
    [
        ("the file", record.to_owned(), format!("shared/{name}")),
        (
            "the top folder",
            "CONFOCAL_01".to_owned(),
            "shared_eq".to_owned(),
        ),
        (
            "the file's folder",
            parent.to_owned(),
            "shared/wizard".to_owned(),
        ),
        (
            "the lock file",
            format!("{record}.lock"),
            "shared/x.lock".to_owned(),
        ),
    ]
}

/// Where the record behind `link` -> `real` is, relative to the base.
fn record_behind(record: &str, link: &str, real: &str) -> String {
    match Path::new(record).strip_prefix(link) {
        Ok(rest) if !rest.as_os_str().is_empty() => format!("{real}/{}", rest.display()),
        Ok(_) => real.to_owned(),
        // The lock file: the record stays where it is.
        Err(_) => record.to_owned(),
    }
}

#[test]
fn p6_links_inside_the_root_are_followed_by_read_write_and_marker_write_alike() {
    for record in [EQUIPMENT, TEST_RUNS] {
        for (position, link, real) in link_positions(record) {
            for absolute in [false, true] {
                let case = format!("{record}: {position}, absolute {absolute}");
                let t = Tree::new();
                t.link(&link, &real, true, absolute);
                let behind = t.root().join(record_behind(record, &link, &real));
                if record == EQUIPMENT {
                    let first = t
                        .cache
                        .write_equipment(&format!("{}", behind.display()), &equipment_input("A"))
                        .unwrap_or_else(|e| panic!("{case}: setup: {e}"));
                    let read = t
                        .cache
                        .read_equipment(record)
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(read.label, "A", "{case}");
                    let again = t
                        .cache
                        .write_equipment(record, &equipment_input("B"))
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(
                        again.equipment.first_seen_at, first.equipment.first_seen_at,
                        "{case}: the rewrite read the file behind the link"
                    );
                    let on_disk: serde_json::Value =
                        serde_json::from_slice(&std::fs::read(&behind).unwrap()).unwrap();
                    assert_eq!(on_disk["label"], "B", "{case}");
                } else {
                    t.put(&behind, MARKER_ON_DISK);
                    let marker = t
                        .cache
                        .read_marker(MarkerKind::TestRuns, record)
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert_eq!(marker.created_at, "2026-01-02T03:04:05Z", "{case}");
                    let w = t
                        .cache
                        .write_marker(MarkerKind::TestRuns, record, &marker_input("P1"))
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert!(!w.written, "{case}: an existing marker is not rewritten");
                    assert_eq!(std::fs::read(&behind).unwrap(), MARKER_ON_DISK, "{case}");
                    // Behind a dangling link, the first write creates the file there.
                    std::fs::remove_file(&behind).unwrap();
                    let w = t
                        .cache
                        .write_marker(MarkerKind::TestRuns, record, &marker_input("P1"))
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    assert!(w.written, "{case}");
                    assert!(behind.is_file(), "{case}");
                }
                let link_at = t.root().join(&link);
                assert!(link_at.is_symlink(), "{case}: the link stays a link");
                assert_eq!(temp_files(t.outer.path()), Vec::<String>::new(), "{case}");
                let all = tree(t.outer.path());
                assert!(
                    all.iter().all(|p| p.starts_with("root") || p == "secret"),
                    "{case}: {all:?}"
                );
                if position == "the file" {
                    // The lock is that of the file behind the link.
                    assert!(!t.root().join(format!("{record}.lock")).exists(), "{case}");
                    assert!(t.root().join(format!("{real}.lock")).is_file(), "{case}");
                }
                if position == "the lock file" {
                    assert!(
                        t.root().join(&real).is_file(),
                        "{case}: locked behind the link"
                    );
                }
            }
        }
    }
}

#[test]
fn p6_links_out_of_the_root_are_denied_for_every_call_and_touch_nothing() {
    for record in [EQUIPMENT, TEST_RUNS] {
        for (position, link, real) in link_positions(record) {
            for absolute in [false, true] {
                let case = format!("{record}: {position}, absolute {absolute}");
                let t = Tree::new();
                t.link(&link, &real, false, absolute);
                // Something to steal behind the link (but no lock file there).
                let behind = t.base(false).join(record_behind(record, &link, &real));
                if position != "the lock file" {
                    t.put(&behind, MARKER_ON_DISK);
                }
                let before = t.snapshot();
                let kind = MarkerKind::TestRuns;
                let mut calls = vec![
                    (
                        "write equipment",
                        t.cache.write_equipment(record, &equipment_input("L")).err(),
                    ),
                    (
                        "write marker",
                        t.cache
                            .write_marker(kind, record, &marker_input("P1"))
                            .err(),
                    ),
                ];
                if position != "the lock file" {
                    calls.push(("read equipment", t.cache.read_equipment(record).err()));
                    calls.push(("read marker", t.cache.read_marker(kind, record).err()));
                }
                for (call, e) in calls {
                    let e = e.unwrap_or_else(|| panic!("{case}: {call} was allowed"));
                    assert_eq!(e.code(), "access_denied", "{case}: {call}: {e}");
                    assert_eq!(
                        e.message(),
                        format!("{record} leaves the root (through a symlink)"),
                        "{case}: {call}"
                    );
                }
                assert_eq!(t.snapshot(), before, "{case}: something changed");
            }
        }
    }
}

#[test]
fn p6_a_lock_file_that_is_a_link_out_of_the_root_does_not_stop_reads() {
    // A read takes no lock (spec §2), so the lock file plays no part.
    let t = Tree::new();
    t.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    std::fs::remove_file(t.root().join(format!("{EQUIPMENT}.lock"))).unwrap();
    t.link(&format!("{EQUIPMENT}.lock"), "x.lock", false, true);
    assert_eq!(t.cache.read_equipment(EQUIPMENT).unwrap().label, "L");
}

#[test]
fn p6_a_lock_file_link_inside_is_the_lock_that_is_taken() {
    for absolute in [false, true] {
        let t = Tree::new();
        let lock_link = format!("{EQUIPMENT}.lock");
        t.link(&lock_link, "shared/x.lock", true, absolute);
        t.put(&t.root().join("shared/x.lock"), b"");
        // What a Python app that opens the link holds: the file behind it.
        let held = std::fs::File::open(t.root().join("shared/x.lock")).unwrap();
        fs4::FileExt::lock(&held).unwrap();
        let e = t
            .cache
            .write_equipment(EQUIPMENT, &equipment_input("L"))
            .unwrap_err();
        assert_eq!(e.code(), "lock_timeout", "absolute {absolute}: {e}");
        assert!(!t.root().join(EQUIPMENT).exists());
        fs4::FileExt::unlock(&held).unwrap();
        t.cache
            .write_equipment(EQUIPMENT, &equipment_input("L"))
            .unwrap();
        assert!(t.root().join(&lock_link).is_symlink());
    }
}

/// Holds the lock of the write it is part of at `TempCreate`, until released.
struct HoldLock {
    reached: Mutex<mpsc::Sender<()>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl Faults for HoldLock {
    fn before(&self, step: WriteStep, _path: &str) -> io::Result<()> {
        if step == WriteStep::TempCreate {
            self.reached.lock().unwrap().send(()).unwrap();
            self.release.lock().unwrap().recv().unwrap();
        }
        Ok(())
    }
}

#[test]
fn p6_two_names_of_one_file_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let real = "shared/.exlab-wizard/equipment.json";
    std::fs::create_dir_all(root.join("shared/.exlab-wizard")).unwrap();
    std::fs::create_dir_all(root.join("CONFOCAL_01/.exlab-wizard")).unwrap();
    symlink(
        "../../shared/.exlab-wizard/equipment.json",
        root.join(EQUIPMENT),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("ABS_01/.exlab-wizard")).unwrap();
    let absolute_name = "ABS_01/.exlab-wizard/equipment.json";
    symlink(root.join(real), root.join(absolute_name)).unwrap();
    let names = [real, EQUIPMENT, absolute_name];
    for holder in names {
        for contender in names.into_iter().filter(|&n| n != holder) {
            let (reached_tx, reached) = mpsc::channel();
            let (release, release_rx) = mpsc::channel();
            let faults = Arc::new(HoldLock {
                reached: Mutex::new(reached_tx),
                release: Mutex::new(release_rx),
            });
            let cache = Cache::new(
                Root::open(root).unwrap().with_faults(faults),
                Policy::builtin().unwrap(),
                Settings::default(),
            );
            std::thread::scope(|s| {
                let writer = s.spawn(|| cache.write_equipment(holder, &equipment_input("held")));
                // Bounded: a write that fails before the lock must not hang the test.
                let started = Instant::now();
                while reached.try_recv().is_err() {
                    assert!(started.elapsed() < HANG_LIMIT, "{holder}: no lock");
                    if writer.is_finished() {
                        panic!("{holder}: {:?}", writer.join().unwrap().err());
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                // The lock is held through `holder`: another process
                // writing through `contender` must wait, and time out.
                let args = ["--lock-timeout", "0.3", "equipment", "write", contender];
                let run = cli_within(root, &args, &equipment_input("other"), HANG_LIMIT);
                assert_eq!(run.status, 8, "{holder} held, {contender}: {}", run.stderr);
                assert_eq!(run.code(), "lock_timeout");
                release.send(()).unwrap();
                writer.join().unwrap().unwrap();
            });
            let run = cli_within(
                root,
                &["equipment", "write", contender],
                &equipment_input("after"),
                HANG_LIMIT,
            );
            assert_eq!(run.status, 0, "{}", run.stderr);
        }
    }
    for link in [EQUIPMENT, absolute_name] {
        assert!(root.join(link).is_symlink(), "{link}");
    }
    assert_eq!(temp_files(root), Vec::<String>::new());
}

#[test]
fn p6_a_chain_of_40_links_is_followed_and_41_or_a_loop_is_io_error() {
    let t = Tree::new();
    let root = t.root();
    t.put(&root.join("real.json"), b"");
    t.cache
        .write_equipment("real.json", &equipment_input("L"))
        .unwrap();
    // link1 -> real.json, link2 -> link1, ...
    let mut previous = "real.json".to_owned();
    for n in 1..=41 {
        let name = format!("link{n}.json");
        symlink(&previous, root.join(&name)).unwrap();
        previous = name;
    }
    symlink("b.json", root.join("a.json")).unwrap();
    symlink("a.json", root.join("b.json")).unwrap();
    assert_eq!(t.cache.read_equipment("link40.json").unwrap().label, "L");
    t.cache
        .write_equipment("link40.json", &equipment_input("via 40"))
        .unwrap();
    assert_eq!(t.cache.read_equipment("real.json").unwrap().label, "via 40");
    for path in ["link41.json", "a.json", "a.json/x.json"] {
        let read = t.cache.read_equipment(path).unwrap_err();
        let write = t
            .cache
            .write_equipment(path, &equipment_input("L"))
            .unwrap_err();
        for e in [read, write] {
            assert_eq!(e.code(), "io_error", "{path}: {e}");
            assert!(e.message().contains("more than 40 symlinks"), "{path}: {e}");
        }
    }
    assert!(root.join("link41.json").is_symlink());
    assert_eq!(temp_files(&root), Vec::<String>::new());
}
