//! `just bench`: the library, the CLI and a native floor measured in one
//! run, beside the Python original. Prints a table of medians and ratios
//! (ours / floor, Python / ours), checks the targets of issues 5, 12, 13
//! and 14, and writes the table into BENCHMARKS.md between its
//! `bench:begin` / `bench:end` markers.
//!
//! Ours and the floor run interleaved in small blocks, so that the load of a
//! shared machine falls on both alike; quote the ratios, not the absolute
//! numbers. Files live under cargo's target tmp folder (the project's disk),
//! but for the tmpfs rows. `BENCH_SCALE=0.3` runs fewer samples;
//! `BENCH_PYTHON` names the Python to measure (default: `.venv/bin/python`,
//! then `python3`; `none`: no Python column); `EXLAB_UPSTREAM` (the lab app's `src/`) and
//! `EXLAB_UPSTREAM_PYTHON` give the cache family's app columns.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exlab_cache::{Cache, MarkerKind, Policy, Root, Settings, BUILTIN_POLICY};

const CLI: &str = env!("CARGO_BIN_EXE_exlab-cache");
const WORKSPACE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const EQUIPMENT: &str = "CONFOCAL_01/.exlab-wizard/equipment.json";
const MARKER: &str = "CONFOCAL_01/P/TestRuns/.exlab-wizard/test_runs.json";
const MARKER_INPUT: &str = r#"{"project":"P","equipment":"CONFOCAL_01"}"#;

fn equipment_input(label: &str) -> String {
    format!(
        r#"{{"id":"CONFOCAL_01","label":"{label}","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab"}}"#
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--serve8") {
        return serve8(Path::new(&args[at + 1]));
    }
    if args.iter().any(|a| a == "--tmpfs-only") {
        return only(false);
    }
    if args.iter().any(|a| a == "--family-only") {
        return only(true);
    }
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        return profile(&args[at + 1..]);
    }
    // `cargo bench -- <filter>` and `cargo test --benches` pass arguments we ignore.
    if args.iter().any(|a| a == "--list") {
        println!("exlab: bench");
        return;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("exlab bench: run it with `cargo bench` or `just bench`");
        return;
    }
    run();
}

/// Samples per measurement, scaled by `BENCH_SCALE`.
fn n(base: usize) -> usize {
    let scale: f64 = std::env::var("BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    ((base as f64 * scale) as usize).max(5)
}

fn median(mut v: Vec<f64>) -> f64 {
    assert!(!v.is_empty());
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `--profile` only (`EXLAB_PROFILE_GAP_US`): how long to idle, untimed,
/// before each timed call, as a call that follows an fsync's wait does.
static PROFILE_GAP: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

fn idle_before_call() {
    if let Some(gap) = PROFILE_GAP.get() {
        std::thread::sleep(*gap);
    }
}

/// `n` timed runs each of `a` and `b` (and of the Python original's same
/// operation, when there is one), alternating in blocks of `block`; the
/// medians in microseconds. `i` counts each side's runs.
fn interleaved(
    n: usize,
    block: usize,
    mut a: impl FnMut(usize),
    mut b: impl FnMut(usize),
    mut py: Option<(&mut PyDriver, &str)>,
) -> (f64, f64, Option<f64>) {
    let (mut sa, mut sb, mut sp) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::new());
    // The order rotates every round: no side always follows the same other
    // (an fsync right after another's journal commit is cheaper or dearer).
    let mut round = 0;
    while sa.len() < n {
        let k = block.min(n - sa.len());
        for step in 0..3 {
            match (round + step) % 3 {
                0 => {
                    for _ in 0..k {
                        let i = sa.len();
                        idle_before_call();
                        let t = Instant::now();
                        a(i);
                        sa.push(micros(t.elapsed()));
                    }
                }
                1 => {
                    for _ in 0..k {
                        let i = sb.len();
                        idle_before_call();
                        let t = Instant::now();
                        b(i);
                        sb.push(micros(t.elapsed()));
                    }
                }
                _ => {
                    if let Some((driver, op)) = py.as_mut() {
                        sp.extend(driver.run(op, k));
                    }
                }
            }
        }
        round += 1;
    }
    let py = (!sp.is_empty()).then(|| median(sp));
    (median(sa), median(sb), py)
}

fn timed(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let samples = (0..n)
        .map(|i| {
            let t = Instant::now();
            f(i);
            micros(t.elapsed())
        })
        .collect();
    median(samples)
}

// ---------------------------------------------------------------- the floor

/// The same syscalls as ours, natively: no wasm, no policy, no JSON.
mod floor {
    use super::*;

    pub fn lock(path: &Path) -> File {
        let mut name = path.as_os_str().to_owned();
        name.push(".lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(PathBuf::from(name))
            .unwrap();
        // SAFETY: a valid open descriptor.
        assert_eq!(unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) }, 0);
        file
    }

    /// open, read, read (the end), close: what `read(2)` of a small file costs.
    pub fn read(path: &Path) -> Option<Vec<u8>> {
        let mut file = File::open(path).ok()?;
        // By hand: std's `read_to_end` on a `File` adds an fstat and an lseek.
        let mut bytes = vec![0; 4096];
        let mut len = 0;
        loop {
            match file.read(&mut bytes[len..]).unwrap() {
                0 => break,
                n => len += n,
            }
            if len == bytes.len() {
                bytes.resize(len * 2, 0);
            }
        }
        bytes.truncate(len);
        Some(bytes)
    }

    /// Temp file, write, fsync, rename, fsync of the folder.
    pub fn replace(path: &Path, bytes: &[u8]) {
        let mut temp = path.as_os_str().to_owned();
        temp.push(format!(".{:016x}.tmp", fastrand::u64(..)));
        let temp = PathBuf::from(temp);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .unwrap();
        file.write_all(bytes).unwrap();
        file.sync_all().unwrap();
        drop(file);
        fs::rename(&temp, path).unwrap();
        File::open(path.parent().unwrap())
            .unwrap()
            .sync_all()
            .unwrap();
    }

    /// A rewrite: lock, read the old record, durable replace, unlock.
    pub fn rewrite(path: &Path, record: &[u8]) {
        let lock = lock(path);
        std::hint::black_box(read(path));
        replace(path, record);
        drop(lock);
    }

    /// A log line: open with O_APPEND (creating), one write, close.
    pub fn append(path: &Path, line: &[u8]) {
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        assert_eq!(file.write(line).unwrap(), line.len());
    }

    /// A write-once marker: folders, lock, look, write when absent.
    pub fn marker(path: &Path, record: &[u8]) -> bool {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let lock = lock(path);
        let existing = read(path);
        let written = existing.is_none();
        if written {
            replace(path, record);
        }
        drop(lock);
        written
    }
}

// ------------------------------------------------------------- processes

/// Peak RSS (KiB) of the process `cmd` would start, measured by
/// `/usr/bin/time` (a fresh fork: a child spawned straight from this big
/// process would report this process's RSS, which Linux carries over exec).
fn peak_rss(cmd: &Command, stdin: &[u8]) -> Option<i64> {
    let out = std::env::temp_dir().join(format!("exlab-bench-rss-{}", std::process::id()));
    let mut time = Command::new("/usr/bin/time");
    time.args(["-f", "%M", "-o"])
        .arg(&out)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (key, value) in cmd.get_envs() {
        match value {
            Some(value) => time.env(key, value),
            None => time.env_remove(key),
        };
    }
    let (_, _, ok) = process(&mut time, stdin);
    let kib = fs::read_to_string(&out).ok()?.trim().parse().ok();
    let _ = fs::remove_file(&out);
    kib.filter(|_| ok)
}

/// Wall time (µs) of one process, reaped with wait4, and whether it succeeded.
/// (Its `ru_maxrss` is not used: see [`peak_rss`].)
// Reaped by `wait4` below (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn process(cmd: &mut Command, stdin: &[u8]) -> (f64, i64, bool) {
    let t = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin).unwrap();
    drop(input);
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the child is ours and not yet reaped.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    let wall = micros(t.elapsed());
    assert_eq!(pid, child.id() as i32);
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    (wall, usage.ru_maxrss, ok)
}

fn python() -> Option<PathBuf> {
    // `BENCH_PYTHON=none`: no Python column (ours and the floor alone).
    if std::env::var_os("BENCH_PYTHON").is_some_and(|p| p == "none") {
        return None;
    }
    let candidates = [
        std::env::var_os("BENCH_PYTHON").map(PathBuf::from),
        Some(Path::new(WORKSPACE).join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import msgspec, filelock"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

const PY_READ: &str = r#"
import sys, asyncio
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import msgspec
from exlab_wizard.cache.equipment import EquipmentCacheWriter
r = asyncio.run(EquipmentCacheWriter().read_equipment(Path(sys.argv[2])))
sys.stdout.buffer.write(msgspec.json.encode(r))
"#;

const PY_WRITE: &str = r#"
import sys, asyncio
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import msgspec
from exlab_wizard.api.schemas import EquipmentJson
from exlab_wizard.cache.equipment import EquipmentCacheWriter
d = msgspec.json.decode(sys.stdin.buffer.read())
p = Path(sys.argv[2])
e = EquipmentJson("1.0", d["id"], d["label"], d["configured_local_root"], d["configured_nas_root"], "", "")
asyncio.run(EquipmentCacheWriter().write_equipment(p, e))
sys.stdout.buffer.write(p.read_bytes())
"#;

/// The Python original, driven op by op so that its samples interleave with
/// ours: it times each operation itself, exactly as its bench.py does
/// (`await` of the writer's coroutine on one event loop).
struct PyDriver {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

const PY_DRIVER: &str = r#"
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
from exlab_wizard.api.schemas import EquipmentJson, TestRunsJson
from exlab_wizard.cache.equipment import EquipmentCacheWriter
root = Path(sys.argv[2])
w = EquipmentCacheWriter()
p = root / "CONFOCAL_01" / ".exlab-wizard" / "equipment.json"
m = root / "CONFOCAL_01" / "P" / "TestRuns" / ".exlab-wizard" / "test_runs.json"
def eq(label):
    return EquipmentJson("1.0", "CONFOCAL_01", label, "/data/lab", "//nas01/lab", "", "")
ops = {
    "rewrite": lambda i: w.write_equipment(p, eq(f"L{i}")),
    "read": lambda i: w.read_equipment(p),
    "noop": lambda i: w.write_test_runs_marker(m, TestRunsJson("1.0", "x", "P", "E")),
    "first": lambda i: w.write_test_runs_marker(root / "fresh" / str(i) / "test_runs.json", TestRunsJson("1.0", "x", "P", "E")),
}
count = dict.fromkeys(ops, 0)
async def batch(op, k):
    out = []
    for _ in range(k):
        i = count[op]
        count[op] += 1
        t = time.perf_counter()
        await ops[op](i)
        out.append((time.perf_counter() - t) * 1e6)
    return out
loop = asyncio.new_event_loop()
loop.run_until_complete(w.write_equipment(p, eq("L")))
loop.run_until_complete(w.write_test_runs_marker(m, TestRunsJson("1.0", "2026-04-17T14:00:00Z", "P", "CONFOCAL_01")))
print("ready", flush=True)
for line in sys.stdin:
    op, k = line.split()
    print(" ".join(f"{x:.3f}" for x in loop.run_until_complete(batch(op, int(k)))), flush=True)
"#;

impl PyDriver {
    fn start(python: &Path, original: &Path, dir: &Path) -> PyDriver {
        fs::create_dir_all(dir).unwrap();
        PyDriver::start_script(python, PY_DRIVER, &[original.as_os_str(), dir.as_os_str()])
    }

    /// Runs `script` with `args`; it answers "ready", then batches.
    fn start_script(python: &Path, script: &str, args: &[&OsStr]) -> PyDriver {
        use std::io::BufRead;
        let mut child = Command::new(python)
            .args(["-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the Python driver did not start");
        PyDriver {
            child,
            stdin,
            stdout,
        }
    }

    /// Runs `k` operations `op`; their times in microseconds.
    fn run(&mut self, op: &str, k: usize) -> Vec<f64> {
        use std::io::BufRead;
        writeln!(self.stdin, "{op} {k}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let samples: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap())
            .collect();
        assert_eq!(samples.len(), k, "the Python driver failed on {op}");
        samples
    }
}

impl Drop for PyDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------ report

#[derive(Default)]
struct Row {
    name: String,
    ours: Option<f64>,
    floor: Option<f64>,
    python: Option<f64>,
    unit: &'static str,
}

impl Row {
    fn new(name: &str, unit: &'static str) -> Row {
        Row {
            name: name.into(),
            unit,
            ..Row::default()
        }
    }
}

fn fmt(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
        None => "-".into(),
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

struct Target {
    what: &'static str,
    met: Option<bool>,
    measured: String,
}

// -------------------------------------------------------------------- run

fn run() {
    let started = Instant::now();
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench");
    let _ = fs::remove_dir_all(&base);
    fs::create_dir_all(&base).unwrap();
    let load_before = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    eprintln!("exlab bench: files under {}", base.display());

    let mut rows: Vec<Row> = Vec::new();
    let mut notes: Vec<String> = Vec::new();

    // The library, with the built-in policy and the system clock.
    let lib_dir = base.join("lib");
    let floor_dir = base.join("floor");
    fs::create_dir_all(&lib_dir).unwrap();
    fs::create_dir_all(floor_dir.join("CONFOCAL_01/.exlab-wizard")).unwrap();
    let t = Instant::now();
    let policy = Policy::builtin().unwrap();
    notes.push(format!(
        "Policy::builtin() in this process (compiled code from the on-disk cache when present): {:.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    ));
    let (cache, record, floor_eq) = seed_rewrite(&lib_dir, &floor_dir, &policy);
    cache
        .write_marker(MarkerKind::TestRuns, MARKER, MARKER_INPUT)
        .unwrap();
    let floor_marker = floor_dir.join(MARKER);
    floor::marker(&floor_marker, &record);

    let python = python();
    let py_original = anchors().join("py-original");
    let mut driver = python
        .as_ref()
        .map(|python| PyDriver::start(python, &py_original, &base.join("python-driver")));
    let inputs: Vec<String> = (0..8).map(|i| equipment_input(&format!("L{i}"))).collect();
    eprintln!("exlab bench: equipment rewrite");
    let mut row = Row::new("equipment rewrite (durable)", "us");
    // Fsync-bound: alternate one by one, so that each side sees the same
    // journal and disk state.
    let (ours, fl, py) = interleaved(
        n(400),
        1,
        |i| {
            cache.write_equipment(EQUIPMENT, &inputs[i % 8]).unwrap();
        },
        |_| floor::rewrite(&floor_eq, &record),
        driver.as_mut().map(|d| (d, "rewrite")),
    );
    (row.ours, row.floor, row.python) = (Some(ours), Some(fl), py);
    rows.push(row);

    eprintln!("exlab bench: equipment read");
    let mut row = Row::new("equipment read", "us");
    let (ours, fl, py) = interleaved(
        n(5000),
        50,
        |_| {
            std::hint::black_box(cache.read_equipment(EQUIPMENT).unwrap());
        },
        |_| {
            std::hint::black_box(floor::read(&floor_eq).unwrap());
        },
        driver.as_mut().map(|d| (d, "read")),
    );
    (row.ours, row.floor, row.python) = (Some(ours), Some(fl), py);
    rows.push(row);

    eprintln!("exlab bench: marker no-op");
    let mut row = Row::new("marker no-op (file exists)", "us");
    let (ours, fl, py) = interleaved(
        n(3000),
        50,
        |_| {
            let w = cache
                .write_marker(MarkerKind::TestRuns, MARKER, MARKER_INPUT)
                .unwrap();
            assert!(!w.written);
        },
        |_| assert!(!floor::marker(&floor_marker, &record)),
        driver.as_mut().map(|d| (d, "noop")),
    );
    (row.ours, row.floor, row.python) = (Some(ours), Some(fl), py);
    rows.push(row);

    eprintln!("exlab bench: first marker write");
    let mut row = Row::new("first marker write", "us");
    let (ours, fl, py) = interleaved(
        n(400),
        1,
        |i| {
            let path = format!("fresh/{i}/test_runs.json");
            let w = cache
                .write_marker(MarkerKind::TestRuns, &path, MARKER_INPUT)
                .unwrap();
            assert!(w.written);
        },
        |i| {
            let path = floor_dir.join(format!("fresh/{i}/test_runs.json"));
            assert!(floor::marker(&path, &record));
        },
        driver.as_mut().map(|d| (d, "first")),
    );
    (row.ours, row.floor, row.python) = (Some(ours), Some(fl), py);
    drop(driver);
    rows.push(row);

    let mut extra_targets = Vec::new();
    tmpfs_rows(&policy, &mut rows, &mut extra_targets, &mut notes);
    family_rows(&base, &policy, &mut rows, &mut extra_targets, &mut notes);

    eprintln!("exlab bench: guest calls");
    let settings = Arc::new(Settings::default());
    let noop = |_| {
        policy
            .require_schema_major(Some("1.0"), 1, &settings)
            .unwrap()
    };
    let mut row = Row::new("no-op guest call, reused instance", "us");
    row.ours = Some(timed(n(5000), noop));
    rows.push(row);
    Policy::set_instance_reuse(false);
    let mut row = Row::new(
        "no-op guest call, fresh instance (instantiate + call)",
        "us",
    );
    row.ours = Some(timed(n(2000), noop));
    rows.push(row);
    let mut row = Row::new("equipment read, fresh instance per call", "us");
    row.ours = Some(timed(n(2000), |_| {
        std::hint::black_box(cache.read_equipment(EQUIPMENT).unwrap());
    }));
    rows.push(row);
    Policy::set_instance_reuse(true);
    let compile = timed(3, |_| {
        std::hint::black_box(Policy::from_bytes(BUILTIN_POLICY).unwrap());
    });
    notes.push(format!(
        "Policy::from_bytes (compile + link + info call), median of 3: {:.1} ms",
        compile / 1e3
    ));

    // The Python original's own benchmark, as shipped, on the same disk (not
    // interleaved: for reference beside the interleaved column above).
    let mut py_concurrent8 = None;
    match &python {
        None => notes.push(
            "Python original SKIPPED: no python with msgspec and filelock \
             (`.venv/bin/pip install msgspec filelock`)"
                .into(),
        ),
        Some(python) => {
            eprintln!("exlab bench: the Python original's bench.py");
            let py_dir = base.join("python");
            fs::create_dir_all(&py_dir).unwrap();
            let out = Command::new(python)
                .arg(py_original.join("bench.py"))
                .arg(n(300).to_string())
                .env("BENCH_DIR", &py_dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let out = String::from_utf8(out.stdout).unwrap();
            py_concurrent8 = out.lines().find_map(|l| {
                l.strip_prefix("equipment.concurrent8_ops_per_s ")?
                    .trim()
                    .parse::<f64>()
                    .ok()
            });
            notes.push(format!(
                "anchors/py-original/bench.py {} (run on its own, after the interleaved rows): {}",
                n(300),
                out.lines().collect::<Vec<_>>().join(", ")
            ));
        }
    }

    // The CLI as a whole process, against python3 importing the original.
    eprintln!("exlab bench: processes");
    let cli_dir = base.join("cli");
    fs::create_dir_all(&cli_dir).unwrap();
    let cli_eq = cli_dir.join(EQUIPMENT);
    let cli = |args: &[&OsStr]| {
        let mut c = Command::new(CLI);
        c.arg("--root").arg(&cli_dir).args(args);
        c
    };
    let write_args = [
        OsStr::new("equipment"),
        OsStr::new("write"),
        OsStr::new(EQUIPMENT),
    ];
    let read_args = [
        OsStr::new("equipment"),
        OsStr::new("read"),
        OsStr::new(EQUIPMENT),
    ];
    let input = equipment_input("CLI");
    // A cold start: an empty cache folder, so the process compiles.
    let cold_cache = base.join("cold-xdg-cache");
    let (cold, _, ok) = process(
        cli(&write_args).env("XDG_CACHE_HOME", &cold_cache),
        input.as_bytes(),
    );
    assert!(ok, "the CLI write failed");
    let _ = fs::remove_dir_all(&cold_cache);
    let cold_rss = peak_rss(
        cli(&write_args).env("XDG_CACHE_HOME", &cold_cache),
        input.as_bytes(),
    );
    notes.push(format!(
        "CLI `equipment write`, first run with an empty compiled-code cache (compiles): {:.1} ms, peak RSS {} MB",
        cold / 1e3,
        fmt(cold_rss.map(|k| k as f64 / 1024.0))
    ));
    // Warm the user's cache as a normal first run would.
    assert!(process(&mut cli(&write_args), input.as_bytes()).2);

    let mut rss_ours = Vec::new();
    let mut rss_py = Vec::new();
    let py_cmd = |script: &str| {
        let mut c = Command::new(python.as_ref().unwrap());
        c.args(["-c", script]).arg(&py_original).arg(&cli_eq);
        c
    };
    let pn = n(40);
    for (label, args, script, stdin) in [
        (
            "CLI `equipment read`, one process",
            &read_args,
            PY_READ,
            &b""[..],
        ),
        (
            "CLI `equipment write`, one process",
            &write_args,
            PY_WRITE,
            input.as_bytes(),
        ),
    ] {
        let mut ours = Vec::new();
        let mut py = Vec::new();
        for _ in 0..pn {
            let (wall, _, ok) = process(&mut cli(args), stdin);
            assert!(ok, "{label}: the CLI failed");
            ours.push(wall);
            if python.is_some() {
                let (wall, _, ok) = process(&mut py_cmd(script), stdin);
                assert!(ok, "{label}: python failed");
                py.push(wall);
            }
        }
        for _ in 0..3 {
            rss_ours.extend(peak_rss(&cli(args), stdin));
            if python.is_some() {
                rss_py.extend(peak_rss(&py_cmd(script), stdin));
            }
        }
        let mut row = Row::new(label, "us");
        row.ours = Some(median(ours));
        row.python = (!py.is_empty()).then(|| median(py));
        rows.push(row);
    }
    cli_vs_cat(&cli_dir, &mut rows, &mut extra_targets);

    // Throughput: threads writing to one file, and to one file each.
    eprintln!("exlab bench: throughput");
    let thr_dir = base.join("threads");
    fs::create_dir_all(&thr_dir).unwrap();
    let thr_cache = Cache::new(
        Root::open(&thr_dir).unwrap(),
        policy.clone(),
        Settings::default(),
    );
    // Rounds, each running every configuration briefly, so that a slow spell
    // of the shared disk falls on all of them alike.
    let rounds = 5;
    let window = Duration::from_secs_f64(0.3 * n(100) as f64 / 100.0);
    let configs: Vec<(bool, usize)> = [false, true]
        .into_iter()
        .flat_map(|d| [1, 2, 4, 8].map(|t| (d, t)))
        .collect();
    let mut totals = vec![(0u64, 0f64); configs.len()];
    for round in 0..rounds {
        for (c, &(distinct, threads)) in configs.iter().enumerate() {
            let ops = Arc::new(AtomicU64::new(0));
            let t = Instant::now();
            std::thread::scope(|s| {
                for k in 0..threads {
                    let (cache, ops) = (&thr_cache, ops.clone());
                    s.spawn(move || {
                        let path = match distinct {
                            true => format!("D{k}/.exlab-wizard/equipment.json"),
                            false => EQUIPMENT.to_owned(),
                        };
                        let input = equipment_input(&format!("T{k}"));
                        while t.elapsed() < window {
                            cache.write_equipment(&path, &input).unwrap();
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            });
            // The first round creates the files; it only warms up.
            if round > 0 {
                totals[c].0 += ops.load(Ordering::Relaxed);
                totals[c].1 += t.elapsed().as_secs_f64();
            }
        }
    }
    let throughput: Vec<(bool, usize, f64)> = configs
        .iter()
        .zip(&totals)
        .map(|(&(d, t), &(ops, secs))| (d, t, ops as f64 / secs))
        .collect();
    for distinct in [false, true] {
        let mut row = Row::new(
            match distinct {
                false => "writes/s, 8 threads, one file",
                true => "writes/s, 8 threads, distinct files",
            },
            "ops/s",
        );
        row.ours = throughput
            .iter()
            .find(|(d, t, _)| *d == distinct && *t == 8)
            .map(|r| r.2);
        if !distinct {
            row.python = py_concurrent8;
        }
        rows.push(row);
    }

    // Peak memory: the CLI (above) and a host serving 8 threads.
    eprintln!("exlab bench: a host serving 8 threads");
    let serve_dir = base.join("serve8");
    fs::create_dir_all(&serve_dir).unwrap();
    let served = Command::new(std::env::current_exe().unwrap())
        .arg("--serve8")
        .arg(&serve_dir)
        .output()
        .unwrap();
    assert!(served.status.success(), "the 8-thread host failed");
    // VmHWM of the child's own address space, printed by itself.
    let serve_rss: Option<i64> = String::from_utf8_lossy(&served.stdout).trim().parse().ok();
    let mb = |kib: i64| kib as f64 / 1024.0;
    let cli_rss = rss_ours.iter().copied().max();
    let mut row = Row::new("peak RSS, CLI process (max over runs)", "MB");
    row.ours = cli_rss.map(mb);
    row.python = rss_py.iter().copied().max().map(mb);
    rows.push(row);
    let mut row = Row::new("peak RSS, host serving 8 threads", "MB");
    row.ours = serve_rss.map(mb);
    rows.push(row);

    // The shared C floor, for reference (same disk).
    if let Some(lines) = floor_c(&base.join("floor-c")) {
        notes.push(format!(
            "floor.c (anchors/floor, gcc -O2, same disk, not interleaved): {}",
            lines.join(", ")
        ));
    }

    // The swap timed as a whole (issue 14): read, verify, compile, gate and
    // switch, against compiling alone, with 8 threads calling throughout.
    eprintln!("exlab bench: policy swaps under load");
    let (swap, compile, swap_failed, swap_note) = swap_under_load(&base.join("swap"), &policy);
    notes.push(swap_note);
    let mut row = Row::new(
        "policy swap, whole (floor: compiling alone), 8 threads calling",
        "ms",
    );
    row.ours = Some(swap);
    row.floor = Some(compile);
    rows.push(row);
    let mut row = Row::new("failed calls during the swaps, 8 threads", "calls");
    row.ours = Some(swap_failed as f64);
    rows.push(row);

    // ---------------------------------------------------------- the verdict
    let get = |name: &str| rows.iter().find(|r| r.name == name).unwrap();
    let rewrite = get("equipment rewrite (durable)");
    let read = get("equipment read");
    let noop = get("marker no-op (file exists)");
    let cli_read = get("CLI `equipment read`, one process");
    let one = throughput.iter().find(|r| r.0 && r.1 == 1).unwrap().2;
    let eight = throughput.iter().find(|r| r.0 && r.1 == 8).unwrap().2;
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let mut targets = vec![
        {
            let r = div(rewrite.ours, rewrite.floor).unwrap();
            Target {
                what: "durable rewrite <= 1.15x the native floor",
                met: Some(r <= 1.15),
                measured: format!("{r:.3}x"),
            }
        },
        {
            let over = read.ours.unwrap() - read.floor.unwrap();
            Target {
                what: "read <= native read floor + 8 us",
                met: Some(over <= 8.0),
                measured: format!("+{over:.1} us"),
            }
        },
        {
            let r = div(read.python, read.ours);
            Target {
                what: "read >= 10x faster than the Python original",
                met: r.map(|r| r >= 10.0),
                measured: r.map_or("Python skipped".into(), |r| format!("{r:.1}x")),
            }
        },
        {
            let r = div(noop.python, noop.ours);
            Target {
                what: "marker no-op >= 20x faster than the Python original",
                met: r.map(|r| r >= 20.0),
                measured: r.map_or("Python skipped".into(), |r| format!("{r:.1}x")),
            }
        },
        {
            let r = div(cli_read.python, cli_read.ours);
            Target {
                what: "CLI `equipment read` process >= 10x faster than Python's",
                met: r.map(|r| r >= 10.0),
                measured: r.map_or("Python skipped".into(), |r| format!("{r:.1}x")),
            }
        },
        Target {
            what: "8 threads on distinct files >= 1.6x the throughput of 1 thread",
            met: Some(eight / one >= 1.6),
            measured: format!("{:.2}x ({eight:.0} vs {one:.0} writes/s)", eight / one),
        },
        Target {
            what: "whole policy swap <= 1.3x compiling alone, 8 threads calling",
            met: Some(swap / compile <= 1.3),
            measured: format!("{:.2}x ({swap:.0} vs {compile:.0} ms)", swap / compile),
        },
        Target {
            what: "0 failed calls during policy swaps",
            met: Some(swap_failed == 0),
            measured: format!("{swap_failed} failed"),
        },
        Target {
            what: "CLI peak RSS < 40 MB",
            met: cli_rss.map(|k| mb(k) < 40.0),
            measured: cli_rss.map_or("no /usr/bin/time".into(), |k| format!("{:.1} MB", mb(k))),
        },
    ];
    targets.extend(extra_targets);

    let load_after = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut md = String::new();
    md.push_str(&format!(
        "Machine: {}. Load average before / after: {} / {}. Run took {:.0} s.\n\n",
        machine(&base),
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        started.elapsed().as_secs_f64()
    ));
    md.push_str(
        "Medians. *floor*: the same syscalls natively in Rust, no wasm (rewrite: flock, read \
         the old file, temp file, write, fsync, rename, folder fsync; read: open, read, close; \
         marker no-op: flock, open, read; first marker: folders, flock, temp, write, fsync, \
         rename, folder fsync). *Python*: the original's writer, driven op by op in the same \
         run and timed by Python as its bench.py does, interleaved with ours and the floor \
         (one by one for the writes, blocks of 50 otherwise, in a rotating order); for processes, `python3 -c` importing the original and doing the same.\n\n",
    );
    md.push_str("| operation | unit | ours | floor | ours / floor | Python | Python / ours |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for r in &rows {
        let py_over_ours = match r.unit {
            // For rates, more is better: ours / Python says how much faster.
            "ops/s" => ratio(r.ours, r.python).replace('x', "x (ours / Python)"),
            _ => ratio(r.python, r.ours),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r.name,
            r.unit,
            fmt(r.ours),
            fmt(r.floor),
            ratio(r.ours, r.floor),
            fmt(r.python),
            py_over_ours
        ));
    }
    md.push_str("\nThroughput (writes/s, durable rewrites of equipment.json):\n\n");
    md.push_str("| threads | one file | distinct files |\n|---:|---:|---:|\n");
    for threads in [1, 2, 4, 8] {
        let at = |d: bool| {
            throughput
                .iter()
                .find(|r| r.0 == d && r.1 == threads)
                .unwrap()
                .2
        };
        md.push_str(&format!(
            "| {threads} | {:.0} | {:.0} |\n",
            at(false),
            at(true)
        ));
    }
    md.push_str("\nTargets:\n\n");
    for t in &targets {
        let verdict = match t.met {
            Some(true) => "MET",
            Some(false) => "NOT MET",
            None => "NOT MEASURED",
        };
        md.push_str(&format!(
            "- {verdict}: {} (measured {})\n",
            t.what, t.measured
        ));
    }
    md.push_str("\nNotes from this run:\n\n");
    for note in &notes {
        md.push_str(&format!("- {note}\n"));
    }
    println!("\n{md}");
    write_benchmarks_md(&md);
    let _ = fs::remove_dir_all(&base);
}

// ------------------------------------------ issue 12: the cache family

const CREATION: &str = "CONFOCAL_01/PROJ-0042/Runs/Run_1/.exlab-wizard/creation.json";
const LOG: &str = "CONFOCAL_01/.exlab-wizard/wizard.bench.log";
const LOG_LINE: &str = "2026-04-17T14:00:00Z [INFO ] [host:bench] [equip:CONFOCAL_01] one log line";

/// A creation.json record as the lab app writes one (a run, with its LIMS
/// project, template and paths).
fn creation_record() -> String {
    serde_json::json!({
        "created_at": "2026-04-17T14:32:00Z",
        "created_by": "asmith",
        "level": "run",
        "run_kind": "experimental",
        "lims_project": {"uid": "8c7e9d2f-1a4b-4e6c-9b3d-7f2a1e5d8c4b", "short_id": "PROJ-0042", "name_at_creation": "Cortex Q3 Pilot"},
        "template": {"name": "confocal_run_v2", "version": "2.1", "source_path": "templates/confocal_run_v2", "run_scope": "both"},
        "variables": {"project_name": "Cortex Q3 Pilot", "sample": "S-17"},
        "paths": {"local": "/data/lab/CONFOCAL_01/PROJ-0042/Runs/Run_1", "nas": "//nas01/lab/CONFOCAL_01/PROJ-0042/Runs/Run_1"},
    })
    .to_string()
}

/// The lab app's own writers (`$EXLAB_UPSTREAM`, its `src/` folder, run by
/// `$EXLAB_UPSTREAM_PYTHON`, default `python3`: Python 3.12 with msgspec
/// and filelock 3.29), driven op by op as [`PY_DRIVER`] drives the original.
const UP_DRIVER: &str = r#"
import asyncio, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import msgspec
import exlab_wizard.api.schemas  # first: the app's modules import each other
from exlab_wizard.cache.creation_writer import CreationWriter
from exlab_wizard.constants.enums import SyncStatus
p = Path(sys.argv[2])
w = CreationWriter()
states = [SyncStatus.SYNCED, SyncStatus.PENDING]
ops = {
    "update": lambda i: w.update_creation_atomic(p, lambda c: msgspec.structs.replace(c, sync_status=states[i % 2])),
    "read": lambda i: w.read_creation_snapshot(p),
}
count = dict.fromkeys(ops, 0)
async def batch(op, k):
    out = []
    for _ in range(k):
        i = count[op]
        count[op] += 1
        t = time.perf_counter()
        await ops[op](i)
        out.append((time.perf_counter() - t) * 1e6)
    return out
loop = asyncio.new_event_loop()
loop.run_until_complete(w.read_creation_snapshot(p))
print("ready", flush=True)
for line in sys.stdin:
    op, k = line.split()
    print(" ".join(f"{x:.3f}" for x in loop.run_until_complete(batch(op, int(k)))), flush=True)
"#;

/// The app's driver over its own copy of `file`, or why there is none.
fn upstream_driver(file: &Path, dir: &Path) -> Result<PyDriver, String> {
    let src = std::env::var_os("EXLAB_UPSTREAM")
        .map(PathBuf::from)
        .ok_or("EXLAB_UPSTREAM is not set (the lab app's src/ folder)")?;
    let python = std::env::var_os("EXLAB_UPSTREAM_PYTHON").map_or("python3".into(), PathBuf::from);
    let probe = "import sys; sys.path.insert(0, sys.argv[1]); \
                 import exlab_wizard.api.schemas, exlab_wizard.cache.creation_writer";
    let importable = Command::new(&python)
        .args(["-c", probe])
        .arg(&src)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        return Err(format!(
            "{} cannot import exlab_wizard.cache.creation_writer from {} (needs Python 3.12, msgspec, filelock 3.29)",
            python.display(),
            src.display()
        ));
    }
    fs::create_dir_all(dir).unwrap();
    let copy = dir.join("creation.json");
    fs::copy(file, &copy).unwrap();
    Ok(PyDriver::start_script(
        &python,
        UP_DRIVER,
        &[src.as_os_str(), copy.as_os_str()],
    ))
}

/// The cache family's rows (issue 12): a durable creation.json update and a
/// creation read against the native floor and the lab app's own writer, and
/// a log append against a native `O_APPEND` write.
fn family_rows(
    base: &Path,
    policy: &Policy,
    rows: &mut Vec<Row>,
    targets: &mut Vec<Target>,
    notes: &mut Vec<String>,
) {
    eprintln!("exlab bench: the cache family");
    let (lib_dir, floor_dir) = (base.join("family"), base.join("family-floor"));
    fs::create_dir_all(&lib_dir).unwrap();
    let cache = Cache::new(
        Root::open(&lib_dir).unwrap(),
        policy.clone(),
        Settings::default(),
    );
    assert!(
        cache
            .create_creation(CREATION, &creation_record())
            .unwrap()
            .written
    );
    let created = lib_dir.join(CREATION);
    let record = fs::read(&created).unwrap();
    let floor_creation = floor_dir.join(CREATION);
    fs::create_dir_all(floor_creation.parent().unwrap()).unwrap();
    fs::write(&floor_creation, &record).unwrap();
    let mut app = match upstream_driver(&created, &base.join("family-app")) {
        Ok(driver) => Some(driver),
        Err(why) => {
            eprintln!("exlab bench: the lab app's columns SKIPPED: {why}");
            notes.push(format!(
                "cache family: the lab app's columns skipped: {why}"
            ));
            None
        }
    };
    notes.push(format!(
        "cache family: creation.json of {} bytes; the update's step sets sync_status; the lab app's \
         CreationWriter (update_creation_atomic, read_creation_snapshot) on its own copy",
        record.len()
    ));

    let mut update = Row::new("creation.json update (durable, a small step)", "us");
    let states = ["synced", "pending"];
    let (ours, fl, py) = interleaved(
        n(200),
        1,
        |i| {
            cache
                .update_creation(CREATION, |r| {
                    r["sync_status"] = states[i % 2].into();
                    Ok::<(), std::convert::Infallible>(())
                })
                .unwrap();
        },
        |_| floor::rewrite(&floor_creation, &record),
        app.as_mut().map(|d| (d, "update")),
    );
    (update.ours, update.floor, update.python) = (Some(ours), Some(fl), py);

    let mut read = Row::new("creation.json read (snapshot)", "us");
    let (ours, fl, py) = interleaved(
        n(3000),
        50,
        |_| {
            std::hint::black_box(cache.read_creation(CREATION).unwrap());
        },
        |_| {
            std::hint::black_box(floor::read(&floor_creation).unwrap());
        },
        app.as_mut().map(|d| (d, "read")),
    );
    (read.ours, read.floor, read.python) = (Some(ours), Some(fl), py);
    drop(app);

    let mut append = Row::new("log line append (O_APPEND, no lock)", "us");
    let input = format!(r#"{{"line":{}}}"#, serde_json::to_string(LOG_LINE).unwrap());
    let floor_log = floor_dir.join(LOG);
    fs::create_dir_all(floor_log.parent().unwrap()).unwrap();
    let line = format!("{LOG_LINE}\n");
    let (ours, fl, _) = interleaved(
        n(3000),
        50,
        |_| {
            cache.append_log_line(LOG, &input).unwrap();
        },
        |_| floor::append(&floor_log, line.as_bytes()),
        None,
    );
    (append.ours, append.floor) = (Some(ours), Some(fl));
    assert_eq!(
        fs::read(lib_dir.join(LOG)).unwrap(),
        fs::read(&floor_log).unwrap(),
        "ours and the floor appended the same lines"
    );

    let ratio_target = |what, met: fn(f64) -> bool, r: Option<f64>, detail: String| Target {
        what,
        met: r.map(met),
        measured: r.map_or(detail.clone(), |r| format!("{r:.2}x ({detail})")),
    };
    let div = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    targets.push(ratio_target(
        "creation.json update (durable) <= 1.2x the native floor",
        |r| r <= 1.2,
        div(update.ours, update.floor),
        format!("{} vs {} us", fmt(update.ours), fmt(update.floor)),
    ));
    targets.push(ratio_target(
        "log line append within 2x of a native O_APPEND open+write+close",
        |r| r <= 2.0,
        div(append.ours, append.floor),
        format!("{} vs {} us", fmt(append.ours), fmt(append.floor)),
    ));
    targets.push(ratio_target(
        "creation.json read >= 10x faster than the lab app's read_creation_snapshot",
        |r| r >= 10.0,
        div(read.python, read.ours),
        match read.python {
            Some(py) => format!("{} vs {} us", fmt(Some(py)), fmt(read.ours)),
            None => "the lab app skipped".into(),
        },
    ));
    rows.extend([update, read, append]);
}

// ------------------------------------------- issue 13: host-side overhead

/// A cache over `lib_dir` with one equipment.json written, and the same
/// bytes as the floor's file in `floor_dir`: where a rewrite row starts.
fn seed_rewrite(lib_dir: &Path, floor_dir: &Path, policy: &Policy) -> (Cache, Vec<u8>, PathBuf) {
    let cache = Cache::new(
        Root::open(lib_dir).unwrap(),
        policy.clone(),
        Settings::default(),
    );
    let record = cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap()
        .document
        .into_bytes();
    let floor_eq = floor_dir.join(EQUIPMENT);
    fs::write(&floor_eq, &record).unwrap();
    (cache, record, floor_eq)
}

/// A folder on a tmpfs for the bench's files, or why there is none.
fn tmpfs_dir() -> Result<PathBuf, String> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let mut tried = Vec::new();
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/dev/shm", "/tmp"].map(PathBuf::from));
    for dir in candidates {
        let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: zeroed statfs is a valid value; statfs fills it.
        let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid C string and a struct to fill.
        let ok = unsafe { libc::statfs(c.as_ptr(), &mut fs) } == 0;
        if ok && fs.f_type as i64 == TMPFS_MAGIC {
            let base = dir.join(format!("exlab-bench-{}", std::process::id()));
            if fs::create_dir_all(&base).is_ok() {
                return Ok(base);
            }
        }
        tried.push(format!(
            "{} ({})",
            dir.display(),
            if ok {
                "not a tmpfs or not writable"
            } else {
                "no such folder"
            }
        ));
    }
    Err(format!("no writable tmpfs: tried {}", tried.join(", ")))
}

/// The durable rewrite and the first marker write on a tmpfs, where fsync
/// is nearly free: what is left over the floor is the host's own cost
/// (guest work, extra syscalls), which fsync noise hides on a disk.
fn tmpfs_rows(
    policy: &Policy,
    rows: &mut Vec<Row>,
    targets: &mut Vec<Target>,
    notes: &mut Vec<String>,
) {
    eprintln!("exlab bench: tmpfs rows");
    let mut rewrite = Row::new("equipment rewrite (durable), tmpfs", "us");
    let mut first = Row::new("first marker write, tmpfs", "us");
    let base = match tmpfs_dir() {
        Ok(base) => base,
        Err(why) => {
            eprintln!("exlab bench: tmpfs rows SKIPPED: {why}");
            notes.push(format!("tmpfs rows skipped: {why}"));
            rows.extend([rewrite, first]);
            return;
        }
    };
    notes.push(format!("tmpfs rows: files under {}", base.display()));
    let (lib_dir, floor_dir) = (base.join("lib"), base.join("floor"));
    fs::create_dir_all(&lib_dir).unwrap();
    fs::create_dir_all(floor_dir.join("CONFOCAL_01/.exlab-wizard")).unwrap();
    let (cache, record, floor_eq) = seed_rewrite(&lib_dir, &floor_dir, policy);
    let inputs: Vec<String> = (0..8).map(|i| equipment_input(&format!("L{i}"))).collect();
    let (ours, fl, _) = interleaved(
        n(3000),
        50,
        |i| {
            cache.write_equipment(EQUIPMENT, &inputs[i % 8]).unwrap();
        },
        |_| floor::rewrite(&floor_eq, &record),
        None,
    );
    (rewrite.ours, rewrite.floor) = (Some(ours), Some(fl));
    let (ours, fl, _) = interleaved(
        n(3000),
        50,
        |i| {
            let path = format!("fresh/{i}/test_runs.json");
            let w = cache
                .write_marker(MarkerKind::TestRuns, &path, MARKER_INPUT)
                .unwrap();
            assert!(w.written);
        },
        |i| {
            let path = floor_dir.join(format!("fresh/{i}/test_runs.json"));
            assert!(floor::marker(&path, &record));
        },
        None,
    );
    (first.ours, first.floor) = (Some(ours), Some(fl));
    for (row, what) in [
        (
            &rewrite,
            "durable rewrite on a tmpfs <= 1.3x the tmpfs floor",
        ),
        (
            &first,
            "first marker write on a tmpfs <= 1.3x the tmpfs floor",
        ),
    ] {
        let r = row.ours.unwrap() / row.floor.unwrap();
        targets.push(Target {
            what,
            met: Some(r <= 1.3),
            measured: format!(
                "{r:.2}x ({:.1} vs {:.1} us)",
                row.ours.unwrap(),
                row.floor.unwrap()
            ),
        });
    }
    rows.extend([rewrite, first]);
    let _ = fs::remove_dir_all(&base);
}

/// `exlab --tmpfs-only` / `--family-only`: only those rows, printed (to
/// measure a lever without the whole run).
fn only(family: bool) {
    let (mut rows, mut targets, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    let policy = Policy::builtin().unwrap();
    if family {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-family");
        let _ = fs::remove_dir_all(&base);
        family_rows(&base, &policy, &mut rows, &mut targets, &mut notes);
        let _ = fs::remove_dir_all(&base);
    } else {
        tmpfs_rows(&policy, &mut rows, &mut targets, &mut notes);
    }
    for r in &rows {
        println!(
            "{}: ours {} floor {} ({}), Python {} (Python / ours {})",
            r.name,
            fmt(r.ours),
            fmt(r.floor),
            ratio(r.ours, r.floor),
            fmt(r.python),
            ratio(r.python, r.ours)
        );
    }
    for t in targets
        .iter()
        .map(|t| (t.what, t.met, &t.measured))
        .chain(notes.iter().map(|n| (n.as_str(), None, n)))
    {
        println!("{t:?}");
    }
}

/// `exlab --profile OPERATION [N [A.wasm [B.wasm]]]`: only our side of one
/// tmpfs row (or a creation.json read), `N` times, for `perf record` or
/// `strace -c` (OPERATION: `rewrite`, `first`, `read`, `creation-read`,
/// `creation-update`, `log-append`, or `floor-rewrite` for the floor's), with the
/// built-in policy or `A.wasm`; with `B.wasm` too, the two alternate in
/// blocks of 50 and their medians print.
///
/// `EXLAB_PROFILE_GAP_US`: idle that long before each call, untimed. A
/// call that follows an fsync's wait starts cold (caches, TLB, a halted
/// vCPU); this shows what that costs each side without a disk's noise.
fn profile(args: &[String]) {
    let operation = args[0].as_str();
    let n: usize = args.get(1).map_or(20_000, |n| n.parse().unwrap());
    if let Some(us) = std::env::var_os("EXLAB_PROFILE_GAP_US") {
        let us = us.to_str().and_then(|us| us.parse().ok());
        let us = us.expect("EXLAB_PROFILE_GAP_US: whole microseconds");
        PROFILE_GAP.set(Duration::from_micros(us)).unwrap();
    }
    let policy = |at: usize| match args.get(at) {
        Some(file) => Policy::from_bytes(&fs::read(file).unwrap()).unwrap(),
        None => Policy::builtin().unwrap(),
    };
    // `EXLAB_PROFILE_DIR`: profile on that folder's disk instead of a tmpfs.
    let base = match std::env::var_os("EXLAB_PROFILE_DIR") {
        Some(dir) => PathBuf::from(dir).join(format!("exlab-profile-{}", std::process::id())),
        None => tmpfs_dir().unwrap(),
    };
    let setup = |name: &str, policy: &Policy| {
        let (lib_dir, floor_dir) = (base.join(name), base.join(format!("{name}-floor")));
        fs::create_dir_all(&lib_dir).unwrap();
        fs::create_dir_all(floor_dir.join("CONFOCAL_01/.exlab-wizard")).unwrap();
        let cache = seed_rewrite(&lib_dir, &floor_dir, policy).0;
        cache.create_creation(CREATION, &creation_record()).unwrap();
        cache
    };
    let inputs: Vec<String> = (0..8).map(|i| equipment_input(&format!("L{i}"))).collect();
    let floor_eq = base.join("a-floor").join(EQUIPMENT);
    let call = |cache: &Cache, i: usize| match operation {
        "floor-rewrite" => floor::rewrite(&floor_eq, inputs[i % 8].as_bytes()),
        "rewrite" => {
            cache.write_equipment(EQUIPMENT, &inputs[i % 8]).unwrap();
        }
        "first" => {
            let path = format!("fresh/{i}/test_runs.json");
            let w = cache.write_marker(MarkerKind::TestRuns, &path, MARKER_INPUT);
            assert!(w.unwrap().written);
        }
        "read" => {
            std::hint::black_box(cache.read_equipment(EQUIPMENT).unwrap());
        }
        "creation-read" => {
            std::hint::black_box(cache.read_creation(CREATION).unwrap());
        }
        "creation-update" => {
            let status = ["synced", "pending"][i % 2];
            cache
                .update_creation(CREATION, |r| {
                    r["sync_status"] = status.into();
                    Ok::<_, std::convert::Infallible>(())
                })
                .unwrap();
        }
        "log-append" => {
            let line = format!(r#"{{"line":{}}}"#, serde_json::to_string(LOG_LINE).unwrap());
            cache.append_log_line(LOG, &line).unwrap();
        }
        other => panic!("no operation {other}"),
    };
    if args.get(2).is_some_and(|a| a == "floor") {
        // Ours against the floor's rewrite, interleaved one by one.
        let a = setup("a", &Policy::builtin().unwrap());
        let record = fs::read(base.join("a").join(EQUIPMENT)).unwrap();
        let (ta, tb, _) = interleaved(
            n,
            1,
            |i| call(&a, i),
            |_| floor::rewrite(&floor_eq, &record),
            None,
        );
        println!(
            "{operation}: ours {ta:.1} us, floor {tb:.1} us ({:.2}x)",
            ta / tb
        );
        let _ = fs::remove_dir_all(&base);
        return;
    }
    let a = setup("a", &policy(2));
    if args.get(3).is_some() {
        let b = setup("b", &policy(3));
        let (ta, tb, _) = interleaved(n, 50, |i| call(&a, i), |i| call(&b, i), None);
        println!(
            "{operation}: A {ta:.1} us, B {tb:.1} us (B / A {:.2}x)",
            tb / ta
        );
    } else {
        let mut busy = Duration::ZERO;
        for i in 0..n {
            idle_before_call();
            let t = Instant::now();
            call(&a, i);
            busy += t.elapsed();
        }
        println!("{operation}: {:.1} us each", micros(busy) / n as f64);
    }
    let _ = fs::remove_dir_all(&base);
}

/// The CLI's `equipment read` against `cat` of the same file, one process
/// each, alternating: the cost of our process start over the cheapest
/// process that reads the file.
fn cli_vs_cat(cli_dir: &Path, rows: &mut Vec<Row>, targets: &mut Vec<Target>) {
    eprintln!("exlab bench: CLI equipment read vs cat");
    let (mut ours, mut cat) = (Vec::new(), Vec::new());
    for _ in 0..n(100) {
        let mut cli = Command::new(CLI);
        cli.arg("--root")
            .arg(cli_dir)
            .args(["equipment", "read", EQUIPMENT]);
        let (wall, _, ok) = process(&mut cli, b"");
        assert!(ok, "the CLI read failed");
        ours.push(wall);
        let (wall, _, ok) = process(Command::new("cat").arg(cli_dir.join(EQUIPMENT)), b"");
        assert!(ok, "cat failed");
        cat.push(wall);
    }
    let mut row = Row::new(
        "CLI `equipment read` vs `cat` (floor column), one process",
        "us",
    );
    (row.ours, row.floor) = (Some(median(ours)), Some(median(cat)));
    let r = row.ours.unwrap() / row.floor.unwrap();
    targets.push(Target {
        what: "CLI `equipment read` process < 3x `cat` of the same file",
        met: Some(r < 3.0),
        measured: format!(
            "{r:.2}x ({:.0} vs {:.0} us)",
            row.ours.unwrap(),
            row.floor.unwrap()
        ),
    });
    rows.push(row);
}

/// Swaps the built-in policy's bytes in again and again (a fresh compile
/// each time: only `Policy::builtin` uses the on-disk code cache) while 8
/// threads write and read, and times compiling alone in between, under the
/// same load. With the `minisign` tool here, the policy is signed and the
/// swap verifies it. Returns the medians in ms (whole swap, compile alone),
/// the failed calls, and a note.
fn swap_under_load(dir: &Path, policy: &Policy) -> (f64, f64, u64, String) {
    use exlab_cache::Admission;
    fs::create_dir_all(dir).unwrap();
    let file = dir.join("policy.wasm");
    fs::write(&file, BUILTIN_POLICY).unwrap();
    let cache = Cache::new(
        Root::open(dir).unwrap(),
        policy.clone(),
        Settings::default(),
    );
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let (public, secret) = (dir.join("bench.pub"), dir.join("bench.key"));
    let signed = quiet(
        Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret),
    ) && quiet(
        Command::new("minisign")
            .args(["-S", "-W", "-s"])
            .arg(&secret)
            .arg("-m")
            .arg(&file),
    );
    if signed {
        cache.set_admission(Admission::trusted_keys(&public));
    }
    let done = std::sync::atomic::AtomicBool::new(false);
    let failed = AtomicU64::new(0);
    let (mut swaps, mut compiles) = (Vec::new(), Vec::new());
    std::thread::scope(|s| {
        for k in 0..8 {
            let (cache, done, failed) = (&cache, &done, &failed);
            s.spawn(move || {
                let path = format!("W{k}/.exlab-wizard/equipment.json");
                let input = equipment_input(&format!("W{k}"));
                while !done.load(Ordering::Relaxed) {
                    let wrote = cache.write_equipment(&path, &input).is_ok();
                    if !wrote || cache.read_equipment(&path).is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for _ in 0..n(6) {
            let t = Instant::now();
            Policy::from_bytes(BUILTIN_POLICY).unwrap();
            compiles.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            cache.swap_policy_file(&file).unwrap();
            swaps.push(t.elapsed().as_secs_f64() * 1e3);
        }
        done.store(true, Ordering::Relaxed);
    });
    let note = format!(
        "policy swap rows: {} swaps of the built-in policy's bytes ({}) through \
         Cache::swap_policy_file, each beside a Policy::from_bytes of the same bytes \
         (compiling alone), both while 8 threads write and read distinct files",
        swaps.len(),
        if signed {
            "signed with minisign, verified against a trust file"
        } else {
            "unsigned: no `minisign` tool here"
        }
    );
    (
        median(swaps),
        median(compiles),
        failed.load(Ordering::Relaxed),
        note,
    )
}

/// Loads the built-in policy and serves 8 threads for a second (distinct
/// files, writes and reads), then exits: the parent reads its peak RSS.
fn serve8(dir: &Path) {
    let cache = Cache::new(
        Root::open(dir).unwrap(),
        Policy::builtin().unwrap(),
        Settings::default(),
    );
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..8 {
            let cache = &cache;
            s.spawn(move || {
                let path = format!("S{k}/.exlab-wizard/equipment.json");
                let input = equipment_input(&format!("S{k}"));
                while t.elapsed() < Duration::from_secs(1) {
                    cache.write_equipment(&path, &input).unwrap();
                    cache.read_equipment(&path).unwrap();
                }
            });
        }
    });
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().to_owned());
    println!("{}", hwm.unwrap_or_default());
}

/// Material from outside the repository (the Python original, the C
/// floor): `$EXLAB_ANCHORS`, else `../shared/anchors` beside the checkout
/// (README "Outside material"). Rows that need it say so when it is absent.
fn anchors() -> PathBuf {
    std::env::var_os("EXLAB_ANCHORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/anchors"))
}

/// Runs anchors/floor/floor.c when gcc is there.
fn floor_c(dir: &Path) -> Option<Vec<String>> {
    let source = anchors().join("floor/floor.c");
    fs::create_dir_all(dir).ok()?;
    let exe = dir.join("floor");
    let built = Command::new("gcc")
        .args(["-O2", "-o"])
        .arg(&exe)
        .arg(&source)
        .status()
        .ok()?;
    if !built.success() {
        return None;
    }
    let out = Command::new(&exe)
        .arg(dir)
        .arg(n(300).to_string())
        .output()
        .ok()?;
    let out = String::from_utf8(out.stdout).ok()?;
    Some(out.lines().map(|l| format!("{l} us")).collect())
}

fn machine(base: &Path) -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                Some(
                    l.strip_prefix("model name")?
                        .trim_start_matches([' ', '\t', ':'])
                        .to_owned(),
                )
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let fs_type = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(base)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, Linux {}, files on {fs_type}",
        kernel.trim()
    )
}

/// Puts `md` between the markers of BENCHMARKS.md, keeping everything else.
fn write_benchmarks_md(md: &str) {
    const BEGIN: &str = "<!-- bench:begin (written by `just bench`) -->";
    const END: &str = "<!-- bench:end -->";
    let path = Path::new(WORKSPACE).join("BENCHMARKS.md");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let block = format!("{BEGIN}\n{md}{END}");
    let text = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => {
            format!("{}{block}{}", &text[..b], &text[e + END.len()..])
        }
        _ => format!("# Benchmarks\n\n{block}\n\n{text}"),
    };
    fs::write(&path, text).unwrap();
    eprintln!("exlab bench: the table is in {}", path.display());
}
