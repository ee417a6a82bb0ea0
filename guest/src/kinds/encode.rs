//! A record as compact JSON, by its schema (`schema`): known fields in
//! schema order, then the unknown ones as given; for a file, fields equal
//! to their default left out (as the app's msgspec structs with
//! `omit_defaults=True`). One buffer per document, each piece appended.

use super::node::{Member, Node};
use super::schema::{position_from, unknown, Field, Presence, Type};
use crate::json;

/// Compact JSON: known fields in schema order, then unknown members as
/// given. Known strings are written afresh (a lone surrogate escape reads,
/// and so is written, as U+FFFD: docs/spec.md §7.3). With `omit_defaults`,
/// a field equal to its default is left out, as msgspec's `omit_defaults`.
pub fn to_json(ty: &Type, value: &Node, omit_defaults: bool) -> String {
    let mut out = String::with_capacity(1024);
    let encoding = Encoding {
        omit_defaults,
        known_only: false,
    };
    write_json(ty, value, encoding, &mut out);
    out
}

/// `to_json(ty, &strip(ty, value), false)`, in one pass: a read's answer.
pub fn to_known_json(ty: &Type, value: &Node) -> String {
    let mut out = String::with_capacity(1024);
    let encoding = Encoding {
        omit_defaults: false,
        known_only: true,
    };
    write_json(ty, value, encoding, &mut out);
    out
}

/// How [`write_json`] encodes a value.
#[derive(Clone, Copy)]
struct Encoding {
    /// A field equal to its default is left out (a file).
    omit_defaults: bool,
    /// Members the schema does not know are left out where `schema::strip`
    /// leaves them out.
    known_only: bool,
}

/// Appends `value` to `out`, as [`to_json`] and [`to_known_json`] write it.
fn write_json(ty: &Type, value: &Node, encoding: Encoding, out: &mut String) {
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => {
            out.push('{');
            let mut first = true;
            let mut next = 0;
            for field in fields.iter() {
                let Some(i) = position_from(members, next, |m| m.is(field.name)) else {
                    continue;
                };
                next = i + 1;
                let before = out.len();
                if !first {
                    out.push(',');
                }
                // Field names need no escapes (a test checks every schema's).
                out.push('"');
                out.push_str(field.name);
                out.push_str("\":");
                let start = out.len();
                write_json(&field.ty, &members[i].value, encoding, out);
                if encoding.omit_defaults
                    && matches!(field.presence, Presence::Default(d) if d == &out[start..])
                {
                    out.truncate(before);
                    continue;
                }
                first = false;
            }
            if !encoding.known_only {
                write_unknown(fields, members, first, out);
            }
            out.push('}');
        }
        (Type::Map(inner), Node::Object(members)) => {
            // `strip` keeps a map's values as they are.
            let encoding = Encoding {
                known_only: false,
                ..encoding
            };
            out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&m.key);
                out.push(':');
                write_json(inner, &m.value, encoding, out);
            }
            out.push('}');
        }
        (Type::List(inner), Node::List(items)) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(inner, item, encoding, out);
            }
            out.push(']');
        }
        (Type::Nullable(inner), _) => write_json(inner, value, encoding, out),
        (Type::Str | Type::Enum(_), Node::Raw(raw)) if raw.starts_with('"') => {
            // Without escapes the literal is already as `push_string` writes it.
            if raw.contains('\\') {
                json::push_string(out, &json::string_value(raw));
            } else {
                out.push_str(raw);
            }
        }
        _ => value.write(out),
    }
}

/// Appends the members of an object that `fields` does not know, as given.
fn write_unknown(fields: &[Field], members: &[Member], mut first: bool, out: &mut String) {
    for m in unknown(fields, members) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&m.key);
        out.push(':');
        m.value.write(out);
    }
}
