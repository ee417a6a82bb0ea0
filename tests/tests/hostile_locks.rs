//! Issue 10, points 1, 5 and 8: exclusion against the lab app's real
//! `filelock` versions and against a cleanup job deleting `*.lock`, the
//! narrow temp sweep, permissions kept on rewrite; and the host's backstop
//! against writing a file larger than the read limit.
//!
//! Every race here runs real processes: the CLI, this test binary re-run as
//! a library writer with its own injected clock (`P1_WORKER`), and Python
//! processes running `filelock` from a venv per version, made by the test
//! under the target folder (`filelock-venvs/<version>`) and reused by later
//! runs. The filelock tests are skipped, with a printed reason, only when
//! there is no python3 or pip cannot install the package.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use exlab_cache::{Cache, Clock, Faults, ManualClock, Policy, Root, Settings, WriteStep};
use exlab_cache_tests::python::*;
use exlab_cache_tests::*;
use serde_json::Value;

const ROUNDS: usize = 30;
const WRITERS: usize = 8;

/// Deletes `lock` in a tight loop until dropped, like a cleanup job
/// removing `*.lock`; counts the deletions that found a file.
struct LockDeleter {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LockDeleter {
    fn start(lock: PathBuf, deleted: Arc<AtomicUsize>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, deleted) = (stop.clone(), deleted.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if std::fs::remove_file(&lock).is_ok() {
                        deleted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        };
        LockDeleter {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for LockDeleter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
    }
}

/// The stdout of a child that must succeed.
fn success(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout
        .lines()
        .find_map(|l| Some(l.split_once("WRITTEN ")?.1))
        .unwrap_or(&stdout);
    serde_json::from_str(line).unwrap_or_else(|e| panic!("{stdout:?}: {e}"))
}

fn on_disk(root: &Path, path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(root.join(path)).unwrap()).unwrap()
}

#[test]
fn p1_of_eight_racing_first_marker_writers_with_a_lock_deleter_exactly_one_writes() {
    let dir = tempfile::tempdir().unwrap();
    let deleted = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let path = format!("CONFOCAL_01/P{round}/TestRuns/.exlab-wizard/test_runs.json");
        let _deleter = LockDeleter::start(dir.path().join(format!("{path}.lock")), deleted.clone());
        let writers: Vec<Child> = (0..WRITERS)
            .map(|i| {
                let input = marker_input(&format!("P{i}"));
                spawn_cli(dir.path(), &["test-runs", "write", &path], &input)
            })
            .collect();
        let outs: Vec<Value> = writers.into_iter().map(success).collect();
        let written = outs.iter().filter(|o| o["written"] == true).count();
        assert_eq!(written, 1, "round {round}: {outs:?}");
        let marker = on_disk(dir.path(), &path);
        assert!(outs.iter().all(|o| o["marker"] == marker), "round {round}");
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    println!(
        "{ROUNDS} rounds of {WRITERS} first marker writers, {} lock deletions",
        deleted.load(Ordering::Relaxed)
    );
}

/// A library writer in its own process: this binary re-run with
/// `P1_WORKER=<root>|<path>|<unix secs>|<label>`. Prints the record written.
#[test]
fn p1_worker() {
    let Ok(spec) = std::env::var("P1_WORKER") else {
        return;
    };
    let [root, path, now, label]: [&str; 4] =
        spec.split('|').collect::<Vec<_>>().try_into().unwrap();
    let settings = Settings {
        clock: Arc::new(ManualClock::at(now.parse().unwrap())),
        lock_timeout: Duration::from_secs(20),
        ..Settings::default()
    };
    let cache = Cache::new(
        Root::open(root).unwrap(),
        Policy::builtin().unwrap(),
        settings,
    );
    let written = cache
        .write_equipment(path, &equipment_input(label))
        .unwrap_or_else(|e| panic!("{}", e.to_json()));
    println!("WRITTEN {}", written.document);
}

fn spawn_worker(root: &Path, path: &str, now: i64, label: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["p1_worker", "--exact", "--nocapture", "--test-threads=1"])
        .env(
            "P1_WORKER",
            format!("{}|{path}|{now}|{label}", root.display()),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn p1_racing_first_equipment_writes_with_a_lock_deleter_keep_the_winners_first_seen_at() {
    let dir = tempfile::tempdir().unwrap();
    let deleted = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS / 2 {
        let path = format!("EQ_{round}/.exlab-wizard/equipment.json");
        let _deleter = LockDeleter::start(dir.path().join(format!("{path}.lock")), deleted.clone());
        // Each writer's clock is an hour apart: a lost first write shows.
        let writers: Vec<Child> = (0..WRITERS)
            .map(|i| spawn_worker(dir.path(), &path, T0 + 3600 * i as i64, &format!("w{i}")))
            .collect();
        let outs: Vec<Value> = writers.into_iter().map(success).collect();
        let first_seen_at = &on_disk(dir.path(), &path)["first_seen_at"];
        for out in &outs {
            assert_eq!(
                &out["first_seen_at"], first_seen_at,
                "round {round}: {outs:?}"
            );
        }
    }
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
    println!(
        "{} rounds of {WRITERS} first equipment writers, {} lock deletions",
        ROUNDS / 2,
        deleted.load(Ordering::Relaxed)
    );
}

#[test]
fn p1_racing_rewrites_with_a_lock_deleter_never_change_first_seen_at() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("old"))
        .unwrap();
    let first_seen_at = on_disk(h.dir.path(), EQUIPMENT)["first_seen_at"].clone();
    assert_eq!(first_seen_at, "2026-04-17T14:00:00Z");
    let deleted = Arc::new(AtomicUsize::new(0));
    let _deleter = LockDeleter::start(h.path(&format!("{EQUIPMENT}.lock")), deleted.clone());
    for round in 0..ROUNDS / 3 {
        let writers: Vec<Child> = (0..WRITERS)
            .map(|i| {
                let input = equipment_input(&format!("r{round}w{i}"));
                spawn_cli(h.dir.path(), &["equipment", "write", EQUIPMENT], &input)
            })
            .collect();
        for out in writers.into_iter().map(success) {
            assert_eq!(out["first_seen_at"], first_seen_at, "round {round}");
        }
        assert_eq!(
            on_disk(h.dir.path(), EQUIPMENT)["first_seen_at"],
            first_seen_at
        );
    }
    assert_eq!(temp_files(h.dir.path()), Vec::<String>::new());
    println!(
        "{} rounds of {WRITERS} rewriters, {} lock deletions",
        ROUNDS / 3,
        deleted.load(Ordering::Relaxed)
    );
}

/// Plays a writer that gets in, through a deleted lock file, just before
/// our first commit: puts `contents` at the file the first `times` times.
/// With `churn`, the file is also gone again before each lock is taken.
struct GetsInFirst {
    root: PathBuf,
    contents: Vec<u8>,
    times: AtomicUsize,
    churn: bool,
}

impl GetsInFirst {
    fn new(root: &Path, contents: &[u8], times: usize, churn: bool) -> Arc<Self> {
        Arc::new(GetsInFirst {
            root: root.to_owned(),
            contents: contents.to_vec(),
            times: AtomicUsize::new(times),
            churn,
        })
    }
}

impl Faults for GetsInFirst {
    fn before(&self, step: WriteStep, path: &str) -> std::io::Result<()> {
        let file = self.root.join(path);
        let left = self.times.load(Ordering::SeqCst);
        match step {
            WriteStep::LockOpen if self.churn => {
                let _ = std::fs::remove_file(file);
            }
            WriteStep::Rename if left > 0 => {
                self.times.store(left - 1, Ordering::SeqCst);
                std::fs::write(file, &self.contents)?;
            }
            _ => {}
        }
        Ok(())
    }
}

fn cache_with(root: &Path, faults: Arc<GetsInFirst>, lock_timeout: Duration) -> Cache {
    let settings = Settings {
        clock: Arc::new(ManualClock::at(T0)),
        lock_timeout,
        ..Settings::default()
    };
    let root = Root::open(root).unwrap().with_faults(faults);
    Cache::new(root, Policy::builtin().unwrap(), settings)
}

#[test]
fn p1_a_first_write_whose_commit_lost_the_race_is_run_again_on_the_winners_file() {
    let dir = tempfile::tempdir().unwrap();
    let winner = br#"{"schema_version":"1.0","run_kind":"test","created_at":"2020-01-01T00:00:00Z","project":"W","equipment":"CONFOCAL_01"}"#;
    let faults = GetsInFirst::new(dir.path(), winner, 1, false);
    // Even with a zero lock timeout (one try), the re-run happens.
    let cache = cache_with(dir.path(), faults, Duration::ZERO);
    let out = cache
        .write_marker(
            exlab_cache::MarkerKind::TestRuns,
            TEST_RUNS,
            &marker_input("P1"),
        )
        .unwrap();
    assert!(!out.written);
    assert_eq!(std::fs::read(dir.path().join(TEST_RUNS)).unwrap(), winner);

    // Equipment: the re-run is a rewrite that keeps the winner's first_seen_at.
    let winner = br#"{"schema_version":"1.0","id":"CONFOCAL_01","label":"w","configured_local_root":"/a","configured_nas_root":"/b","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z"}"#;
    let faults = GetsInFirst::new(dir.path(), winner, 1, false);
    let cache = cache_with(dir.path(), faults, Duration::from_secs(5));
    let out = cache
        .write_equipment(EQUIPMENT, &equipment_input("ours"))
        .unwrap();
    assert_eq!(out.equipment.first_seen_at, "2020-01-01T00:00:00Z");
    assert_eq!(out.equipment.label, "ours");
    assert_eq!(
        on_disk(dir.path(), EQUIPMENT)["first_seen_at"],
        "2020-01-01T00:00:00Z"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

#[test]
fn p1_a_first_write_that_keeps_losing_gives_up_with_io_error_and_overwrites_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let faults = GetsInFirst::new(dir.path(), b"the winner", usize::MAX, true);
    let cache = cache_with(dir.path(), faults.clone(), Duration::from_secs(5));
    let e = cache
        .write_equipment(EQUIPMENT, &equipment_input("ours"))
        .unwrap_err();
    assert_eq!(e.code(), "io_error", "{e:?}");
    assert!(e.message().contains("nothing overwritten"), "{e:?}");
    // One try and eight re-runs, each finding the file created meanwhile.
    assert_eq!(usize::MAX - faults.times.load(Ordering::SeqCst), 9);
    assert_eq!(
        std::fs::read(dir.path().join(EQUIPMENT)).unwrap(),
        b"the winner"
    );
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

// --- filelock, the lab app's lock, in both directions ---------------------

/// App A holds the lock; when told, it releases it and app B, a second
/// writer of the app, takes it at once and holds it a while, noting the
/// file's bytes when it got the lock and just before it lets go.
const APP_A_THEN_B: &str = r#"
import sys, time, filelock
lock_path, data_path = sys.argv[1], sys.argv[2]
def data():
    try:
        return open(data_path, "rb").read().hex()
    except FileNotFoundError:
        return "missing"
a = filelock.FileLock(lock_path)
a.acquire()
print("held", flush=True)
sys.stdin.readline()
a.release()
b = filelock.FileLock(lock_path)
b.acquire(timeout=10)
got = data()
time.sleep(0.5)
print(got, data(), flush=True)
b.release()
"#;

/// Tries the lock with a timeout; on success prints the file's bytes.
const APP_TRY: &str = r#"
import sys, filelock
lock_path, data_path, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
try:
    with filelock.FileLock(lock_path, timeout=timeout):
        print("got", open(data_path, "rb").read().hex(), flush=True)
except filelock.Timeout:
    print("busy", flush=True)
"#;

#[test]
fn p1_the_cli_never_writes_while_a_second_filelock_writer_holds_the_lock() {
    for version in FILELOCK_VERSIONS {
        let python_bin = match filelock_python(version) {
            Ok(python) => python,
            Err(why) => {
                println!("SKIPPED filelock {version}: {why}");
                continue;
            }
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let run = cli(
            &root,
            &["equipment", "write", EQUIPMENT],
            &equipment_input("before"),
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        let data = root.join(EQUIPMENT);
        let lock = root.join(format!("{EQUIPMENT}.lock"));

        let (mut app, mut app_out) = python(&python_bin, APP_A_THEN_B, &[&lock, &data]);
        assert_eq!(line(&mut app_out), "held");
        let writer = spawn_cli(
            &root,
            &["--lock-timeout", "20", "equipment", "write", EQUIPMENT],
            &equipment_input("cli"),
        );
        // Release A only once the CLI has the lock file open and waits.
        let waiting = Instant::now();
        while !has_open(writer.id(), &lock) {
            assert!(
                waiting.elapsed() < Duration::from_secs(10),
                "the CLI never opened the lock"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        app.stdin.take().unwrap().write_all(b"\n").unwrap();
        let seen = line(&mut app_out);
        let (got, before_release) = seen.split_once(' ').unwrap();
        assert_eq!(
            got, before_release,
            "filelock {version}: the CLI wrote while app B held the lock"
        );
        assert!(app.wait().unwrap().success());
        let written = success(writer);
        assert_eq!(written["label"], "cli");
        assert_eq!(
            on_disk(&root, EQUIPMENT)["label"],
            "cli",
            "filelock {version}"
        );
        println!("filelock {version}: the CLI waited for app B, then wrote");
    }
}

/// A clock that, once armed, stops the policy inside a write (after the
/// lock, before the replace) until released: the library holds its lock.
#[derive(Default)]
struct HoldingClock {
    state: Mutex<(bool, bool)>, // (armed, inside)
    changed: Condvar,
}

impl HoldingClock {
    fn arm(&self) {
        self.state.lock().unwrap().0 = true;
    }
    fn wait_inside(&self) {
        let state = self.state.lock().unwrap();
        drop(self.changed.wait_while(state, |s| !s.1).unwrap());
    }
    fn release(&self) {
        *self.state.lock().unwrap() = (false, false);
        self.changed.notify_all();
    }
}

impl Clock for HoldingClock {
    fn now(&self) -> SystemTime {
        let mut state = self.state.lock().unwrap();
        if state.0 {
            state.1 = true;
            self.changed.notify_all();
            drop(self.changed.wait_while(state, |s| s.0).unwrap());
        }
        SystemTime::UNIX_EPOCH + Duration::from_secs(T0 as u64)
    }
}

#[test]
fn p1_a_filelock_acquirer_never_gets_the_lock_while_the_library_holds_it() {
    for version in FILELOCK_VERSIONS {
        let python_bin = match filelock_python(version) {
            Ok(python) => python,
            Err(why) => {
                println!("SKIPPED filelock {version}: {why}");
                continue;
            }
        };
        let clock = Arc::new(HoldingClock::default());
        let h = Harness::with(Policy::builtin().unwrap(), |s| {
            s.clock = clock.clone();
            // The guest is held inside a call: no time limit in the way.
            s.time_limit = Duration::from_secs(60);
        });
        let root = h.dir.path().canonicalize().unwrap();
        h.cache
            .write_equipment(EQUIPMENT, &equipment_input("before"))
            .unwrap();
        let (data, lock) = (root.join(EQUIPMENT), root.join(format!("{EQUIPMENT}.lock")));

        clock.arm();
        std::thread::scope(|s| {
            let writer = s.spawn(|| h.cache.write_equipment(EQUIPMENT, &equipment_input("ours")));
            clock.wait_inside();
            let (quick, mut quick_out) =
                python(&python_bin, APP_TRY, &[&lock, &data, Path::new("0.3")]);
            assert_eq!(line(&mut quick_out), "busy", "filelock {version}");
            drop(quick);
            let (mut waiter, mut waiter_out) =
                python(&python_bin, APP_TRY, &[&lock, &data, Path::new("20")]);
            std::thread::sleep(Duration::from_millis(300));
            assert!(
                waiter.try_wait().unwrap().is_none(),
                "filelock {version}: the app got our lock"
            );
            clock.release();
            let written = writer.join().unwrap().unwrap();
            // The app got the lock only after our write was complete.
            let seen = line(&mut waiter_out);
            assert_eq!(
                seen,
                format!("got {}", hex(written.document.as_bytes())),
                "filelock {version}"
            );
            assert!(waiter.wait().unwrap().success());
        });
        println!("filelock {version}: the app waited for the library's lock");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// --- point 5: the sweep removes only its own orphans ----------------------

#[test]
fn p5_a_writer_of_a_neighbour_file_never_fails_while_equipment_json_is_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let neighbour = format!("{EQUIPMENT}.bak");
    let operator_copy = format!("{EQUIPMENT}.before-edit.tmp");
    std::fs::create_dir_all(dir.path().join(EQUIPMENT).parent().unwrap()).unwrap();
    std::fs::write(dir.path().join(&operator_copy), b"the operator's copy").unwrap();
    const WRITES: usize = 40;
    let failed_writes = |path: &str| {
        (0..WRITES)
            .filter(|i| {
                let input = equipment_input(&format!("{i}"));
                cli(dir.path(), &["equipment", "write", path], &input).status != 0
            })
            .count()
    };
    let failures = std::thread::scope(|s| {
        let a = s.spawn(|| failed_writes(EQUIPMENT));
        let b = s.spawn(|| failed_writes(&neighbour));
        let c = s.spawn(|| failed_writes(EQUIPMENT));
        (a.join().unwrap(), b.join().unwrap(), c.join().unwrap())
    });
    assert_eq!(
        failures,
        (0, 0, 0),
        "failed writes (equipment.json, .bak, equipment.json)"
    );
    assert_eq!(
        std::fs::read(dir.path().join(&operator_copy)).unwrap(),
        b"the operator's copy"
    );
    assert_eq!(temp_files(dir.path()), [operator_copy]);
    println!(
        "{WRITES} writes of {neighbour} beside {} of equipment.json: none failed",
        2 * WRITES
    );
}

#[test]
fn p5_orphans_of_both_writers_go_and_an_in_flight_temp_file_stays() {
    let h = Harness::new();
    let folder = h.path(EQUIPMENT).parent().unwrap().to_owned();
    std::fs::create_dir_all(&folder).unwrap();
    let two_minutes_ago = SystemTime::now() - Duration::from_secs(120);
    let put = |name: &str| {
        let file = std::fs::File::create(folder.join(name)).unwrap();
        file.set_modified(two_minutes_ago).unwrap();
        file
    };
    // Orphans: one of ours, one of the Python original's (tempfile.mkstemp).
    put("equipment.json.00c0ffee00c0ffee.tmp");
    put("equipment.json.k3_9zq0a.tmp");
    // In flight: a writer of ours holds its temp file's flock.
    let in_flight = put("equipment.json.0123456789abcdef.tmp");
    fs4::FileExt::lock(&in_flight).unwrap();
    // Not ours: an operator's file and a neighbour's temp files.
    for name in [
        "equipment.json.before-edit.tmp",
        "equipment.json.bak.00c0ffee00c0ffee.tmp",
        "equipment.json.bak.k3_9zq0a.tmp",
    ] {
        put(name);
    }
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("x"))
        .unwrap();
    let left: Vec<String> = temp_files(h.dir.path())
        .into_iter()
        .map(|p| p.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        left,
        [
            "equipment.json.0123456789abcdef.tmp",
            "equipment.json.bak.00c0ffee00c0ffee.tmp",
            "equipment.json.bak.k3_9zq0a.tmp",
            "equipment.json.before-edit.tmp",
        ]
    );
}

// --- point 8: permissions kept -------------------------------------------

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn p8_chmod_600_survives_a_rewrite_by_the_library_and_the_cli() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("first"))
        .unwrap();
    let file = h.path(EQUIPMENT);
    let default = mode(&file);
    assert_ne!(default, 0o600, "a first write takes the default mode");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("library"))
        .unwrap();
    assert_eq!(mode(&file), 0o600);
    let run = cli(
        h.dir.path(),
        &["equipment", "write", EQUIPMENT],
        &equipment_input("cli"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(mode(&file), 0o600);
    assert_eq!(on_disk(h.dir.path(), EQUIPMENT)["label"], "cli");
    // A marker's first write: the default again.
    let run = cli(
        h.dir.path(),
        &["test-runs", "write", TEST_RUNS],
        &marker_input("P1"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(mode(&h.path(TEST_RUNS)), default);
}

// --- the backstop for point 4 ----------------------------------------------

#[test]
fn backstop_the_host_never_writes_a_document_past_the_read_limit() {
    let h = Harness::with(Policy::builtin().unwrap(), |s| s.max_file_size = 300);
    let fits = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("short"))
        .unwrap();
    let before = h.get(EQUIPMENT);
    assert_eq!(before, fits.document.as_bytes());
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&"x".repeat(300)))
        .unwrap_err();
    assert_eq!(e.code(), "validation_error", "{e:?}");
    assert_eq!(e.field(), None);
    assert!(
        e.message().contains("larger than the 300-byte read limit"),
        "{e:?}"
    );
    assert_eq!(h.get(EQUIPMENT), before, "nothing written");
    assert_eq!(temp_files(h.dir.path()), Vec::<String>::new());
    // A first write past the limit leaves no file at all.
    let e = h
        .cache
        .write_marker(
            exlab_cache::MarkerKind::Runs,
            RUNS,
            &marker_input(&"p".repeat(300)),
        )
        .unwrap_err();
    assert_eq!(e.code(), "validation_error", "{e:?}");
    assert!(!h.path(RUNS).exists());
    h.cache.read_equipment(EQUIPMENT).unwrap();
}
