//! The schema engine on a small table of its own.

use super::*;

const INNER: &[Field] = &[required("a", Type::Str), optional("b", Type::Int, "0")];

const FIELDS: &[Field] = &[
    required("v", Type::Str),
    migrated("k", Type::Enum(&["x", "y"]), "\"x\""),
    since("o", Type::Object(INNER), 2),
    optional("l", Type::List(&Type::Object(INNER)), "[]"),
    optional("n", Type::Nullable(&Type::Object(INNER)), "null"),
    optional("m", Type::Map(&Type::Bool), "{}").checked(no_z),
];

const TY: Type = Type::Object(FIELDS);

fn no_z(value: &Node, at: &str) -> Result<(), Error> {
    match value.get("z") {
        Some(_) => Err(Error::invalid(Some(at), "no z")),
        None => Ok(()),
    }
}

fn rules(minor: u32, newer: bool) -> Rules {
    Rules {
        minor,
        newer,
        input: false,
    }
}

fn fault(raw: &str, rules: Rules) -> Option<String> {
    match shape(&TY, raw, "", rules) {
        Err(Error::Validation { field, .. }) => field,
        other => panic!("{raw}: {other:?}"),
    }
}

#[test]
fn shape_reports_the_first_fault_in_schema_order_by_dotted_path() {
    let r = rules(3, false);
    assert_eq!(fault(r#"{"k":"x","o":{"a":"s"}}"#, r).as_deref(), Some("v"));
    assert_eq!(
        fault(r#"{"v":"1","k":"z","o":{"a":1}}"#, r).as_deref(),
        Some("k")
    );
    assert_eq!(
        fault(r#"{"v":"1","k":"x","o":{"b":1},"l":5}"#, r).as_deref(),
        Some("o.a")
    );
    assert_eq!(
        fault(
            r#"{"v":"1","k":"x","o":{"a":"s"},"l":[{"a":"s"},{"a":"s","b":1.0}]}"#,
            r
        )
        .as_deref(),
        Some("l[1].b")
    );
    assert_eq!(
        fault(r#"{"v":"1","k":"x","o":{"a":"s"},"n":{"a":null}}"#, r).as_deref(),
        Some("n.a")
    );
    assert_eq!(
        fault(
            r#"{"v":"1","k":"x","o":{"a":"s"},"m":{"p":true,"q":"no"}}"#,
            r
        )
        .as_deref(),
        Some("m.q")
    );
}

#[test]
fn integers_are_any_json_integer_and_nothing_else() {
    let r = rules(3, false);
    let ok = r#"{"v":"1","k":"x","o":{"a":"s","b":123456789012345678901234567890}}"#;
    assert!(shape(&TY, ok, "", r).is_ok());
    for bad in ["1.0", "1e2", "true", "\"1\""] {
        let raw = format!(r#"{{"v":"1","k":"x","o":{{"a":"s","b":{bad}}}}}"#);
        assert_eq!(fault(&raw, r).as_deref(), Some("o.b"), "{bad}");
    }
}

#[test]
fn a_newer_minor_reads_an_unknown_enum_value_and_an_older_one_lacks_later_fields() {
    let raw = r#"{"v":"1","k":"w","o":{"a":"s"}}"#;
    assert!(shape(&TY, raw, "", rules(4, true)).is_ok());
    assert_eq!(fault(raw, rules(3, false)).as_deref(), Some("k"));
    // `k` reads as "x" in a file of any minor; `o`, added in minor 2, stays
    // absent from an older file.
    let old = shape(&TY, r#"{"v":"1"}"#, "", rules(1, false)).unwrap();
    assert_eq!(
        to_json(&TY, &fill(&TY, &old), false),
        r#"{"v":"1","k":"x","l":[],"n":null,"m":{}}"#
    );
    assert_eq!(
        fault(r#"{"v":"1","k":"x"}"#, rules(2, false)).as_deref(),
        Some("o")
    );
    // A writer gives both.
    let input = Rules {
        input: true,
        ..rules(3, false)
    };
    assert_eq!(
        fault(r#"{"v":"1","o":{"a":"s"}}"#, input).as_deref(),
        Some("k")
    );
}

#[test]
fn format_checks_run_on_input_only() {
    let raw = r#"{"v":"1","k":"x","o":{"a":"s"},"m":{"z":true}}"#;
    assert!(shape(&TY, raw, "", rules(3, false)).is_ok());
    let input = Rules {
        input: true,
        ..rules(3, false)
    };
    match shape(&TY, raw, "", input) {
        Err(Error::Validation { field, .. }) => assert_eq!(field.as_deref(), Some("m")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn snapshots_fill_defaults_and_writes_leave_them_out_at_every_level() {
    let raw = r#"{"v":"\u0031","k":"x","o":{"a":"s","b":0,"u":1},"l":[{"a":"t"}],"n":{"a":"q"},"zz":[1e2]}"#;
    let value = shape(&TY, raw, "", rules(3, false)).unwrap();
    let snapshot = fill(&TY, &value);
    assert_eq!(
        to_json(&TY, &snapshot, false),
        r#"{"v":"1","k":"x","o":{"a":"s","b":0,"u":1},"l":[{"a":"t","b":0}],"n":{"a":"q","b":0},"m":{},"zz":[1e2]}"#
    );
    assert_eq!(
        to_json(&TY, &snapshot, true),
        r#"{"v":"1","k":"x","o":{"a":"s","u":1},"l":[{"a":"t"}],"n":{"a":"q"},"zz":[1e2]}"#
    );
    assert_eq!(
        to_json(&TY, &strip(&TY, &snapshot), false),
        r#"{"v":"1","k":"x","o":{"a":"s","b":0},"l":[{"a":"t","b":0}],"n":{"a":"q","b":0},"m":{}}"#
    );
}

#[test]
fn keep_dropped_restores_unknown_members_where_the_result_still_has_their_object() {
    let r = rules(3, false);
    let stored = shape(&TY, r#"{"v":"1","k":"x","o":{"a":"s","u":1},"l":[{"a":"t","u":2}],"n":{"a":"q","u":3},"top":4}"#, "", r).unwrap();
    let mut result = shape(
        &TY,
        r#"{"v":"2","k":"y","o":{"a":"s"},"l":[{"a":"t2"},{"a":"new"}],"n":null}"#,
        "",
        r,
    )
    .unwrap();
    keep_dropped(&TY, &mut result, &stored);
    assert_eq!(
        to_json(&TY, &result, true),
        r#"{"v":"2","k":"y","o":{"a":"s","u":1},"l":[{"a":"t2","u":2},{"a":"new"}],"top":4}"#
    );
    // What the result gives for an unknown member wins.
    let mut result = shape(&TY, r#"{"v":"1","k":"x","o":{"a":"s"},"top":5}"#, "", r).unwrap();
    keep_dropped(&TY, &mut result, &stored);
    assert!(to_json(&TY, &result, true).ends_with(r#","top":5}"#));
}

#[test]
fn keep_dropped_puts_back_many_unknown_members_as_it_puts_back_a_few() {
    let r = rules(3, false);
    for count in [2, 15, 16, 17, 40] {
        let mut stored = String::from(r#"{"v":"1","k":"x","o":{"a":"s"}"#);
        let mut expected = String::from(r#"{"v":"2","k":"y","o":{"a":"s"},"u1":"mine""#);
        for i in 0..count {
            stored.push_str(&format!(r#","u{i}":{i}"#));
            if i != 1 {
                expected.push_str(&format!(r#","u{i}":{i}"#));
            }
        }
        // Two keys that both read as U+FFFD: once the first is back, the
        // result has that name, and the second stays out.
        stored.push_str(r#","\ud800":"a","\udc00":"b"}"#);
        expected.push_str(r#","\ud800":"a"}"#);
        let stored = shape(&TY, &stored, "", r).unwrap();
        let given = r#"{"v":"2","k":"y","o":{"a":"s"},"u1":"mine"}"#;
        let mut result = shape(&TY, given, "", r).unwrap();
        keep_dropped(&TY, &mut result, &stored);
        assert_eq!(to_json(&TY, &result, true), expected, "{count}");
    }
}
