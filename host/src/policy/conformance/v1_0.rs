//! The 1.0 scenarios: equipment.json's stamping and unknown fields, the
//! write-once marker, the schema gate before a write, and the root's walls.
//! Every policy runs them, whatever version it implements.

use serde_json::{json, Value};

use super::{expect, Outcome, Scenario, EQUIPMENT, MARKER, T0_TEXT, T1, T1_TEXT};
use crate::interface::latest::MarkerKind;
use crate::Error;

pub(super) fn input(label: &str) -> String {
    json!({
        "id": "GATE_01",
        "label": label,
        "configured_local_root": "/data/lab",
        "configured_nas_root": "//nas01/lab",
    })
    .to_string()
}

impl Scenario<'_> {
    pub(super) fn policy_info(&self) -> Outcome {
        if self.info.name.trim().is_empty() {
            return Err("the policy reports no name".into());
        }
        semver::Version::parse(&self.info.version)
            .map(drop)
            .map_err(|e| format!("version {:?} is not semver: {e}", self.info.version))
    }

    pub(super) fn first_write(&self) -> Outcome {
        let w = self.call(
            "first write",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        expect("first_seen_at", &w.equipment.first_seen_at, T0_TEXT)?;
        expect("last_modified_at", &w.equipment.last_modified_at, T0_TEXT)?;
        expect("schema_version", &w.equipment.schema_version, "1.0")?;
        expect("label", &w.equipment.label, "Gate")?;
        let disk = self.file(EQUIPMENT).unwrap_or_default();
        expect(
            "the file on disk",
            String::from_utf8_lossy(&disk),
            &w.document,
        )?;
        let read = self.call("read back", self.cache.read_equipment(EQUIPMENT))?;
        expect("the record read back", &read, &w.equipment)
    }

    pub(super) fn rewrite(&self) -> Outcome {
        self.call(
            "first write",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        self.clock.set(T1);
        let w = self.call(
            "rewrite",
            self.cache
                .write_equipment(EQUIPMENT, &input("Gate renamed")),
        )?;
        expect(
            "first_seen_at after a rewrite",
            &w.equipment.first_seen_at,
            T0_TEXT,
        )?;
        expect(
            "last_modified_at after a rewrite",
            &w.equipment.last_modified_at,
            T1_TEXT,
        )?;
        expect("label after a rewrite", &w.equipment.label, "Gate renamed")?;
        let disk = self.on_disk(EQUIPMENT)?;
        expect(
            "first_seen_at on disk",
            &disk["first_seen_at"],
            json!(T0_TEXT),
        )?;
        expect(
            "last_modified_at on disk",
            &disk["last_modified_at"],
            json!(T1_TEXT),
        )
    }

    pub(super) fn unknown_fields(&self) -> Outcome {
        let extra = json!({"nested": [1, "two", null]});
        let existing = json!({
            "schema_version": "1.4",
            "id": "GATE_01",
            "label": "Gate",
            "configured_local_root": "/data/lab",
            "configured_nas_root": "//nas01/lab",
            "first_seen_at": "2020-01-01T00:00:00Z",
            "last_modified_at": "2020-01-01T00:00:00Z",
            "added_in_1_4": extra,
        });
        self.put(EQUIPMENT, existing.to_string().as_bytes())?;
        let w = self.call(
            "rewrite",
            self.cache.write_equipment(EQUIPMENT, &input("Gate")),
        )?;
        let disk = self.on_disk(EQUIPMENT)?;
        expect(
            "the unknown field on disk",
            disk.get("added_in_1_4"),
            Some(&extra),
        )?;
        expect(
            "schema_version on disk",
            &disk["schema_version"],
            json!("1.4"),
        )?;
        expect(
            "first_seen_at",
            &w.equipment.first_seen_at,
            "2020-01-01T00:00:00Z",
        )?;
        let document: Value = serde_json::from_str(&w.document)
            .map_err(|e| format!("the returned document is not JSON: {e}"))?;
        expect(
            "the unknown field in the returned document",
            document.get("added_in_1_4"),
            Some(&extra),
        )
    }

    pub(super) fn marker_once(&self) -> Outcome {
        let first = json!({"project": "P1", "equipment": "GATE_01"}).to_string();
        let w = self.call(
            "first marker write",
            self.cache
                .write_marker(MarkerKind::TestRuns, MARKER, &first),
        )?;
        expect("written (first write)", w.written, true)?;
        let before = self.file(MARKER).ok_or("the marker is not on disk")?;
        expect(
            "the returned marker",
            w.document.as_deref(),
            Some(&*String::from_utf8_lossy(&before)),
        )?;
        self.clock.set(T1);
        let again =
            json!({"project": "P1", "equipment": "GATE_01", "created_at": "2026-01-01T00:00:00Z"})
                .to_string();
        let w = self.call(
            "second marker write",
            self.cache
                .write_marker(MarkerKind::TestRuns, MARKER, &again),
        )?;
        expect("written (second write)", w.written, false)?;
        let after = self.file(MARKER).unwrap_or_default();
        if after != before {
            return Err("the second write changed the marker on disk".into());
        }
        Ok(())
    }

    pub(super) fn other_major(&self) -> Outcome {
        let newer = br#"{ "schema_version": "2.0", "id": "GATE_01", "from": "a newer app" }"#;
        self.put(EQUIPMENT, newer)?;
        match self.cache.write_equipment(EQUIPMENT, &input("Gate")) {
            Err(Error::SchemaMajorMismatch {
                expected_major: 1,
                found_json,
                ..
            }) if found_json == "\"2.0\"" => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "writing over a \"2.0\" file gave {} ({}), expected schema_major_mismatch found \"2.0\"",
                    e.code(),
                    e.message()
                ));
            }
            Ok(_) => return Err("a \"2.0\" file was overwritten".into()),
        }
        if self.file(EQUIPMENT).as_deref() != Some(&newer[..]) {
            return Err("the \"2.0\" file was changed".into());
        }
        Ok(())
    }

    pub(super) fn dotdot(&self) -> Outcome {
        let escape = "../escape/.exlab-wizard/equipment.json";
        match self.cache.write_equipment(escape, &input("Gate")) {
            Err(Error::AccessDenied { .. }) => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "a write to {escape} gave {}, expected access_denied",
                    e.code()
                ));
            }
            Ok(_) => return Err(format!("a write to {escape} succeeded")),
        }
        match self.cache.read_equipment(escape) {
            Err(Error::AccessDenied { .. }) => {}
            Err(e) => {
                let e = self.saw(e);
                return Err(format!(
                    "a read of {escape} gave {}, expected access_denied",
                    e.code()
                ));
            }
            Ok(_) => return Err(format!("a read of {escape} succeeded")),
        }
        let outside = self.dir.parent().map(|p| p.join("escape"));
        if outside.is_some_and(|p| p.exists()) {
            return Err("something was created outside the root".into());
        }
        Ok(())
    }
}
