//! Real processes: concurrent CLI writers, and writers killed with SIGKILL
//! at random moments. Files are never torn or lost, `first_seen_at` never
//! changes, exactly one first marker writer wins, no lock stays held.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use exlab_cache_tests::*;
use serde_json::Value;

/// A CLI process serving `root`.
fn spawn(root: &Path, args: &[&str], stdin: &str) -> Child {
    spawn_cli(root, args, stdin)
}

fn finish(child: Child) -> (i32, Value) {
    let out = child.wait_with_output().unwrap();
    let status = out.status.code().unwrap_or(-1);
    assert_eq!(status, 0, "{}", String::from_utf8_lossy(&out.stderr));
    (status, serde_json::from_slice(&out.stdout).unwrap())
}

fn record(root: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(root.join(EQUIPMENT)).unwrap()).unwrap()
}

fn assert_lock_free(root: &Path, rel: &str) {
    if let Ok(lock) = std::fs::File::open(root.join(format!("{rel}.lock"))) {
        lock.try_lock().expect("no lock is left held");
    }
}

#[test]
fn of_twelve_processes_racing_a_first_marker_exactly_one_writes() {
    for (cmd, path) in [("test-runs", TEST_RUNS), ("runs", RUNS)] {
        let dir = tempfile::tempdir().unwrap();
        let children: Vec<Child> = (0..12)
            .map(|i| {
                spawn(
                    dir.path(),
                    &[cmd, "write", path],
                    &marker_input(&format!("P{i}")),
                )
            })
            .collect();
        let outs: Vec<Value> = children.into_iter().map(|c| finish(c).1).collect();
        let winners: Vec<&Value> = outs
            .iter()
            .filter(|o| o["written"] == Value::Bool(true))
            .collect();
        assert_eq!(winners.len(), 1, "{outs:?}");
        let on_disk: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(path)).unwrap()).unwrap();
        assert!(
            outs.iter().all(|o| o["marker"] == on_disk),
            "every caller sees the winner's marker"
        );
        assert!(temp_files(dir.path()).is_empty());
    }
}

#[test]
fn thirty_two_processes_rewriting_one_equipment_file_keep_first_seen_at() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first) = finish(spawn(
        dir.path(),
        &["equipment", "write", EQUIPMENT],
        &equipment_input("first"),
    ));
    let children: Vec<Child> = (0..32)
        .map(|i| {
            spawn(
                dir.path(),
                &["equipment", "write", EQUIPMENT],
                &equipment_input(&format!("L{i}")),
            )
        })
        .collect();
    for child in children {
        let (_, written) = finish(child);
        assert_eq!(written["first_seen_at"], first["first_seen_at"]);
    }
    let last = record(dir.path());
    assert_eq!(last["first_seen_at"], first["first_seen_at"]);
    assert!(last["label"].as_str().unwrap().starts_with('L'));
    assert!(temp_files(dir.path()).is_empty());
    assert_lock_free(dir.path(), EQUIPMENT);
}

#[test]
fn writers_killed_with_sigkill_at_random_moments_never_tear_or_lose_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first) = finish(spawn(
        dir.path(),
        &["equipment", "write", EQUIPMENT],
        &equipment_input("first"),
    ));
    let mut killed = 0;
    for round in 0..40 {
        let writers: Vec<Child> = (0..3)
            .map(|i| {
                spawn(
                    dir.path(),
                    &["equipment", "write", EQUIPMENT],
                    &equipment_input(&format!("R{round}W{i}")),
                )
            })
            .collect();
        std::thread::sleep(Duration::from_micros(fastrand::u64(0..60_000)));
        for mut writer in writers {
            if writer.try_wait().unwrap().is_none() {
                writer.kill().unwrap(); // SIGKILL
                killed += 1;
            }
            writer.wait().unwrap();
        }
        let now = record(dir.path());
        assert_eq!(
            now["first_seen_at"], first["first_seen_at"],
            "round {round}"
        );
        assert_eq!(now["schema_version"], "1.0");
        assert_lock_free(dir.path(), EQUIPMENT);
    }
    assert!(killed > 0, "some writers were killed mid-flight");
    // A killed writer cannot remove its temp file; the next writer, under
    // the lock, sweeps them.
    let (_, after) = finish(spawn(
        dir.path(),
        &["equipment", "write", EQUIPMENT],
        &equipment_input("after"),
    ));
    assert_eq!(after["first_seen_at"], first["first_seen_at"]);
    assert!(
        temp_files(dir.path()).is_empty(),
        "{:?}",
        temp_files(dir.path())
    );
}
