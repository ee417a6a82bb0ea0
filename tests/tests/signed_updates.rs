//! Issue 14, wired: trust by key in the one admission door, the status a
//! host keeps, rollback, the watcher's status file, and the CLI's
//! `--trusted-keys` / `EXLAB_CACHE_TRUSTED_KEYS` and `policy status`.
//! Signatures are made at test time by the `minisign` tool or py-minisign
//! (`exlab_cache_tests::signing`); without either, each test prints SKIPPED.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exlab_cache::status::{Action, Outcome, PolicyStatus};
use exlab_cache::trust::{self, Signer};
use exlab_cache::watch::Watch;
use exlab_cache::{sha256_hex, Admission, Error, Policy, BUILTIN_POLICY};
use exlab_cache_tests::signing::{any_tool, write_trust_file, Key, Tool};
use exlab_cache_tests::*;

/// A host with a trust file, and a folder of signed policies.
struct Lab {
    h: Harness,
    tool: Tool,
    dir: tempfile::TempDir,
    trusted: PathBuf,
    key: Key,
    stranger: Key,
}

impl Lab {
    /// `None` (and a printed reason) when no minisign implementation is here.
    fn new() -> Option<Lab> {
        let tool = any_tool()?;
        let dir = tempfile::tempdir().unwrap();
        let key = tool.keygen(dir.path(), "lab-a");
        let stranger = tool.keygen(dir.path(), "stranger");
        let trusted = dir.path().join("trusted-keys");
        write_trust_file(&trusted, &[&key]);
        let h = Harness::new();
        h.cache.set_admission(Admission::trusted_keys(&trusted));
        Some(Lab {
            h,
            tool,
            dir,
            trusted,
            key,
            stranger,
        })
    }

    /// Writes `bytes` as `name` in the lab's folder, signed by `key` (or not).
    fn policy(&self, name: &str, bytes: &[u8], key: Option<&Key>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        if let Some(key) = key {
            self.tool
                .sign(key, &path, &format!("{name} by {}", key.id), false);
        }
        path
    }

    fn v1_1(&self, key: Option<&Key>) -> PathBuf {
        let bytes = std::fs::read(exlab_cache_test_guests::path("policy-1-2")).unwrap();
        self.policy("policy-1-2.wasm", &bytes, key)
    }

    fn status(&self) -> PolicyStatus {
        self.h.cache.status()
    }
}

fn assert_policy_error(e: &Error, needles: &[&str]) {
    assert_eq!(e.code(), "policy_error", "{e:?}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
}

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn a_policy_signed_by_a_trusted_key_is_admitted_and_the_status_shows_its_signer() {
    let Some(lab) = Lab::new() else { return };
    let file = lab.v1_1(Some(&lab.key));
    lab.h.clock.advance(60);
    let swapped = lab.h.cache.swap_policy_file(&file).unwrap();
    let signer = Signer {
        key_id: lab.key.id.clone(),
        trusted_comment: format!("policy-1-2.wasm by {}", lab.key.id),
    };
    assert_eq!(swapped.current.version, "1.2.0");
    assert_eq!(swapped.current.signer, Some(signer.clone()));
    assert_eq!(lab.h.cache.policy_info().signer, Some(signer.clone()));

    let status = lab.status();
    assert_eq!(status.at, "2026-04-17T14:01:00Z");
    assert_eq!(status.trusted_keys, Some(path_str(&lab.trusted)));
    assert_eq!(status.serving.info, swapped.current);
    assert_eq!(status.serving.since, "2026-04-17T14:01:00Z");
    assert_eq!(status.serving.signer_trusted, Some(true));
    let previous = status.previous.unwrap();
    assert_eq!(previous.info.version, "1.1.0");
    assert_eq!(previous.since, "2026-04-17T14:00:00Z");
    assert_eq!(previous.signer_trusted, None, "the built-in is unsigned");
    let [attempt] = &status.attempts[..] else {
        panic!("{:?}", status.attempts)
    };
    assert_eq!(attempt.action, Action::Swap);
    assert_eq!(attempt.outcome, Outcome::Admitted);
    assert_eq!(attempt.sha256, Some(swapped.current.sha256.clone()));
    assert_eq!(attempt.source, Some(path_str(&file)));
    assert_eq!(attempt.reason, None);

    // Bytes with their signature's text, and a Policy admitted from a file.
    let text = std::fs::read_to_string(trust::signature_path(&file)).unwrap();
    let bytes = std::fs::read(&file).unwrap();
    let again = lab.h.cache.swap_policy_signed(&bytes, &text).unwrap();
    assert_eq!(again.current.signer, Some(signer.clone()));
    let admission = Admission::trusted_keys(&lab.trusted);
    let policy = Policy::admit_file(&file, &admission).unwrap();
    assert_eq!(policy.info().signer, Some(signer.clone()));
    assert_eq!(
        Policy::admit_signed(&bytes, &text, &admission)
            .unwrap()
            .info()
            .signer,
        Some(signer)
    );
    lab.h.cache.set_policy(policy).unwrap();
}

#[test]
fn each_refusal_names_its_reason_keeps_the_old_policy_and_is_in_the_status() {
    let Some(lab) = Lab::new() else { return };
    let sig_of = |p: &Path| path_str(&trust::signature_path(p));

    // By a key not in the trust file.
    let by_stranger = lab.v1_1(Some(&lab.stranger));
    let untrusted = format!("signed by key {}, which is not trusted", lab.stranger.id);
    // Tampered after signing.
    let tampered = lab.policy("tampered.wasm", BUILTIN_POLICY, Some(&lab.key));
    let mut bytes = BUILTIN_POLICY.to_vec();
    bytes[1000] ^= 1;
    std::fs::write(&tampered, bytes).unwrap();
    // Another file's signature.
    let other = lab.policy("other.wasm", b"another file", Some(&lab.key));
    let swapped_sig = lab.policy("swapped-sig.wasm", BUILTIN_POLICY, None);
    std::fs::copy(
        trust::signature_path(&other),
        trust::signature_path(&swapped_sig),
    )
    .unwrap();
    // No .minisig, and bytes that are not even wasm: the signature is
    // checked first, so the refusal is about it, not the compiler.
    let unsigned = lab.policy("unsigned.wasm", b"not wasm", None);

    let cases: Vec<(&PathBuf, Vec<String>)> = vec![
        (&by_stranger, vec![untrusted, path_str(&lab.trusted)]),
        (&tampered, vec![sig_of(&tampered), "does not verify".into()]),
        (
            &swapped_sig,
            vec!["does not verify".into(), "another file".into()],
        ),
        (
            &unsigned,
            vec![format!("no signature {}", sig_of(&unsigned))],
        ),
    ];
    for (n, (file, needles)) in cases.iter().enumerate() {
        lab.h.clock.advance(1);
        let e = lab.h.cache.swap_policy_file(file).unwrap_err();
        let mut needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        needles.push("refused before compiling");
        assert_policy_error(&e, &needles);
        assert_eq!(lab.h.cache.policy_info().version, "1.1.0");
        let status = lab.status();
        let last = status.attempts.last().unwrap();
        assert_eq!(status.attempts.len(), n + 1);
        assert_eq!(last.outcome, Outcome::Refused);
        assert_eq!(last.reason.as_deref(), Some(e.message()));
        assert_eq!(last.source, Some(path_str(file)));
        assert_eq!(last.sha256, Some(sha256_hex(&std::fs::read(file).unwrap())));
        assert_eq!(last.at, utc(T0 + n as i64 + 1));
        assert_eq!(status.previous, None, "nothing was swapped in");
    }

    // A malformed trust file refuses even a well-signed policy.
    let good = lab.v1_1(Some(&lab.key));
    let keys = std::fs::read_to_string(&lab.trusted).unwrap();
    std::fs::write(&lab.trusted, format!("{keys}not a key\n")).unwrap();
    let e = lab.h.cache.swap_policy_file(&good).unwrap_err();
    assert_policy_error(
        &e,
        &[&path_str(&lab.trusted), "line 3", "whole file is refused"],
    );
    assert_eq!(lab.h.cache.policy_info().version, "1.1.0");
    assert_eq!(
        lab.status().attempts.last().unwrap().outcome,
        Outcome::Refused
    );
    // Fixed, it is honoured again.
    std::fs::write(&lab.trusted, keys).unwrap();
    assert_eq!(
        lab.h.cache.swap_policy_file(&good).unwrap().current.version,
        "1.2.0"
    );
}

#[test]
fn with_trusted_keys_bytes_or_a_policy_without_a_signature_are_refused() {
    let Some(lab) = Lab::new() else { return };
    let v1_1 = std::fs::read(exlab_cache_test_guests::path("policy-1-2")).unwrap();
    let e = lab.h.cache.swap_policy(&v1_1).unwrap_err();
    assert_policy_error(&e, &["a signature is required", "refused before compiling"]);
    let Err(e) = Policy::admit(&v1_1, &Admission::trusted_keys(&lab.trusted)) else {
        panic!("admitted unsigned bytes")
    };
    assert_policy_error(&e, &["a signature is required"]);
    let unsigned = Policy::from_bytes(&v1_1).unwrap();
    let e = lab.h.cache.set_policy(unsigned).unwrap_err();
    assert_policy_error(&e, &["a signature is required", "admitted unsigned"]);
    // Without trust, a signature's text is not needed (and not checked).
    assert_eq!(
        Policy::admit_signed(&v1_1, "junk", &Admission::default())
            .unwrap()
            .info()
            .signer,
        None
    );
    assert_eq!(lab.h.cache.policy_info().version, "1.1.0");
    assert_eq!(lab.status().attempts.len(), 2);
}

#[test]
fn a_key_added_to_the_trust_file_counts_at_the_next_swap_without_a_restart() {
    let Some(lab) = Lab::new() else { return };
    let file = lab.v1_1(Some(&lab.stranger));
    assert_policy_error(
        &lab.h.cache.swap_policy_file(&file).unwrap_err(),
        &[&lab.stranger.id, "not trusted"],
    );
    write_trust_file(&lab.trusted, &[&lab.key, &lab.stranger]);
    let swapped = lab.h.cache.swap_policy_file(&file).unwrap();
    assert_eq!(swapped.current.signer.unwrap().key_id, lab.stranger.id);
}

#[test]
fn a_revoked_keys_policy_keeps_serving_and_the_status_says_so() {
    let Some(lab) = Lab::new() else { return };
    let file = lab.v1_1(Some(&lab.key));
    lab.h.cache.swap_policy_file(&file).unwrap();
    write_trust_file(&lab.trusted, &[&lab.stranger]);

    let status = lab.status();
    assert_eq!(status.serving.info.version, "1.2.0");
    assert_eq!(status.serving.signer_trusted, Some(false));
    let note = status.serving.trust_note.unwrap();
    assert!(
        note.contains(&lab.key.id) && note.contains("until the next swap"),
        "{note}"
    );
    // Still serving 1.1: its 100-character label rule applies.
    let e = lab
        .h
        .cache
        .write_equipment(EQUIPMENT, &equipment_input(&"x".repeat(101)))
        .unwrap_err();
    assert_eq!(e.field(), Some("label"));
    // The JSON carries it too.
    let json: serde_json::Value = serde_json::from_str(&lab.h.cache.status().to_json()).unwrap();
    assert_eq!(json["serving"]["signer_trusted"], false);
    assert_eq!(json["serving"]["signer"]["key_id"], lab.key.id.as_str());

    // The next swap replaces it (signed by a key trusted now).
    let next = lab.policy("next.wasm", BUILTIN_POLICY, Some(&lab.stranger));
    lab.h.cache.swap_policy_file(&next).unwrap();
    assert_eq!(lab.status().serving.signer_trusted, Some(true));
    // ...and a rollback does not bring the revoked key's policy back.
    let e = lab.h.cache.rollback().unwrap_err();
    assert_policy_error(&e, &["rollback refused", &lab.key.id, "not trusted"]);
    assert_eq!(lab.h.cache.policy_info().version, "1.1.0");
    let last = lab.status().attempts.last().cloned().unwrap();
    assert_eq!(
        (last.action, last.outcome),
        (Action::Rollback, Outcome::Refused)
    );
}

#[test]
fn rollback_returns_to_the_previous_policy_and_back() {
    let h = Harness::new();
    let e = h.cache.rollback().unwrap_err();
    assert_policy_error(&e, &["nothing to roll back to", "exlab-cache-policy 1.1.0"]);
    let status = h.cache.status();
    let last = status.attempts.last().unwrap();
    assert_eq!(
        (last.action, last.outcome),
        (Action::Rollback, Outcome::Refused)
    );
    assert_eq!(last.sha256, None);

    let v1_1 = h
        .cache
        .swap_policy_file(exlab_cache_test_guests::path("policy-1-2"))
        .unwrap()
        .current;
    h.clock.advance(3600);
    let back = h.cache.rollback().unwrap();
    assert_eq!(back.current.version, "1.1.0");
    assert_eq!(back.previous, v1_1);
    assert_eq!(h.cache.policy_info().version, "1.1.0");
    // 1.0 serves: a 101-character label is fine.
    h.cache
        .write_equipment(EQUIPMENT, &equipment_input(&"x".repeat(101)))
        .unwrap();
    let status = h.cache.status();
    assert_eq!(status.serving.since, "2026-04-17T15:00:00Z");
    assert_eq!(status.previous.as_ref().unwrap().info, v1_1);
    assert_eq!(
        status.previous.as_ref().unwrap().since,
        "2026-04-17T14:00:00Z"
    );
    let last = status.attempts.last().unwrap();
    assert_eq!(
        (last.action, last.outcome),
        (Action::Rollback, Outcome::Admitted)
    );
    assert_eq!(last.sha256, Some(sha256_hex(BUILTIN_POLICY)));
    // Again: forward to 1.1.
    assert_eq!(h.cache.rollback().unwrap().current, v1_1);
    assert_eq!(h.cache.policy_info(), v1_1);
}

#[test]
fn rollback_under_load_fails_no_call() {
    let h = Harness::new();
    h.cache
        .swap_policy_file(exlab_cache_test_guests::path("policy-1-2"))
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let (calls, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..8)
        .map(|n| {
            let (cache, done) = (h.cache.clone(), done.clone());
            let (calls, failed) = (calls.clone(), failed.clone());
            std::thread::spawn(move || {
                let path = format!("EQ_{n}/.exlab-wizard/equipment.json");
                let input = |label: &str| {
                    serde_json::json!({
                        "id": format!("EQ_{n}"), "label": label,
                        "configured_local_root": "/l", "configured_nas_root": "/n"
                    })
                    .to_string()
                };
                // Either policy takes a short label: the file exists from here.
                cache.write_equipment(&path, &input("short")).unwrap();
                let mut own = 0;
                while !done.load(Ordering::SeqCst) || own < 10 {
                    own += 1;
                    calls.fetch_add(1, Ordering::Relaxed);
                    // 1.0 takes it, 1.1 refuses the label: either is a whole
                    // policy; anything else is a failed call.
                    match cache.write_equipment(&path, &input(&"x".repeat(101))) {
                        Ok(_) => {}
                        Err(e) if e.field() == Some("label") => {}
                        Err(_) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if cache.read_equipment(&path).is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // Each rollback waits for a few calls after the last one: they overlap.
    for _ in 0..40 {
        let seen = calls.load(Ordering::Relaxed);
        while calls.load(Ordering::Relaxed) < seen + 4 {
            std::thread::yield_now();
        }
        h.cache.rollback().unwrap();
    }
    done.store(true, Ordering::SeqCst);
    for w in workers {
        w.join().expect("no worker panicked");
    }
    assert!(calls.load(Ordering::Relaxed) >= 160);
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "failed calls during rollbacks"
    );
    // 40 rollbacks: back where it started, 1.1.
    assert_eq!(h.cache.policy_info().version, "1.2.0");
    let status = h.cache.status();
    assert_eq!(status.attempts.len(), 16, "the last 16 only");
    assert!(status.attempts.iter().all(|a| a.action == Action::Rollback));
}

#[test]
fn the_status_keeps_the_last_16_attempts_oldest_first() {
    let h = Harness::new();
    for n in 0..20 {
        h.clock.set(T0 + n);
        h.cache.swap_policy(b"not wasm").unwrap_err();
    }
    let status = h.cache.status();
    assert_eq!(status.attempts.len(), 16);
    assert_eq!(status.attempts[0].at, utc(T0 + 4));
    assert_eq!(status.attempts[15].at, utc(T0 + 19));
    assert_eq!(status.attempts[0].sha256, Some(sha256_hex(b"not wasm")));
    assert!(status.attempts[0]
        .reason
        .as_deref()
        .unwrap()
        .contains("not a valid component"));
    // The JSON: the serving policy's keys first, in the policy info order.
    let json = status.to_json();
    let serving = json.find("\"serving\":{").unwrap();
    let order: Vec<usize> = [
        "\"name\"",
        "\"version\"",
        "\"interface\"",
        "\"sha256\"",
        "\"since\"",
    ]
    .iter()
    .map(|k| serving + json[serving..].find(k).unwrap())
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{json}");
    assert!(!json[serving..].starts_with("\"serving\":{\"signer\""));
}

#[test]
fn the_watcher_retries_when_the_signature_arrives_and_writes_its_status_file() {
    let Some(lab) = Lab::new() else { return };
    let drop_dir = tempfile::tempdir().unwrap();
    let file = drop_dir.path().join("policy.wasm");
    let v1_1 = std::fs::read(exlab_cache_test_guests::path("policy-1-2")).unwrap();
    std::fs::write(&file, &v1_1).unwrap();
    let status_file = drop_dir.path().join("policy.wasm.status.json");
    let mut watch = Watch::new(lab.h.cache.clone(), &file, Duration::from_secs(2)).writing_status();
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);

    // The first look writes the status: 1.0 serves.
    assert!(watch.poll(at(0)).is_none());
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).unwrap()).unwrap();
    assert_eq!(json["serving"]["version"], "1.1.0");
    // Settled, but unsigned: refused, and the status file says why.
    match watch.poll(at(2)) {
        Some(exlab_cache::watch::WatchEvent::Refused { error, .. }) => {
            assert_policy_error(&error, &["no signature"])
        }
        other => panic!("{other:?}"),
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).unwrap()).unwrap();
    assert_eq!(json["attempts"][0]["outcome"], "refused");
    assert!(json["attempts"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("no signature"));
    assert!(watch.poll(at(10)).is_none(), "the same pair is not retried");

    // The signature arrives; the policy bytes are unchanged.
    lab.tool.sign(&lab.key, &file, "signed late", false);
    assert!(watch.poll(at(11)).is_none(), "settling");
    match watch.poll(at(13)) {
        Some(exlab_cache::watch::WatchEvent::Swapped(s)) => {
            assert_eq!(s.current.version, "1.2.0");
            assert_eq!(
                s.current.signer.as_ref().unwrap().trusted_comment,
                "signed late"
            );
        }
        other => panic!("{other:?}"),
    }
    let written = std::fs::read_to_string(&status_file).unwrap();
    assert_eq!(written, lab.h.cache.status().to_json());
    assert_eq!(
        temp_files(drop_dir.path()),
        Vec::<String>::new(),
        "the durable replace leaves no temp file"
    );

    // `exlab-cache policy status FILE`: lines for a person, or the JSON.
    let status_arg = path_str(&status_file);
    let run = cli(drop_dir.path(), &["policy", "status", &status_arg], "");
    assert_eq!(run.status, 0, "{}", run.stderr);
    for needle in [
        "serving: exlab-cache-policy 1.2.0 (exlab:cache@1.1.0) since 2026-04-17T14:00:00Z",
        &format!("signed by key {} (trusted)", lab.key.id),
        "trusted comment: signed late",
        "previous: exlab-cache-policy 1.1.0",
        &format!("trusted keys: {}", path_str(&lab.trusted)),
        "last 2 attempts, oldest first:",
        "swap refused sha256",
        "no signature",
        "swap admitted sha256",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in\n{}",
            run.stdout
        );
    }
    let run = cli(
        drop_dir.path(),
        &["policy", "status", "--json", &status_arg],
        "",
    );
    assert_eq!(
        run.json(),
        serde_json::from_str::<serde_json::Value>(&written).unwrap()
    );
}

#[test]
fn policy_status_of_a_missing_odd_or_garbled_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = cli(dir.path(), &["policy", "status", "missing.json"], "");
    assert_eq!((run.status, run.code().as_str()), (3, "not_found"));
    // A FIFO must not block the command (it is never opened for a blocking read).
    let fifo = dir.path().join("fifo.json");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let run = cli(dir.path(), &["policy", "status", "fifo.json"], "");
    assert_eq!((run.status, run.code().as_str()), (1, "io_error"));
    assert!(
        run.error()["message"].as_str().unwrap().contains("FIFO"),
        "{}",
        run.stderr
    );
    std::fs::write(dir.path().join("bad.json"), "{not json").unwrap();
    let run = cli(dir.path(), &["policy", "status", "bad.json"], "");
    assert_eq!((run.status, run.code().as_str()), (5, "decode_error"));
}

#[test]
fn cli_trusted_keys_flag_and_env_var_gate_policy_info_and_check() {
    let Some(lab) = Lab::new() else { return };
    let signed = path_str(&lab.v1_1(Some(&lab.key)));
    let by_stranger = path_str(&lab.policy("stranger.wasm", BUILTIN_POLICY, Some(&lab.stranger)));
    let trusted = path_str(&lab.trusted);
    let cwd = lab.dir.path();

    let info = cli(
        cwd,
        &[
            "--trusted-keys",
            &trusted,
            "--policy",
            &signed,
            "policy",
            "info",
        ],
        "",
    );
    assert_eq!(info.status, 0, "{}", info.stderr);
    let keys: Vec<String> = info.json().as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["name", "version", "interface", "sha256", "signer"]);
    assert_eq!(info.json()["signer"]["key_id"], lab.key.id.as_str());
    assert_eq!(
        info.json()["signer"]["trusted_comment"],
        format!("policy-1-2.wasm by {}", lab.key.id)
    );
    let check = cli(
        cwd,
        &["--trusted-keys", &trusted, "policy", "check", &signed],
        "",
    );
    assert_eq!(check.status, 0, "{}", check.stderr);
    assert_eq!(
        check.json()["policy"]["signer"]["key_id"],
        lab.key.id.as_str()
    );

    for args in [
        vec!["--policy", by_stranger.as_str(), "policy", "info"],
        vec!["policy", "check", by_stranger.as_str()],
    ] {
        let mut with_flag = vec!["--trusted-keys", trusted.as_str()];
        with_flag.extend(&args);
        let run = cli(cwd, &with_flag, "");
        assert_eq!(run.status, 9, "{with_flag:?}");
        assert_eq!(run.stdout, "");
        let message = run.error()["message"].as_str().unwrap().to_owned();
        assert!(
            message.contains(&format!("signed by key {}", lab.stranger.id)),
            "{message}"
        );
    }

    // The environment variable, as a real process's environment.
    let env_run = |args: &[&str]| {
        let out = std::process::Command::new(cli_exe())
            .args(args)
            .current_dir(cwd)
            .env("EXLAB_CACHE_TRUSTED_KEYS", &trusted)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (status, stdout, _) = env_run(&["--policy", &signed, "policy", "info"]);
    assert_eq!(status, Some(0));
    assert!(stdout.contains(&lab.key.id), "{stdout}");
    let (status, _, stderr) = env_run(&["--policy", &by_stranger, "policy", "info"]);
    assert_eq!(status, Some(9));
    assert!(stderr.contains("not trusted"), "{stderr}");
    // Unsigned with trust configured: refused; without, the old behaviour.
    let unsigned = path_str(&lab.policy("unsigned.wasm", BUILTIN_POLICY, None));
    let (status, _, stderr) = env_run(&["--policy", &unsigned, "policy", "info"]);
    assert_eq!(status, Some(9));
    assert!(stderr.contains("no signature"), "{stderr}");
    let plain = cli(cwd, &["--policy", &unsigned, "policy", "info"], "");
    assert_eq!(plain.status, 0);
    assert!(plain.json().get("signer").is_none());
}
