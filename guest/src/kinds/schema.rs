//! The declarative schema of a record kind: one table of fields per kind
//! drives input validation, the defaults of older minors, the snapshot
//! with every default filled, the encoding with defaults left out (as the
//! app's msgspec structs with `omit_defaults=True`), and keeping the
//! fields it does not know (docs/spec.md §2.1; app §11.9.2, §11.9.3).

use super::node::{self, quote, Member, Node};
use crate::{json, Error};

/// What a field holds.
#[derive(Debug)]
pub enum Type {
    Str,
    /// A JSON integer (no fraction, no exponent), of any size, as msgspec's `int`.
    Int,
    Bool,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// An object with fields of its own; other members are kept as unknown.
    Object(&'static [Field]),
    List(&'static Type),
    /// An object whose every member is data of one type (`dict[str, T]`).
    Map(&'static Type),
    /// Any JSON object, kept as given (`dict[str, Any]`).
    FreeObject,
    Nullable(&'static Type),
}

/// One field of an object, in file order.
#[derive(Debug)]
pub struct Field {
    pub name: &'static str,
    pub ty: Type,
    pub presence: Presence,
    /// A format check of caller input, after the type check (never on read:
    /// a reader checks types, not formats).
    pub check: Option<Check>,
}

/// A format check: the field's value and its dotted path.
pub type Check = fn(&Node, &str) -> Result<(), Error>;

/// Whether a field may be absent, and what its absence means.
#[derive(Debug)]
pub enum Presence {
    Required,
    /// Optional: absent reads as this JSON value, and a value equal to it
    /// is left out when written.
    Default(&'static str),
    /// Required of a writer; a stored file without it reads as this JSON
    /// value (a field a later minor added, with the history table's
    /// default: the app's reader applies it to a file of any minor).
    Migrated(&'static str),
    /// Required of a writer, and of a file of this minor or newer; in a
    /// file of an older minor it did not exist, and stays absent.
    Since(u32),
}

const fn field(name: &'static str, ty: Type, presence: Presence) -> Field {
    Field {
        name,
        ty,
        presence,
        check: None,
    }
}

pub const fn required(name: &'static str, ty: Type) -> Field {
    field(name, ty, Presence::Required)
}

pub const fn optional(name: &'static str, ty: Type, default: &'static str) -> Field {
    field(name, ty, Presence::Default(default))
}

pub const fn migrated(name: &'static str, ty: Type, older: &'static str) -> Field {
    field(name, ty, Presence::Migrated(older))
}

pub const fn since(name: &'static str, ty: Type, minor: u32) -> Field {
    field(name, ty, Presence::Since(minor))
}

impl Field {
    pub const fn checked(self, check: Check) -> Self {
        Field {
            check: Some(check),
            ..self
        }
    }

    /// What the field reads as when a stored record lacks it.
    fn absent_value(&self) -> Option<&'static str> {
        match self.presence {
            Presence::Default(value) | Presence::Migrated(value) => Some(value),
            _ => None,
        }
    }

    fn may_be_absent(&self, rules: Rules) -> bool {
        match self.presence {
            Presence::Required => false,
            Presence::Default(_) => true,
            Presence::Migrated(_) => !rules.input,
            Presence::Since(added) => rules.minor < added,
        }
    }
}

/// How a value is judged.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The minor of the file read or written: older ones lack later fields.
    pub minor: u32,
    /// A minor newer than the policy's: an enum value it does not know is
    /// read as the string it is (app §11.9.2 rule 2).
    pub newer: bool,
    /// Caller input: the fields' format checks run too.
    pub input: bool,
}

fn field_of<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| f.name == name)
}

fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn wrong(at: &str, expected: &str, raw: &str) -> Error {
    let found = json::type_name(raw);
    Error::invalid(Some(at), format!("{at} must be {expected}, found {found}"))
}

/// What a value of `ty` must be, for a message.
fn expected(ty: &Type) -> &'static str {
    match ty {
        Type::Str | Type::Enum(_) => "a string",
        Type::Int => "an integer",
        Type::Bool => "a boolean",
        Type::List(_) => "an array",
        Type::Nullable(inner) => expected(inner),
        Type::Object(_) | Type::Map(_) | Type::FreeObject => "an object",
    }
}

/// Checks `raw` (compact JSON) against `ty` and takes it apart as far as
/// the schema knows it. The first fault in schema order is reported, named
/// by its dotted path (`lims_project.uid`, `plugins_applied[0].status`).
pub fn shape(ty: &Type, raw: &str, at: &str, rules: Rules) -> Result<Node, Error> {
    let first = raw.as_bytes()[0];
    let kept = || Ok(Node::Raw(raw.to_owned()));
    match ty {
        Type::Nullable(_) if raw == "null" => kept(),
        Type::Nullable(inner) => shape(inner, raw, at, rules),
        Type::Object(fields) if first == b'{' => shape_object(fields, raw, at, rules),
        Type::Map(inner) if first == b'{' => {
            let members = node::members(raw)
                .into_iter()
                .map(|m| {
                    let value = shape(inner, &m.value.text(), &path(at, &m.name), rules)?;
                    Ok(Member { value, ..m })
                })
                .collect::<Result<_, Error>>()?;
            Ok(Node::Object(members))
        }
        Type::List(inner) if first == b'[' => {
            let items = node::elements(raw)
                .into_iter()
                .enumerate()
                .map(|(i, item)| shape(inner, item, &format!("{at}[{i}]"), rules))
                .collect::<Result<_, Error>>()?;
            Ok(Node::List(items))
        }
        Type::Enum(values) if first == b'"' => {
            let value = json::string_value(raw);
            if rules.newer || values.contains(&value.as_str()) {
                return kept();
            }
            let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
            Err(Error::invalid(
                Some(at),
                format!("{at} must be one of {}, found {raw}", values.join(", ")),
            ))
        }
        Type::Str if first == b'"' => kept(),
        Type::FreeObject if first == b'{' => kept(),
        Type::Bool if raw == "true" || raw == "false" => kept(),
        // A JSON integer: no fraction, no exponent (`1.0` is a float to msgspec).
        Type::Int if json::type_name(raw) == "a number" && !raw.contains(['.', 'e', 'E']) => kept(),
        _ => Err(wrong(at, expected(ty), raw)),
    }
}

/// An object's known fields in schema order, then the members it does not
/// know, as given.
fn shape_object(fields: &[Field], raw: &str, at: &str, rules: Rules) -> Result<Node, Error> {
    let mut given = node::members(raw);
    let mut members = Vec::with_capacity(given.len());
    for field in fields {
        let here = path(at, field.name);
        match given.iter().position(|m| m.name == field.name) {
            Some(i) => {
                let member = given.remove(i);
                let value = shape(&field.ty, &member.value.text(), &here, rules)?;
                if let (true, Some(check)) = (rules.input, field.check) {
                    check(&value, &here)?;
                }
                members.push(Member { value, ..member });
            }
            None if field.may_be_absent(rules) => {}
            None => return Err(Error::invalid(Some(&here), format!("{here} is missing"))),
        }
    }
    members.extend(given);
    Ok(Node::Object(members))
}

/// The snapshot: every known field present, absent ones as they read
/// (their default, or the history table's), inner objects too; unknown
/// members stay, after the known ones. A field of a later minor that an
/// older file lacks stays absent.
pub fn fill(ty: &Type, value: &Node) -> Node {
    let lenient = Rules {
        minor: u32::MAX,
        newer: true,
        input: false,
    };
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => {
            let mut out = Vec::with_capacity(members.len());
            for field in fields.iter() {
                match members.iter().find(|m| m.name == field.name) {
                    Some(m) => out.push(Member {
                        value: fill(&field.ty, &m.value),
                        ..m.clone()
                    }),
                    None => {
                        if let Some(default) = field.absent_value() {
                            let value = shape(&field.ty, default, field.name, lenient)
                                .expect("a schema's defaults fit its types");
                            out.push(Member::new(field.name, fill(&field.ty, &value)));
                        }
                    }
                }
            }
            out.extend(
                members
                    .iter()
                    .filter(|m| field_of(fields, &m.name).is_none())
                    .cloned(),
            );
            Node::Object(out)
        }
        (Type::List(inner), Node::List(items)) => {
            Node::List(items.iter().map(|item| fill(inner, item)).collect())
        }
        (Type::Nullable(inner), _) => fill(inner, value),
        _ => value.clone(),
    }
}

/// `value` without the members the schema does not know, at every level.
pub fn strip(ty: &Type, value: &Node) -> Node {
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => Node::Object(
            members
                .iter()
                .filter_map(|m| {
                    let field = field_of(fields, &m.name)?;
                    Some(Member {
                        value: strip(&field.ty, &m.value),
                        ..m.clone()
                    })
                })
                .collect(),
        ),
        (Type::List(inner), Node::List(items)) => {
            Node::List(items.iter().map(|item| strip(inner, item)).collect())
        }
        (Type::Nullable(inner), _) => strip(inner, value),
        _ => value.clone(),
    }
}

/// Compact JSON: known fields in schema order, then unknown members as
/// given. Known strings are written afresh (a lone surrogate escape reads,
/// and so is written, as U+FFFD: docs/spec.md §7.3). With `omit_defaults`,
/// a field equal to its default is left out, as msgspec's `omit_defaults`.
pub fn to_json(ty: &Type, value: &Node, omit_defaults: bool) -> String {
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => {
            let mut out = Vec::with_capacity(members.len());
            for field in fields.iter() {
                let Some(m) = members.iter().find(|m| m.name == field.name) else {
                    continue;
                };
                let text = to_json(&field.ty, &m.value, omit_defaults);
                if omit_defaults && matches!(field.presence, Presence::Default(d) if d == text) {
                    continue;
                }
                out.push(format!("{}:{text}", quote(field.name)));
            }
            for m in members
                .iter()
                .filter(|m| field_of(fields, &m.name).is_none())
            {
                out.push(format!("{}:{}", m.key, m.value.text()));
            }
            format!("{{{}}}", out.join(","))
        }
        (Type::Map(inner), Node::Object(members)) => {
            let members: Vec<String> = members
                .iter()
                .map(|m| format!("{}:{}", m.key, to_json(inner, &m.value, omit_defaults)))
                .collect();
            format!("{{{}}}", members.join(","))
        }
        (Type::List(inner), Node::List(items)) => {
            let items: Vec<String> = items
                .iter()
                .map(|i| to_json(inner, i, omit_defaults))
                .collect();
            format!("[{}]", items.join(","))
        }
        (Type::Nullable(inner), _) => to_json(inner, value, omit_defaults),
        (Type::Str | Type::Enum(_), Node::Raw(raw)) if raw.starts_with('"') => {
            quote(&json::string_value(raw))
        }
        _ => value.text(),
    }
}

/// Puts back into `result` the unknown members of `stored` that it lacks,
/// at the top level and inside known objects (list items by position): a
/// caller that rewrites a record never drops what a newer writer added
/// (app §11.9.3 rule 2).
pub fn keep_dropped(ty: &Type, result: &mut Node, stored: &Node) {
    match (ty, result, stored) {
        (Type::Object(fields), Node::Object(result), Node::Object(stored)) => {
            for old in stored {
                let kept = result.iter_mut().find(|m| m.name == old.name);
                match (field_of(fields, &old.name), kept) {
                    (None, None) => result.push(old.clone()),
                    (Some(field), Some(kept)) => {
                        keep_dropped(&field.ty, &mut kept.value, &old.value)
                    }
                    _ => {}
                }
            }
        }
        (Type::List(inner), Node::List(result), Node::List(stored)) => {
            for (item, old) in result.iter_mut().zip(stored) {
                keep_dropped(inner, item, old);
            }
        }
        (Type::Nullable(inner), result, stored) => keep_dropped(inner, result, stored),
        _ => {}
    }
}

#[cfg(test)]
mod tests;
