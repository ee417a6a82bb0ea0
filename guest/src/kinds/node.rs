//! JSON values taken apart only as far as a schema needs them.
//!
//! Every text here was scanned once by [`Document::scan`] (a stored file,
//! the caller's input, the caller's step's record) and is compact: the
//! helpers below split what that scan accepted, objects by scanning their
//! text again (repeated keys as the scan decides them) and arrays by one
//! loop over the bytes, never by recursion over the data.

use crate::json::{self, Document};
use crate::Error;

/// A JSON value, taken apart where a schema knows its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Compact JSON text, kept as it is: a scalar, a free object, or the
    /// value of a field the schema does not know.
    Raw(String),
    /// An object's members, in order.
    Object(Vec<Member>),
    /// An array's elements.
    List(Vec<Node>),
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The key, decoded.
    pub name: String,
    /// The key's string literal as given, quotes included.
    pub key: String,
    pub value: Node,
}

impl Member {
    /// A member named by this policy (its key spelt plainly).
    pub fn new(name: &str, value: Node) -> Self {
        Member {
            name: name.to_owned(),
            key: quote(name),
            value,
        }
    }
}

impl Node {
    /// The JSON text of a string.
    pub fn string(value: &str) -> Self {
        Node::Raw(quote(value))
    }

    /// The member called `name`, when this is an object that has one.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Object(members) => members.iter().find(|m| m.name == name).map(|m| &m.value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node> {
        match self {
            Node::Object(members) => members
                .iter_mut()
                .find(|m| m.name == name)
                .map(|m| &mut m.value),
            _ => None,
        }
    }

    /// Sets the member `name` of an object, in its place or at the end.
    pub fn set(&mut self, name: &str, value: Node) {
        if let Some(slot) = self.get_mut(name) {
            *slot = value;
        } else if let Node::Object(members) = self {
            members.push(Member::new(name, value));
        }
    }

    /// The text of a raw string value (`None` for anything else).
    pub fn as_str(&self) -> Option<String> {
        match self {
            Node::Raw(raw) if raw.starts_with('"') => Some(json::string_value(raw)),
            _ => None,
        }
    }

    /// The node's compact JSON text (decomposed parts joined as they are).
    pub fn text(&self) -> String {
        match self {
            Node::Raw(raw) => raw.clone(),
            Node::List(items) => {
                let items: Vec<String> = items.iter().map(Node::text).collect();
                format!("[{}]", items.join(","))
            }
            Node::Object(members) => {
                let members: Vec<String> = members
                    .iter()
                    .map(|m| format!("{}:{}", m.key, m.value.text()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }
        }
    }
}

/// `value` as a JSON string literal.
pub fn quote(value: &str) -> String {
    serde_json::to_string(value).expect("a string serializes")
}

/// The members of an object's compact text, each value raw.
pub fn members(object: &str) -> Vec<Member> {
    let doc = Document::scan(object.as_bytes()).expect("a text that was scanned scans again");
    doc.members()
        .map(|m| Member {
            name: m.name.to_owned(),
            key: m.key.to_owned(),
            value: Node::Raw(m.value.to_owned()),
        })
        .collect()
}

/// The elements of an array's compact text.
pub fn elements(array: &str) -> Vec<&str> {
    let inner = &array[1..array.len() - 1];
    if inner.is_empty() {
        return Vec::new();
    }
    let (mut out, mut start, mut depth) = (Vec::new(), 0, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for (i, b) in inner.bytes().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b',' if depth == 0 => {
                out.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&inner[start..]);
    out
}

/// The caller's JSON object (`what`: "input", or the step's record),
/// compact. Text that is not JSON, or not an object, is a validation error
/// of the whole document: `decode_error` is only ever about a file on disk.
pub fn input_object(input_json: &str, what: &str) -> Result<String, Error> {
    let doc = Document::scan(input_json.as_bytes())
        .map_err(|e| Error::invalid(None, format!("{what} is not JSON: {e}")))?;
    if !doc.is_object() {
        let found = json::type_name(doc.compact());
        return Err(Error::invalid(
            None,
            format!("{what} must be a JSON object, found {found}"),
        ));
    }
    Ok(doc.into_compact())
}

/// Nesting deeper than this compares as text in [`canonical`]: it bounds
/// the recursion, and no record this policy knows nests that deep.
const CANONICAL_DEPTH: usize = 32;

/// A form of `raw` that is equal for values Python's `==` finds equal, so
/// that an entry a caller read and wrote back is recognised: object keys
/// in any order, escapes decoded, `1` equal to `1.0`.
pub fn canonical(raw: &str) -> String {
    canonical_at(raw, 0)
}

fn canonical_at(raw: &str, depth: usize) -> String {
    if depth > CANONICAL_DEPTH {
        return raw.to_owned();
    }
    match raw.as_bytes().first() {
        Some(b'{') => {
            let mut members = members(raw);
            members.sort_by(|a, b| a.name.cmp(&b.name));
            let members: Vec<String> = members
                .iter()
                .map(|m| {
                    format!(
                        "{}:{}",
                        quote(&m.name),
                        canonical_at(&m.value.text(), depth + 1)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        }
        Some(b'[') => {
            let items: Vec<String> = elements(raw)
                .into_iter()
                .map(|e| canonical_at(e, depth + 1))
                .collect();
            format!("[{}]", items.join(","))
        }
        Some(b'"') => quote(&json::string_value(raw)),
        Some(b'-' | b'0'..=b'9') => canonical_number(raw),
        _ => raw.to_owned(),
    }
}

/// Integers exactly; other numbers by their double, integral ones written
/// as integers (Python: `1 == 1.0`).
fn canonical_number(raw: &str) -> String {
    if !raw.contains(['.', 'e', 'E']) {
        return raw
            .parse::<i128>()
            .map_or_else(|_| raw.to_owned(), |i| i.to_string());
    }
    let x: f64 = raw.parse().unwrap_or(f64::NAN);
    if x.fract() == 0.0 && x.abs() < 1e18 {
        (x as i128).to_string()
    } else {
        format!("{x:?}")
    }
}

#[cfg(test)]
mod tests;
