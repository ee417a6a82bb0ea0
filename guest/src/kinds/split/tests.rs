use super::*;

#[test]
fn a_string_ends_at_its_first_unescaped_quote_whatever_its_length() {
    for len in 0..20 {
        for at in 0..len {
            // A `\"` at any place (eight-byte words straddled), then the end.
            let mut body = "é".repeat(len);
            let boundary = body.char_indices().nth(at).map_or(body.len(), |(i, _)| i);
            body.insert_str(boundary, r#"\"\\"#);
            let literal = format!("\"{body}\"");
            let text = format!("{literal},1]");
            assert_eq!(string_end(text.as_bytes(), 0), literal.len(), "{literal}");
        }
    }
    assert_eq!(plain_run(b"abcdefghij\"k"), 10);
    assert_eq!(plain_run(b"abcdefg\\\""), 7);
}

#[test]
fn elements_keep_strings_that_hold_brackets_and_commas() {
    let array = r#"["],[","\\","\"",{"a":"]"},[["}"]],-1.5e3]"#;
    assert_eq!(
        elements(array),
        [
            r#""],[""#,
            r#""\\""#,
            r#""\"""#,
            r#"{"a":"]"}"#,
            r#"[["}"]]"#,
            "-1.5e3"
        ]
    );
}
