//! `wizard.<hostname>.log` (app §11.5, §16.2.4, §16.4): plain text, one
//! event per line, appended without a lock, one file per machine. The line
//! is the app's (`log_writer.format_log_line`):
//!
//! ```text
//! <timestamp> [<LEVEL:5>] [host:..] [equip:..] [proj:..] [kind:..] [run:..] <message>
//! ```
//!
//! Decided here:
//! - One event is one line: every line break in a value (CR, LF, and the
//!   others Python's `str.splitlines` breaks at) is written as the escape
//!   Python's `repr` shows for it (`\n`, `\r`, `\x0b`, `\u2028`, ...), so a
//!   traceback stays readable and the break stays visible, while a reader
//!   of the file (the app's own tests use `splitlines`) sees one line.
//! - `max_bytes` (default 1024) bounds the line with its newline, the
//!   bytes one `O_APPEND` write puts in the file (the app counts the line
//!   without it). A longer line is cut at a UTF-8 boundary and ends with
//!   the app's `...[truncated]`; where even that marker leaves no room
//!   (`max_bytes` of 15 or less) the line is the marker alone, as the app.

use super::node::{self, quote};
use super::record;
use crate::json::{self, Document};
use crate::policy::Env;
use crate::{time, Error};
use std::borrow::Cow;

/// Appended where a line is cut (the app's `_TRUNCATION_MARKER`).
pub const MARKER: &str = "...[truncated]";

const DEFAULT_MAX_BYTES: u64 = 1024;

/// The largest `max_bytes`: the host's append limit (64 KiB).
const MAX_BYTES_LIMIT: u64 = 64 << 10;

/// The tags, in the app's order: the input field and the tag's name.
const TAGS: [(&str, &str); 5] = [
    ("host", "host"),
    ("equipment_id", "equip"),
    ("project_short_id", "proj"),
    ("run_kind", "kind"),
    ("run_id", "run"),
];

/// The machine's log file name; a `/` or `\` in the host name would make
/// it a path, and becomes `_`.
pub fn file_name(hostname: &str) -> String {
    format!("wizard.{}.log", hostname.replace(['/', '\\'], "_"))
}

/// `format`: input `{"level","message","timestamp"?,"host"?,"equipment_id"?,
/// "project_short_id"?,"run_kind"?,"run_id"?,"max_bytes"?}` (`timestamp`
/// absent or null: now; a tag absent or null is left out). Result
/// `{"line":...}`, without its newline.
pub fn format<E: Env>(env: &E, input_json: &str) -> Result<String, Error> {
    let line = line(env, &Input::parse(input_json)?)?;
    Ok(format!("{{\"line\":{}}}", quote(&line)))
}

/// `append`: input `{"line":...,"max_bytes"?}` (a line already formatted)
/// or the input of `format`. PATH is the log file when its last segment
/// ends in `.log`, else its folder (`<PATH>/wizard.<hostname>.log`). One
/// append of the line and its newline. Result `{"path":...,"line":...}`.
pub fn append<E: Env>(env: &E, path: &str, input_json: &str) -> Result<String, Error> {
    let input = Input::parse(input_json)?;
    let mut line = match input.string("line", false)? {
        Some(given) => {
            let one = one_line(&given);
            let cut = cut(&one, input.max_bytes()?);
            // Room for the newline: one allocation for the line appended.
            let mut line = String::with_capacity(cut.len() + 1);
            line.push_str(&cut);
            line
        }
        None => line(env, &input)?,
    };
    // The machine's name (a host call) only when PATH is a folder.
    let file = if is_log_file(path) {
        Cow::Borrowed(path)
    } else {
        Cow::Owned(log_file(path, &env.hostname()))
    };
    line.push('\n');
    env.append(&file, line.as_bytes())?;
    line.pop();
    let mut out = String::with_capacity(file.len() + line.len() + 24);
    out.push_str("{\"path\":");
    json::push_string(&mut out, &file);
    out.push_str(",\"line\":");
    json::push_string(&mut out, &line);
    out.push('}');
    Ok(out)
}

/// Whether PATH names the log file itself: its last segment ends in `.log`.
fn is_log_file(path: &str) -> bool {
    path.rsplit('/')
        .next()
        .unwrap_or_default()
        .ends_with(".log")
}

fn log_file(path: &str, hostname: &str) -> String {
    if is_log_file(path) {
        return path.to_owned();
    }
    let name = file_name(hostname);
    match path {
        "" => name,
        _ if path.ends_with('/') => format!("{path}{name}"),
        _ => format!("{path}/{name}"),
    }
}

/// The caller's input, scanned once: its members by name.
struct Input<'a>(Document<'a>);

impl<'a> Input<'a> {
    fn parse(input_json: &'a str) -> Result<Self, Error> {
        node::input_object(input_json, "input").map(Input)
    }

    /// A member's JSON text; `null` counts as absent.
    fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|m| m.value)
            .filter(|raw| *raw != "null")
    }

    fn string(&self, name: &str, required: bool) -> Result<Option<Cow<'_, str>>, Error> {
        match self.raw(name) {
            None if required => Err(Error::invalid(Some(name), format!("{name} is missing"))),
            None => Ok(None),
            Some(raw) if raw.starts_with('"') => Ok(Some(node::string_text(raw))),
            Some(raw) => {
                let found = json::type_name(raw);
                Err(Error::invalid(
                    Some(name),
                    format!("{name} must be a string, found {found}"),
                ))
            }
        }
    }

    fn max_bytes(&self) -> Result<usize, Error> {
        let Some(raw) = self.raw("max_bytes") else {
            return Ok(DEFAULT_MAX_BYTES as usize);
        };
        match raw.parse::<u64>() {
            Ok(n) if (1..=MAX_BYTES_LIMIT).contains(&n) => Ok(n as usize),
            _ => Err(Error::invalid(
                Some("max_bytes"),
                format!("max_bytes must be an integer from 1 to {MAX_BYTES_LIMIT}, found {raw}"),
            )),
        }
    }
}

/// The line of `format`'s input, checked in the order it is documented.
fn line<E: Env>(env: &E, input: &Input) -> Result<String, Error> {
    let level = input.string("level", true)?.unwrap_or_default();
    let message = input.string("message", true)?.unwrap_or_default();
    let timestamp = match input.raw("timestamp") {
        None => None,
        Some(raw) => record::real_time("timestamp", raw)?,
    };
    let mut line = String::new();
    for (field, tag) in TAGS {
        if let Some(value) = input.string(field, false)? {
            line.push_str(&format!("[{tag}:{}] ", one_line(&value)));
        }
    }
    let max_bytes = input.max_bytes()?;
    let timestamp = timestamp.unwrap_or_else(|| time::format_utc(env.now()));
    let level = one_line(&level);
    let line = format!("{timestamp} [{level:<5}] {line}{}", one_line(&message));
    Ok(cut(&line, max_bytes).into_owned())
}

/// `value` on one line: each line break written as Python's `repr` spells it.
fn one_line(value: &str) -> Cow<'_, str> {
    // The first bytes of every line break below: most values have none.
    let first_bytes = |b| matches!(b, b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1e | 0xc2 | 0xe2);
    if !value.bytes().any(first_bytes) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{b}' | '\u{c}' | '\u{1c}'..='\u{1e}' | '\u{85}' => {
                out.push_str(&format!("\\x{:02x}", u32::from(c)));
            }
            '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The app's `_truncate_if_needed`, for a line that must fit in
/// `max_bytes` with its newline: kept whole when it fits; else its first
/// bytes up to a UTF-8 boundary and the marker; the marker alone when it
/// leaves no room. (The app keeps the tagged prefix and cuts the message,
/// or cuts the prefix when it alone is too long: both are this cut.)
fn cut(line: &str, max_bytes: usize) -> Cow<'_, str> {
    let room = max_bytes - 1;
    if line.len() <= room {
        return Cow::Borrowed(line);
    }
    let Some(mut end) = room.checked_sub(MARKER.len()).filter(|&budget| budget > 0) else {
        return Cow::Borrowed(MARKER);
    };
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{MARKER}", &line[..end]))
}

#[cfg(test)]
mod tests;
