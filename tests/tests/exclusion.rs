//! Exclusion against the Python app (issue 4, item 6's isolation promise):
//! Python's `filelock` takes `fcntl.flock(LOCK_EX | LOCK_NB)` on the same
//! `<file>.lock`. A Python process holding it makes the CLI's write wait
//! and time out, and the CLI's lock makes Python's try fail. Uses the
//! `filelock` package when installed, else the very call it makes; skipped
//! with a printed reason when there is no python3.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use exlab_cache_tests::*;

const HOLDER: &str = r#"
import sys
path = sys.argv[1]
try:
    from filelock import FileLock
    lock = FileLock(path, timeout=0)
    lock.acquire()
    how = "filelock"
except ImportError:
    import fcntl, os
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    how = "fcntl.flock"
print("held " + how, flush=True)
sys.stdin.readline()
"#;

const TRY: &str = r#"
import sys, fcntl, os
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("got")
except BlockingIOError:
    print("busy")
"#;

#[test]
fn the_cli_and_pythons_filelock_exclude_each_other() {
    if Command::new("python3").arg("-c").arg("").status().is_err() {
        println!("SKIPPED: no python3");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(format!("{EQUIPMENT}.lock"));
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();

    // Python holds the lock: the CLI's write times out and writes nothing.
    let mut python = Command::new("python3")
        .args(["-c", HOLDER])
        .arg(&lock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(python.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("held"), "{line}");
    println!("python holds {EQUIPMENT}.lock with {}", line.trim());
    let run = cli(
        dir.path(),
        &["--lock-timeout", "0.3", "equipment", "write", EQUIPMENT],
        &equipment_input("blocked"),
    );
    assert_eq!(run.status, 8, "{}", run.stderr);
    assert_eq!(run.code(), "lock_timeout");
    assert!(!dir.path().join(EQUIPMENT).exists());

    // Python lets go: the same write succeeds.
    python.stdin.take().unwrap().write_all(b"\n").unwrap();
    python.wait().unwrap();
    let run = cli(
        dir.path(),
        &["--lock-timeout", "0", "equipment", "write", EQUIPMENT],
        &equipment_input("free"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);

    // The host holds the lock: Python's try finds it busy, then free.
    let cache = exlab_cache::Cache::open(dir.path()).unwrap();
    let try_python = || {
        let out = Command::new("python3")
            .args(["-c", TRY])
            .arg(&lock)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let held = std::fs::File::open(&lock).unwrap();
    fs4::FileExt::lock(&held).unwrap(); // what the host's storage layer takes
    assert_eq!(try_python(), "busy");
    drop(held);
    assert_eq!(try_python(), "got");
    cache
        .write_equipment(EQUIPMENT, &equipment_input("again"))
        .unwrap();
}
