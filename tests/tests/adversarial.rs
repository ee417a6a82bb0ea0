//! Hostile guests (issue 4, item 4): policies that use what the WIT grants
//! against the host (fixtures `hostile-storage` and `ungranted-import` in
//! `tests/guests/src/adversarial.rs`), and hostile files for the real one.
//! Each asserts the exact error, that nothing leaks out of the root, and
//! that the host serves the next call normally.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use exlab_cache::{Error, Policy};
use exlab_cache_tests::*;

fn hostile() -> Policy {
    Policy::from_bytes(&exlab_cache_test_guests::bytes("hostile-storage")).unwrap()
}

fn harness() -> Harness {
    Harness::with(hostile(), |s| {
        s.lock_timeout = Duration::from_millis(200);
        s.time_limit = Duration::from_millis(500);
    })
}

/// Runs one hostile command; the path argument of the write is unused.
fn run(h: &Harness, command: &str) -> Result<String, Error> {
    h.cache
        .write_equipment("unused.json", command)
        .map(|w| w.document)
}

/// The host serves the next call: a lock and a read inside the root work.
fn serves_next(h: &Harness) {
    assert_eq!(run(h, "lock A/ok.json").unwrap(), "locked");
    h.put("A/ok.json", b"{}");
    assert_eq!(run(h, "read A/ok.json").unwrap(), "2 bytes");
}

fn assert_error(result: Result<String, Error>, code: &str, message: &str) {
    match result {
        Err(e) => {
            assert_eq!(e.code(), code, "{e:?}");
            assert_eq!(e.message(), message);
        }
        Ok(doc) => panic!("expected {code}, got Ok({doc:?})"),
    }
}

fn assert_unlocked(file: &Path) {
    let mut lock = file.as_os_str().to_owned();
    lock.push(".lock");
    let f = std::fs::File::open(&lock).unwrap();
    fs4::FileExt::try_lock(&f).unwrap_or_else(|e| panic!("{lock:?} still held: {e:?}"));
}

#[test]
fn paths_that_climb_out_are_denied_and_touch_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    let h = harness();
    let out = outside.path().join("x.json");
    let out = out.to_str().unwrap();
    for op in ["lock", "read", "read-locked"] {
        for (path, why) in [
            ("../x.json", "climbs out of the root"),
            ("A/../../x.json", "climbs out of the root"),
            ("/etc/passwd", "is outside the root"),
            (out, "is outside the root"),
        ] {
            assert_error(
                run(&h, &format!("{op} {path}")),
                "access_denied",
                &format!("{path} {why}"),
            );
        }
    }
    assert_eq!(tree(outside.path()), Vec::<String>::new());
    assert_eq!(tree(h.dir.path()), Vec::<String>::new());
    serves_next(&h);
}

#[test]
fn symlinks_out_of_the_root_are_denied_and_touch_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.json"), b"{\"secret\":1}").unwrap();
    let h = harness();
    std::os::unix::fs::symlink(outside.path(), h.path("link")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.json"), h.path("file.json")).unwrap();
    for command in [
        "lock link/x.json",
        "lock link/deeper/x.json",
        "read link/secret.json",
        "read-locked link/secret.json",
        "read file.json",
    ] {
        let path = command.split_once(' ').unwrap().1;
        assert_error(
            run(&h, command),
            "access_denied",
            &format!("{path} leaves the root (through a symlink)"),
        );
    }
    // The lock of a symlinked file is taken inside the root (file.json.lock),
    // but reading through the link is refused.
    assert_error(
        run(&h, "read-locked file.json"),
        "access_denied",
        "file.json leaves the root (through a symlink)",
    );
    assert_eq!(tree(outside.path()), ["secret.json"]);
    serves_next(&h);

    // Regression: the real policy writing under an equipment folder that is
    // a symlink out of the root got io_error "File exists", not access_denied.
    let real = Harness::new();
    std::os::unix::fs::symlink(outside.path(), real.path("CONFOCAL_01")).unwrap();
    let e = real
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("x"))
        .unwrap_err();
    assert_eq!(e.code(), "access_denied", "{e:?}");
    assert_eq!(
        e.message(),
        format!("{EQUIPMENT} leaves the root (through a symlink)")
    );
    let e = real
        .cache
        .write_marker(
            exlab_cache::MarkerKind::TestRuns,
            TEST_RUNS,
            &marker_input("P1"),
        )
        .unwrap_err();
    assert_eq!(e.code(), "access_denied", "{e:?}");
    assert_eq!(tree(outside.path()), ["secret.json"]);
}

#[test]
fn nul_bytes_and_huge_names_are_clear_errors() {
    let h = harness();
    assert_error(
        run(&h, "lock A/x\0y.json"),
        "io_error",
        "\"A/x\\0y.json\": the path contains a NUL byte",
    );
    assert_error(
        run(&h, "read \0"),
        "io_error",
        "\"\\0\": the path contains a NUL byte",
    );
    // A file name of 1 MiB: the OS refuses it (ENAMETOOLONG), as io_error.
    let e = run(&h, &format!("lock-long-name {}", 1 << 20)).unwrap_err();
    assert_eq!(e.code(), "io_error", "{e:?}");
    assert!(
        e.message().starts_with("open the lock file of nnnn")
            && e.message().ends_with("File name too long (os error 36)"),
        "{}…",
        &e.message()[..100]
    );
    // A name the guest cannot even build (256 MiB > its 64 MiB memory).
    let e = run(&h, &format!("lock-long-name {}", 256 << 20)).unwrap_err();
    assert_eq!(e.code(), "policy_error", "{e:?}");
    assert!(e.message().contains("ran out of memory"), "{}", e.message());
    assert_eq!(temp_files(h.dir.path()), Vec::<String>::new());
    serves_next(&h);
}

#[test]
fn a_lock_the_guest_never_drops_is_released_at_the_end_of_the_call() {
    let h = harness();
    assert_eq!(run(&h, "hold A/held.json").unwrap(), "held");
    assert_unlocked(&h.path("A/held.json"));
    // ... also when the guest then runs away and is stopped.
    let started = Instant::now();
    let e = run(&h, "hold-and-spin A/held.json").unwrap_err();
    assert_eq!(e.code(), "policy_error");
    assert!(e.message().contains("ran out of time"), "{}", e.message());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_unlocked(&h.path("A/held.json"));
    // The real policy can take it at once (lock timeout zero).
    let real = exlab_cache::Cache::new(
        exlab_cache::Root::open(h.dir.path()).unwrap(),
        Policy::builtin().unwrap(),
        exlab_cache::Settings {
            lock_timeout: Duration::ZERO,
            ..exlab_cache::Settings::default()
        },
    );
    real.write_equipment("A/held.json", &equipment_input("after"))
        .unwrap();
    serves_next(&h);
}

#[test]
fn asking_twice_for_the_same_lock_in_one_call_times_out_instead_of_hanging() {
    let h = harness();
    let started = Instant::now();
    let e = run(&h, "lock-twice A/twice.json").unwrap_err();
    assert_eq!(e.code(), "lock_timeout", "{e:?}");
    assert_eq!(
        e.message(),
        "A/twice.json: the lock A/twice.json.lock was not had within 0.2s"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_unlocked(&h.path("A/twice.json"));
    serves_next(&h);
}

#[test]
fn reading_a_multi_gigabyte_file_is_capped_at_the_read_limit() {
    let h = harness();
    h.put("big/equipment.json", b"");
    let big = std::fs::File::options()
        .write(true)
        .open(h.path("big/equipment.json"))
        .unwrap();
    big.set_len(3 << 30).unwrap(); // 3 GiB, sparse
    let limit = "the file is larger than the 1048576-byte limit";
    let started = Instant::now();
    for op in ["read", "read-locked"] {
        assert_error(
            run(&h, &format!("{op} big/equipment.json")),
            "io_error",
            &format!("read big/equipment.json: {limit}"),
        );
    }
    // The real policy hits the same cap, for a read and for a write.
    let real = Harness::new();
    std::fs::create_dir_all(real.path("big")).unwrap();
    std::fs::rename(
        h.path("big/equipment.json"),
        real.path("big/equipment.json"),
    )
    .unwrap();
    let e = real.cache.read_equipment("big/equipment.json").unwrap_err();
    assert_eq!(
        (e.code(), e.message()),
        ("io_error", &*format!("read big/equipment.json: {limit}"))
    );
    let e = real
        .cache
        .write_equipment("big/equipment.json", &equipment_input("x"))
        .unwrap_err();
    assert_eq!(e.code(), "io_error");
    assert_eq!(
        std::fs::metadata(real.path("big/equipment.json"))
            .unwrap()
            .len(),
        3 << 30
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    serves_next(&h);
    real.cache
        .write_equipment(EQUIPMENT, &equipment_input("fine"))
        .unwrap();
}

#[test]
fn an_enormous_result_is_stopped_by_the_memory_cap() {
    let h = harness();
    let e = run(&h, &format!("huge-result {}", 1usize << 30)).unwrap_err();
    assert_eq!(e.code(), "policy_error");
    assert!(
        e.message()
            .starts_with("the policy ran out of memory (limit 67108864 bytes)"),
        "{}",
        e.message()
    );
    // Under the cap it is a result like any other.
    assert_eq!(run(&h, "huge-result 1000").unwrap().len(), 1000);
    serves_next(&h);
}

#[test]
fn a_warning_flood_is_capped() {
    let seen = Arc::new(Mutex::new(Vec::<usize>::new()));
    let sink = seen.clone();
    let h = Harness::with(hostile(), move |s| {
        s.on_warning = Arc::new(move |w| sink.lock().unwrap().push(w.len()));
    });
    assert_eq!(run(&h, "warn-flood 2000").unwrap(), "flooded");
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 64);
    assert!(seen.iter().all(|&len| len <= 4096 + '…'.len_utf8()));
}

#[test]
fn a_component_importing_an_ungranted_interface_is_refused_at_load() {
    let e = Policy::from_bytes(&exlab_cache_test_guests::bytes("ungranted-import"))
        .err()
        .expect("refused");
    assert_eq!(e.code(), "policy_error");
    assert!(
        e.message().starts_with(&format!(
            "the policy component does not fit the {} interface",
            exlab_cache::INTERFACE
        )) && e.message().contains("fixture:ungranted/keys"),
        "{}",
        e.message()
    );
    // The CLI refuses it before touching anything, with exit status 9.
    let dir = tempfile::tempdir().unwrap();
    let fixture = exlab_cache_test_guests::path("ungranted-import");
    let run = cli(
        dir.path(),
        &[
            "--policy",
            fixture.to_str().unwrap(),
            "equipment",
            "write",
            EQUIPMENT,
        ],
        &equipment_input("x"),
    );
    assert_eq!(run.status, 9, "{}", run.stderr);
    assert_eq!(run.code(), "policy_error");
    assert_eq!(tree(dir.path()), Vec::<String>::new());
    // The host goes on serving with a good policy.
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("ok"))
        .unwrap();
}

#[test]
fn a_rewrite_through_the_cli_keeps_a_big_unknown_number_exactly() {
    // Regression (found by guest/tests/props.rs): unknown fields were
    // re-encoded through f64 and a 30-digit serial was rounded.
    let dir = tempfile::tempdir().unwrap();
    let stored = r#"{"schema_version":"1.0","id":"CONFOCAL_01","label":"l","configured_local_root":"a","configured_nas_root":"b","first_seen_at":"2020-01-01T00:00:00Z","last_modified_at":"2020-01-01T00:00:00Z","serial": 123456789012345678901234567890,"ratio":1e2}"#;
    let file = dir.path().join(EQUIPMENT);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, stored).unwrap();
    let run = cli(
        dir.path(),
        &["equipment", "write", EQUIPMENT],
        &equipment_input("new"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .ends_with(r#","serial":123456789012345678901234567890,"ratio":1e2}"#),
        "{}",
        run.stdout
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), run.stdout);
}
