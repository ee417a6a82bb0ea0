//! Arbitrary bytes as the caller's JSON input, on an empty store: a refused
//! write is a `validation_error` (the same one the input parser gives) with
//! nothing locked or written; a successful one writes compact JSON with the
//! known fields first in spec order, taken from the input and stamped, that
//! reads back equal. A marker is then written once: a second write finds it.

#![no_main]

use exlab_cache_policy::memory::MemEnv;
use exlab_cache_policy::policy::{read_equipment, read_marker, write_equipment, write_marker};
use exlab_cache_policy::records::{
    parse_equipment_input, parse_marker_input, Equipment, Marker, MarkerKind,
};
use exlab_cache_policy::{time, Error};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

#[path = "common.rs"]
mod common;
use common::*;

fuzz_target!(|bytes: &[u8]| {
    let Ok(input) = std::str::from_utf8(bytes) else {
        return;
    };
    let parsed: Option<Value> = serde_json::from_str(input).ok();
    let field =
        |name: &str| -> Option<String> { parsed.as_ref()?.get(name)?.as_str().map(str::to_owned) };
    let now = time::format_utc(T0);

    // Equipment.
    let env = MemEnv::at(T0);
    match write_equipment(&&env, EQ, input) {
        Err(e) => {
            assert!(matches!(e, Error::Validation { .. }), "{e:?}");
            assert_eq!(parse_equipment_input(input), Err(e));
            assert_untouched(&env);
        }
        Ok(w) => {
            assert_eq!(env.get(EQ).as_deref(), Some(w.document.as_bytes()));
            assert_eq!(read_equipment(&&env, EQ).as_ref(), Ok(&w.record));
            let map = assert_compact_with_known_first(&w.document, &Equipment::FIELDS);
            assert_eq!(map.len(), Equipment::FIELDS.len(), "{}", w.document);
            let r = &w.record;
            assert_eq!(r.schema_version, "1.0");
            assert_eq!(Some(&r.id), field("id").as_ref());
            assert_eq!(Some(&r.label), field("label").as_ref());
            assert_eq!(
                Some(&r.configured_local_root),
                field("configured_local_root").as_ref()
            );
            assert_eq!(
                Some(&r.configured_nas_root),
                field("configured_nas_root").as_ref()
            );
            assert_eq!((&r.first_seen_at, &r.last_modified_at), (&now, &now));
            assert_eq!(env.clock_reads.get(), 1);
            assert!(env.warnings.borrow().is_empty());
        }
    }

    // Both markers.
    for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
        let env = MemEnv::at(T0);
        match write_marker(&&env, kind, MARK, input) {
            Err(e) => {
                assert!(matches!(e, Error::Validation { .. }), "{e:?}");
                assert_eq!(parse_marker_input(kind, input), Err(e));
                assert_untouched(&env);
            }
            Ok(w) => {
                assert!(w.written);
                let document = w.document.expect("a written marker's document");
                assert_eq!(env.get(MARK).as_deref(), Some(document.as_bytes()));
                let map = assert_compact_with_known_first(&document, &Marker::FIELDS);
                assert_eq!(map.len(), Marker::FIELDS.len(), "{document}");
                let m = read_marker(&&env, kind, MARK).expect("reads back");
                assert_eq!(m.schema_version, "1.0");
                assert_eq!(m.run_kind, kind.run_kind());
                assert_eq!(
                    Some(m.created_at.clone()),
                    field("created_at").or(Some(now.clone()))
                );
                assert!(time::is_real_time(&m.created_at));
                assert_eq!(Some(&m.project), field("project").as_ref());
                assert_eq!(Some(&m.equipment), field("equipment").as_ref());
                // Written once: a second write finds it and changes nothing.
                let again = write_marker(&&env, kind, MARK, input).expect("valid again");
                assert!(!again.written);
                assert_eq!(again.document.as_deref(), Some(document.as_str()));
                assert_eq!(env.get(MARK).as_deref(), Some(document.as_bytes()));
            }
        }
    }
});

fn assert_untouched(env: &MemEnv) {
    assert!(env.files.borrow().is_empty(), "a refused write wrote");
    assert_eq!(env.locks_taken.get(), 0, "a refused write took the lock");
    assert_eq!(env.clock_reads.get(), 0);
}
