//! `ingest.json` (app §13.3, §13.4): the orchestrator's record of a staged
//! run, schema `1.1` with the fields of the app's `IngestJson`. Its state
//! moves forward one step at a time, staging → complete → sync_queued →
//! sync_verified → cleared, and `history` only grows: each transition
//! appends `{state, at, host, ...}` and `current_state` mirrors the last.
//!
//! Decided here: `create` writes once, like creation.json's; a created
//! record's `current_state` must be its last history entry's state; a
//! transition keeps the file's unknown fields (the app's writer
//! re-encodes its struct and drops them).

use super::node::{self, quote, Node};
use super::record::{self, Spec};
use super::schema::{self, optional, required, Field, Type};
use crate::policy::{Env, LockedFile};
use crate::{json, time, Error};

/// The lifecycle, in order: each state's only successor is the next.
const STATES: [&str; 5] = [
    "staging",
    "complete",
    "sync_queued",
    "sync_verified",
    "cleared",
];

const FIELDS: &[Field] = &[
    required("schema_version", Type::Str),
    required("project_name", Type::Str),
    required("equipment_id", Type::Str),
    required("run_kind", Type::Enum(&["experimental", "test"])),
    required("run_path", Type::Str),
    required("transport", Type::Enum(&["smb_mount", "file_transfer"])),
    required("current_state", Type::Enum(&STATES)),
    optional("history", Type::List(&Type::FreeObject), "[]"),
];

pub const SPEC: Spec = Spec {
    file_name: "ingest.json",
    version: "1.1",
    minor: 1,
    fields: FIELDS,
    unversioned_is_other_major: false,
    finish: None,
};

/// `create`: input the record. Result `{"written":bool,"ingest":<the file
/// as written, or as on disk>}`.
pub fn create<E: Env>(env: &E, path: &str, input_json: &str) -> Result<String, Error> {
    let (record, _) = SPEC.input(input_json, None)?;
    if let Some(Node::List(history)) = record.get("history") {
        let current = record.get("current_state").and_then(Node::as_str);
        if let Some(last) = history.last().map(state_of).filter(|last| *last != current) {
            let last = last.map_or_else(|| "none".to_owned(), |s| quote(&s));
            let current = quote(&current.unwrap_or_default());
            return Err(Error::invalid(
                Some("current_state"),
                format!(
                    "current_state must mirror the last history entry's state ({last}), found \
                     {current}"
                ),
            ));
        }
    }
    SPEC.write_once(env, path, record, None, "ingest")
}

/// A history entry's `state`, when it is a string.
fn state_of(entry: &Node) -> Option<String> {
    Node::Object(node::members(&entry.text()))
        .get("state")
        .and_then(Node::as_str)
}

/// `read`: the record's known fields.
pub fn read<E: Env>(env: &E, path: &str) -> Result<String, Error> {
    SPEC.read(env, path)
}

/// `transition`: input `{"state", "host"?, "files_received"?,
/// "bytes_received"?, "nas_path"?, "checksum_file"?}` (host absent or
/// null: this machine's). Appends `{state, at, host}` to `history`, with
/// `files_received`/`bytes_received` only into `complete` and
/// `nas_path`/`checksum_file` only into `sync_verified` (elsewhere they
/// are dropped, as the app does), and sets `current_state`. An illegal
/// transition is a `validation_error` on `state`, with the app's message.
/// The result: the file as written.
pub fn transition<E: Env>(env: &E, path: &str, input_json: &str) -> Result<String, Error> {
    let step = Transition::parse(env, input_json)?;
    step.check_fits()?;
    let (file, bytes) = SPEC.locked(env, path)?;
    let doc = record::scan(&bytes).map_err(record::untouched(path))?;
    let on_disk = SPEC.decode(&doc).map_err(record::untouched(path))?;
    let mut record = SPEC.snapshot(&on_disk.record);
    let current = record.get("current_state").and_then(Node::as_str);
    check_forward(&current.unwrap_or_default(), step.state)?;
    let entry = step.entry(&time::format_utc(env.now()));
    if let Some(Node::List(history)) = record.get_mut("history") {
        history.push(Node::Raw(entry.into()));
    }
    record.set("current_state", Node::string(step.state));
    let version = SPEC.kept_version(&on_disk.version);
    record.set("schema_version", Node::string(&version));
    let document = schema::to_json(&SPEC.ty(), &record, true);
    record::check_rewrite_fits(path, &document)?;
    file.replace(document.as_bytes())?;
    Ok(document)
}

/// The app's `assert_forward_transition` over the §13.3 table, with its
/// message (the states shown as Python's `repr` of strings).
fn check_forward(current: &str, new: &str) -> Result<(), Error> {
    let Some(i) = STATES.iter().position(|s| *s == current) else {
        return Err(Error::invalid(
            Some("state"),
            format!("unknown source state '{current}'"),
        ));
    };
    let next = STATES.get(i + 1);
    if next == Some(&new) {
        return Ok(());
    }
    let allowed = next.map_or_else(|| "[terminal]".to_owned(), |s| format!("['{s}']"));
    Err(Error::invalid(
        Some("state"),
        format!("illegal state transition '{current}' -> '{new}' (allowed: {allowed})"),
    ))
}

/// A transition's input, checked in the order it is documented.
struct Transition {
    state: &'static str,
    /// The entry's members after `state` and `at`, as JSON text (name, value).
    rest: Vec<(&'static str, String)>,
}

/// The extras of an entry: whether an integer, and the one state they go into.
const EXTRAS: [(&str, bool, &str); 4] = [
    ("files_received", true, "complete"),
    ("bytes_received", true, "complete"),
    ("nas_path", false, "sync_verified"),
    ("checksum_file", false, "sync_verified"),
];

impl Transition {
    fn parse<E: Env>(env: &E, input_json: &str) -> Result<Self, Error> {
        let input = node::input_object(input_json, "input")?;
        let get = |name| {
            let raw = input.get(name)?.value;
            (raw != "null").then(|| raw.to_owned())
        };
        let wrong = |name: &str, expected: &str, raw: &str| {
            let found = json::type_name(raw);
            Error::invalid(
                Some(name),
                format!("{name} must be {expected}, found {found}"),
            )
        };
        let raw = get("state").ok_or_else(|| Error::invalid(Some("state"), "state is missing"))?;
        let value = Node::Raw(raw.as_str().into()).as_str().unwrap_or_default();
        let Some(state) = STATES.into_iter().find(|s| *s == value) else {
            let states: Vec<String> = STATES.iter().map(|s| quote(s)).collect();
            return Err(Error::invalid(
                Some("state"),
                format!("state must be one of {}, found {raw}", states.join(", ")),
            ));
        };
        let host = match get("host") {
            None => quote(&env.hostname()),
            Some(raw) if raw.starts_with('"') => quote(&json::string_value(&raw)),
            Some(raw) => return Err(wrong("host", "a string", &raw)),
        };
        let mut rest = vec![("host", host)];
        for (name, integer, only_into) in EXTRAS {
            let Some(raw) = get(name) else { continue };
            let value = match (integer, raw.as_bytes()[0]) {
                (true, b'-' | b'0'..=b'9') if !raw.contains(['.', 'e', 'E']) => raw,
                (false, b'"') => quote(&json::string_value(&raw)),
                (true, _) => return Err(wrong(name, "an integer", &raw)),
                (false, _) => return Err(wrong(name, "a string", &raw)),
            };
            if state == only_into {
                rest.push((name, value));
            }
        }
        Ok(Transition { state, rest })
    }

    /// The history entry, stamped `at`.
    fn entry(&self, at: &str) -> String {
        let mut entry = format!("{{\"state\":{},\"at\":{}", quote(self.state), quote(at));
        for (name, value) in &self.rest {
            entry.push_str(&format!(",{}:{value}", quote(name)));
        }
        entry.push('}');
        entry
    }

    /// Refuses, before the lock, an entry that could not fit in a file,
    /// naming its longest field (docs/spec.md §7.4).
    fn check_fits(&self) -> Result<(), Error> {
        let entry = self.entry("0000-00-00T00:00:00Z");
        let limit = crate::records::DOCUMENT_LIMIT;
        if entry.len() <= limit {
            return Ok(());
        }
        let (mut name, mut len) = ("host", 0);
        for (field, value) in &self.rest {
            if value.len() > len {
                (name, len) = (field, value.len());
            }
        }
        Err(Error::invalid(
            Some(name),
            format!(
                "{name} is too long ({len} bytes as JSON): the history entry would be {} bytes, \
                 over the {limit}-byte limit of a file this policy writes",
                entry.len()
            ),
        ))
    }
}

#[cfg(test)]
mod tests;
