//! Arbitrary bytes against the record kinds of interface 1.1: as a stored
//! file of each versioned kind (read, then an update whose step hands back
//! what it was given) and as the input of each operation that takes one.
//! Nothing panics; errors are the typed ones; a refused write leaves the
//! store byte for byte; an accepted update is stable (a second identical
//! one changes nothing); a formatted log line is one bounded line.

#![no_main]

use exlab_cache_policy::kinds::run;
use exlab_cache_policy::memory::MemEnv;
use exlab_cache_policy::Error;
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;
use common::*;

const FILE: &str = "E/P/.exlab-wizard/record.json";

/// The versioned kinds, with an operation that takes the record as input.
const KINDS: [(&str, &str); 3] = [
    ("creation", "create"),
    ("ingest", "create"),
    ("readme-fields", "write"),
];

fn is_typed(e: &Error) -> bool {
    !matches!(e, Error::AccessDenied(_) | Error::LockTimeout(_))
}

fuzz_target!(|bytes: &[u8]| {
    for (kind, write) in KINDS {
        // As the stored file.
        let env = MemEnv::at(T0).with_step(|record| Some(record.to_owned()));
        env.put(FILE, bytes);
        if let Err(e) = run(&&env, kind, "read", FILE, "null") {
            assert!(is_typed(&e), "{kind} read: {e:?}");
            assert_decode_error(&e);
        }
        if kind == "creation" {
            match run(&&env, kind, "update", FILE, "null") {
                Err(e) => {
                    assert!(is_typed(&e), "{e:?}");
                    assert_eq!(env.get(FILE).as_deref(), Some(bytes), "a refused update wrote");
                }
                Ok(document) => {
                    assert_eq!(env.get(FILE), Some(document.clone().into_bytes()));
                    assert!(is_compact(&document), "{document}");
                    let again = run(&&env, kind, "update", FILE, "null").unwrap();
                    assert_eq!(again, document, "an identical update changed the file");
                }
            }
        }
        // As the caller's input, on an empty store.
        let Ok(input) = std::str::from_utf8(bytes) else {
            continue;
        };
        let env = MemEnv::at(T0);
        match run(&&env, kind, write, FILE, input) {
            Err(e) => {
                assert!(matches!(e, Error::Validation { .. }), "{kind} {write}: {e:?}");
                assert!(env.files.borrow().is_empty(), "a refused {kind} {write} wrote");
            }
            Ok(_) => {
                run(&&env, kind, "read", FILE, "null").expect("what was written reads back");
            }
        }
    }
    // As the fields of a log line.
    if let Ok(input) = std::str::from_utf8(bytes) {
        let env = MemEnv::at(T0);
        if let Ok(out) = run(&&env, "log", "format", "", input) {
            let out: serde_json::Value = serde_json::from_str(&out).unwrap();
            let line = out["line"].as_str().unwrap();
            assert!(!line.contains(['\n', '\r']), "{line:?}");
            let max = serde_json::from_str::<serde_json::Value>(input).unwrap()["max_bytes"]
                .as_u64()
                .unwrap_or(1024);
            assert!(line.len() < max as usize || max == 0, "{} bytes over {max}", line.len());
        }
    }
});
