//! The host serves every interface version it lists at once: a policy
//! built for `exlab:cache@1.0.0` (the real policy, built for the frozen
//! world: fixture `policy-v1-0`) keeps serving the 1.0 operations exactly
//! as a 1.1 policy does; what it lacks is a `policy_error` naming both
//! versions; and the conformance gate checks it against its own version.

use exlab_cache::interface::{self, ACCEPTED_INTERFACES, INTERFACE};
use exlab_cache::{conformance, MarkerKind, Policy};
use exlab_cache_tests::*;

const V1_0: &str = "exlab:cache@1.0.0";

fn policy_v1_0() -> Policy {
    Policy::from_bytes(&exlab_cache_test_guests::bytes("policy-v1-0")).unwrap()
}

#[test]
fn the_host_serves_1_0_and_1_1_and_the_built_in_policy_is_1_1() {
    assert_eq!(ACCEPTED_INTERFACES, ["exlab:cache@1.1.0", V1_0]);
    assert_eq!(INTERFACE, "exlab:cache@1.1.0");
    assert_eq!(Policy::builtin().unwrap().info().interface, INTERFACE);
    let bytes = exlab_cache_test_guests::bytes("policy-v1-0");
    assert_eq!(
        interface::component_interface(&bytes).as_deref(),
        Some(V1_0)
    );
    assert_eq!(policy_v1_0().info().interface, V1_0);
}

#[test]
fn a_1_0_policy_serves_the_1_0_operations_exactly_as_the_1_1_policy() {
    let old = Harness::with(policy_v1_0(), |_| {});
    let new = Harness::new();
    for h in [&old, &new] {
        h.clock.set(T0);
    }
    let both = |f: &dyn Fn(&Harness) -> String| (f(&old), f(&new));
    let (a, b) = both(&|h| {
        h.cache
            .write_equipment(EQUIPMENT, &equipment_input("Confocal"))
            .unwrap()
            .document
    });
    assert_eq!(a, b);
    let (a, b) = both(&|h| format!("{:?}", h.cache.read_equipment(EQUIPMENT).unwrap()));
    assert_eq!(a, b);
    for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
        let path = if kind == MarkerKind::Runs {
            RUNS
        } else {
            TEST_RUNS
        };
        let (a, b) = both(&|h| {
            let first = h
                .cache
                .write_marker(kind, path, &marker_input("P1"))
                .unwrap();
            let again = h
                .cache
                .write_marker(kind, path, &marker_input("P2"))
                .unwrap();
            format!("{first:?} {again:?}")
        });
        assert_eq!(a, b);
    }
    let (a, b) = both(&|h| {
        format!(
            "{:?}",
            h.cache
                .read_marker(MarkerKind::Runs, "nope/runs.json")
                .unwrap_err()
        )
    });
    assert_eq!(a, b);
    let (a, b) = both(&|h| {
        format!(
            "{:?} {:?}",
            h.cache.require_schema_major(Some("1.7"), 1),
            h.cache.require_schema_major(Some("2.0"), 1)
        )
    });
    assert_eq!(a, b);
    assert_eq!(tree(old.dir.path()), tree(new.dir.path()));
}

#[test]
fn an_operation_a_1_0_policy_lacks_is_a_policy_error_naming_both_versions_and_touches_nothing() {
    let h = Harness::with(policy_v1_0(), |_| {});
    let e = h.cache.kinds().unwrap_err();
    assert_eq!(e.code(), "policy_error");
    assert!(
        e.message().contains(V1_0) && e.message().contains(INTERFACE),
        "{e}"
    );
    let path = "CONFOCAL_01/P1/.exlab-wizard/creation.json";
    let e = h.cache.create_creation(path, "{}").unwrap_err();
    assert_eq!(e.code(), "policy_error");
    assert!(e.message().contains(V1_0) && e.message().contains(INTERFACE));
    let e = h
        .cache
        .update_creation(path, |_| Ok::<_, std::convert::Infallible>(()))
        .unwrap_err();
    assert!(matches!(e, exlab_cache::UpdateError::Cache(ref e) if e.code() == "policy_error"));
    assert!(tree(h.dir.path()).is_empty(), "{:?}", tree(h.dir.path()));
    // And the host keeps serving its 1.0 operations.
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("Confocal"))
        .unwrap();
}

#[test]
fn the_gate_checks_a_policy_against_the_version_it_implements() {
    let settings = exlab_cache::Settings::default();
    let old = conformance::check(&policy_v1_0(), &settings).unwrap();
    assert!(old.passed, "{}", old.to_json());
    let new = conformance::check(&Policy::builtin().unwrap(), &settings).unwrap();
    assert!(new.passed, "{}", new.to_json());
    let names = |r: &conformance::ConformanceReport| -> Vec<&str> {
        r.scenarios.iter().map(|s| s.name).collect()
    };
    assert_eq!(names(&old), conformance::scenarios_for(V1_0));
    assert_eq!(names(&new), conformance::scenarios_for(INTERFACE));
    assert!(names(&new).len() > names(&old).len());
    assert!(
        names(&new).starts_with(&names(&old)),
        "1.1 keeps every 1.0 scenario"
    );
}

#[test]
fn a_running_host_swaps_between_a_1_1_and_a_1_0_policy_and_back() {
    let h = Harness::new();
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input("Confocal"))
        .unwrap();
    let swapped = h
        .cache
        .swap_policy(&exlab_cache_test_guests::bytes("policy-v1-0"))
        .unwrap();
    assert_eq!(swapped.current.interface, V1_0);
    assert_eq!(h.cache.read_equipment(EQUIPMENT).unwrap().label, "Confocal");
    assert_eq!(h.cache.kinds().unwrap_err().code(), "policy_error");
    let back = h.cache.rollback().unwrap();
    assert_eq!(back.current.interface, INTERFACE);
    assert!(!h.cache.kinds().unwrap().is_empty());
}

#[test]
fn the_cli_serves_a_1_0_policy_and_checks_it_against_1_0() {
    let dir = tempfile::tempdir().unwrap();
    let policy = exlab_cache_test_guests::path("policy-v1-0");
    let policy = policy.to_str().unwrap();
    let run = cli(
        dir.path(),
        &["--policy", policy, "equipment", "write", EQUIPMENT],
        &equipment_input("Confocal"),
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["label"], "Confocal");
    let run = cli(
        dir.path(),
        &[
            "--policy",
            policy,
            "creation",
            "read",
            "P/.exlab-wizard/creation.json",
        ],
        "",
    );
    assert_eq!(run.status, 9, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    let message = run.error()["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains(V1_0) && message.contains(INTERFACE),
        "{message}"
    );
    let run = cli(dir.path(), &["policy", "check", policy], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["policy"]["interface"], V1_0);
    assert_eq!(
        report["scenarios"].as_array().unwrap().len(),
        conformance::scenarios_for(V1_0).len()
    );
}
