//! validation_overrides: derived ids, the append-only rule, and the app's
//! matching algorithm with its cases.

use super::*;
use crate::memory::MemEnv;
use serde_json::{json, Value};

const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

fn override_entry(id: &str, expires_at: Option<&str>) -> Value {
    let mut entry = json!({"id": id, "problem_class": "leftover_jinja_marker", "operator": "op",
        "recorded_at": "2026-04-18T09:14:22Z", "reason": "r", "revoked": false});
    if let Some(at) = expires_at {
        entry["expires_at"] = json!(at);
    }
    entry
}

fn tombstone(id: &str, revokes: Option<&str>) -> Value {
    let mut entry = json!({"id": id, "operator": "op", "recorded_at": "2026-04-18T10:00:00Z",
        "reason": "revoked", "revoked": true});
    if let Some(target) = revokes {
        entry["revokes"] = json!(target);
    }
    entry
}

/// The ids `active-overrides` answers, with `now` (JSON) when given.
fn active_ids(env: &MemEnv, entries: Value, now: Option<&str>) -> Vec<String> {
    let mut input = json!({"validation_overrides": entries});
    if let Some(now) = now {
        input["now"] = json!(now);
    }
    let out: Value = serde_json::from_str(&active(&env, &input.to_string()).unwrap()).unwrap();
    out.as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap_or("?").to_owned())
        .collect()
}

#[test]
fn active_overrides_of_none_is_none() {
    assert!(active_ids(&MemEnv::at(T0), json!([]), None).is_empty());
}

#[test]
fn active_overrides_keep_an_unrevoked_unexpired_entry_as_given() {
    let env = MemEnv::at(T0);
    let input = r#"{"validation_overrides":[ {"id" : "aa", "revoked":false, "n":1e2} ]}"#;
    assert_eq!(
        active(&&env, input).unwrap(),
        r#"[{"id":"aa","revoked":false,"n":1e2}]"#
    );
}

#[test]
fn active_overrides_drop_an_entry_a_tombstone_revokes() {
    let env = MemEnv::at(T0);
    let entries = json!([override_entry("aa", None), tombstone("bb", Some("aa"))]);
    assert!(active_ids(&env, entries, None).is_empty());
    assert!(env.warnings.borrow().is_empty());
}

#[test]
fn active_overrides_drop_expired_entries_at_now() {
    let env = MemEnv::at(T0);
    let entries = json!([
        override_entry("past", Some("2026-04-16T14:00:00+00:00")),
        override_entry("future", Some("2026-04-18T14:00:00.123456+00:00")),
        override_entry("now", Some("2026-04-17T14:00:00Z")),
    ]);
    assert_eq!(active_ids(&env, entries, None), ["future"]);
}

#[test]
fn active_overrides_use_an_explicit_now() {
    let env = MemEnv::at(T0);
    let entries = json!([override_entry("aa", Some("2026-04-18T12:00:00Z"))]);
    assert_eq!(
        active_ids(&env, entries.clone(), Some("2026-04-18T10:00:00Z")),
        ["aa"]
    );
    assert!(active_ids(&env, entries.clone(), Some("2026-04-18T14:00:00+00:00")).is_empty());
    // A naive now is UTC; microseconds count.
    assert_eq!(
        active_ids(&env, entries.clone(), Some("2026-04-18T11:59:59.999999")),
        ["aa"]
    );
    assert!(active_ids(&env, entries, Some("2026-04-18T12:00:00")).is_empty());
}

#[test]
fn active_overrides_warn_about_an_orphan_tombstone_which_has_no_effect() {
    let env = MemEnv::at(T0);
    let entries = json!([
        tombstone("bb", Some("missing-id")),
        override_entry("cc", None)
    ]);
    assert_eq!(active_ids(&env, entries, None), ["cc"]);
    assert_eq!(
        *env.warnings.borrow(),
        ["tombstone references unknown override id (orphan): id=bb revokes=missing-id"]
    );
}

#[test]
fn active_overrides_treat_a_malformed_expires_at_as_expired_with_a_warning() {
    let env = MemEnv::at(T0);
    let mut odd = override_entry("odd", None);
    odd["expires_at"] = json!(12);
    let entries = json!([
        override_entry("aa", Some("this is not a timestamp")),
        odd,
        override_entry("empty", Some(""))
    ]);
    assert!(active_ids(&env, entries, None).is_empty());
    let warnings = env.warnings.borrow();
    assert_eq!(warnings.len(), 3);
    assert!(
        warnings[0].contains("expires_at is malformed"),
        "{warnings:?}"
    );
}

#[test]
fn active_overrides_judge_expiry_only_for_entries_neither_revoked_nor_targeted() {
    let env = MemEnv::at(T0);
    let mut revoked = override_entry("r", Some("bad"));
    revoked["revoked"] = json!(true);
    let entries = json!([
        revoked,
        override_entry("t", Some("bad")),
        tombstone("x", Some("t"))
    ]);
    assert!(active_ids(&env, entries, None).is_empty());
    assert!(
        env.warnings.borrow().is_empty(),
        "{:?}",
        env.warnings.borrow()
    );
}

#[test]
fn active_overrides_skip_a_tombstone_without_a_target_silently() {
    let env = MemEnv::at(T0);
    let entries = json!([tombstone("tomb", None), override_entry("aa", None)]);
    assert_eq!(active_ids(&env, entries, None), ["aa"]);
    assert!(env.warnings.borrow().is_empty());
}

#[test]
fn active_overrides_read_a_naive_expires_at_as_utc() {
    let env = MemEnv::at(T0);
    let entries = json!([
        override_entry("aa", Some("2026-04-17T14:00:01")),
        override_entry("bb", Some("2026-04-17T14:00:00"))
    ]);
    assert_eq!(active_ids(&env, entries, None), ["aa"]);
}

#[test]
fn active_overrides_test_revoked_as_python_tests_truth() {
    let env = MemEnv::at(T0);
    let mut entries = Vec::new();
    for (id, revoked) in [
        ("f", json!(false)),
        ("z", json!(0)),
        ("e", json!("")),
        ("n", Value::Null),
        ("t", json!(true)),
        ("one", json!(1)),
        ("s", json!("no")),
        ("l", json!([0])),
    ] {
        let mut entry = override_entry(id, None);
        entry["revoked"] = revoked;
        entries.push(entry);
    }
    let mut missing = override_entry("m", None);
    missing.as_object_mut().unwrap().remove("revoked");
    entries.push(missing);
    assert_eq!(
        active_ids(&env, json!(entries), None),
        ["f", "z", "e", "n", "m"]
    );
}

#[test]
fn active_overrides_refuse_input_that_is_not_a_list_of_objects_by_field() {
    let env = MemEnv::at(T0);
    let cases = [
        (r#"{}"#, Some("validation_overrides")),
        (
            r#"{"validation_overrides":{}}"#,
            Some("validation_overrides"),
        ),
        (
            r#"{"validation_overrides":[{},1]}"#,
            Some("validation_overrides[1]"),
        ),
        (r#"{"validation_overrides":[],"now":"soon"}"#, Some("now")),
        (r#"{"validation_overrides":[],"now":5}"#, Some("now")),
        ("[]", None),
    ];
    for (input, want) in cases {
        match active(&&env, input) {
            Err(Error::Validation { field, .. }) => assert_eq!(field.as_deref(), want, "{input}"),
            other => panic!("{input}: {other:?}"),
        }
    }
}

#[test]
fn derived_ids_are_uuid4_shaped_and_depend_on_content_and_position() {
    let id = derived_id(r#"{"a":1}"#, 0);
    let b = id.as_bytes();
    assert_eq!(id.len(), 36);
    assert!([8, 13, 18, 23].iter().all(|&i| b[i] == b'-'), "{id}");
    assert_eq!(b[14], b'4', "{id}");
    assert!(b"89ab".contains(&b[19]), "{id}");
    assert!(id
        .bytes()
        .all(|c| c == b'-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert_eq!(id, derived_id(r#"{"a":1}"#, 0));
    assert_ne!(id, derived_id(r#"{"a":1}"#, 1));
    assert_ne!(id, derived_id(r#"{"a":2}"#, 0));
}

#[test]
fn fill_ids_adds_an_id_last_only_where_the_key_is_missing() {
    let mut entries = vec![
        Node::Raw(r#"{"a":1}"#.into()),
        Node::Raw("{}".into()),
        Node::Raw(r#"{"id":null}"#.into()),
    ];
    fill_ids(&mut entries);
    let id0 = derived_id(r#"{"a":1}"#, 0);
    assert_eq!(
        entries[0],
        Node::Raw(format!(r#"{{"a":1,"id":"{id0}"}}"#).into())
    );
    assert_eq!(
        entries[1],
        Node::Raw(format!(r#"{{"id":"{}"}}"#, derived_id("{}", 1)).into())
    );
    assert_eq!(entries[2], Node::Raw(r#"{"id":null}"#.into()));
}

#[test]
fn append_only_accepts_the_entries_as_shown_or_as_stored_then_new_ones() {
    let raw = |s: &str| Node::Raw(s.to_owned().into());
    let stored = [raw(r#"{"a":1}"#)];
    let shown = [raw(r#"{"a":1,"id":"x"}"#)];
    let ok = [raw(r#"{"id":"x","a":1.0}"#), raw(r#"{"b":2}"#)];
    assert_eq!(check_append_only(&shown, &stored, &ok), Ok(()));
    assert_eq!(
        check_append_only(&shown, &stored, &[raw(r#"{"a":1}"#)]),
        Ok(())
    );
    for bad in [
        &[][..],
        &[raw(r#"{"a":2}"#)],
        &[raw(r#"{"b":2}"#), raw(r#"{"a":1}"#)],
    ] {
        assert!(check_append_only(&shown, &stored, bad).is_err());
    }
}
