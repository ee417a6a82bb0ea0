//! Fixtures for policy updates (`tests/policy_updates.rs`):
//!
//! - `policy-1-2`: a real update of the policy, version 1.2.0. Labels are at
//!   most 100 characters (`validation_error`, field `label`), and a marker's
//!   `created_at` may not lie in the future (`validation_error`, field
//!   `created_at`). Everything else is the 1.0 policy.
//! - `rewrites-first-seen`: a broken policy that stamps `first_seen_at` anew
//!   on every equipment write; the conformance gate must refuse it.
//! - `interface-v2`: a component built for `exlab:cache@2.0.0`; the host must
//!   refuse it from its interface version, before compiling it.

#[cfg(any(feature = "policy-1-2", feature = "rewrites-first-seen"))]
mod plugin {
    use exlab_cache_policy::component::exlab::cache::storage;
    use exlab_cache_policy::component::exlab::cache::types::{
        CacheError, Equipment, Invalid, Marker, MarkerKind,
    };
    use exlab_cache_policy::component::exports::exlab::cache::policy::{
        EquipmentWritten, Guest, MarkerWritten, PolicyInfo,
    };
    use exlab_cache_policy::component::{self as bindings, Policy};
    use exlab_cache_policy::records;

    /// Policy 1.2's longest label, in characters.
    const MAX_LABEL_CHARS: usize = 100;

    struct Update;

    fn invalid(field: &str, message: String) -> CacheError {
        CacheError::ValidationError(Invalid {
            field: Some(field.into()),
            message,
        })
    }

    /// Policy 1.2's extra input rules, checked after the 1.0 rules (so an
    /// earlier field's error still comes first) and before anything is touched.
    fn check_equipment_1_1(input_json: &str) -> Result<(), CacheError> {
        if !cfg!(feature = "policy-1-2") {
            return Ok(());
        }
        records::parse_equipment_input(input_json)?;
        let input: serde_json::Value = serde_json::from_str(input_json).unwrap_or_default();
        let label = input["label"].as_str().unwrap_or_default();
        let chars = label.chars().count();
        if chars > MAX_LABEL_CHARS {
            return Err(invalid(
                "label",
                format!(
                    "label is {chars} characters long; policy 1.2 allows at most {MAX_LABEL_CHARS}"
                ),
            ));
        }
        Ok(())
    }

    fn check_marker_1_1(kind: MarkerKind, input_json: &str) -> Result<(), CacheError> {
        if !cfg!(feature = "policy-1-2") {
            return Ok(());
        }
        let kind = match kind {
            MarkerKind::TestRuns => records::MarkerKind::TestRuns,
            MarkerKind::Runs => records::MarkerKind::Runs,
        };
        let input = records::parse_marker_input(kind, input_json)?;
        if let Some(created_at) = input.created_at {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64;
            // Same fixed-width format: text order is time order.
            let now = exlab_cache_policy::time::format_utc(secs);
            if created_at > now {
                return Err(invalid(
                    "created_at",
                    format!("created_at {created_at} is in the future (now {now})"),
                ));
            }
        }
        Ok(())
    }

    /// The broken policy: after the real write, stamps `first_seen_at` again.
    fn break_first_seen(
        path: &str,
        mut w: EquipmentWritten,
    ) -> Result<EquipmentWritten, CacheError> {
        if !cfg!(feature = "rewrites-first-seen") {
            return Ok(w);
        }
        let file = storage::lock(path)?;
        let bytes = file.read()?.unwrap_or_default();
        let mut doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&bytes).unwrap_or_default();
        let now = doc.get("last_modified_at").cloned().unwrap_or_default();
        doc.insert("first_seen_at".into(), now);
        let document = serde_json::Value::Object(doc).to_string();
        file.replace(document.as_bytes())?;
        w.equipment.first_seen_at = w.equipment.last_modified_at.clone();
        w.document = document;
        Ok(w)
    }

    impl Guest for Update {
        fn info() -> PolicyInfo {
            if cfg!(feature = "policy-1-2") {
                PolicyInfo {
                    name: exlab_cache_policy::NAME.into(),
                    version: "1.2.0".into(),
                }
            } else {
                PolicyInfo {
                    name: "exlab-cache-broken-first-seen".into(),
                    version: "1.1.1".into(),
                }
            }
        }
        fn write_equipment(
            path: String,
            input_json: String,
        ) -> Result<EquipmentWritten, CacheError> {
            check_equipment_1_1(&input_json)?;
            let written = <Policy as Guest>::write_equipment(path.clone(), input_json)?;
            break_first_seen(&path, written)
        }
        fn read_equipment(path: String) -> Result<Equipment, CacheError> {
            <Policy as Guest>::read_equipment(path)
        }
        fn write_marker(
            kind: MarkerKind,
            path: String,
            input_json: String,
        ) -> Result<MarkerWritten, CacheError> {
            check_marker_1_1(kind, &input_json)?;
            <Policy as Guest>::write_marker(kind, path, input_json)
        }
        fn read_marker(kind: MarkerKind, path: String) -> Result<Marker, CacheError> {
            <Policy as Guest>::read_marker(kind, path)
        }
        fn require_schema_major(
            version: Option<String>,
            expected_major: u32,
        ) -> Result<(), CacheError> {
            <Policy as Guest>::require_schema_major(version, expected_major)
        }
    }

    exlab_cache_policy::kinds_as_the_policy!(Update);
    bindings::export!(Update with_types_in bindings);
}

/// A policy built against a future, incompatible major of the WIT package.
#[cfg(feature = "interface-v2")]
mod interface_v2 {
    wit_bindgen::generate!({
        inline: "
            package exlab:cache@2.0.0;
            interface policy {
                record policy-info { name: string, version: string }
                info: func() -> policy-info;
            }
            world plugin { export policy; }
        ",
    });

    struct V2;

    impl exports::exlab::cache::policy::Guest for V2 {
        fn info() -> exports::exlab::cache::policy::PolicyInfo {
            exports::exlab::cache::policy::PolicyInfo {
                name: "exlab-cache-policy".into(),
                version: "2.0.0".into(),
            }
        }
    }

    export!(V2);
}
