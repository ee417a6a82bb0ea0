//! Misbehaving policy components (test fixtures built like the real guest):
//! each is stopped with `policy_error`, leaves no lock behind, and the host
//! goes on serving.

use std::time::{Duration, Instant};

use exlab_cache::{Cache, Error, Policy, Root, Settings};
use exlab_cache_tests::*;

fn fixture(name: &str) -> Policy {
    Policy::from_file(exlab_cache_test_guests::path(name)).unwrap()
}

fn limited(settings: &mut Settings) {
    settings.time_limit = Duration::from_millis(300);
    settings.memory_limit = 32 << 20;
    settings.lock_timeout = Duration::ZERO;
}

/// After a failed call, the file's lock is free and the real policy works.
fn assert_host_keeps_serving(h: &Harness) {
    let real = Cache::new(
        Root::open(h.dir.path()).unwrap(),
        Policy::builtin().unwrap(),
        Settings {
            lock_timeout: Duration::ZERO,
            ..Settings::default()
        },
    );
    real.write_equipment(EQUIPMENT, &equipment_input("after"))
        .unwrap();
    assert!(temp_files(h.dir.path()).is_empty());
}

fn policy_error(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Policy { message }) => message,
        other => panic!("expected a policy_error, got {other:?}"),
    }
}

#[test]
fn a_guest_that_loops_forever_is_stopped_by_the_time_limit() {
    let h = Harness::with(fixture("loop-forever"), limited);
    let started = Instant::now();
    let message = policy_error(h.cache.write_equipment(EQUIPMENT, &equipment_input("L")));
    assert!(message.contains("ran out of time"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The same policy object serves again: a fresh instance per call.
    assert_eq!(
        h.cache.read_equipment(EQUIPMENT).unwrap_err().code(),
        "not_found"
    );
    assert_host_keeps_serving(&h);
}

#[test]
fn a_guest_that_grows_memory_without_bound_is_stopped_by_the_memory_cap() {
    let h = Harness::with(fixture("grow-memory"), limited);
    let message = policy_error(h.cache.write_equipment(EQUIPMENT, &equipment_input("L")));
    assert!(message.contains("ran out of memory"), "{message}");
    assert_host_keeps_serving(&h);
}

#[test]
fn a_guest_that_traps_holding_the_lock_leaves_no_lock_and_its_panic_message_reaches_the_user() {
    let h = Harness::with(fixture("trap-holding-lock"), limited);
    h.put(EQUIPMENT, b"old");
    let message = policy_error(h.cache.write_equipment(EQUIPMENT, &equipment_input("L")));
    assert!(
        message.contains("panicked while holding the lock of"),
        "the guest's panic message, not a bare unreachable: {message}"
    );
    let lock = std::fs::File::open(h.path(&format!("{EQUIPMENT}.lock"))).unwrap();
    lock.try_lock()
        .expect("the trapped guest's lock was released");
    drop(lock);
    assert_eq!(h.get(EQUIPMENT), b"old");
    assert_host_keeps_serving(&h);
}

#[test]
fn a_component_of_another_world_is_refused_at_load() {
    let e = Policy::from_bytes(&exlab_cache_test_guests::bytes("wrong-interface"))
        .err()
        .unwrap();
    assert_eq!(e.code(), "policy_error");
    assert!(e.message().contains("exlab:cache"), "{e}");
    for junk in [&b""[..], b"\0asm\x01\0\0\0", b"not wasm at all"] {
        assert_eq!(
            Policy::from_bytes(junk).err().unwrap().code(),
            "policy_error"
        );
    }
}

#[test]
fn time_spent_waiting_for_a_lock_does_not_count_against_the_guest() {
    let h = Harness::with(Policy::builtin().unwrap(), |s| {
        s.time_limit = Duration::from_millis(100);
        s.lock_timeout = Duration::from_secs(20);
    });
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L"))
        .unwrap();
    let lock = std::fs::File::open(h.path(&format!("{EQUIPMENT}.lock"))).unwrap();
    lock.lock().unwrap();
    let holder = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        drop(lock);
    });
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("L2"))
        .unwrap();
    holder.join().unwrap();
}

#[test]
fn every_fixture_has_a_test() {
    fn sources(dir: &std::path::Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    // The integration tests, their harness, and the host's unit tests.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    for dir in ["tests", "src", "../host/src"] {
        sources(&manifest.join(dir), &mut text);
    }
    for name in exlab_cache_test_guests::FIXTURES {
        let used = [
            format!("exlab_cache_test_guests::path(\"{name}\")"),
            format!("exlab_cache_test_guests::bytes(\"{name}\")"),
            format!("fixture(\"{name}\")"),
        ];
        assert!(
            used.iter().any(|u| text.contains(u.as_str())),
            "fixture {name} is used by no test"
        );
    }
}
