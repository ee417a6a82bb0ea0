//! The policy's flows, over the [`Env`] it runs in: write and read
//! `equipment.json`, write-once markers, and reads of both.
//!
//! Checks run in the order of docs/spec.md §4: input first (nothing is
//! touched for bad input), then the storage calls (path, lock, file).

use crate::json::Document;
use crate::records::{
    self, decode_equipment, decode_marker, parse_equipment_input, parse_marker_input, Equipment,
    Marker, MarkerKind,
};
use crate::{time, Error};
use serde_json::Value;

/// What the policy may touch: the host's storage, log and clock, and (since
/// interface 1.1) the caller's step and the machine's name.
pub trait Env {
    type Locked: LockedFile;
    /// The file's bytes without a lock; `None` when there is no file.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error>;
    /// Creates the parent folders and takes the file's exclusive lock.
    fn lock(&self, path: &str) -> Result<Self::Locked, Error>;
    /// Creates the parent folders and appends `line` with one `O_APPEND`
    /// write (no lock).
    fn append(&self, path: &str, line: &[u8]) -> Result<(), Error>;
    /// The caller's step: the record it made of `record_json` (read under
    /// the held lock), or `None` when it gave up (write nothing then).
    fn step(&self, record_json: &str) -> Option<String>;
    /// The machine's host name.
    fn hostname(&self) -> String;
    /// A warning for the host's log.
    fn warn(&self, message: &str);
    /// Seconds since the Unix epoch, UTC.
    fn now(&self) -> i64;
}

/// A file held under its lock (released on drop).
pub trait LockedFile {
    fn read(&self) -> Result<Option<Vec<u8>>, Error>;
    /// Durable atomic replace.
    fn replace(&self, contents: &[u8]) -> Result<(), Error>;
}

/// An equipment write's result: the record and the file exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentWritten {
    pub record: Equipment,
    pub document: String,
}

/// A marker write's result: whether this call wrote it, and what is on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerWritten {
    pub written: bool,
    pub document: Option<String>,
}

/// Writes `equipment.json` (§11.4.1): stamps `first_seen_at` once and
/// `last_modified_at` on every write, keeps unknown fields and a newer
/// minor, refuses another major, and recovers a corrupt file with a warning.
pub fn write_equipment<E: Env>(
    env: &E,
    path: &str,
    input_json: &str,
) -> Result<EquipmentWritten, Error> {
    let input = parse_equipment_input(input_json)?;
    // Stamped for real under the lock; a stamp's length is all that counts here.
    let mut record = Equipment {
        schema_version: "1.0".to_owned(),
        id: input.id,
        label: input.label,
        configured_local_root: input.configured_local_root,
        configured_nas_root: input.configured_nas_root,
        first_seen_at: STAMP_SIZED.to_owned(),
        last_modified_at: STAMP_SIZED.to_owned(),
    };
    let caller_fields = [
        ("id", &record.id),
        ("label", &record.label),
        ("configured_local_root", &record.configured_local_root),
        ("configured_nas_root", &record.configured_nas_root),
    ];
    check_fits(|| record.to_json(), &caller_fields)?;
    let file = env.lock(path)?;
    let stored = file.read()?;
    let judged = stored.as_deref().map(decode_equipment).transpose();
    let existing = rewrite_over(env, path, "equipment.json", judged)?;
    let now = time::format_utc(env.now());
    let unknown = match existing {
        Some((old, unknown)) => {
            record.schema_version = records::rewrite_schema_version(&old.schema_version);
            record.first_seen_at = old.first_seen_at;
            unknown
        }
        None => {
            record.first_seen_at = now.clone();
            Vec::new()
        }
    };
    record.last_modified_at = now;
    // Unknown fields follow the known ones, as stored (never re-encoded).
    let document = record.to_json_with(&unknown);
    if document.len() > records::DOCUMENT_LIMIT {
        // The caller's fields fit: what is kept from the file makes it too big.
        return Err(Error::invalid(
            None,
            format!(
                "{path} left untouched: the rewrite would be {} bytes with what it keeps from the \
                 file, over the {}-byte limit of a file this policy writes",
                document.len(),
                records::DOCUMENT_LIMIT
            ),
        ));
    }
    file.replace(document.as_bytes())?;
    Ok(EquipmentWritten { record, document })
}

/// What a rewrite does with the file its locked read judged (spec §2.1):
/// the record when it is one; `None` when there is none or it is corrupt
/// (not JSON, the wrong shape: rewritten as a fresh record, with a warning
/// naming the file); another major refuses the write, the file untouched.
pub fn rewrite_over<E: Env, T>(
    env: &E,
    path: &str,
    file_name: &str,
    judged: Result<Option<T>, Error>,
) -> Result<Option<T>, Error> {
    match judged {
        Ok(found) => Ok(found),
        Err(e @ Error::SchemaMajorMismatch { .. }) => {
            Err(e.context(&format!("{path} left untouched")))
        }
        Err(
            Error::Decode(reason)
            | Error::Validation {
                message: reason, ..
            },
        ) => {
            env.warn(&format!(
                "{path}: corrupt {file_name} rewritten as a fresh record ({reason})"
            ));
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Any stamp (`YYYY-MM-DDTHH:MM:SSZ`): a stand-in of the right length for
/// the size check before the lock, when the clock is not yet read.
const STAMP_SIZED: &str = "0000-00-00T00:00:00Z";

/// Most bytes of a record's document besides the caller's fields: keys,
/// punctuation, the schema version, the stamps and `run_kind`.
const DOCUMENT_BESIDES_FIELDS: usize = 1024;

/// Refuses, before the lock, a document that could not be read back: over
/// [`records::DOCUMENT_LIMIT`], it names the longest of the caller's
/// `fields` (by its size in the document; of equal ones, the first in file
/// order, as for any other invalid input). The `document` is built only
/// when the fields could make it too long: a byte is at most six as JSON.
fn check_fits(document: impl FnOnce() -> String, fields: &[(&str, &String)]) -> Result<(), Error> {
    let at_most: usize = fields.iter().map(|(_, value)| 6 * value.len()).sum();
    if at_most + DOCUMENT_BESIDES_FIELDS <= records::DOCUMENT_LIMIT {
        return Ok(());
    }
    let document = document();
    if document.len() <= records::DOCUMENT_LIMIT {
        return Ok(());
    }
    let encoded_len = |value: &String| Value::from(value.as_str()).to_string().len();
    // `max_by_key` keeps the last of equal maxima: search from the end.
    let (field, value) = fields
        .iter()
        .rev()
        .max_by_key(|(_, value)| encoded_len(value))
        .expect("a document has caller fields");
    Err(Error::invalid(
        Some(field),
        format!(
            "{field} is too long ({} bytes as JSON): the document would be {} bytes, over the \
             {}-byte limit of a file this policy writes (and can read back)",
            encoded_len(value),
            document.len(),
            records::DOCUMENT_LIMIT
        ),
    ))
}

/// Reads `equipment.json` without a lock.
pub fn read_equipment<E: Env>(env: &E, path: &str) -> Result<Equipment, Error> {
    let bytes = read_existing(env, path)?;
    decode_equipment(&bytes)
        .map(|(record, _)| record)
        .map_err(|e| e.context(path))
}

/// Writes a marker once (§11.4.2, §11.4.3). The input is validated whether
/// or not the file exists; the existence check and the write happen under
/// the lock, so of N concurrent first writers exactly one writes.
pub fn write_marker<E: Env>(
    env: &E,
    kind: MarkerKind,
    path: &str,
    input_json: &str,
) -> Result<MarkerWritten, Error> {
    let input = parse_marker_input(kind, input_json)?;
    let mut marker = Marker {
        schema_version: "1.0".to_owned(),
        run_kind: kind.run_kind().to_owned(),
        created_at: input
            .created_at
            .clone()
            .unwrap_or_else(|| STAMP_SIZED.to_owned()),
        project: input.project,
        equipment: input.equipment,
    };
    let caller_fields = [
        ("created_at", &marker.created_at),
        ("project", &marker.project),
        ("equipment", &marker.equipment),
    ];
    check_fits(|| marker.to_json(), &caller_fields)?;
    let file = env.lock(path)?;
    if let Some(bytes) = file.read()? {
        // As on disk, but for insignificant whitespace: keys in file order,
        // numbers and escapes as written.
        let document = match Document::scan(&bytes) {
            Ok(doc) => Some(doc.into_compact()),
            Err(e) => {
                env.warn(&format!(
                    "{path}: existing {} is not JSON ({e}); left as it is",
                    kind.file_name()
                ));
                None
            }
        };
        return Ok(MarkerWritten {
            written: false,
            document,
        });
    }
    if input.created_at.is_none() {
        marker.created_at = time::format_utc(env.now());
    }
    let document = marker.to_json();
    file.replace(document.as_bytes())?;
    Ok(MarkerWritten {
        written: true,
        document: Some(document),
    })
}

/// Reads a marker without a lock.
pub fn read_marker<E: Env>(env: &E, kind: MarkerKind, path: &str) -> Result<Marker, Error> {
    let bytes = read_existing(env, path)?;
    decode_marker(kind, &bytes).map_err(|e| e.context(path))
}

fn read_existing<E: Env>(env: &E, path: &str) -> Result<Vec<u8>, Error> {
    env.read(path)?
        .ok_or_else(|| Error::NotFound(format!("{path}: no such file")))
}

#[cfg(test)]
mod tests;
