//! A bounded load test (issue 4, item 5): N threads in this process and M
//! worker processes (this test binary re-run as `load_worker`), all for the
//! same D seconds over one root, mixing equipment writes and reads over
//! many equipment folders and a few hot files, and write-once markers that
//! several writers race for. Reports writes/s, reads/s and p50/p99
//! latencies; checks at the end that every file is valid, that every
//! marker was written exactly once, and that no temp file or lock is left.
//!
//! Knobs (environment): `EXLAB_LOAD_THREADS` (default 3),
//! `EXLAB_LOAD_PROCESSES` (default 2), `EXLAB_LOAD_SECS` (default 2).
//! No timing is asserted; `just load` runs a longer one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use exlab_cache::{Cache, MarkerKind, Policy, Root, Settings};
use exlab_cache_tests::*;
use serde_json::{json, Value};

const FOLDERS: usize = 40;
const HOT: usize = 3;
const MARKERS: usize = 120;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn equipment_path(i: usize) -> (String, String) {
    let id = if i < HOT {
        format!("HOT_{i}")
    } else {
        format!("EQ_{i:03}")
    };
    let path = format!("{id}/.exlab-wizard/equipment.json");
    (id, path)
}

fn marker_path(i: usize) -> String {
    format!("EQ_{:03}/P{i}/Runs/.exlab-wizard/runs.json", i % FOLDERS)
}

/// What one worker (thread or process) did.
#[derive(Default, serde::Serialize, serde::Deserialize)]
struct Stats {
    writes: u64,
    reads: u64,
    /// Microseconds per write (equipment and marker) and per read.
    write_us: Vec<u32>,
    read_us: Vec<u32>,
    /// Marker path -> the document this worker wrote (written: true).
    markers_won: BTreeMap<String, String>,
    marker_losses: u64,
    errors: Vec<String>,
}

fn work(root: &Path, seconds: f64, seed: u64) -> Stats {
    let cache = Cache::new(
        Root::open(root).unwrap(),
        Policy::builtin().unwrap(),
        Settings {
            on_warning: std::sync::Arc::new(|w| panic!("unexpected warning: {w}")),
            ..Settings::default()
        },
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut stats = Stats::default();
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    while Instant::now() < until {
        // Half the equipment traffic goes to a few hot files.
        let folder = if rng.bool() {
            rng.usize(..HOT)
        } else {
            rng.usize(HOT..FOLDERS)
        };
        let (id, path) = equipment_path(folder);
        let started = Instant::now();
        match rng.u8(..10) {
            0..=3 => {
                let input = json!({
                    "id": id, "label": format!("worker {seed} op {}", stats.writes),
                    "configured_local_root": "/data/lab", "configured_nas_root": "//nas01/lab",
                });
                if let Err(e) = cache.write_equipment(&path, &input.to_string()) {
                    stats.errors.push(format!("write {path}: {e:?}"));
                }
                stats.writes += 1;
                stats.write_us.push(started.elapsed().as_micros() as u32);
            }
            4..=7 => {
                match cache.read_equipment(&path) {
                    Ok(record) => {
                        if record.first_seen_at > record.last_modified_at {
                            stats.errors.push(format!("read {path}: {record:?}"));
                        }
                    }
                    Err(e) if e.code() == "not_found" => {}
                    Err(e) => stats.errors.push(format!("read {path}: {e:?}")),
                }
                stats.reads += 1;
                stats.read_us.push(started.elapsed().as_micros() as u32);
            }
            _ => {
                let m = rng.usize(..MARKERS);
                let path = marker_path(m);
                let input = json!({"project": format!("P{m}"), "equipment": format!("EQ_{:03}", m % FOLDERS)});
                match cache.write_marker(MarkerKind::Runs, &path, &input.to_string()) {
                    Ok(w) if w.written => {
                        if let Some(previous) = stats.markers_won.insert(path, w.document.unwrap())
                        {
                            stats.errors.push(format!("marker won twice: {previous}"));
                        }
                    }
                    Ok(_) => stats.marker_losses += 1,
                    Err(e) => stats.errors.push(format!("marker {path}: {e:?}")),
                }
                stats.writes += 1;
                stats.write_us.push(started.elapsed().as_micros() as u32);
            }
        }
    }
    stats
}

/// The worker-process entry point: does nothing unless the load test ran
/// this binary with `EXLAB_LOAD_WORKER` set.
#[test]
fn load_worker() {
    let Ok(spec) = std::env::var("EXLAB_LOAD_WORKER") else {
        return;
    };
    let [root, seconds, seed]: [&str; 3] =
        spec.splitn(3, '|').collect::<Vec<_>>().try_into().unwrap();
    let stats = work(
        Path::new(root),
        seconds.parse().unwrap(),
        seed.parse().unwrap(),
    );
    println!("LOADSTATS {}", serde_json::to_string(&stats).unwrap());
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

#[test]
fn mixed_load_over_threads_and_processes_keeps_every_file_valid() {
    if std::env::var_os("EXLAB_LOAD_WORKER").is_some() {
        return;
    }
    let threads = env_num("EXLAB_LOAD_THREADS", 3);
    let processes = env_num("EXLAB_LOAD_PROCESSES", 2);
    let seconds = env_num("EXLAB_LOAD_SECS", 2) as f64;
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().to_owned();
    let exe = std::env::current_exe().unwrap();

    let started = Instant::now();
    let children: Vec<_> = (0..processes)
        .map(|p| {
            Command::new(&exe)
                .args(["load_worker", "--exact", "--nocapture", "--test-threads=1"])
                .env(
                    "EXLAB_LOAD_WORKER",
                    format!("{}|{seconds}|{}", root.display(), 1000 + p),
                )
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || work(&root, seconds, t))
        })
        .collect();
    let mut all: Vec<Stats> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("LOADSTATS ").map(|(_, json)| json))
            .unwrap_or_else(|| panic!("no stats from a worker process: {stdout}"));
        all.push(serde_json::from_str(line).unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();

    // No call failed.
    let errors: Vec<&String> = all.iter().flat_map(|s| &s.errors).collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {:?}",
        errors.len(),
        errors.first()
    );

    // Every marker was written exactly once, and is on disk as its winner wrote it.
    let reader = Cache::open(&root).unwrap();
    let mut winners: BTreeMap<&String, Vec<&String>> = BTreeMap::new();
    for stats in &all {
        for (path, doc) in &stats.markers_won {
            winners.entry(path).or_default().push(doc);
        }
    }
    for m in 0..MARKERS {
        let path = marker_path(m);
        let won = winners.get(&path).map_or(0, Vec::len);
        if root.join(&path).exists() {
            assert_eq!(won, 1, "{path} written {won} times");
            let on_disk = std::fs::read_to_string(root.join(&path)).unwrap();
            assert_eq!(&on_disk, winners[&path][0]);
            reader.read_marker(MarkerKind::Runs, &path).unwrap();
        } else {
            assert_eq!(won, 0, "{path} reported written but is not there");
        }
    }
    // Every equipment file is valid.
    let mut files = 0;
    for i in 0..FOLDERS {
        let (id, path) = equipment_path(i);
        if root.join(&path).exists() {
            let record = reader.read_equipment(&path).unwrap();
            assert_eq!(record.id, id);
            serde_json::from_slice::<Value>(&std::fs::read(root.join(&path)).unwrap()).unwrap();
            files += 1;
        }
    }
    assert_eq!(temp_files(&root), Vec::<String>::new());
    // No lock is left held.
    for lock in tree(&root).iter().filter(|p| p.ends_with(".lock")) {
        let f = std::fs::File::open(root.join(lock)).unwrap();
        fs4::FileExt::try_lock(&f).unwrap_or_else(|e| panic!("{lock} still held: {e:?}"));
    }

    let writes: u64 = all.iter().map(|s| s.writes).sum();
    let reads: u64 = all.iter().map(|s| s.reads).sum();
    let mut write_us: Vec<u32> = all
        .iter()
        .flat_map(|s| s.write_us.iter().copied())
        .collect();
    let mut read_us: Vec<u32> = all.iter().flat_map(|s| s.read_us.iter().copied()).collect();
    write_us.sort_unstable();
    read_us.sort_unstable();
    let markers = winners.len();
    let losses: u64 = all.iter().map(|s| s.marker_losses).sum();
    println!(
        "load: {threads} threads + {processes} processes for {seconds}s ({elapsed:.1}s wall): \
         {writes} writes ({:.0}/s), {reads} reads ({:.0}/s); \
         write p50 {:.2} ms p99 {:.2} ms, read p50 {:.2} ms p99 {:.2} ms; \
         {files} equipment files valid, {markers} markers each written exactly once \
         ({losses} losing racers told written:false), 0 errors, 0 temp files, 0 locks held",
        writes as f64 / seconds,
        reads as f64 / seconds,
        percentile(&write_us, 0.5),
        percentile(&write_us, 0.99),
        percentile(&read_us, 0.5),
        percentile(&read_us, 0.99),
    );
}
