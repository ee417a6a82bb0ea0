//! A value checked against its schema type and taken apart as far as the
//! schema knows it (`schema`): the first fault in schema order, named by
//! its dotted path; each object split by one pass over its text, the
//! pieces borrowed from it.

use super::node::{self, quote, Member, Node};
use super::schema::{field_of, Field, Rules, Type};
use super::split;
use crate::{json, Error};
use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};

/// Where a value is in a record; spelt as its dotted path only for a message.
#[derive(Clone, Copy)]
enum At<'p> {
    /// Where the path starts: it is empty.
    Top,
    /// A member of the value there, by name.
    Field(&'p At<'p>, &'p str),
    /// An item of the list there.
    Item(&'p At<'p>, usize),
}

impl At<'_> {
    /// The dotted path (`lims_project.uid`, `plugins_applied[0].status`).
    fn path(&self) -> String {
        self.spelt(true)
    }

    /// The path with list positions left out (`plugins_applied[].status`):
    /// where a value stands, whichever item holds it.
    fn place(&self) -> String {
        self.spelt(false)
    }

    fn spelt(&self, positions: bool) -> String {
        match self {
            At::Top => String::new(),
            At::Field(parent, name) => {
                let at = parent.spelt(positions);
                if at.is_empty() {
                    (*name).to_owned()
                } else {
                    format!("{at}.{name}")
                }
            }
            At::Item(parent, i) if positions => format!("{}[{i}]", parent.spelt(positions)),
            At::Item(parent, _) => format!("{}[]", parent.spelt(positions)),
        }
    }
}

fn wrong(at: At, expected: &str, raw: &str) -> Error {
    let at = at.path();
    let found = json::type_name(raw);
    Error::invalid(Some(&at), format!("{at} must be {expected}, found {found}"))
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
/// by its dotted path from `at` (`lims_project.uid`,
/// `plugins_applied[0].status`).
pub fn shape<'a>(ty: &Type, raw: &'a str, at: &str, rules: Rules) -> Result<Node<'a>, Error> {
    match at {
        "" => shape_at(ty, raw, At::Top, rules),
        name => shape_at(ty, raw, At::Field(&At::Top, name), rules),
    }
}

fn shape_at<'a>(ty: &Type, raw: &'a str, at: At, rules: Rules) -> Result<Node<'a>, Error> {
    let first = raw.as_bytes()[0];
    let kept = || Ok(Node::Raw(Cow::Borrowed(raw)));
    match ty {
        Type::Nullable(_) if raw == "null" => kept(),
        Type::Nullable(inner) => shape_at(inner, raw, at, rules),
        Type::Object(fields) if first == b'{' => {
            shape_members(fields, node::members(raw), at, rules)
        }
        Type::Map(inner) if first == b'{' => {
            let members = node::members(raw)
                .into_iter()
                .map(|m| {
                    let here = At::Field(&at, &m.name);
                    let value = shape_value(inner, m.value.into_raw(), here, rules)?;
                    Ok(Member { value, ..m })
                })
                .collect::<Result<_, Error>>()?;
            Ok(Node::Object(members))
        }
        Type::List(inner) if first == b'[' => {
            let items = split::elements(raw)
                .into_iter()
                .enumerate()
                .map(|(i, item)| shape_at(inner, item, At::Item(&at, i), rules))
                .collect::<Result<_, Error>>()?;
            Ok(Node::List(items))
        }
        Type::Enum(values) if first == b'"' => {
            let value = node::string_text(raw);
            if rules.newer || values.contains(&&*value) {
                return kept();
            }
            Err(not_one_of(&at.path(), values, raw))
        }
        Type::Str if first == b'"' => kept(),
        Type::FreeObject if first == b'{' => kept(),
        Type::Bool if raw == "true" || raw == "false" => kept(),
        // A JSON integer: no fraction, no exponent (`1.0` is a float to msgspec).
        Type::Int if json::type_name(raw) == "a number" && !raw.contains(['.', 'e', 'E']) => kept(),
        _ => Err(wrong(at, expected(ty), raw)),
    }
}

fn not_one_of(at: &str, values: &[&str], raw: &str) -> Error {
    let values: Vec<String> = values.iter().map(|v| quote(v)).collect();
    Error::invalid(
        Some(at),
        format!("{at} must be one of {}, found {raw}", values.join(", ")),
    )
}

/// Over a file of a newer minor, a rewritten record is shaped leniently: an
/// enum value this policy does not know may be one of that minor's. Only
/// such values the file already holds at the same place (list items by
/// any position) pass that way; one the writer set anew must be one this
/// policy knows, as over a file of its own minor.
pub fn check_unknown_values_kept(ty: &Type, record: &Node, stored: &Node) -> Result<(), Error> {
    let mut held = HashSet::new();
    each_unknown_value(ty, stored, At::Top, &mut |at, _, raw| {
        held.insert((at.place(), raw.to_owned()));
        Ok(())
    })?;
    each_unknown_value(ty, record, At::Top, &mut |at, values, raw| match held
        .contains(&(at.place(), raw.to_owned()))
    {
        true => Ok(()),
        false => Err(not_one_of(&at.path(), values, raw)),
    })
}

/// What [`each_unknown_value`] calls: where the string is, the enum's
/// values, the string's text.
type OnUnknown<'f> = dyn FnMut(At, &[&str], &str) -> Result<(), Error> + 'f;

/// Calls `f` with each string of `node` at an enum of `ty` that is none of
/// its values.
fn each_unknown_value(ty: &Type, node: &Node, at: At, f: &mut OnUnknown) -> Result<(), Error> {
    match (ty, node) {
        (Type::Nullable(inner), node) => each_unknown_value(inner, node, at, f),
        (Type::Enum(values), Node::Raw(raw)) if raw.starts_with('"') => {
            match values.contains(&&*node::string_text(raw)) {
                true => Ok(()),
                false => f(at, values, raw),
            }
        }
        (Type::Object(fields), Node::Object(members)) => {
            members
                .iter()
                .try_for_each(|m| match field_of(fields, &m.name) {
                    Some(field) => {
                        each_unknown_value(&field.ty, &m.value, At::Field(&at, &m.name), f)
                    }
                    None => Ok(()),
                })
        }
        (Type::Map(inner), Node::Object(members)) => members
            .iter()
            .try_for_each(|m| each_unknown_value(inner, &m.value, At::Field(&at, &m.name), f)),
        (Type::List(inner), Node::List(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| each_unknown_value(inner, item, At::Item(&at, i), f)),
        _ => Ok(()),
    }
}

/// [`shape`] of a value that may own its text (one this policy set).
fn shape_value<'a>(ty: &Type, raw: Cow<'a, str>, at: At, rules: Rules) -> Result<Node<'a>, Error> {
    let owned = match raw {
        Cow::Borrowed(raw) => return shape_at(ty, raw, at, rules),
        Cow::Owned(owned) => owned,
    };
    let node = shape_at(ty, &owned, at, rules)?;
    if matches!(node, Node::Raw(_)) {
        // Kept as it is: the text moves in, uncopied.
        drop(node);
        return Ok(Node::Raw(Cow::Owned(owned)));
    }
    Ok(node.into_owned())
}

/// A record's members (its top level) checked against `fields`, as
/// [`shape`] checks an object: known fields in schema order, then the
/// members it does not know, as given.
pub fn shape_fields<'a>(
    fields: &[Field],
    given: Vec<Member<'a>>,
    rules: Rules,
) -> Result<Node<'a>, Error> {
    shape_members(fields, given, At::Top, rules)
}

/// An object's members checked against `fields`: its known fields in schema
/// order, then the members it does not know, as given.
fn shape_members<'a>(
    fields: &[Field],
    given: Vec<Member<'a>>,
    at: At,
    rules: Rules,
) -> Result<Node<'a>, Error> {
    let mut members = Vec::with_capacity(given.len());
    // Taken from the front when given in schema order (as this policy writes).
    let mut given = VecDeque::from(given);
    for field in fields {
        let here = At::Field(&at, field.name);
        match given.iter().position(|m| m.is(field.name)) {
            Some(i) => {
                let member = given.remove(i).expect("a member found");
                let value = shape_value(&field.ty, member.value.into_raw(), here, rules)?;
                if let (true, Some(check)) = (rules.input, field.check) {
                    check(&value, &here.path())?;
                }
                members.push(Member { value, ..member });
            }
            None if field.may_be_absent(rules) => {}
            None => {
                let here = here.path();
                return Err(Error::invalid(Some(&here), format!("{here} is missing")));
            }
        }
    }
    members.extend(given);
    Ok(Node::Object(members))
}
