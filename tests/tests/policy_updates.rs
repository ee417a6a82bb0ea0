//! Issue 3: policy updates. Runtime swap, interface versions, provenance,
//! the conformance gate, policy 1.1 and a broken policy as fixtures, and
//! watching a policy file.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use exlab_cache::watch::{PolicyWatcher, Watch, WatchEvent, WatchOptions};
use exlab_cache::{
    conformance, interface, sha256_hex, Admission, AllowList, Clock, Error, ManualClock,
    MarkerKind, Policy, BUILTIN_POLICY, INTERFACE,
};
use exlab_cache_tests::*;

fn fixture(name: &str) -> std::path::PathBuf {
    exlab_cache_test_guests::path(name)
}

fn long_label(chars: usize) -> String {
    "é".repeat(chars)
}

fn assert_policy_error(e: &Error, needles: &[&str]) {
    assert_eq!(e.code(), "policy_error", "{e:?}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
}

// ---------------------------------------------------------------- 1. swap

#[test]
fn policy_1_1_swaps_in_and_its_rule_applies_to_the_next_call() {
    let h = Harness::new();
    // 1.0 takes a 101-character label and a created_at in the future.
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input(&long_label(101)))
        .unwrap();
    let future = serde_json::json!({
        "project": "P1", "equipment": "CONFOCAL_01", "created_at": "2026-04-18T14:00:00Z"
    })
    .to_string();
    let w = h
        .cache
        .write_marker(MarkerKind::TestRuns, TEST_RUNS, &future)
        .unwrap();
    assert!(w.written);

    let swapped = h.cache.swap_policy_file(fixture("policy-1-2")).unwrap();
    assert_eq!(swapped.previous.version, "1.1.0");
    assert_eq!(swapped.current.version, "1.2.0");
    assert_eq!(swapped.current.name, "exlab-cache-policy");
    assert!(swapped.report.passed);
    assert_eq!(
        swapped.report.scenarios.len(),
        conformance::scenarios_for(INTERFACE).len()
    );
    assert_eq!(h.cache.policy_info(), swapped.current);
    let before = h.get(EQUIPMENT);

    // The next call runs 1.1: labels of at most 100 characters.
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&long_label(101)))
        .unwrap_err();
    assert_eq!(e.code(), "validation_error");
    assert_eq!(e.field(), Some("label"));
    assert_eq!(h.get(EQUIPMENT), before, "a refused input touches nothing");
    // An earlier field's error still comes first.
    let bad_id = serde_json::json!({
        "id": "bad id", "label": long_label(101),
        "configured_local_root": "/l", "configured_nas_root": "/n"
    });
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &bad_id.to_string())
        .unwrap_err();
    assert_eq!(e.field(), Some("id"));
    h.clock.advance(60);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&long_label(100)))
        .unwrap();
    assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.equipment.last_modified_at, "2026-04-17T14:01:00Z");

    // ...and a created_at in the future is refused; now or earlier is fine.
    let e = h
        .cache
        .write_marker(MarkerKind::Runs, RUNS, &future)
        .unwrap_err();
    assert_eq!(e.code(), "validation_error");
    assert_eq!(e.field(), Some("created_at"));
    assert!(!h.path(RUNS).exists());
    let past = serde_json::json!({
        "project": "P1", "equipment": "CONFOCAL_01", "created_at": "2026-04-17T14:01:00Z"
    });
    assert!(
        h.cache
            .write_marker(MarkerKind::Runs, RUNS, &past.to_string())
            .unwrap()
            .written
    );
}

#[test]
fn a_swap_reaches_every_clone_of_the_cache() {
    let h = Harness::new();
    let clone = h.cache.clone();
    h.cache
        .swap_policy(&std::fs::read(fixture("policy-1-2")).unwrap())
        .unwrap();
    assert_eq!(clone.policy_info().version, "1.2.0");
    // And back: the built-in policy, as a compiled Policy.
    let swapped = clone.set_policy(Policy::builtin().unwrap()).unwrap();
    assert_eq!(swapped.previous.version, "1.2.0");
    assert_eq!(h.cache.policy_info().version, "1.1.0");
}

#[test]
fn the_broken_policy_is_refused_by_the_gate_and_1_0_keeps_serving() {
    let h = Harness::new();
    let e = h
        .cache
        .swap_policy_file(fixture("rewrites-first-seen"))
        .unwrap_err();
    assert_policy_error(
        &e,
        &[
            "exlab-cache-broken-first-seen 1.1.1",
            "conformance gate",
            "rewrite-keeps-first-seen-at",
        ],
    );
    assert_eq!(h.cache.policy_info(), *Policy::builtin().unwrap().info());
    // The gate ran in a scratch root: the real one is untouched.
    assert_eq!(tree(h.dir.path()), Vec::<String>::new());
    // 1.0 still serves: a rewrite keeps first_seen_at.
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("A"))
        .unwrap();
    h.clock.advance(3600);
    let w = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input("B"))
        .unwrap();
    assert_eq!(w.equipment.first_seen_at, "2026-04-17T14:00:00Z");
    assert_eq!(w.equipment.last_modified_at, "2026-04-17T15:00:00Z");
}

#[test]
fn the_gate_report_names_each_failed_scenario() {
    let broken = Policy::from_file(fixture("rewrites-first-seen")).unwrap();
    let report = conformance::check(&broken, &Default::default()).unwrap();
    assert!(!report.passed);
    let failed: Vec<_> = report.failures().map(|s| s.name).collect();
    assert!(
        failed.contains(&"rewrite-keeps-first-seen-at"),
        "{failed:?}"
    );
    assert!(
        !failed.contains(&"first-write-stamps-both-timestamps"),
        "{failed:?}"
    );
    let ok = conformance::check(&Policy::builtin().unwrap(), &Default::default()).unwrap();
    assert!(ok.passed, "{ok:?}");
    let names: Vec<_> = ok.scenarios.iter().map(|s| s.name).collect();
    assert_eq!(names, conformance::scenarios_for(&ok.policy.interface));
}

#[test]
fn a_policy_that_runs_away_is_refused_by_the_gate_without_running_every_scenario() {
    let looping = Policy::from_file(fixture("loop-forever")).unwrap();
    let settings = exlab_cache::Settings {
        time_limit: Duration::from_millis(200),
        ..Default::default()
    };
    let report = conformance::check(&looping, &settings).unwrap();
    assert!(!report.passed);
    let first = &report.scenarios[1];
    assert_eq!(first.name, "first-write-stamps-both-timestamps");
    assert!(first.detail.contains("policy_error"), "{first:?}");
    assert!(report.scenarios[2..]
        .iter()
        .all(|s| !s.passed && s.detail.starts_with("not run")));
    let e = report.into_result().unwrap_err();
    assert_policy_error(&e, &["exlab-cache-test-guest 0.0.0", "ran out of time"]);
}

#[test]
fn a_policy_that_does_not_load_is_refused_and_the_old_one_keeps_serving() {
    let h = Harness::new();
    for bytes in [
        b"not wasm".to_vec(),
        std::fs::read(fixture("wrong-interface")).unwrap(),
        std::fs::read(fixture("interface-v2")).unwrap(),
    ] {
        let e = h.cache.swap_policy(&bytes).unwrap_err();
        assert_eq!(e.code(), "policy_error");
        assert_eq!(h.cache.policy_info().version, "1.1.0");
    }
    let e = h
        .cache
        .swap_policy_file(h.path("missing.wasm"))
        .unwrap_err();
    assert_policy_error(&e, &["missing.wasm"]);
}

/// A clock that, once armed, stops the first call that reads it until told
/// to go on: a call provably in flight, without sleeping.
struct HoldingClock {
    inner: ManualClock,
    hold: Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>,
}

impl Clock for HoldingClock {
    fn now(&self) -> SystemTime {
        let hold = self.hold.lock().unwrap().take();
        if let Some((entered, go_on)) = hold {
            entered.send(()).unwrap();
            go_on.recv().unwrap();
        }
        self.inner.now()
    }
}

#[test]
fn a_call_in_flight_finishes_on_the_old_policy() {
    let clock = Arc::new(HoldingClock {
        inner: ManualClock::at(T0),
        hold: Mutex::new(None),
    });
    let h = Harness::with(Policy::builtin().unwrap(), |s| {
        s.clock = clock.clone() as Arc<dyn Clock>;
        s.time_limit = Duration::from_secs(300);
    });
    let (entered_tx, entered) = mpsc::channel();
    let (go_on, go_on_rx) = mpsc::channel();
    *clock.hold.lock().unwrap() = Some((entered_tx, go_on_rx));
    let cache = h.cache.clone();
    let in_flight = std::thread::spawn(move || {
        cache.write_equipment(EQUIPMENT, &equipment_input(&long_label(150)))
    });
    entered.recv().unwrap(); // the 1.0 call is inside the guest, holding its lock
    let swapped = h.cache.swap_policy_file(fixture("policy-1-2")).unwrap();
    assert_eq!(swapped.current.version, "1.2.0");
    go_on.send(()).unwrap();
    let w = in_flight
        .join()
        .unwrap()
        .expect("the call that started on 1.0 ends on 1.0");
    assert_eq!(w.equipment.label, long_label(150));
    let e = h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&long_label(150)))
        .unwrap_err();
    assert_eq!(e.field(), Some("label"));
}

#[test]
fn many_threads_call_while_swaps_happen() {
    let h = Harness::new();
    let v1_0 = Policy::builtin().unwrap();
    let v1_1 = Policy::from_file(fixture("policy-1-2")).unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|n| {
            let cache = h.cache.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let path = format!("EQ_{n}/.exlab-wizard/equipment.json");
                let input = |label: String| {
                    serde_json::json!({
                        "id": format!("EQ_{n}"), "label": label,
                        "configured_local_root": "/l", "configured_nas_root": "/n"
                    })
                    .to_string()
                };
                let (mut ok, mut refused, mut calls) = (0, 0, 0);
                let mut first_seen = None;
                while !done.load(std::sync::atomic::Ordering::SeqCst) || calls < 20 {
                    calls += 1;
                    // Accepted by 1.0, refused by 1.1: each call ran on one
                    // whole policy or the other, never on a mix or on none.
                    match cache.write_equipment(&path, &input(long_label(101))) {
                        Ok(w) => {
                            ok += 1;
                            let seen = first_seen.get_or_insert(w.equipment.first_seen_at.clone());
                            assert_eq!(*seen, w.equipment.first_seen_at);
                        }
                        Err(e) => {
                            assert_eq!(e.field(), Some("label"), "{e:?}");
                            refused += 1;
                        }
                    }
                    let short = cache
                        .write_equipment(&path, &input("short".into()))
                        .unwrap();
                    assert_eq!(short.equipment.label, "short");
                    let read = cache.read_equipment(&path).unwrap();
                    assert_eq!(read.id, format!("EQ_{n}"));
                }
                (ok, refused)
            })
        })
        .collect();
    for round in 0..6 {
        let next = if round % 2 == 0 { &v1_1 } else { &v1_0 };
        let swapped = h.cache.set_policy(next.clone()).unwrap();
        assert_eq!(swapped.current, *next.info());
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut total = (0, 0);
    for w in workers {
        let (ok, refused) = w.join().expect("no worker panicked");
        total = (total.0 + ok, total.1 + refused);
    }
    assert!(total.0 + total.1 >= 80);
    // The last swap wins: 1.0 serves, and 1.0 takes the long label.
    assert_eq!(h.cache.policy_info(), *v1_0.info());
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input(&long_label(101)))
        .unwrap();
    assert_eq!(temp_files(h.dir.path()), Vec::<String>::new());
}

// ---------------------------------------------------------- 2. versions

#[test]
fn another_interface_major_is_refused_before_compiling_naming_both_versions() {
    let bytes = std::fs::read(fixture("interface-v2")).unwrap();
    assert_eq!(
        interface::component_interface(&bytes).as_deref(),
        Some("exlab:cache@2.0.0")
    );
    let Err(e) = Policy::from_bytes(&bytes) else {
        panic!("a policy for exlab:cache@2.0.0 loaded")
    };
    assert_policy_error(&e, &["exlab:cache@2.0.0", "exlab:cache@1.0.0", "major"]);
    // Refused from its name alone: the compiler's type error is not reached.
    assert!(!e.message().contains("does not fit"), "{e}");
}

#[test]
fn policy_info_reports_name_semver_interface_and_sha256() {
    let p = Policy::from_file(fixture("policy-1-2")).unwrap();
    let bytes = std::fs::read(fixture("policy-1-2")).unwrap();
    assert_eq!(p.info().name, "exlab-cache-policy");
    assert_eq!(p.info().version, "1.2.0");
    assert_eq!(p.info().interface, INTERFACE);
    assert_eq!(p.info().sha256, sha256_hex(&bytes));
    let builtin = Policy::builtin().unwrap();
    assert_eq!(builtin.info().version, "1.1.0");
    assert_eq!(builtin.info().sha256, sha256_hex(BUILTIN_POLICY));
}

#[test]
fn every_accepted_interface_has_its_frozen_wit_folder() {
    let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
    for accepted in interface::ACCEPTED_INTERFACES {
        let v = accepted.strip_prefix("exlab:cache@").unwrap();
        let folder = wit.join(format!("since_v{v}"));
        let text = std::fs::read_to_string(folder.join("exlab-cache.wit"))
            .unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
        assert!(text.contains(&format!("package {accepted};")), "{accepted}");
    }
    // Released WIT is frozen: a change needs a new since_vX.Y.Z folder.
    for (folder, sha256) in [
        (
            "since_v1.0.0",
            "784fb3455b8aa8129e85248dccde9dbfdf18ea8f2c5731dc922bdf1218873fab",
        ),
        (
            "since_v1.1.0",
            "15f73f4f9d86a79919d9150a84273da7cdf865501e259ba649cf5436479716da",
        ),
    ] {
        let released = std::fs::read(wit.join(folder).join("exlab-cache.wit")).unwrap();
        assert_eq!(
            sha256_hex(&released),
            sha256,
            "wit/{folder} was released and is frozen: add a new folder instead"
        );
    }
}

// -------------------------------------------------------- 3. provenance

#[test]
fn the_allow_list_refuses_unlisted_components_before_compiling() {
    let listed = AllowList::new([sha256_hex(BUILTIN_POLICY)]).unwrap();
    let h = Harness::new();
    h.cache.set_admission(Admission::allow_list(listed));
    let v1_1 = std::fs::read(fixture("policy-1-2")).unwrap();
    let e = h.cache.swap_policy(&v1_1).unwrap_err();
    assert_policy_error(&e, &[&sha256_hex(&v1_1), "not on", "before compiling"]);
    // Bytes that would not even compile are refused by the list first.
    let e = h.cache.swap_policy(b"not wasm").unwrap_err();
    assert_policy_error(&e, &["not on"]);
    let compiled = Policy::from_bytes(&v1_1).unwrap();
    assert_policy_error(&h.cache.set_policy(compiled).unwrap_err(), &["not on"]);
    assert_eq!(h.cache.policy_info().version, "1.1.0");

    // Listed: it swaps in. A file of hashes as `sha256sum` writes it.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("allowed.txt");
    std::fs::write(
        &file,
        format!("# vetted\n{}  policy-1-2.wasm\n", sha256_hex(&v1_1)),
    )
    .unwrap();
    let h = Harness::new();
    h.cache
        .set_admission(Admission::allow_list(AllowList::from_file(&file).unwrap()));
    assert_eq!(h.cache.swap_policy(&v1_1).unwrap().current.version, "1.2.0");
}

// ------------------------------------------------------------- 6. watch

fn write_atomically(path: &std::path::Path, bytes: &[u8]) {
    let tmp = path.with_extension("wasm.tmp");
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_watched_file_is_reloaded_once_it_settles_and_only_when_it_passes() {
    let h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.wasm");
    write_atomically(&file, BUILTIN_POLICY);
    let debounce = Duration::from_secs(2);
    let mut watch = Watch::new(h.cache.clone(), &file, debounce);
    let t0 = Instant::now();
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    // The policy already serving: nothing to do.
    assert!(watch.poll(at(0)).is_none());
    assert!(watch.poll(at(2)).is_none());
    assert!(watch.poll(at(5)).is_none());

    // Policy 1.1 arrives, half-written first: the debounce restarts on each change.
    let v1_1 = std::fs::read(fixture("policy-1-2")).unwrap();
    std::fs::write(&file, &v1_1[..1000]).unwrap();
    assert!(watch.poll(at(10)).is_none());
    write_atomically(&file, &v1_1);
    assert!(watch.poll(at(11)).is_none());
    assert!(watch.poll(at(12)).is_none(), "not settled yet");
    assert_eq!(h.cache.policy_info().version, "1.1.0");
    match watch.poll(at(13)) {
        Some(WatchEvent::Swapped(s)) => assert_eq!(s.current.version, "1.2.0"),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.cache.policy_info().version, "1.2.0");
    assert!(watch.poll(at(20)).is_none());

    // A broken policy is refused once, not retried, and 1.1 keeps serving.
    let broken = std::fs::read(fixture("rewrites-first-seen")).unwrap();
    write_atomically(&file, &broken);
    assert!(watch.poll(at(30)).is_none());
    match watch.poll(at(32)) {
        Some(WatchEvent::Refused { sha256, error }) => {
            assert_eq!(sha256, sha256_hex(&broken));
            assert_policy_error(&error, &["rewrite-keeps-first-seen-at"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(watch.poll(at(40)).is_none());
    assert_eq!(h.cache.policy_info().version, "1.2.0");

    // A missing file is reported once; the policy keeps serving.
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(
        watch.poll(at(50)),
        Some(WatchEvent::Unreadable { .. })
    ));
    assert!(watch.poll(at(51)).is_none());
    // Back to 1.0.
    write_atomically(&file, BUILTIN_POLICY);
    assert!(watch.poll(at(60)).is_none());
    assert!(matches!(watch.poll(at(62)), Some(WatchEvent::Swapped(_))));
    assert_eq!(h.cache.policy_info().version, "1.1.0");
}

#[test]
fn a_policy_watcher_thread_swaps_a_dropped_file_in() {
    let h = Harness::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.wasm");
    let (events, received) = mpsc::channel();
    let options = WatchOptions {
        interval: Duration::from_millis(10),
        debounce: Duration::from_millis(30),
        ..WatchOptions::default()
    };
    let watcher = PolicyWatcher::spawn(h.cache.clone(), &file, options, move |event| {
        let _ = events.send(event);
    })
    .unwrap();
    // Not there yet.
    assert!(matches!(
        received.recv_timeout(Duration::from_secs(60)).unwrap(),
        WatchEvent::Unreadable { .. }
    ));
    write_atomically(&file, &std::fs::read(fixture("policy-1-2")).unwrap());
    match received.recv_timeout(Duration::from_secs(120)).unwrap() {
        WatchEvent::Swapped(s) => assert_eq!(s.current.version, "1.2.0"),
        other => panic!("{other:?}"),
    }
    watcher.stop();
    assert_eq!(h.cache.policy_info().version, "1.2.0");
}

// --------------------------------------------------------------- CLI

fn write_temp(dir: &std::path::Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.display().to_string()
}

#[test]
fn cli_policy_check_passes_the_shipped_policy_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = write_temp(dir.path(), "policy.wasm", BUILTIN_POLICY);
    let run = cli(dir.path(), &["policy", "check", &shipped], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["host_accepts"],
        serde_json::json!(interface::ACCEPTED_INTERFACES)
    );
    assert_eq!(report["policy"]["version"], "1.1.0");
    assert_eq!(report["policy"]["sha256"], sha256_hex(BUILTIN_POLICY));
    let scenarios = report["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), conformance::scenarios_for(INTERFACE).len());
    assert!(scenarios.iter().all(|s| s["passed"] == true));
    assert_eq!(
        tree(dir.path()),
        vec!["policy.wasm"],
        "the gate used no folder here"
    );
}

#[test]
fn cli_policy_check_refuses_the_broken_policy_with_a_clear_report() {
    let dir = tempfile::tempdir().unwrap();
    let broken = fixture("rewrites-first-seen").display().to_string();
    let run = cli(dir.path(), &["policy", "check", &broken], "");
    assert_eq!(run.status, 9);
    assert_eq!(run.stdout, "");
    assert_eq!(run.code(), "policy_error");
    let message = run.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("rewrite-keeps-first-seen-at"), "{message}");
    assert!(
        run.stderr
            .contains("FAILED rewrite-keeps-first-seen-at: first_seen_at"),
        "{}",
        run.stderr
    );
    // Another interface major: both versions named.
    let v2 = fixture("interface-v2").display().to_string();
    let run = cli(dir.path(), &["policy", "check", &v2], "");
    assert_eq!(run.status, 9);
    let message = run.error()["message"].as_str().unwrap().to_owned();
    assert!(message.contains("exlab:cache@2.0.0") && message.contains("exlab:cache@1.0.0"));
    // A usage error stays a usage error.
    let run = cli(dir.path(), &["policy", "check"], "");
    assert_eq!(run.status, 2);
}

#[test]
fn cli_allow_list_gates_policy_and_policy_check() {
    let dir = tempfile::tempdir().unwrap();
    let v1_1_bytes = std::fs::read(fixture("policy-1-2")).unwrap();
    let v1_1 = write_temp(dir.path(), "policy-1-2.wasm", &v1_1_bytes);
    let v1_1 = v1_1.as_str();
    let allowed = write_temp(
        dir.path(),
        "allowed.txt",
        format!("{}  other.wasm\n", sha256_hex(BUILTIN_POLICY)).as_bytes(),
    );
    let allowed = allowed.as_str();
    for args in [
        vec!["--allow-policy-hashes", allowed, "policy", "check", v1_1],
        vec![
            "--allow-policy-hashes",
            allowed,
            "--policy",
            v1_1,
            "policy",
            "info",
        ],
    ] {
        let run = cli(dir.path(), &args, "");
        assert_eq!(run.status, 9, "{args:?}: {}", run.stderr);
        assert_eq!(run.stdout, "");
        let message = run.error()["message"].as_str().unwrap().to_owned();
        assert!(message.contains("not on"), "{message}");
    }
    let missing = dir.path().join("missing.txt").display().to_string();
    let run = cli(
        dir.path(),
        &["--allow-policy-hashes", &missing, "policy", "info"],
        "",
    );
    assert_eq!(run.status, 9, "an unreadable list accepts nothing");

    std::fs::write(allowed, format!("{}\n", sha256_hex(&v1_1_bytes))).unwrap();
    let run = cli(
        dir.path(),
        &[
            "--allow-policy-hashes",
            allowed,
            "--policy",
            v1_1,
            "policy",
            "info",
        ],
        "",
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let info = run.json();
    assert_eq!(info["name"], "exlab-cache-policy");
    assert_eq!(info["version"], "1.2.0");
    assert_eq!(info["interface"], INTERFACE);
    assert_eq!(info["sha256"], sha256_hex(&v1_1_bytes));
    // The policy's rule through the CLI.
    let run = cli(
        dir.path(),
        &["--policy", v1_1, "equipment", "write", EQUIPMENT],
        &equipment_input(&long_label(101)),
    );
    assert_eq!(run.status, 6);
    assert_eq!(run.error()["field"], "label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_cache_swaps_on_the_blocking_pool() {
    let h = Harness::new();
    let cache = exlab_cache::AsyncCache::new(h.cache.clone());
    let v1_1 = std::fs::read(fixture("policy-1-2")).unwrap();
    let swapped = cache.swap_policy(v1_1).await.unwrap();
    assert_eq!(swapped.current.version, "1.2.0");
    let e = cache
        .write_equipment(EQUIPMENT, equipment_input(&long_label(101)))
        .await
        .unwrap_err();
    assert_eq!(e.field(), Some("label"));
}
