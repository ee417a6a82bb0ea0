//! A reused instance behaves as fresh ones do, and is given up after
//! anything that could have left it dirty.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::engine::pool::{all_idle_alive, holds_idle, instantiations};
use crate::testing::{Harness, T0};

const EQUIPMENT: &str = "CONFOCAL_01/.exlab-wizard/equipment.json";
const TEST_RUNS: &str = "CONFOCAL_01/P1/TestRuns/.exlab-wizard/test_runs.json";
const RUNS: &str = "CONFOCAL_01/P1/Runs/.exlab-wizard/runs.json";

/// Whether this thread holds an idle instance of `h`'s policy for its
/// memory limit.
fn idle_instance_of(h: &Harness) -> bool {
    holds_idle(&h.cache.policy().0.alive, h.cache.settings().memory_limit)
}

fn equipment(label: &str) -> String {
    format!(
        r#"{{"id":"CONFOCAL_01","label":"{label}","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab"}}"#
    )
}

/// The shared harness with a 5 s lock timeout and `tweak` on top.
fn harness(policy: Policy, tweak: impl FnOnce(&mut Settings)) -> Harness {
    Harness::with(policy, |s| {
        s.lock_timeout = Duration::from_secs(5);
        tweak(s);
    })
}

/// Every file under `dir` with its bytes, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.strip_prefix(base).unwrap().display().to_string();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Every export and most outcomes, each call run by `run`; the
/// transcript of results, warnings and files.
fn script(h: &Harness, run: &dyn Fn(&(dyn Fn() -> String + Sync)) -> String) -> Vec<String> {
    let c = &h.cache;
    let put = |path: &str, bytes: &str| {
        let path = h.dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    let mut out = Vec::new();
    let mut step = |f: &(dyn Fn() -> String + Sync)| out.push(run(f));
    step(&|| format!("{:?}", c.read_equipment(EQUIPMENT)));
    step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, r#"{"id":"bad id"}"#)));
    step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, "[1]")));
    step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, &equipment("one"))));
    h.clock.advance(60);
    step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, &equipment("two"))));
    step(&|| format!("{:?}", c.read_equipment(EQUIPMENT)));
    put(
        "A/.exlab-wizard/equipment.json",
        r#"{"schema_version":"2.0"}"#,
    );
    step(&|| format!("{:?}", c.read_equipment("A/.exlab-wizard/equipment.json")));
    step(&|| {
        let e = c.write_equipment("A/.exlab-wizard/equipment.json", &equipment("a"));
        format!("{e:?}")
    });
    put("B/.exlab-wizard/equipment.json", "{not json");
    step(&|| format!("{:?}", c.read_equipment("B/.exlab-wizard/equipment.json")));
    step(&|| {
        let e = c.write_equipment("B/.exlab-wizard/equipment.json", &equipment("b"));
        format!("{e:?}")
    });
    let marker = r#"{"project":"P1","equipment":"CONFOCAL_01"}"#;
    step(&|| {
        format!(
            "{:?}",
            c.write_marker(MarkerKind::TestRuns, TEST_RUNS, marker)
        )
    });
    h.clock.advance(60);
    step(&|| {
        format!(
            "{:?}",
            c.write_marker(MarkerKind::TestRuns, TEST_RUNS, marker)
        )
    });
    step(&|| format!("{:?}", c.read_marker(MarkerKind::TestRuns, TEST_RUNS)));
    step(&|| {
        let bad = r#"{"project":"..","equipment":"CONFOCAL_01"}"#;
        format!("{:?}", c.write_marker(MarkerKind::Runs, RUNS, bad))
    });
    step(&|| format!("{:?}", c.write_marker(MarkerKind::Runs, RUNS, marker)));
    step(&|| format!("{:?}", c.read_marker(MarkerKind::Runs, TEST_RUNS)));
    step(&|| format!("{:?}", c.read_equipment("../outside.json")));
    for version in [Some("1.0"), Some("1"), Some("garbage"), Some(" 1.0"), None] {
        step(&|| format!("{:?}", c.require_schema_major(version, 1)));
    }
    out.push(format!("{:?}", h.warnings.all()));
    // The warning names the temp root, which differs between harnesses.
    let root = h.dir.path().display().to_string();
    let mut out: Vec<String> = out.iter().map(|s| s.replace(&root, "<root>")).collect();
    out.push(format!("{:?}", files(h.dir.path())));
    out
}

#[test]
fn a_reused_instance_gives_the_same_results_as_fresh_ones() {
    let policy = Policy::builtin().unwrap();
    // Fresh: each call on a new thread, which has no idle instance.
    let fresh = harness(policy.clone(), |_| {});
    let on_new_thread = |f: &(dyn Fn() -> String + Sync)| {
        std::thread::scope(|s| {
            s.spawn(|| {
                let result = f();
                assert_eq!(instantiations(), 1, "a fresh instance per call");
                result
            })
            .join()
            .unwrap()
        })
    };
    let fresh = script(&fresh, &on_new_thread);

    let reused = harness(policy.clone(), |_| {});
    policy
        .require_schema_major(Some("1.0"), 1, &Default::default())
        .unwrap();
    let before = instantiations();
    let here = |f: &(dyn Fn() -> String + Sync)| f();
    let transcript = script(&reused, &here);
    assert_eq!(instantiations(), before, "every call reused one instance");
    assert!(idle_instance_of(&reused));
    let reused = transcript;

    assert_eq!(fresh.len(), reused.len());
    for (f, r) in fresh.iter().zip(&reused) {
        assert_eq!(f, r);
    }
    // The script did reach the interesting outcomes.
    let all = reused.join("\n");
    for outcome in [
        "NotFound",
        "SchemaMajorMismatch",
        "Decode",
        "Validation",
        "AccessDenied",
    ] {
        assert!(all.contains(outcome), "{outcome} in\n{all}");
    }
    assert!(all.contains("written: false"), "{all}");
}

#[test]
fn a_reused_instance_stamps_with_each_callers_clock_and_limits() {
    let policy = Policy::builtin().unwrap();
    let a = harness(policy.clone(), |_| {});
    let b = harness(policy.clone(), |_| {});
    b.clock.set(T0 + 86_400);
    let a1 = a.cache.write_equipment(EQUIPMENT, &equipment("a")).unwrap();
    let before = instantiations();
    let b1 = b.cache.write_equipment(EQUIPMENT, &equipment("b")).unwrap();
    let a2 = a.cache.write_equipment(EQUIPMENT, &equipment("a")).unwrap();
    assert_eq!(instantiations(), before, "one instance served both caches");
    assert_eq!(a1.equipment.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(b1.equipment.first_seen_at, "2026-04-18T14:00:00Z");
    assert_eq!(a2.equipment.last_modified_at, "2026-04-17T14:00:00Z");

    // The time budget starts afresh with each call: idle time between
    // two calls on a reused instance does not count.
    let quick = harness(policy.clone(), |s| s.time_limit = Duration::from_millis(30));
    quick.cache.require_schema_major(Some("1.0"), 1).unwrap();
    let before = instantiations();
    std::thread::sleep(Duration::from_millis(80));
    quick
        .cache
        .write_equipment(EQUIPMENT, &equipment("q"))
        .unwrap();
    assert_eq!(instantiations(), before);

    // Another memory limit is another instance.
    let small = harness(policy.clone(), |s| s.memory_limit = 32 << 20);
    small.cache.require_schema_major(Some("1.0"), 1).unwrap();
    assert_eq!(instantiations(), before + 1);
}

fn fixture(name: &str) -> Policy {
    Policy::from_bytes(&exlab_cache_test_guests::bytes(name)).unwrap()
}

/// Asserts that `<path>.lock` is free right now.
fn lock_is_free(h: &Harness, path: &str) {
    let root = Root::open(h.dir.path()).unwrap();
    assert!(
        root.lock(path, Duration::ZERO).is_ok(),
        "{path}.lock is held"
    );
}

#[test]
fn a_trap_or_a_limit_discards_the_instance_and_releases_its_locks() {
    for (name, tweak) in [
        ("trap-holding-lock", None),
        ("loop-forever", Some(Duration::from_millis(100))),
        ("grow-memory", None),
    ] {
        let policy = fixture(name);
        let h = harness(policy.clone(), |s| {
            if let Some(limit) = tweak {
                s.time_limit = limit;
            }
            s.memory_limit = 16 << 20;
        });
        // A clean call leaves an idle instance, which the next call uses.
        assert!(h.cache.read_equipment(EQUIPMENT).is_err());
        assert!(idle_instance_of(&h), "{name}");
        let before = instantiations();
        let e = h
            .cache
            .write_equipment(EQUIPMENT, &equipment("x"))
            .unwrap_err();
        assert_eq!(e.code(), "policy_error", "{name}: {e:?}");
        assert_eq!(instantiations(), before, "{name}: the idle instance ran");
        assert!(!idle_instance_of(&h), "{name}: the instance is poisoned");
        lock_is_free(&h, EQUIPMENT);
        // The next call gets a fresh instance, and works.
        assert_eq!(
            h.cache.read_equipment(EQUIPMENT).unwrap_err().code(),
            "not_found"
        );
        assert_eq!(instantiations(), before + 1, "{name}");
    }
}

#[test]
fn a_lock_left_in_the_table_discards_the_instance_and_is_released() {
    let policy = fixture("leak-lock");
    let h = harness(policy.clone(), |_| {});
    let leaked = format!("{EQUIPMENT}.leak");
    h.cache.write_equipment(EQUIPMENT, &equipment("x")).unwrap();
    assert!(!idle_instance_of(&h));
    lock_is_free(&h, &leaked);
    lock_is_free(&h, EQUIPMENT);
    // Calls that leave nothing behind keep their instance.
    h.cache.read_equipment(EQUIPMENT).unwrap();
    assert!(idle_instance_of(&h));
}

#[test]
fn idle_instances_of_a_dropped_policy_are_let_go() {
    let policy = Policy::from_bytes(BUILTIN_POLICY).unwrap();
    let weak = Arc::downgrade(&policy.0.alive);
    let h = harness(policy.clone(), |_| {});
    h.cache.read_equipment(EQUIPMENT).unwrap_err();
    assert!(idle_instance_of(&h));
    drop((h, policy));
    assert_eq!(weak.strong_count(), 0);
    // The next call on this thread, of any policy, prunes them.
    Policy::builtin()
        .unwrap()
        .require_schema_major(Some("1.0"), 1, &Default::default())
        .unwrap();
    assert!(all_idle_alive());
}

#[test]
fn the_build_scripts_sha256_is_the_builtin_policys() {
    assert_eq!(BUILTIN_POLICY_SHA256, sha256_hex(BUILTIN_POLICY));
    assert_eq!(
        Policy::builtin().unwrap().info().sha256,
        BUILTIN_POLICY_SHA256
    );
}
