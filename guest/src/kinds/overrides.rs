//! `validation_overrides` of creation.json (app §11.3): ids for entries
//! that lack one, the append-only rule, and the app's matching algorithm
//! (`select_active_overrides`), as the app runs it.

use super::isotime;
use super::node::{self, canonical, Node};
use super::split;
use crate::policy::Env;
use crate::{json, Error};
use std::collections::HashSet;

/// Gives each entry without an `id` key one derived from its content and
/// position, added last, as the app's migration adds its UUID4. The app
/// draws a random one; the policy has no randomness, and two reads of one
/// file must agree, so it is a hash: the same entry at the same place gets
/// the same id, which a rewrite then stores.
pub fn fill_ids(entries: &mut [Node]) {
    for (index, entry) in entries.iter_mut().enumerate() {
        let Node::Raw(text) = entry else { continue };
        if node::members(text).iter().any(|m| m.name == "id") {
            continue;
        }
        let id = node::quote(&derived_id(text, index));
        let text = text.to_mut();
        text.pop(); // the closing brace
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str("\"id\":");
        text.push_str(&id);
        text.push('}');
    }
}

/// A UUID-v4-shaped id from FNV-1a (128 bits) of the position and the
/// entry's compact text.
pub fn derived_id(entry: &str, index: usize) -> String {
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013B;
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in (index as u64).to_le_bytes().iter().chain(entry.as_bytes()) {
        hash ^= u128::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    let mut b = hash.to_be_bytes();
    b[6] = b[6] & 0x0f | 0x40; // version 4
    b[8] = b[8] & 0x3f | 0x80; // the RFC 4122 variant
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The list is append-only (app §11.3: revocation is a new entry): the
/// file's entries must come first in `result`, in order, each as the
/// caller was shown it (`shown`, with its id) or as stored.
pub fn check_append_only(shown: &[Node], stored: &[Node], result: &[Node]) -> Result<(), Error> {
    let kept = |i: usize| {
        result.get(i).is_some_and(|r| {
            let r = canonical(&r.text());
            r == canonical(&shown[i].text())
                || stored.get(i).is_some_and(|s| r == canonical(&s.text()))
        })
    };
    match (0..shown.len()).find(|&i| !kept(i)) {
        None => Ok(()),
        Some(i) => Err(Error::invalid(
            Some("validation_overrides"),
            format!(
                "validation_overrides is append-only: entry {i} of the file was changed, moved \
                 or removed (revoke an override with a new tombstone entry); nothing written"
            ),
        )),
    }
}

/// `active-overrides`: input `{"validation_overrides":[...],"now":<time>?}`
/// (`now` in any form the app's `parse_utc_iso_or_none` reads; absent or
/// null: the clock). The entries active at `now`, as given, in order:
/// not revoked (`revoked` falsy as Python tests it), not the target of a
/// tombstone whose target exists, and without an `expires_at` that is not
/// after `now`. Orphan tombstones and malformed `expires_at` are warned
/// (a malformed one counts as expired: the gate re-engages).
pub fn active<E: Env>(env: &E, input_json: &str) -> Result<String, Error> {
    let input = node::input_object(input_json, "input")?;
    let input = Node::object_of(&input);
    let entries = entries(&input)?;
    let now = match input.get("now").map(Node::text).as_deref() {
        None | Some("null") => i128::from(env.now()) * 1_000_000,
        Some(raw) => parse_time(raw).ok_or_else(|| {
            Error::invalid(
                Some("now"),
                format!("now must be an ISO 8601 time, found {raw}"),
            )
        })?,
    };
    let revoked_ids = revoked_ids(env, &entries);
    // In the app's order: an expiry is judged (and warned) only for an
    // entry neither revoked nor targeted.
    let active: Vec<&str> = entries
        .iter()
        .filter(|e| !e.get("revoked").is_some_and(|r| truthy(&r)))
        .filter(|e| {
            !e.get("id")
                .is_some_and(|id| revoked_ids.contains(&canonical(&id)))
        })
        .filter(|e| match e.get("expires_at").filter(|at| at != "null") {
            None => true,
            Some(at) => is_future(env, &at, now),
        })
        .map(|e| e.text)
        .collect();
    Ok(format!("[{}]", active.join(",")))
}

/// One entry of the input: its text as given, and its members.
struct Entry<'a> {
    text: &'a str,
    members: Node<'a>,
}

impl Entry<'_> {
    /// A member's JSON text.
    fn get(&self, name: &str) -> Option<String> {
        self.members.get(name).map(|n| n.text().into_owned())
    }
}

fn entries<'a>(input: &'a Node) -> Result<Vec<Entry<'a>>, Error> {
    let list = match input.get("validation_overrides") {
        Some(Node::Raw(list)) if list.starts_with('[') => list,
        None => {
            return Err(Error::invalid(
                Some("validation_overrides"),
                "validation_overrides is missing",
            ))
        }
        Some(other) => {
            let found = json::type_name(&other.text());
            return Err(Error::invalid(
                Some("validation_overrides"),
                format!("validation_overrides must be an array, found {found}"),
            ));
        }
    };
    split::elements(list)
        .into_iter()
        .enumerate()
        .map(|(i, text)| {
            if !text.starts_with('{') {
                let at = format!("validation_overrides[{i}]");
                let found = json::type_name(text);
                return Err(Error::invalid(
                    Some(&at),
                    format!("{at} must be an object, found {found}"),
                ));
            }
            Ok(Entry {
                text,
                members: Node::Object(node::members(text)),
            })
        })
        .collect()
}

/// The ids that tombstones revoke, of entries that exist; a tombstone
/// whose target is not there is warned and has no effect.
fn revoked_ids<E: Env>(env: &E, entries: &[Entry]) -> HashSet<String> {
    let present: HashSet<String> = entries
        .iter()
        .filter_map(|e| e.get("id"))
        .map(|id| canonical(&id))
        .collect();
    let mut revoked = HashSet::new();
    for entry in entries
        .iter()
        .filter(|e| e.get("revoked").is_some_and(|r| truthy(&r)))
    {
        let Some(target) = entry.get("revokes").filter(|t| t != "null") else {
            continue;
        };
        if present.contains(&canonical(&target)) {
            revoked.insert(canonical(&target));
        } else {
            env.warn(&format!(
                "tombstone references unknown override id (orphan): id={} revokes={}",
                py_str(entry.get("id").as_deref()),
                py_str(Some(&target))
            ));
        }
    }
    revoked
}

/// A time the app's parser reads, from a JSON value (a string, or nothing).
fn parse_time(raw: &str) -> Option<i128> {
    raw.starts_with('"')
        .then(|| isotime::parse_utc_iso(&json::string_value(raw)))
        .flatten()
}

/// Whether `expires_at` (JSON text) is strictly after `now`; a value the
/// app's parser refuses (or that is not a string) is warned and expired.
fn is_future<E: Env>(env: &E, expires_at: &str, now: i128) -> bool {
    match parse_time(expires_at) {
        Some(at) => at > now,
        None => {
            env.warn(&format!(
                "override expires_at is malformed; treating as expired: {expires_at}"
            ));
            false
        }
    }
}

/// Python's truth value of a JSON value.
fn truthy(raw: &str) -> bool {
    match raw.as_bytes()[0] {
        b'n' | b'f' => false,
        b't' => true,
        b'"' => raw != "\"\"",
        b'[' => raw != "[]",
        b'{' => raw != "{}",
        _ => {
            let mantissa = raw.split(['e', 'E']).next().unwrap_or_default();
            mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b))
        }
    }
}

/// How Python's `%s` shows a value in a warning.
fn py_str(raw: Option<&str>) -> String {
    match raw {
        None | Some("null") => "None".to_owned(),
        Some("true") => "True".to_owned(),
        Some("false") => "False".to_owned(),
        Some(raw) if raw.starts_with('"') => json::string_value(raw),
        Some(raw) => raw.to_owned(),
    }
}

#[cfg(test)]
mod tests;
