use super::*;

#[test]
fn elements_split_at_top_level_commas_only() {
    let array = r#"[1,"a,b]\"",{"c":[2,3]},[],"\\",null]"#;
    assert_eq!(
        elements(array),
        [
            "1",
            r#""a,b]\"""#,
            r#"{"c":[2,3]}"#,
            "[]",
            r#""\\""#,
            "null"
        ]
    );
    assert!(elements("[]").is_empty());
    assert_eq!(elements("[[]]"), ["[]"]);
}

#[test]
fn members_keep_the_key_as_given_and_the_last_of_repeated_keys() {
    let m = members(r#"{"\u0061":1,"b":2,"a":3}"#);
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].name.as_str(), m[0].key.as_str()),
        ("a", r#""\u0061""#)
    );
    assert_eq!(m[0].value, Node::Raw("3".into()));
}

#[test]
fn canonical_forms_agree_where_python_finds_values_equal() {
    for (a, b) in [
        (r#"{"a":1,"b":"é"}"#, r#"{"b":"\u00e9","a":1.0}"#),
        ("[1e2,-0]", "[100,0]"),
        (r#""\/""#, r#""/""#),
        (r#"{"x":{"y":[true,null]}}"#, r#"{"x":{"y":[true,null]}}"#),
    ] {
        assert_eq!(canonical(a), canonical(b), "{a} {b}");
    }
    for (a, b) in [
        ("1", "\"1\""),
        ("[1,2]", "[2,1]"),
        ("1.5", "1"),
        ("true", "1"),
        ("{}", "[]"),
    ] {
        assert_ne!(canonical(a), canonical(b), "{a} {b}");
    }
}

#[test]
fn input_that_is_not_a_json_object_faults_the_whole_document() {
    for bad in ["", "nope", "[1]", "\"x\"", "null", "{", "[1e400]"] {
        match input_object(bad, "input") {
            Err(Error::Validation { field: None, .. }) => {}
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Deep nesting and lone surrogates are JSON, as on disk.
    let deep = format!("{{\"a\":{}1{}}}", "[".repeat(300), "]".repeat(300));
    assert!(input_object(&deep, "input").is_ok());
    assert_eq!(
        input_object(r#" { "a" : "\ud800" } "#, "input").unwrap(),
        r#"{"a":"\ud800"}"#
    );
}

#[test]
fn setting_a_member_replaces_it_in_place_or_adds_it_last() {
    let mut node = Node::Object(members(r#"{"a":1,"b":2}"#));
    node.set("a", Node::Raw("3".into()));
    node.set("c", Node::string("x"));
    assert_eq!(node.text(), r#"{"a":3,"b":2,"c":"x"}"#);
    assert_eq!(node.get("c").and_then(Node::as_str).as_deref(), Some("x"));
}
