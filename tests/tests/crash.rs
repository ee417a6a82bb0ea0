//! Crash consistency (issue 4, item 2): rounds of real `exlab-cache` writer
//! processes, several at once on the same files, each killed with SIGKILL
//! at a random instant. After every round: each file parses and reads back
//! valid, `first_seen_at` never changed, a marker once written never
//! changes, and no lock is held (a non-blocking flock succeeds).
//!
//! The suite runs a short version; `just soak` sets `EXLAB_SOAK_KILLS` to
//! run thousands and prints the counts.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use exlab_cache::{Cache, MarkerKind};
use exlab_cache_tests::*;

/// Writers per round, all racing for the same files.
const WRITERS: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn spawn(root: &Path, args: &[&str], stdin: &str) -> Child {
    let mut child = Command::new(cli_exe())
        .arg("--root")
        .arg(root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The child may be killed before it reads: ignore a broken pipe.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child
}

fn assert_unlocked(file: &Path) {
    let mut lock = file.as_os_str().to_owned();
    lock.push(".lock");
    if let Ok(f) = std::fs::File::open(&lock) {
        fs4::FileExt::try_lock(&f)
            .unwrap_or_else(|e| panic!("{lock:?} still held after the kill: {e:?}"));
    }
}

/// How long a round of unkilled writers takes here (they share the CPUs
/// and the lock), so that kills spread over it.
fn typical_round(root: &Path) -> Duration {
    let mut times: Vec<Duration> = (0..3)
        .map(|i| {
            let start = Instant::now();
            let children: Vec<Child> = (0..WRITERS)
                .map(|w| {
                    let label = format!("calibrate {i} {w}");
                    spawn(
                        root,
                        &["equipment", "write", "CAL/e.json"],
                        &input("CAL", &label),
                    )
                })
                .collect();
            for mut child in children {
                assert!(child.wait().unwrap().success());
            }
            start.elapsed()
        })
        .collect();
    times.sort();
    times[1]
}

fn input(id: &str, label: &str) -> String {
    serde_json::json!({
        "id": id, "label": label,
        "configured_local_root": "/data/lab", "configured_nas_root": "//nas01/lab",
    })
    .to_string()
}

#[derive(Default, Debug)]
struct Counts {
    kills: usize,
    killed_while_running: usize,
    finished_before_kill: usize,
    equipment_changes_seen: usize,
    markers_first_written: usize,
    orphan_temp_files: usize,
    files_checked: usize,
}

#[test]
fn writers_killed_at_random_instants_never_tear_a_file_or_leave_a_lock() {
    let kills_wanted = env_usize("EXLAB_SOAK_KILLS", 24);
    let seed = env_usize("EXLAB_SOAK_SEED", fastrand::usize(..));
    fastrand::seed(seed as u64);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let reader = Cache::open(root).unwrap();
    let typical = typical_round(root);

    // Seed the hot equipment file: its first_seen_at must survive everything.
    const HOT: &str = "HOT_01/.exlab-wizard/equipment.json";
    const SHARED_MARKER: &str = "HOT_01/P0/TestRuns/.exlab-wizard/test_runs.json";
    let status = spawn(root, &["equipment", "write", HOT], &input("HOT_01", "seed"))
        .wait()
        .unwrap();
    assert!(status.success());
    let first_seen = reader.read_equipment(HOT).unwrap().first_seen_at;
    let mut shared_marker: Option<Vec<u8>> = None;
    let mut last_hot = std::fs::read(root.join(HOT)).unwrap();

    let mut counts = Counts::default();
    let mut round = 0;
    let start = Instant::now();
    while counts.kills < kills_wanted {
        round += 1;
        let round_marker = format!("HOT_01/R{round}/Runs/.exlab-wizard/runs.json");
        let mut children: Vec<(Child, Duration)> = (0..WRITERS)
            .map(|w| {
                let label = format!("round {round} writer {w}");
                let child = match w {
                    0 | 1 => spawn(root, &["equipment", "write", HOT], &input("HOT_01", &label)),
                    2 => spawn(
                        root,
                        &["runs", "write", &round_marker],
                        &serde_json::json!({"project": format!("R{round}"), "equipment": "HOT_01"})
                            .to_string(),
                    ),
                    _ => spawn(
                        root,
                        &["test-runs", "write", SHARED_MARKER],
                        &serde_json::json!({"project": "P0", "equipment": "HOT_01"}).to_string(),
                    ),
                };
                // Kills spread over a whole round: some land while the
                // component loads, some under the lock, around the temp
                // file, fsync and rename, some after the process is done.
                let span = typical.as_micros() as u64;
                let at = fastrand::u64(span / 4..span * 5 / 4);
                (child, Duration::from_micros(at))
            })
            .collect();
        let spawned = Instant::now();
        children.sort_by_key(|(_, at)| *at);
        for (child, at) in &mut children {
            if let Some(left) = at.checked_sub(spawned.elapsed()) {
                std::thread::sleep(left);
            }
            match child.try_wait().unwrap() {
                Some(_) => counts.finished_before_kill += 1,
                None => {
                    child.kill().unwrap(); // SIGKILL
                    counts.killed_while_running += 1;
                }
            }
            counts.kills += 1;
        }
        for (child, _) in &mut children {
            child.wait().unwrap();
        }

        // The hot equipment file: parses, valid, first_seen_at unchanged.
        let bytes = std::fs::read(root.join(HOT)).unwrap();
        serde_json::from_slice::<serde_json::Value>(&bytes)
            .unwrap_or_else(|e| panic!("round {round}: torn {HOT}: {e}: {bytes:?}"));
        let record = reader.read_equipment(HOT).unwrap();
        assert_eq!(record.first_seen_at, first_seen, "round {round}");
        assert!(
            record.label == "seed" || record.label.starts_with("round "),
            "{record:?}"
        );
        if bytes != last_hot {
            counts.equipment_changes_seen += 1;
            last_hot = bytes;
        }
        assert_unlocked(&root.join(HOT));
        counts.files_checked += 1;

        // This round's marker: absent, or complete and valid.
        if root.join(&round_marker).exists() {
            reader.read_marker(MarkerKind::Runs, &round_marker).unwrap();
            counts.markers_first_written += 1;
            counts.files_checked += 1;
        }
        assert_unlocked(&root.join(&round_marker));

        // The shared marker: once written, never changed.
        if let Ok(bytes) = std::fs::read(root.join(SHARED_MARKER)) {
            reader
                .read_marker(MarkerKind::TestRuns, SHARED_MARKER)
                .unwrap();
            match &shared_marker {
                Some(first) => assert_eq!(first, &bytes, "round {round}: a marker changed"),
                None => {
                    shared_marker = Some(bytes);
                    counts.markers_first_written += 1;
                }
            }
            counts.files_checked += 1;
        }
        assert_unlocked(&root.join(SHARED_MARKER));
    }
    counts.orphan_temp_files = temp_files(root).len();

    // After all that, the next write is served normally.
    let run = cli(
        root,
        &["equipment", "write", HOT],
        &input("HOT_01", "after the soak"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(
        reader.read_equipment(HOT).unwrap().first_seen_at,
        first_seen
    );
    // ... and, under the lock, it swept the temp files orphaned by the kills.
    let hot_folder = root.join(HOT).parent().unwrap().to_owned();
    assert_eq!(temp_files(&hot_folder), Vec::<String>::new());

    println!(
        "crash soak (seed {seed}): {} SIGKILLs in {round} rounds of {WRITERS} writers over {:.1}s \
         (unkilled round {} ms): {} killed while running, {} had finished; \
         {} equipment rewrites survived, {} markers first-written, {} file checks, \
         {} temp files orphaned by kills (a later write of the file sweeps them), torn or lost files: 0, first_seen_at changes: 0, locks left held: 0",
        counts.kills,
        start.elapsed().as_secs_f64(),
        typical.as_millis(),
        counts.killed_while_running,
        counts.finished_before_kill,
        counts.equipment_changes_seen,
        counts.markers_first_written,
        counts.files_checked,
        counts.orphan_temp_files,
    );
}
