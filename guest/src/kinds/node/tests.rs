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
    assert_eq!((&*m[0].name, &*m[0].key), ("a", r#""\u0061""#));
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
        input_object(r#" { "a" : "\ud800" } "#, "input")
            .unwrap()
            .compact(),
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

/// What the scan of the whole text says an object's members are.
fn scanned(object: &str) -> Vec<(String, String, String)> {
    let doc = Document::scan(object.as_bytes()).unwrap();
    doc.members()
        .map(|m| (m.name.to_owned(), m.key.to_owned(), m.value.to_owned()))
        .collect()
}

fn split_here(object: &str) -> Vec<(String, String, String)> {
    members(object)
        .into_iter()
        .map(|m| {
            (
                m.name.into_owned(),
                m.key.into_owned(),
                m.value.text().into_owned(),
            )
        })
        .collect()
}

#[test]
fn members_split_as_the_scan_does_with_every_kind_of_key_and_value() {
    for object in [
        "{}",
        r#"{"a":1}"#,
        // Strings holding the characters that delimit members and values.
        r#"{"a,b":"x,y:{z}[w]\"q\\","c":["]",{"d":"}"}],"e":"\\","f":"\""}"#,
        r#"{"k:":{"}":"{","[":[[],{}]},"":"","\/":"\/"}"#,
        // Repeated keys at the top: the first place, the last value.
        r#"{"a":{"b":1,"b":2},"c":0,"a":{"c":3}}"#,
        // Escaped keys: one key however spelt, lone surrogates by code unit.
        r#"{"\u0061":1,"a":2,"b":3}"#,
        r#"{"a":1,"b":{"x":1},"\u0062":[2]}"#,
        r#"{"\ud800":1,"\uD800":2,"\udc00":3,"\ud800\udc00":4,"𐀀":5}"#,
        r#"{"\n":1,"\u000a":2,"\"":3,"\\":4,"\u005c":5}"#,
        // Escapes in values only: keys stay plain.
        r#"{"a":"\u0022,\"}","b":"\\\"","c":"\ud800"}"#,
        // Numbers kept as written.
        r#"{"n":1.0,"m":-0,"o":1E+2,"p":123456789012345678901234567890}"#,
    ] {
        assert_eq!(split_here(object), scanned(object), "{object}");
    }
}

#[test]
fn members_of_large_objects_find_repeated_keys_by_index_as_small_ones_do() {
    for count in [15, 16, 17, 40] {
        let mut object = String::from("{");
        for i in 0..count {
            object.push_str(&format!(r#""k{i}":{{"v":{i},"v":[{i}]}},"#));
        }
        // Repeats of an early key and of a late one, past the linear search.
        object.push_str(&format!(
            r#""k0":"first","k{}":"last","new":null}}"#,
            count - 1
        ));
        assert_eq!(split_here(&object), scanned(&object), "{count}");
        // An escaped repeat, late: the scan decides.
        let escaped = object.replacen(r#""new""#, r#""k\u0031""#, 1);
        assert_eq!(split_here(&escaped), scanned(&escaped), "{count}");
    }
}

#[test]
fn members_at_depth_are_split_as_the_scan_splits_them() {
    // Every object inside a value, split on its own, agrees with a scan of it.
    let object = r#"{"a":1,"a":{"b":0,"b":{"c":1,"c":{"d":"x","d":"y"}},"f":{"\u0067":1,"g":2}}}"#;
    let mut pending = vec![object.to_owned()];
    let mut seen = 0;
    while let Some(text) = pending.pop() {
        assert_eq!(split_here(&text), scanned(&text), "{text}");
        for m in members(&text) {
            let value = m.value.text().into_owned();
            if value.starts_with('{') {
                pending.push(value);
            }
        }
        seen += 1;
    }
    assert_eq!(seen, 5);
    let top = Node::Object(members(object));
    let a = top.get("a").unwrap().text();
    assert_eq!(
        Node::Object(members(&a)).text(),
        r#"{"b":{"c":1,"c":{"d":"x","d":"y"}},"f":{"\u0067":1,"g":2}}"#
    );
}

#[test]
fn members_borrow_the_text_unless_a_key_is_escaped() {
    let text = r#"{"a":"x","b":[1]}"#;
    assert!(members(text).iter().all(|m| matches!(
        (&m.name, &m.key, &m.value),
        (
            Cow::Borrowed(_),
            Cow::Borrowed(_),
            Node::Raw(Cow::Borrowed(_))
        )
    )));
}
