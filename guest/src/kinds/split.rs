//! Compact JSON text split where a schema looks inside it: an object's
//! members and an array's elements, each found by one loop over the bytes
//! (never by recursion over the data). Every text here was accepted by
//! [`Document::scan`](crate::json::Document::scan) and is compact, so the
//! loops need not check it again.

use crate::json::plain_run;

/// An object's members as written, `(key, value)`, repeated keys and all.
pub fn members(object: &str) -> impl Iterator<Item = (&str, &str)> {
    let bytes = object.as_bytes();
    let mut at = 1; // after the `{` or a `,`
    std::iter::from_fn(move || {
        if at >= bytes.len() - 1 {
            return None; // at the closing brace
        }
        let key_end = string_end(bytes, at);
        let value_end = value_end(bytes, key_end + 1);
        let member = (&object[at..key_end], &object[key_end + 1..value_end]);
        at = value_end + 1;
        Some(member)
    })
}

/// The elements of an array's compact text.
pub fn elements(array: &str) -> Vec<&str> {
    let bytes = array.as_bytes();
    let mut out = Vec::new();
    let mut at = 1; // after the `[` or a `,`
    while at < bytes.len() - 1 {
        let end = value_end(bytes, at);
        out.push(&array[at..end]);
        at = end + 1;
    }
    out
}

/// Where the string literal at `start` ends, just after its closing quote.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    loop {
        i += plain_run(&bytes[i..]);
        match bytes[i] {
            b'"' => return i + 1,
            _ => i += 2, // a `\` and the character it escapes
        }
    }
}

/// Where the value at `start` ends: at the `,` or closing bracket after it.
fn value_end(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut i = start;
    loop {
        match bytes[i] {
            b'"' => {
                i = string_end(bytes, i);
                continue;
            }
            b'[' | b'{' => depth += 1,
            b']' | b'}' | b',' if depth == 0 => return i,
            b']' | b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests;
