//! What the versioned kinds share: judging a stored file (JSON, then the
//! schema gate, then the shape of its minor), the version a rewrite
//! stores, the caller's record, reads without a lock, and writing a file
//! once.

use super::node::{self, quote, Node};
use super::schema::{self, Field, Rules, Type};
use crate::gate::{self, Stored};
use crate::json::{self, Document};
use crate::policy::{Env, LockedFile};
use crate::records::{DOCUMENT_LIMIT, MAJOR};
use crate::{time, Error};
use std::borrow::Cow;

/// A versioned record kind: its file, the version it writes, its fields.
pub struct Spec {
    pub file_name: &'static str,
    /// The version written, `"1.<minor>"`.
    pub version: &'static str,
    pub minor: u32,
    pub fields: &'static [Field],
    /// A stored file without a version is of no known major (creation.json,
    /// the app's stricter reading of §11.9.2) rather than of the wrong shape.
    pub unversioned_is_other_major: bool,
    /// What the kind adds to a snapshot after the defaults (creation.json:
    /// the ids of validation overrides that lack one).
    pub finish: Option<fn(&mut Node)>,
}

/// A stored file, judged: its record (borrowed from the file's scan) and
/// its version.
pub struct OnDisk<'a> {
    pub record: Node<'a>,
    pub version: String,
}

/// Any stamp (`YYYY-MM-DDTHH:MM:SSZ`): a stand-in of the right length for
/// the size check before the lock, when the clock is not yet read.
pub const STAMP_SIZED: &str = "\"0000-00-00T00:00:00Z\"";

/// The minor of a version the `"1.N"` rule keeps (docs/spec.md §6: `1.`
/// and ASCII digits without a leading zero); any other spelling of major 1
/// reads as minor 0.
pub fn minor_of(version: &str) -> u32 {
    match version.strip_prefix("1.") {
        Some(minor)
            if !minor.is_empty()
                && minor.bytes().all(|b| b.is_ascii_digit())
                && (minor == "0" || !minor.starts_with('0')) =>
        {
            minor.parse().unwrap_or(u32::MAX)
        }
        _ => 0,
    }
}

impl Spec {
    pub const fn ty(&self) -> Type {
        Type::Object(self.fields)
    }

    /// How a record of `version` is judged.
    pub fn rules(&self, version: &str, input: bool) -> Rules {
        let minor = minor_of(version);
        Rules {
            minor,
            newer: minor > self.minor,
            input,
        }
    }

    /// The version a write stores: a newer minor on disk is kept (never
    /// downgraded), anything else becomes ours (app §11.9.3 rule 3).
    pub fn kept_version(&self, stored: &str) -> String {
        if minor_of(stored) > self.minor {
            stored
        } else {
            self.version
        }
        .to_owned()
    }

    /// Judges a stored file, scanned by [`scan`]: not an object, the gate
    /// before the shape (`schema_major_mismatch` with `found` as stored),
    /// then the shape of its minor.
    pub fn decode<'d>(&self, doc: &'d Document<'_>) -> Result<OnDisk<'d>, Error> {
        if !doc.is_object() {
            let found = json::type_name(doc.compact());
            return Err(Error::invalid(
                None,
                format!("not a JSON object, found {found}"),
            ));
        }
        let version = doc.get("schema_version");
        let found = || version.map_or("null", |m| m.stored).to_owned();
        match gate::classify(version.map(|m| m.value), MAJOR) {
            Stored::Missing if self.unversioned_is_other_major => {
                return Err(Error::mismatch(MAJOR, found()))
            }
            Stored::Missing => {
                return Err(Error::invalid(
                    Some("schema_version"),
                    "schema_version is missing or empty",
                ))
            }
            Stored::OtherMajor => return Err(Error::mismatch(MAJOR, found())),
            Stored::SameMajor => {}
        }
        let version = version
            .filter(|m| m.value.starts_with('"'))
            .map(|m| json::string_value(m.value))
            .unwrap_or_default();
        let rules = self.rules(&version, false);
        let record = schema::shape_fields(self.fields, node::members_of(doc), rules)?;
        Ok(OnDisk { record, version })
    }

    /// The record as a caller sees it: every known field, defaults filled
    /// (and the older minor's migration defaults), then the unknown ones.
    pub fn snapshot<'a>(&self, record: &Node<'a>) -> Node<'a> {
        let mut snapshot = schema::fill(&self.ty(), record);
        if let Some(finish) = self.finish {
            finish(&mut snapshot);
        }
        snapshot
    }

    /// Reads the file without a lock: its snapshot without unknown fields.
    pub fn read<E: Env>(&self, env: &E, path: &str) -> Result<String, Error> {
        let bytes = existing(env, path)?;
        let doc = scan(&bytes).map_err(|e| e.context(path))?;
        let on_disk = self.decode(&doc).map_err(|e| e.context(path))?;
        let snapshot = self.snapshot(&on_disk.record);
        Ok(schema::to_known_json(&self.ty(), &snapshot))
    }

    /// The file's bytes under its lock, for a rewrite: [`scan`] and
    /// [`Spec::decode`] them with [`untouched`] as the context. A missing
    /// file is `not_found`, seen without the lock first so that nothing is
    /// created.
    pub fn locked<E: Env>(&self, env: &E, path: &str) -> Result<(E::Locked, Vec<u8>), Error> {
        existing(env, path)?;
        let file = env.lock(path)?;
        let bytes = file.read()?.ok_or_else(|| not_found(path))?;
        Ok((file, bytes))
    }

    /// The caller's record for a write, validated in schema order before
    /// anything is touched: `schema_version` is ours (a caller's is
    /// ignored), `stamped` (a time field) is the caller's when it is a real
    /// time, [`STAMP_SIZED`] when absent or null (then `true`: stamp it
    /// under the lock). Unknown members are ignored, as the app's structs do.
    pub fn input(
        &self,
        input_json: &str,
        stamped: Option<&'static str>,
    ) -> Result<(Node<'static>, bool), Error> {
        let doc = node::input_object(input_json, "input")?;
        let mut given = Node::object_of(&doc);
        given.set("schema_version", Node::string(self.version));
        let mut stamp = false;
        if let Some(field) = stamped {
            let raw = given.get(field).map(Node::text);
            if raw
                .map(|raw| real_time(field, &raw))
                .transpose()?
                .flatten()
                .is_none()
            {
                given.set(field, Node::Raw(Cow::Borrowed(STAMP_SIZED)));
                stamp = true;
            }
        }
        let rules = self.rules(self.version, true);
        let record = schema::shape_fields(self.fields, given.into_members(), rules)?;
        // Owned: the input's scan ends here.
        Ok((schema::strip(&self.ty(), &record).into_owned(), stamp))
    }

    /// Refuses, before the lock, a record whose file would be over
    /// [`DOCUMENT_LIMIT`] (so could not be read back), naming the longest
    /// of its top-level fields, of equal ones the first in schema order
    /// (docs/spec.md §7.4).
    pub fn check_fits(&self, record: &Node) -> Result<(), Error> {
        let document = schema::to_json(&self.ty(), record, true);
        if document.len() <= DOCUMENT_LIMIT {
            return Ok(());
        }
        let mut longest: Option<(&str, usize)> = None;
        for field in self.fields {
            if let Some(value) = record.get(field.name) {
                let len = schema::to_json(&field.ty, value, true).len();
                if longest.is_none_or(|(_, max)| len > max) {
                    longest = Some((field.name, len));
                }
            }
        }
        let (field, len) = longest.expect("a record has fields");
        Err(Error::invalid(
            Some(field),
            format!(
                "{field} is too long ({len} bytes as JSON): the document would be {} bytes, \
                 over the {DOCUMENT_LIMIT}-byte limit of a file this policy writes (and can \
                 read back)",
                document.len()
            ),
        ))
    }

    /// Writes the file once, like a marker (docs/spec.md §2.2): under the
    /// lock, a file that is there is left as it is and answered as on disk
    /// (compact; `null` with a warning when it is not JSON). `stamp` names
    /// the field to stamp with the time of the write. The result:
    /// `{"written":bool,"<key>":<the file>}`.
    pub fn write_once<E: Env>(
        &self,
        env: &E,
        path: &str,
        mut record: Node,
        stamp: Option<&'static str>,
        key: &str,
    ) -> Result<String, Error> {
        self.check_fits(&record)?;
        let file = env.lock(path)?;
        if let Some(bytes) = file.read()? {
            let found = Document::scan(&bytes).map_or_else(
                |e| {
                    env.warn(&format!(
                        "{path}: existing {} is not JSON ({e}); left as it is",
                        self.file_name
                    ));
                    "null".to_owned()
                },
                Document::into_compact,
            );
            return Ok(format!("{{\"written\":false,{}:{found}}}", quote(key)));
        }
        if let Some(field) = stamp {
            record.set(field, Node::string(&time::format_utc(env.now())));
        }
        let document = schema::to_json(&self.ty(), &record, true);
        file.replace(document.as_bytes())?;
        Ok(format!("{{\"written\":true,{}:{document}}}", quote(key)))
    }
}

/// A time field of caller input: absent or `null` is `None` (stamp it), a
/// string must be a real time in the docs/spec.md §1 format.
pub fn real_time(field: &str, raw: &str) -> Result<Option<String>, Error> {
    if raw == "null" {
        return Ok(None);
    }
    if !raw.starts_with('"') {
        let found = json::type_name(raw);
        return Err(Error::invalid(
            Some(field),
            format!("{field} must be a string, found {found}"),
        ));
    }
    let value = json::string_value(raw);
    if !time::is_real_time(&value) {
        return Err(Error::invalid(
            Some(field),
            format!("{field} must be a real UTC time YYYY-MM-DDTHH:MM:SSZ, found {raw}"),
        ));
    }
    Ok(Some(value))
}

/// Refuses, under the lock, a rewrite that what it keeps from the file
/// makes too big (docs/spec.md §7.4): the file stays as it is.
pub fn check_rewrite_fits(path: &str, document: &str) -> Result<(), Error> {
    if document.len() <= DOCUMENT_LIMIT {
        return Ok(());
    }
    Err(Error::invalid(
        None,
        format!(
            "{path} left untouched: the rewrite would be {} bytes with what it keeps from the \
             file, over the {DOCUMENT_LIMIT}-byte limit of a file this policy writes",
            document.len()
        ),
    ))
}

/// Scans a stored file: `decode_error` when it is not JSON.
pub fn scan(bytes: &[u8]) -> Result<Document<'_>, Error> {
    Document::scan(bytes).map_err(|e| Error::Decode(format!("not JSON: {e}")))
}

/// The context of a fault found under the lock: the file stays as it is.
pub fn untouched(path: &str) -> impl Fn(Error) -> Error + '_ {
    move |e| e.context(&format!("{path} left untouched"))
}

/// The file's bytes without a lock; `not_found` when there is none.
pub fn existing<E: Env>(env: &E, path: &str) -> Result<Vec<u8>, Error> {
    env.read(path)?.ok_or_else(|| not_found(path))
}

fn not_found(path: &str) -> Error {
    Error::NotFound(format!("{path}: no such file"))
}

#[cfg(test)]
mod tests;
