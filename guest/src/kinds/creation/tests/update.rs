//! creation.json's update: the caller's step under the lock.

use super::*;

#[test]
fn creation_update_hands_the_step_the_snapshot_and_writes_what_it_returns() {
    let env = MemEnv::at(T0).with_step(typed_step(|r| r["sync_status"] = json!("synced")));
    stored(&env, &record());
    let out = update(&&env, PATH).unwrap();
    assert_eq!(out, file(&env));
    assert_eq!(
        out,
        WRITTEN.replace(r#"}}"#, r#"},"sync_status":"synced"}"#)
    );
    let seen = env.steps_seen.borrow();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0],
        read(&&env, PATH).unwrap().replace("synced", "pending")
    );
}

#[test]
fn creation_update_keeps_unknown_fields_inside_known_objects() {
    let env = MemEnv::at(T0).with_step(typed_step(|r| {
        for part in ["template", "paths"] {
            r[part].as_object_mut().unwrap().remove("extra");
        }
        r["plugins_applied"][0]
            .as_object_mut()
            .unwrap()
            .remove("extra");
        r["plugins_applied"][0]["status"] = json!("failed");
        r["orchestrator"].as_object_mut().unwrap().remove("extra");
    }));
    let mut on_disk = record();
    on_disk["future"] = json!({"kept": [1e2, "\u{e9}"]});
    on_disk["lims_project"]["extra"] = json!(1);
    on_disk["template"]["extra"] = json!(2);
    on_disk["paths"]["extra"] = json!(3);
    on_disk["plugins_applied"] = json!([{"plugin": "p", "version": "1", "files_affected": [],
        "status": "success", "extra": 4}]);
    on_disk["orchestrator"] = json!({"enabled": true, "host": "h", "label": "l", "extra": 5});
    // A number spelt as no serializer would: kept as stored.
    env.put(PATH, on_disk.to_string().replace("100.0", "1e2").as_bytes());
    update(&&env, PATH).unwrap();
    let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
    assert_eq!(after["future"], on_disk["future"]);
    assert_eq!(after["lims_project"]["extra"], 1);
    assert_eq!(after["template"]["extra"], 2);
    assert_eq!(after["paths"]["extra"], 3);
    assert_eq!(after["plugins_applied"][0]["extra"], 4);
    assert_eq!(after["plugins_applied"][0]["status"], "failed");
    assert_eq!(after["orchestrator"]["extra"], 5);
    // Unknown fields come after the known ones, as stored.
    assert!(
        file(&env).ends_with(r#""future":{"kept":[1e2,"é"]}}"#),
        "{}",
        file(&env)
    );
}

#[test]
fn creation_update_bumps_an_older_minor_and_keeps_a_newer_one() {
    for (on_disk, written) in [
        ("1.7", "1.9"),
        ("1.0", "1.9"),
        ("1", "1.9"),
        ("1.12", "1.12"),
    ] {
        let env = MemEnv::at(T0).with_step(typed_step(|_| {}));
        let mut old = record();
        old["schema_version"] = json!(on_disk);
        if on_disk == "1.12" {
            old["sync_status"] = json!("archived");
        }
        stored(&env, &old);
        update(&&env, PATH).unwrap();
        let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
        assert_eq!(after["schema_version"], written, "{on_disk}");
        if on_disk == "1.12" {
            assert_eq!(after["sync_status"], "archived");
        }
        if on_disk == "1.7" {
            // The migrated defaults are the file's now; left out as defaults.
            assert_eq!(after["lims_project"].get("source"), None);
        }
    }
}

#[test]
fn creation_update_over_a_newer_minor_keeps_its_unknown_values_and_refuses_new_ones() {
    let newer = || {
        let mut old = record();
        old["schema_version"] = json!("1.12");
        old["sync_status"] = json!("archived");
        old["plugins_applied"] = json!([
            {"plugin": "a", "version": "1", "files_affected": [], "status": "success"},
            {"plugin": "b", "version": "1", "files_affected": [], "status": "deferred"},
        ]);
        old
    };
    // Values the file holds pass where they stand, list items in any place.
    let env = MemEnv::at(T0).with_step(typed_step(|r| {
        r["level"] = json!("run");
        r["plugins_applied"].as_array_mut().unwrap().reverse();
    }));
    stored(&env, &newer());
    update(&&env, PATH).unwrap();
    let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
    assert_eq!(after["sync_status"], "archived");
    assert_eq!(after["plugins_applied"][0]["status"], "deferred");
    assert_eq!(after["level"], "run");

    // A value set anew must be one this policy knows; nothing is written.
    for (step, at, found) in [
        (
            (|r| r["level"] = json!("bogus")) as fn(&mut Value),
            "level",
            "\"bogus\"",
        ),
        (
            |r| r["sync_status"] = json!("deferred"),
            "sync_status",
            "\"deferred\"",
        ),
        (
            |r| r["plugins_applied"][0]["status"] = json!("archived"),
            "plugins_applied[0].status",
            "\"archived\"",
        ),
    ] {
        let env = MemEnv::at(T0).with_step(typed_step(step));
        stored(&env, &newer());
        let before = env.get(PATH).unwrap();
        let Err(Error::Validation { field, message }) = update(&&env, PATH) else {
            panic!("{at}: not a validation error");
        };
        assert_eq!(field.as_deref(), Some(at));
        assert!(message.contains("must be one of"), "{message}");
        assert!(message.ends_with(&format!("found {found}")), "{message}");
        assert_eq!(env.get(PATH).unwrap(), before);
    }
}

#[test]
fn creation_update_refuses_another_major_and_leaves_it_byte_for_byte() {
    let env = MemEnv::at(T0).with_step(typed_step(|_| {}));
    let bytes = br#"{"schema_version":"2.0","anything":[1, 2]}"#;
    env.put(PATH, bytes);
    assert!(matches!(
        update(&&env, PATH),
        Err(Error::SchemaMajorMismatch { .. })
    ));
    assert_eq!(env.get(PATH).unwrap(), bytes);
    assert!(env.steps_seen.borrow().is_empty());
    env.put(PATH, b"{not json");
    assert!(matches!(update(&&env, PATH), Err(Error::Decode(_))));
    assert_eq!(env.get(PATH).unwrap(), b"{not json");
}

#[test]
fn creation_update_of_a_missing_file_is_not_found_and_creates_nothing() {
    let env = MemEnv::at(T0).with_step(typed_step(|_| {}));
    assert!(matches!(update(&&env, PATH), Err(Error::NotFound(_))));
    assert_eq!(env.locks_taken.get(), 0);
    assert!(env.files.borrow().is_empty());
}

#[test]
fn creation_update_writes_nothing_when_the_step_gives_up() {
    let env = MemEnv::at(T0); // no step: the caller gives up
    stored(&env, &record());
    let before = env.get(PATH);
    let e = update(&&env, PATH).unwrap_err();
    assert_eq!(field(e), None);
    assert_eq!(env.get(PATH), before);
}

#[test]
fn creation_update_judges_the_steps_record_as_create_input() {
    let cases: [(&str, Option<&str>); 4] = [
        ("not json", None),
        ("[]", None),
        (r#"{"sync_status":"bogus"}"#, Some("created_by")),
        ("", None),
    ];
    for (returned, want) in cases {
        let env = MemEnv::at(T0).with_step(move |_| Some(returned.to_owned()));
        stored(&env, &record());
        let before = env.get(PATH);
        assert_eq!(field(update(&&env, PATH).unwrap_err()).as_deref(), want);
        assert_eq!(env.get(PATH), before);
    }
    let env = MemEnv::at(T0).with_step(typed_step(|r| r["sync_status"] = json!("bogus")));
    stored(&env, &record());
    assert_eq!(
        field(update(&&env, PATH).unwrap_err()).as_deref(),
        Some("sync_status")
    );
}

#[test]
fn creation_update_keeps_created_at_unless_the_step_sets_a_real_time() {
    let env = MemEnv::at(T0).with_step(typed_step(|r| {
        r.as_object_mut().unwrap().remove("created_at");
    }));
    let mut odd = record();
    odd["created_at"] = json!("sometime in April");
    stored(&env, &odd);
    update(&&env, PATH).unwrap();
    assert!(file(&env).contains(r#""created_at":"sometime in April""#));
    // The file's own value passes unchanged, even though it is no real time.
    let env = MemEnv::at(T0).with_step(typed_step(|_| {}));
    stored(&env, &odd);
    update(&&env, PATH).unwrap();
    let env = MemEnv::at(T0).with_step(typed_step(|r| r["created_at"] = json!("later")));
    stored(&env, &record());
    assert_eq!(
        field(update(&&env, PATH).unwrap_err()).as_deref(),
        Some("created_at")
    );
}

#[test]
fn creation_update_keeps_validation_overrides_append_only() {
    let entry = json!({"id": "aa", "problem_class": "leftover_jinja_marker", "operator": "op",
        "recorded_at": "2026-04-18T09:14:22Z", "reason": "r\u{e9}", "revoked": false});
    let tombstone = json!({"id": "bb", "revokes": "aa", "operator": "op",
        "recorded_at": "2026-04-18T10:00:00Z", "reason": "done", "revoked": true});
    let mut on_disk = record();
    on_disk["validation_overrides"] = json!([entry]);
    let appended = tombstone.clone();
    let env = MemEnv::at(T0).with_step(typed_step(move |r| {
        r["validation_overrides"]
            .as_array_mut()
            .unwrap()
            .push(appended.clone());
    }));
    // Stored with an escape and another key order: still the same entry.
    env.put(
        PATH,
        on_disk
            .to_string()
            .replace("r\u{e9}", "r\\u00e9")
            .replace(r#""id":"aa","problem_class""#, r#""problem_class""#)
            .replace(r#""revoked":false}"#, r#""revoked":false,"id":"aa"}"#)
            .as_bytes(),
    );
    update(&&env, PATH).unwrap();
    let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
    assert_eq!(after["validation_overrides"][1], tombstone);

    let changes: [fn(&mut Value); 3] = [
        |r| r["validation_overrides"] = json!([]),
        |r| r["validation_overrides"][0]["reason"] = json!("edited"),
        |r| {
            let list = r["validation_overrides"].as_array_mut().unwrap();
            list.insert(0, json!({"id": "zz"}));
        },
    ];
    for change in changes {
        let env = MemEnv::at(T0).with_step(typed_step(change));
        stored(&env, &on_disk);
        let before = env.get(PATH);
        let e = update(&&env, PATH).unwrap_err();
        assert_eq!(field(e).as_deref(), Some("validation_overrides"));
        assert_eq!(env.get(PATH), before);
    }
}

#[test]
fn creation_overrides_without_an_id_get_one_that_two_reads_and_the_rewrite_agree_on() {
    let mut on_disk = record();
    on_disk["schema_version"] = json!("1.5");
    on_disk["validation_overrides"] = json!([{"problem_class": "orphan", "operator": "op",
        "recorded_at": "t", "reason": "r", "revoked": false}]);
    let env = MemEnv::at(T0).with_step(typed_step(|r| {
        let list = r["validation_overrides"].as_array_mut().unwrap();
        list.push(
            json!({"problem_class": "orphan", "operator": "op", "recorded_at": "t",
            "reason": "r", "revoked": false}),
        );
    }));
    stored(&env, &on_disk);
    let first: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    let second: Value = serde_json::from_str(&read(&&env, PATH).unwrap()).unwrap();
    let id = first["validation_overrides"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(second["validation_overrides"][0]["id"], id.as_str());
    update(&&env, PATH).unwrap();
    let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
    assert_eq!(after["validation_overrides"][0]["id"], id.as_str());
    let appended = after["validation_overrides"][1]["id"].as_str().unwrap();
    assert_ne!(
        appended, id,
        "the same entry at another place gets another id"
    );
}

#[test]
fn creation_updates_in_turn_all_land() {
    let env = MemEnv::at(T0);
    stored(&env, &record());
    for n in 0..10 {
        *env.step.borrow_mut() = Some(Box::new(typed_step(move |r| {
            let plugin = json!({"plugin": format!("plugin-{n}"), "version": "1.0",
                "files_affected": [], "status": "success"});
            match r["plugins_applied"].as_array_mut() {
                Some(list) => list.push(plugin),
                None => r["plugins_applied"] = json!([plugin]),
            }
        })));
        update(&&env, PATH).unwrap();
    }
    let after: Value = serde_json::from_slice(&env.get(PATH).unwrap()).unwrap();
    let names: Vec<&str> = after["plugins_applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["plugin"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        (0..10).map(|n| format!("plugin-{n}")).collect::<Vec<_>>()
    );
}

#[test]
fn creation_update_over_the_limit_leaves_the_file_untouched() {
    let big = "x".repeat(crate::records::DOCUMENT_LIMIT);
    let env = MemEnv::at(T0).with_step(typed_step(move |r| r["variables"] = json!({"big": big})));
    stored(&env, &record());
    let before = env.get(PATH);
    assert_eq!(field(update(&&env, PATH).unwrap_err()), None);
    assert_eq!(env.get(PATH), before);
}
