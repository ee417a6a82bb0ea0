//! JSON values taken apart only as far as a schema needs them.
//!
//! Every text here was scanned once by [`Document::scan`] (a stored file,
//! the caller's input, the caller's step's record) and is compact: objects
//! and arrays are split where a schema looks inside them (`split`, one loop
//! over the bytes, never a recursion over the data), and a [`Node`]
//! borrows its pieces from that text instead of copying them.

use super::split::{self, elements};
use crate::json::{self, Document};
use crate::Error;
use std::borrow::Cow;
use std::collections::HashMap;

/// A JSON value, taken apart where a schema knows its shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node<'a> {
    /// Compact JSON text, kept as it is: a scalar, a free object, or the
    /// value of a field the schema does not know.
    Raw(Cow<'a, str>),
    /// An object's members, in order.
    Object(Vec<Member<'a>>),
    /// An array's elements.
    List(Vec<Node<'a>>),
}

/// One member of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// The key, decoded.
    pub name: Cow<'a, str>,
    /// The key's string literal as given, quotes included.
    pub key: Cow<'a, str>,
    pub value: Node<'a>,
}

impl<'a> Member<'a> {
    /// A member named by this policy (its key spelt plainly).
    pub fn new(name: &'static str, value: Node<'a>) -> Self {
        Member {
            name: Cow::Borrowed(name),
            key: Cow::Owned(quote(name)),
            value,
        }
    }

    /// This member with another value.
    pub fn with(&self, value: Node<'a>) -> Self {
        Member {
            name: self.name.clone(),
            key: self.key.clone(),
            value,
        }
    }

    /// Whether the member is called `name`.
    pub fn is(&self, name: &str) -> bool {
        same(&self.name, name)
    }

    /// A member of compact text, its value raw.
    fn raw(name: Cow<'a, str>, key: &'a str, value: &'a str) -> Self {
        Member {
            name,
            key: Cow::Borrowed(key),
            value: Node::Raw(Cow::Borrowed(value)),
        }
    }
}

impl<'a> Node<'a> {
    /// The JSON text of a string.
    pub fn string(value: &str) -> Self {
        Node::Raw(Cow::Owned(quote(value)))
    }

    /// A scanned object, its members borrowed from the scan.
    pub fn object_of(doc: &'a Document<'_>) -> Self {
        Node::Object(members_of(doc))
    }

    /// The members of an object (none for anything else).
    pub fn into_members(self) -> Vec<Member<'a>> {
        match self {
            Node::Object(members) => members,
            _ => Vec::new(),
        }
    }

    /// The member called `name`, when this is an object that has one.
    pub fn get(&self, name: &str) -> Option<&Node<'a>> {
        match self {
            Node::Object(members) => members.iter().find(|m| m.is(name)).map(|m| &m.value),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Node<'a>> {
        match self {
            Node::Object(members) => members
                .iter_mut()
                .find(|m| m.is(name))
                .map(|m| &mut m.value),
            _ => None,
        }
    }

    /// Sets the member `name` of an object, in its place or at the end.
    pub fn set(&mut self, name: &'static str, value: Node<'a>) {
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
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Node::Raw(raw) => Cow::Borrowed(raw),
            _ => {
                let mut out = String::new();
                self.write(&mut out);
                Cow::Owned(out)
            }
        }
    }

    /// Appends the node's compact JSON text to `out`.
    pub fn write(&self, out: &mut String) {
        match self {
            Node::Raw(raw) => out.push_str(raw),
            Node::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Node::Object(members) => {
                out.push('{');
                for (i, m) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&m.key);
                    out.push(':');
                    m.value.write(out);
                }
                out.push('}');
            }
        }
    }

    /// The raw text of this value (a decomposed one joined).
    pub fn into_raw(self) -> Cow<'a, str> {
        match self {
            Node::Raw(raw) => raw,
            other => Cow::Owned(other.text().into_owned()),
        }
    }

    /// The same value, owning its text.
    pub fn into_owned(self) -> Node<'static> {
        match self {
            Node::Raw(raw) => Node::Raw(Cow::Owned(raw.into_owned())),
            Node::List(items) => Node::List(items.into_iter().map(Node::into_owned).collect()),
            Node::Object(members) => Node::Object(
                members
                    .into_iter()
                    .map(|m| Member {
                        name: Cow::Owned(m.name.into_owned()),
                        key: Cow::Owned(m.key.into_owned()),
                        value: m.value.into_owned(),
                    })
                    .collect(),
            ),
        }
    }
}

/// `a == b` for names, which are short: compared inline rather than by a
/// call to `memcmp` (in wasm, a byte loop behind a call).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// `value` as a JSON string literal.
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    json::push_string(&mut out, value);
    out
}

/// The text of a string literal, borrowed when it has no escapes.
pub fn string_text(literal: &str) -> Cow<'_, str> {
    if literal.contains('\\') {
        Cow::Owned(json::string_value(literal))
    } else {
        Cow::Borrowed(&literal[1..literal.len() - 1])
    }
}

/// The top-level members of a scanned object, borrowed from the scan: no
/// need to split its text again.
pub fn members_of<'d>(doc: &'d Document<'_>) -> Vec<Member<'d>> {
    doc.members()
        .map(|m| Member::raw(Cow::Borrowed(m.name), m.key, m.value))
        .collect()
}

/// Objects with more members than this find repeated keys through a hash
/// index; smaller ones (every record) by comparing with each member.
const LINEAR_MEMBERS: usize = 16;

/// The members of an object's compact text, each value raw. A repeated key
/// keeps its first place and its last value, as the scan decides it (and
/// Python's `json.loads`).
pub fn members(object: &str) -> Vec<Member<'_>> {
    let mut out: Vec<Member> = Vec::new();
    // The first members' keys, searched one by one; past them, an index.
    let mut keys = [""; LINEAR_MEMBERS];
    let mut index: Option<HashMap<&str, usize>> = None;
    for (key, value) in split::members(object) {
        if key.contains('\\') {
            return members_by_scan(object);
        }
        // Keys without escapes are the same key when they are the same text.
        let repeated = if out.len() < LINEAR_MEMBERS {
            keys[..out.len()].iter().position(|k| same(k, key))
        } else {
            let index = index
                .get_or_insert_with(|| keys.iter().enumerate().map(|(i, k)| (*k, i)).collect());
            let found = index.get(key).copied();
            if found.is_none() {
                index.insert(key, out.len());
            }
            found
        };
        match repeated {
            Some(i) => out[i].value = Node::Raw(Cow::Borrowed(value)),
            None => {
                if let Some(slot) = keys.get_mut(out.len()) {
                    *slot = key;
                }
                let name = Cow::Borrowed(&key[1..key.len() - 1]);
                out.push(Member::raw(name, key, value));
            }
        }
    }
    out
}

/// [`members`] of an object with an escaped key: the scan decides which
/// keys are one (by their UTF-16 code units: `"\ud800"` and `"\uD800"`
/// are one key, `"\ud800"` and `"\udc00"` two, though both read as U+FFFD).
/// Rare: it scans again, and copies.
fn members_by_scan(object: &str) -> Vec<Member<'static>> {
    let doc = Document::scan(object.as_bytes()).expect("a text that was scanned scans again");
    doc.members()
        .map(|m| Member {
            name: Cow::Owned(m.name.to_owned()),
            key: Cow::Owned(m.key.to_owned()),
            value: Node::Raw(Cow::Owned(m.value.to_owned())),
        })
        .collect()
}

/// The caller's JSON object (`what`: "input", or the step's record),
/// scanned. Text that is not JSON, or not an object, is a validation error
/// of the whole document: `decode_error` is only ever about a file on disk.
pub fn input_object<'a>(input_json: &'a str, what: &str) -> Result<Document<'a>, Error> {
    let doc = Document::scan(input_json.as_bytes())
        .map_err(|e| Error::invalid(None, format!("{what} is not JSON: {e}")))?;
    if !doc.is_object() {
        let found = json::type_name(doc.compact());
        return Err(Error::invalid(
            None,
            format!("{what} must be a JSON object, found {found}"),
        ));
    }
    Ok(doc)
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
