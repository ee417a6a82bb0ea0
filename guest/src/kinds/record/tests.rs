//! What the versioned kinds share, on creation.json's and ingest.json's specs.

use super::super::{creation, ingest};
use super::*;

#[test]
fn the_minor_is_read_only_from_the_spellings_the_1_n_rule_keeps() {
    for (version, minor) in [
        ("1.0", 0),
        ("1.9", 9),
        ("1.12", 12),
        ("1", 0),
        ("1.", 0),
        ("1.09", 0),
        ("01.5", 0),
        ("1.5.3", 0),
        ("1.x", 0),
        ("1.99999999999", u32::MAX),
    ] {
        assert_eq!(minor_of(version), minor, "{version}");
    }
}

#[test]
fn a_rewrite_keeps_only_a_newer_minor() {
    let spec = creation::SPEC;
    for (stored, kept) in [
        ("1.12", "1.12"),
        ("1.10", "1.10"),
        ("1.9", "1.9"),
        ("1.5", "1.9"),
        ("1", "1.9"),
        ("1.010", "1.9"),
    ] {
        assert_eq!(spec.kept_version(stored), kept, "{stored}");
    }
    assert!(spec.rules("1.10", false).newer);
    assert!(!spec.rules("1.9", false).newer);
}

#[test]
fn a_stored_file_is_gated_before_its_shape_is_checked() {
    let mismatch = |e: Error| match e {
        Error::SchemaMajorMismatch { found_json, .. } => found_json,
        other => panic!("{other:?}"),
    };
    let decode = |spec: &Spec, bytes: &[u8]| {
        let judged = scan(bytes).and_then(|doc| spec.decode(&doc).map(drop));
        judged.err().unwrap()
    };
    let (creation, ingest) = (creation::SPEC, ingest::SPEC);
    assert_eq!(
        mismatch(decode(&creation, br#"{"schema_version": 2.50 }"#)),
        "2.50"
    );
    assert_eq!(mismatch(decode(&creation, br#"{"a":1}"#)), "null");
    assert_eq!(
        mismatch(decode(&creation, br#"{"schema_version":""}"#)),
        r#""""#
    );
    assert!(matches!(decode(&ingest, br#"{"schema_version":""}"#),
        Error::Validation { field: Some(f), .. } if f == "schema_version"));
    // Major 1 as a number passes the gate, and is the wrong type.
    assert!(matches!(decode(&ingest, br#"{"schema_version":1}"#),
        Error::Validation { field: Some(f), .. } if f == "schema_version"));
    assert!(matches!(decode(&ingest, b"{nope"), Error::Decode(_)));
    assert!(matches!(
        decode(&ingest, b"[]"),
        Error::Validation { field: None, .. }
    ));
}

#[test]
fn input_ignores_the_callers_version_and_marks_a_time_to_stamp() {
    let (record, stamp) = creation::SPEC
        .input(
            r#"{"schema_version":"7.0","created_at":null,"created_by":"a","level":"run","run_kind":"test",
            "lims_project":{"uid":"u","short_id":"s","name_at_creation":"n"},
            "template":{"name":"t","version":"v","source_path":"p"},"variables":{},
            "paths":{"local":"l","nas":"n"}}"#,
            Some("created_at"),
        )
        .unwrap();
    assert!(stamp);
    assert_eq!(record.get("schema_version"), Some(&Node::string("1.9")));
    assert_eq!(
        record.get("created_at"),
        Some(&Node::Raw(STAMP_SIZED.into()))
    );
}

#[test]
fn check_fits_names_the_longest_field_the_first_of_equals() {
    let spec = ingest::SPEC;
    let big = "x".repeat(DOCUMENT_LIMIT / 2);
    let record = |project: &str, path: &str| {
        let text = format!(
            r#"{{"schema_version":"1.1","project_name":"{project}","equipment_id":"E",
            "run_kind":"test","run_path":"{path}","transport":"smb_mount","current_state":"staging"}}"#
        );
        let doc = node::input_object(&text, "input").unwrap();
        let shaped = schema::shape(&spec.ty(), doc.compact(), "", spec.rules("1.1", true));
        shaped.unwrap().into_owned()
    };
    let named = |record: &Node| match spec.check_fits(record) {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        named(&record(&big, &format!("{big}y"))).as_deref(),
        Some("run_path")
    );
    assert_eq!(named(&record(&big, &big)).as_deref(), Some("project_name"));
    assert_eq!(spec.check_fits(&record("p", "r")), Ok(()));
    assert!(check_rewrite_fits("p", &"x".repeat(DOCUMENT_LIMIT + 1)).is_err());
}
