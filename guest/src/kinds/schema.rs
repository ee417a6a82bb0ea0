//! The declarative schema of a record kind: one table of fields per kind
//! drives input validation, the defaults of older minors, the snapshot
//! with every default filled, the encoding with defaults left out (as the
//! app's msgspec structs with `omit_defaults=True`), and keeping the
//! fields it does not know (docs/spec.md §2.1; app §11.9.2, §11.9.3).
//! Checking a value against it is `shape`'s, encoding one `encode`'s.

use super::node::{self, Member, Node};
use crate::Error;
use std::collections::HashSet;

pub use super::encode::{to_json, to_known_json};
pub use super::shape::{check_unknown_values_kept, shape, shape_fields};

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

    pub(super) fn may_be_absent(&self, rules: Rules) -> bool {
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

pub(super) fn field_of<'f>(fields: &'f [Field], name: &str) -> Option<&'f Field> {
    fields.iter().find(|f| node::same(f.name, name))
}

/// The position of the item that `is` picks, looked for from `start` on,
/// then before it: members mostly come in schema order, so a search that
/// starts just past the last one found finds the next at once. (Only for
/// names that occur once: field names, and members by a field's name.)
pub(super) fn position_from<T>(
    items: &[T],
    start: usize,
    is: impl Fn(&T) -> bool,
) -> Option<usize> {
    let start = start.min(items.len());
    let (before, after) = items.split_at(start);
    match after.iter().position(&is) {
        Some(i) => Some(start + i),
        None => before.iter().position(is),
    }
}

/// The snapshot: every known field present, absent ones as they read
/// (their default, or the history table's), inner objects too; unknown
/// members stay, after the known ones. A field of a later minor that an
/// older file lacks stays absent.
pub fn fill<'a>(ty: &Type, value: &Node<'a>) -> Node<'a> {
    let lenient = Rules {
        minor: u32::MAX,
        newer: true,
        input: false,
    };
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => {
            let mut out = Vec::with_capacity(members.len() + fields.len());
            let mut next = 0;
            for field in fields.iter() {
                match position_from(members, next, |m| m.is(field.name)) {
                    Some(i) => {
                        next = i + 1;
                        let m = &members[i];
                        out.push(m.with(fill(&field.ty, &m.value)));
                    }
                    None => {
                        if let Some(default) = field.absent_value() {
                            let value = shape(&field.ty, default, field.name, lenient)
                                .expect("a schema's defaults fit its types");
                            out.push(Member::new(field.name, fill(&field.ty, &value)));
                        }
                    }
                }
            }
            out.extend(unknown(fields, members).cloned());
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
pub fn strip<'a>(ty: &Type, value: &Node<'a>) -> Node<'a> {
    match (ty, value) {
        (Type::Object(fields), Node::Object(members)) => {
            let mut next = 0;
            let known = members.iter().filter_map(|m| {
                let i = position_from(fields, next, |f| m.is(f.name))?;
                next = i + 1;
                Some(m.with(strip(&fields[i].ty, &m.value)))
            });
            Node::Object(known.collect())
        }
        (Type::List(inner), Node::List(items)) => {
            Node::List(items.iter().map(|item| strip(inner, item)).collect())
        }
        (Type::Nullable(inner), _) => strip(inner, value),
        _ => value.clone(),
    }
}

/// The members of an object that `fields` does not know, in order.
pub(super) fn unknown<'m, 'a>(
    fields: &'m [Field],
    members: &'m [Member<'a>],
) -> impl Iterator<Item = &'m Member<'a>> {
    let mut next = 0;
    members.iter().filter(
        move |m| match position_from(fields, next, |f| m.is(f.name)) {
            Some(i) => {
                next = i + 1;
                false
            }
            None => true,
        },
    )
}

/// Puts back into `result` the unknown members of `stored` that it lacks,
/// at the top level and inside known objects (list items by position): a
/// caller that rewrites a record never drops what a newer writer added
/// (app §11.9.3 rule 2).
pub fn keep_dropped<'a>(ty: &Type, result: &mut Node<'a>, stored: &Node<'a>) {
    match (ty, result, stored) {
        (Type::Object(fields), Node::Object(result), Node::Object(stored)) => {
            let mut dropped = Vec::new();
            for old in stored {
                match field_of(fields, &old.name) {
                    None => dropped.push(old),
                    Some(field) => {
                        if let Some(kept) = result.iter_mut().find(|m| m.is(&old.name)) {
                            keep_dropped(&field.ty, &mut kept.value, &old.value);
                        }
                    }
                }
            }
            put_back(result, dropped);
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

/// Appends to `result` each of `dropped` (unknown members, in file order)
/// whose name it lacks, counting those appended before: a name the result
/// has, or had put back, is not put back again.
fn put_back<'a>(result: &mut Vec<Member<'a>>, dropped: Vec<&Member<'a>>) {
    if dropped.len() <= LINEAR_DROPPED {
        for old in dropped {
            if !result.iter().any(|m| m.is(&old.name)) {
                result.push(old.clone());
            }
        }
        return;
    }
    // Many: by a set of names, not a search of the result for each.
    let mut names: HashSet<&str> = result.iter().map(|m| &*m.name).collect();
    let missing: Vec<Member<'a>> = dropped
        .into_iter()
        .filter(|old| names.insert(&old.name))
        .cloned()
        .collect();
    result.extend(missing);
}

/// Up to this many unknown members are put back by searching the result.
const LINEAR_DROPPED: usize = 16;

#[cfg(test)]
mod tests;
