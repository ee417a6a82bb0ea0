use super::*;
use crate::memory::MemEnv;

const T0: i64 = 1_776_434_400; // 2026-04-17T14:00:00Z

#[test]
fn every_listed_operation_runs_and_unknown_names_are_refused_by_field() {
    let env = MemEnv::at(T0);
    let e = run(&&env, "nope", "read", "a", "null").unwrap_err();
    assert!(matches!(e, Error::Validation { field: Some(f), .. } if f == "kind"));
    let e = run(&&env, "equipment", "nope", "a", "null").unwrap_err();
    assert!(matches!(e, Error::Validation { field: Some(f), .. } if f == "operation"));
}

#[test]
fn the_1_0_files_keep_their_cli_shapes_by_name() {
    let env = MemEnv::at(T0);
    let doc = run(
        &&env,
        "equipment",
        "write",
        "E/equipment.json",
        r#"{"id":"E","label":"L","configured_local_root":"/l","configured_nas_root":"/n"}"#,
    )
    .unwrap();
    assert_eq!(env.get("E/equipment.json").unwrap(), doc.as_bytes());
    let w = run(
        &&env,
        "runs",
        "write",
        "R/runs.json",
        r#"{"project":"P","equipment":"E"}"#,
    )
    .unwrap();
    assert!(
        w.starts_with(
            r#"{"written":true,"marker":{"schema_version":"1.0","run_kind":"experimental""#
        ),
        "{w}"
    );
    let r = run(&&env, "runs", "read", "R/runs.json", "null").unwrap();
    assert!(r.contains(r#""project":"P""#));
}

#[test]
fn the_1_1_kinds_are_listed_with_their_files_versions_and_accesses() {
    let env = MemEnv::at(T0);
    let shown: Vec<String> = list(&&env)
        .iter()
        .skip(3)
        .map(|k| {
            let ops: Vec<String> = k
                .operations
                .iter()
                .map(|o| {
                    format!(
                        "{} {:?}{}",
                        o.name,
                        o.access,
                        if o.takes_input { " <-" } else { "" }
                    )
                })
                .collect();
            format!(
                "{} {} {:?}: {}",
                k.name,
                k.file_name,
                k.schema_version,
                ops.join(", ")
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            "creation creation.json \"1.9\": create Write <-, update Update, read Read, \
             active-overrides None <-",
            "ingest ingest.json \"1.1\": create Write <-, transition Write <-, read Read",
            "readme-fields readme_fields.json \"1.1\": write Write <-, read Read",
            "log wizard.labpc-test.log \"\": format None <-, append Append <-",
        ]
    );
}

#[test]
fn every_listed_operation_is_dispatched_by_name() {
    for kind in list(&&MemEnv::at(T0)) {
        for op in &kind.operations {
            let env = MemEnv::at(T0);
            // Whatever the outcome, it is a value: no operation is left undispatched.
            let _ = run(&&env, kind.name, op.name, "E/.exlab-wizard/f", "null");
        }
    }
    let env = MemEnv::at(T0);
    let line = run(
        &&env,
        "log",
        "format",
        "",
        r#"{"level":"INFO","message":"m"}"#,
    )
    .unwrap();
    assert_eq!(line, r#"{"line":"2026-04-17T14:00:00Z [INFO ] m"}"#);
}

#[test]
fn every_field_name_is_its_own_json_key() {
    // `schema::to_json` writes a known field's key without escaping it.
    fn check(fields: &[schema::Field]) {
        for field in fields {
            assert_eq!(node::quote(field.name), format!("\"{}\"", field.name));
            check_type(&field.ty);
        }
    }
    fn check_type(ty: &schema::Type) {
        use schema::Type;
        match ty {
            Type::Object(fields) => check(fields),
            Type::List(inner) | Type::Map(inner) | Type::Nullable(inner) => check_type(inner),
            _ => {}
        }
    }
    for spec in [creation::SPEC, ingest::SPEC, readme_fields::SPEC] {
        check(spec.fields);
    }
}
