//! Disk faults (issue 4, item 1): every step of a write fails in turn,
//! through the storage layer's `Faults` seam, and for real on a tiny tmpfs.
//!
//! After each failure: the call is `io_error` naming the step and the file,
//! the old file is byte-for-byte intact (or still absent), no `.tmp` file is
//! left, the lock is released, and the next call succeeds.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use exlab_cache::{Cache, Faults, MarkerKind, Policy, Root, Settings, WriteStep};
use exlab_cache_tests::*;

/// Fails one step, once, with one OS error; counts what it injected.
#[derive(Default)]
struct Plan {
    armed: Mutex<Option<(WriteStep, i32)>>,
    injected: AtomicUsize,
}

impl Plan {
    fn arm(&self, step: WriteStep, errno: i32) {
        *self.armed.lock().unwrap() = Some((step, errno));
    }
}

impl Faults for Plan {
    fn before(&self, step: WriteStep, _path: &str) -> io::Result<()> {
        let mut armed = self.armed.lock().unwrap();
        match *armed {
            Some((at, errno)) if at == step => {
                *armed = None;
                self.injected.fetch_add(1, Ordering::SeqCst);
                Err(io::Error::from_raw_os_error(errno))
            }
            _ => Ok(()),
        }
    }
}

const ENOSPC: i32 = 28;
const EIO: i32 = 5;
const EACCES: i32 = 13;
const EXDEV: i32 = 18;
const EMFILE: i32 = 24;

/// The words of the error message that name each step.
fn step_words(step: WriteStep) -> &'static str {
    match step {
        WriteStep::LockOpen => "open the lock file of",
        WriteStep::TempCreate => "create the temp file of",
        WriteStep::Write => "write the temp file of",
        WriteStep::Fsync => "fsync the temp file of",
        WriteStep::Rename => "rename the temp file of",
        WriteStep::FolderFsync => "fsync the folder of",
    }
}

/// The errors each step is failed with.
fn errnos(step: WriteStep) -> &'static [i32] {
    match step {
        WriteStep::LockOpen => &[EACCES, EMFILE],
        WriteStep::TempCreate => &[ENOSPC, EACCES],
        WriteStep::Write => &[ENOSPC, EIO],
        WriteStep::Fsync => &[EIO, ENOSPC],
        WriteStep::Rename => &[EIO, EXDEV],
        WriteStep::FolderFsync => &[EIO],
    }
}

fn cache(dir: &Path, plan: Arc<Plan>) -> Cache {
    let root = Root::open(dir).unwrap().with_faults(plan);
    let settings = Settings {
        clock: Arc::new(exlab_cache::ManualClock::at(T0)),
        lock_timeout: std::time::Duration::ZERO,
        on_warning: Arc::new(|_| {}),
        ..Settings::default()
    };
    Cache::new(root, Policy::builtin().unwrap(), settings)
}

/// The lock of `file` is free: a non-blocking flock on `<file>.lock` succeeds.
fn assert_unlocked(file: &Path) {
    let mut lock = file.as_os_str().to_owned();
    lock.push(".lock");
    if let Ok(f) = std::fs::File::open(&lock) {
        fs4::FileExt::try_lock(&f).unwrap_or_else(|e| panic!("{lock:?} still held: {e:?}"));
    }
}

/// What a write to disk under test is: which file, and how to write it.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// A rewrite over an existing equipment.json.
    EquipmentRewrite,
    /// A first equipment.json write (no old file).
    EquipmentFirst,
    /// A first test_runs.json marker write.
    Marker,
}

impl Target {
    fn path(self) -> &'static str {
        match self {
            Target::EquipmentRewrite | Target::EquipmentFirst => EQUIPMENT,
            Target::Marker => TEST_RUNS,
        }
    }

    fn write(self, cache: &Cache, label: &str) -> Result<String, exlab_cache::Error> {
        match self {
            Target::EquipmentRewrite | Target::EquipmentFirst => cache
                .write_equipment(EQUIPMENT, &equipment_input(label))
                .map(|w| w.document),
            Target::Marker => cache
                .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input(label))
                .map(|w| w.document.unwrap()),
        }
    }
}

#[test]
fn every_step_of_a_write_fails_cleanly_and_the_next_call_succeeds() {
    let mut cases = 0;
    let plan_total = AtomicUsize::new(0);
    for target in [
        Target::EquipmentRewrite,
        Target::EquipmentFirst,
        Target::Marker,
    ] {
        for step in WriteStep::ALL {
            for &errno in errnos(step) {
                let dir = tempfile::tempdir().unwrap();
                let plan = Arc::new(Plan::default());
                let cache = cache(dir.path(), plan.clone());
                let file = dir.path().join(target.path());
                if let Target::EquipmentRewrite = target {
                    target.write(&cache, "old").unwrap();
                }
                let before = std::fs::read(&file).ok();

                plan.arm(step, errno);
                let e = target.write(&cache, "new").unwrap_err();
                let what = format!("{target:?} {step:?} errno {errno}");
                assert_eq!(plan.injected.load(Ordering::SeqCst), 1, "{what}");
                assert_eq!(e.code(), "io_error", "{what}: {e:?}");
                assert!(
                    e.message().contains(step_words(step)) && e.message().contains(target.path()),
                    "{what}: the message names neither step nor file: {}",
                    e.message()
                );
                let os = io::Error::from_raw_os_error(errno).to_string();
                assert!(e.message().contains(&os), "{what}: {}", e.message());

                let after = std::fs::read(&file).ok();
                if step == WriteStep::FolderFsync {
                    // After the rename: the new file is complete and in place;
                    // only its durability was not confirmed.
                    let now = String::from_utf8(after.unwrap()).unwrap();
                    serde_json::from_str::<serde_json::Value>(&now).unwrap();
                    assert!(now.contains("new"), "{what}: {now}");
                } else {
                    assert_eq!(after, before, "{what}: the old file changed");
                }
                assert_eq!(temp_files(dir.path()), Vec::<String>::new(), "{what}");
                assert_unlocked(&file);

                // The next call is served normally.
                let document = target.write(&cache, "next").unwrap();
                assert_eq!(std::fs::read(&file).unwrap(), document.as_bytes(), "{what}");
                assert_eq!(temp_files(dir.path()), Vec::<String>::new(), "{what}");
                assert_unlocked(&file);
                plan_total.fetch_add(1, Ordering::SeqCst);
                cases += 1;
            }
        }
    }
    println!(
        "faults: {} injected faults over {} steps x 3 write kinds; old files intact, 0 temp files left, 0 locks held",
        plan_total.load(Ordering::SeqCst),
        WriteStep::ALL.len()
    );
    assert_eq!(cases, 3 * 11);
}

#[test]
fn a_folder_fsync_failure_on_a_marker_reports_io_error_and_a_retry_finds_it_written() {
    // What is promised after the rename: the new file is complete and
    // visible; the call says io_error because its durability is unconfirmed;
    // a retry of a write-once marker then reports written:false.
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(Plan::default());
    let cache = cache(dir.path(), plan.clone());
    plan.arm(WriteStep::FolderFsync, EIO);
    let e = cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap_err();
    assert_eq!(e.code(), "io_error");
    let retry = cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &marker_input("P1"))
        .unwrap();
    assert!(!retry.written);
    assert_eq!(
        retry.document.unwrap().as_bytes(),
        std::fs::read(dir.path().join(TEST_RUNS)).unwrap()
    );
}

#[test]
fn without_faults_armed_the_seam_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let plan = Arc::new(Plan::default());
    let cache = cache(dir.path(), plan.clone());
    for label in ["a", "b", "c"] {
        cache
            .write_equipment(EQUIPMENT, &equipment_input(label))
            .unwrap();
    }
    assert_eq!(plan.injected.load(Ordering::SeqCst), 0);
    assert_eq!(cache.read_equipment(EQUIPMENT).unwrap().label, "c");
}

/// A size-limited tmpfs mounted for one test, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755")])
            .arg("tmpfs")
            .arg(dir.path())
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount -t tmpfs failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs { dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

#[test]
fn a_real_enospc_on_a_full_tmpfs_leaves_the_old_file_and_no_temp_file() {
    let fs = match Tmpfs::mount("64k") {
        Ok(fs) => fs,
        Err(why) => {
            println!("SKIPPED a_real_enospc_on_a_full_tmpfs: {why} (needs root and mount rights)");
            return;
        }
    };
    let root = fs.dir.path();
    let cache = Cache::new(
        Root::open(root).unwrap(),
        Policy::builtin().unwrap(),
        Settings {
            lock_timeout: std::time::Duration::ZERO,
            on_warning: Arc::new(|_| {}),
            ..Settings::default()
        },
    );
    cache
        .write_equipment(EQUIPMENT, &equipment_input("old"))
        .unwrap();
    let file = root.join(EQUIPMENT);
    let before = std::fs::read(&file).unwrap();

    // Fill the file system to the last byte.
    let filler_path = root.join("filler");
    {
        use std::io::Write;
        let mut filler = std::fs::File::create(&filler_path).unwrap();
        let chunk = [0u8; 4096];
        loop {
            match filler.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(ENOSPC) => break,
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
        }
    }

    let e = cache
        .write_equipment(EQUIPMENT, &equipment_input(&"x".repeat(8000)))
        .unwrap_err();
    assert_eq!(e.code(), "io_error", "{e:?}");
    assert!(
        e.message().contains("No space left on device") && e.message().contains(EQUIPMENT),
        "{}",
        e.message()
    );
    println!("real ENOSPC on a full 64k tmpfs: {}", e.message());
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(temp_files(root), Vec::<String>::new());
    assert_unlocked(&file);

    std::fs::remove_file(&filler_path).unwrap();
    let w = cache
        .write_equipment(EQUIPMENT, &equipment_input("after"))
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), w.document.as_bytes());
}
