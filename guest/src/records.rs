//! The three files' records: their known fields in file order, decoding
//! what is on disk (gate first, then shape), and validating caller input.

use crate::gate::{self, Stored};
use crate::json::{self, Document};
use crate::{time, Error};
use serde_json::{Map, Value};

/// The schema major this policy reads and writes.
pub const MAJOR: u32 = 1;

/// The largest file this policy writes, in bytes: the host's default read
/// limit (`Settings::max_file_size`), so that every file it writes can be
/// read back (issue 10, point 4). The WIT does not tell the policy the
/// host's configured limit; this is the whole compact document, stamps and
/// fields kept from disk included.
pub const DOCUMENT_LIMIT: usize = 1 << 20;

/// `equipment.json`: the known fields, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equipment {
    pub schema_version: String,
    pub id: String,
    pub label: String,
    pub configured_local_root: String,
    pub configured_nas_root: String,
    pub first_seen_at: String,
    pub last_modified_at: String,
}

impl Equipment {
    pub const FIELDS: [&'static str; 7] = [
        "schema_version",
        "id",
        "label",
        "configured_local_root",
        "configured_nas_root",
        "first_seen_at",
        "last_modified_at",
    ];

    fn values(&self) -> [&String; 7] {
        [
            &self.schema_version,
            &self.id,
            &self.label,
            &self.configured_local_root,
            &self.configured_nas_root,
            &self.first_seen_at,
            &self.last_modified_at,
        ]
    }

    /// The known fields as a JSON object, in file order (the tests'
    /// reference for [`Self::to_json`]).
    #[cfg(test)]
    pub fn to_map(&self) -> Map<String, Value> {
        to_map(&Self::FIELDS, &self.values())
    }

    /// The record as compact JSON: `to_compact_json(&self.to_map())`,
    /// written directly.
    pub fn to_json(&self) -> String {
        self.to_json_with(&[])
    }

    /// The record, then the `kept` fields as their JSON text:
    /// `to_compact_json_with(&self.to_map(), kept)`, written directly.
    pub fn to_json_with(&self, kept: &[KeptField]) -> String {
        object_json(&Self::FIELDS, &self.values(), kept)
    }
}

/// Which write-once marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    TestRuns,
    Runs,
}

impl MarkerKind {
    /// The `run_kind` this marker type fixes.
    pub fn run_kind(self) -> &'static str {
        match self {
            MarkerKind::TestRuns => "test",
            MarkerKind::Runs => "experimental",
        }
    }

    pub fn file_name(self) -> &'static str {
        match self {
            MarkerKind::TestRuns => "test_runs.json",
            MarkerKind::Runs => "runs.json",
        }
    }
}

/// `test_runs.json` / `runs.json`: the known fields, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub schema_version: String,
    pub run_kind: String,
    pub created_at: String,
    pub project: String,
    pub equipment: String,
}

impl Marker {
    pub const FIELDS: [&'static str; 5] = [
        "schema_version",
        "run_kind",
        "created_at",
        "project",
        "equipment",
    ];

    fn values(&self) -> [&String; 5] {
        [
            &self.schema_version,
            &self.run_kind,
            &self.created_at,
            &self.project,
            &self.equipment,
        ]
    }

    #[cfg(test)]
    pub fn to_map(&self) -> Map<String, Value> {
        to_map(&Self::FIELDS, &self.values())
    }

    /// The marker as compact JSON: `to_compact_json(&self.to_map())`,
    /// written directly.
    pub fn to_json(&self) -> String {
        object_json(&Self::FIELDS, &self.values(), &[])
    }
}

#[cfg(test)]
fn to_map(fields: &[&str], values: &[&String]) -> Map<String, Value> {
    fields
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).clone())))
        .collect()
}

/// Compact JSON of string `fields` with their `values`, then the `kept`
/// fields: the bytes `serde_json` writes for the same map, without building
/// one (a record is written on every write).
fn object_json(fields: &[&str], values: &[&String], kept: &[KeptField]) -> String {
    let size = values.iter().map(|v| v.len() + 24).sum::<usize>()
        + kept
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>();
    let mut out = String::with_capacity(size);
    out.push('{');
    for (field, value) in fields.iter().zip(values) {
        if out.len() > 1 {
            out.push(',');
        }
        json::push_string(&mut out, field);
        out.push(':');
        json::push_string(&mut out, value);
    }
    push_kept(&mut out, kept);
    out
}

/// The `kept` fields after the members already in `out` (an object not yet
/// closed), then the closing brace.
fn push_kept(out: &mut String, kept: &[KeptField]) {
    for (key, text) in kept {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(key);
        out.push(':');
        out.push_str(text);
    }
    out.push('}');
}

/// Compact JSON (no spaces, no trailing newline), keys in insertion order:
/// what the records' own writers must produce (the tests' reference).
#[cfg(test)]
pub fn to_compact_json(map: &Map<String, Value>) -> String {
    serde_json::to_string(map).expect("a JSON map serializes")
}

/// A field kept from disk by a rewrite: its key's string literal and its
/// value's JSON text, both as stored but for insignificant whitespace. Never
/// re-encoded, so a 30-digit serial stays exact, a lone surrogate escape
/// stays as written, and any nesting depth survives.
pub type KeptField = (String, String);

/// Compact JSON of `map`, then the `kept` fields as their JSON text (the
/// tests' reference, as [`to_compact_json`]).
#[cfg(test)]
pub fn to_compact_json_with(map: &Map<String, Value>, kept: &[KeptField]) -> String {
    let mut out = to_compact_json(map);
    if kept.is_empty() {
        return out;
    }
    out.pop(); // the closing brace
    push_kept(&mut out, kept);
    out
}

// ---------------------------------------------------------------------------
// On disk: JSON, then the schema gate, then the shape.
// ---------------------------------------------------------------------------

/// Scans a stored file once into its document: `decode_error` if it is not
/// JSON, `schema_major_mismatch` for another major (checked before the
/// shape), `validation_error` if it is not an object or has no version.
pub fn stored_object(bytes: &[u8]) -> Result<Document<'_>, Error> {
    let doc = Document::scan(bytes).map_err(|e| Error::Decode(format!("not JSON: {e}")))?;
    if !doc.is_object() {
        return Err(Error::invalid(
            None,
            format!(
                "not a JSON object, found {}",
                json::type_name(doc.compact())
            ),
        ));
    }
    let version = doc.get("schema_version");
    match gate::classify(version.map(|m| m.value), MAJOR) {
        Stored::Missing => Err(Error::invalid(
            Some("schema_version"),
            "schema_version is missing or empty",
        )),
        // `found` is the value exactly as stored (`2.50` stays `2.50`).
        Stored::OtherMajor => Err(Error::mismatch(
            MAJOR,
            version.map_or("null", |m| m.stored).to_owned(),
        )),
        Stored::SameMajor => Ok(doc),
    }
}

/// A stored string field: present and a string (types, not formats). A lone
/// surrogate escape in it reads as U+FFFD (see [`json::string_value`]).
fn stored_string(doc: &Document, field: &str) -> Result<String, Error> {
    match doc.get(field) {
        Some(m) if m.value.starts_with('"') => Ok(json::string_value(m.value)),
        Some(m) => Err(not_a_string(field, json::type_name(m.value))),
        None => Err(missing(field)),
    }
}

fn not_a_string(field: &str, found: &str) -> Error {
    Error::invalid(
        Some(field),
        format!("{field} must be a string, found {found}"),
    )
}

fn missing(field: &str) -> Error {
    Error::invalid(Some(field), format!("{field} is missing"))
}

/// Decodes a stored `equipment.json`; also returns the fields this policy
/// does not know, in file order, for a rewrite to keep.
pub fn decode_equipment(bytes: &[u8]) -> Result<(Equipment, Vec<KeptField>), Error> {
    if let Some(record) = canonical_equipment(bytes) {
        return Ok((record, Vec::new()));
    }
    scan_equipment(bytes)
}

/// The common case, read by matching instead of scanning: the file exactly
/// as this policy writes it (compact, the seven fields in their order,
/// strings without escapes, nothing else) and of this major. `None` for
/// any other text, which [`scan_equipment`] reads; for this text both give
/// the same record (a property test holds them to it).
fn canonical_equipment(bytes: &[u8]) -> Option<Equipment> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut rest = text.strip_prefix('{')?;
    let mut values = Equipment::FIELDS.map(|_| "");
    for (i, field) in Equipment::FIELDS.iter().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix(',')?;
        }
        rest = rest.strip_prefix('"')?.strip_prefix(field)?;
        rest = rest.strip_prefix("\":\"")?;
        // Up to the first `"`, `\\` or control character: a string
        // without escapes ends at a `"`.
        let len = json::plain_run(rest.as_bytes());
        values[i] = rest.get(..len)?;
        rest = rest.get(len..)?.strip_prefix('"')?;
    }
    // The gate as `stored_object` applies it to a string version: an empty
    // one is missing, another major a mismatch (both the scan's to report).
    let version = values[0];
    if rest != "}"
        || version.is_empty()
        || gate::require_schema_major(Some(version), MAJOR).is_err()
    {
        return None;
    }
    let [schema_version, id, label, local, nas, first, last] = values.map(str::to_owned);
    Some(Equipment {
        schema_version,
        id,
        label,
        configured_local_root: local,
        configured_nas_root: nas,
        first_seen_at: first,
        last_modified_at: last,
    })
}

/// Any stored text, scanned: what [`decode_equipment`] does beyond its
/// common case.
fn scan_equipment(bytes: &[u8]) -> Result<(Equipment, Vec<KeptField>), Error> {
    let doc = stored_object(bytes)?;
    let [schema_version, id, label, local, nas, first, last] =
        Equipment::FIELDS.map(|f| stored_string(&doc, f));
    let record = Equipment {
        schema_version: schema_version?,
        id: id?,
        label: label?,
        configured_local_root: local?,
        configured_nas_root: nas?,
        first_seen_at: first?,
        last_modified_at: last?,
    };
    let unknown = doc
        .members()
        .filter(|m| !Equipment::FIELDS.contains(&m.name))
        .map(|m| (m.key.to_owned(), m.value.to_owned()))
        .collect();
    Ok((record, unknown))
}

/// Decodes a stored marker. A missing `run_kind` reads as the marker type's
/// (the Python original omits it when it is the default); a contradicting
/// one is a validation error.
pub fn decode_marker(kind: MarkerKind, bytes: &[u8]) -> Result<Marker, Error> {
    let doc = stored_object(bytes)?;
    let schema_version = stored_string(&doc, "schema_version")?;
    let run_kind = match doc.get("run_kind") {
        None => kind.run_kind().to_owned(),
        Some(_) => stored_string(&doc, "run_kind")?,
    };
    if run_kind != kind.run_kind() {
        return Err(wrong_run_kind(kind, &run_kind));
    }
    Ok(Marker {
        schema_version,
        run_kind,
        created_at: stored_string(&doc, "created_at")?,
        project: stored_string(&doc, "project")?,
        equipment: stored_string(&doc, "equipment")?,
    })
}

fn wrong_run_kind(kind: MarkerKind, found: &str) -> Error {
    Error::invalid(
        Some("run_kind"),
        format!(
            "run_kind must be {:?} for {}, found {found:?}",
            kind.run_kind(),
            kind.file_name()
        ),
    )
}

/// The version a rewrite stores: the on-disk `"1.N"` with N > 0 written
/// without a leading zero is kept (never downgraded); anything else is `"1.0"`.
pub fn rewrite_schema_version(on_disk: &str) -> String {
    let keep = on_disk.strip_prefix("1.").is_some_and(|minor| {
        !minor.is_empty() && !minor.starts_with('0') && minor.bytes().all(|b| b.is_ascii_digit())
    });
    if keep { on_disk } else { "1.0" }.to_owned()
}

// ---------------------------------------------------------------------------
// Caller input: validated field by field, in file order.
// ---------------------------------------------------------------------------

/// What a caller gives for an equipment write (the policy stamps the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentInput {
    pub id: String,
    pub label: String,
    pub configured_local_root: String,
    pub configured_nas_root: String,
}

/// What a caller gives for a marker write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkerInput {
    /// `None`: stamp the time of the write.
    pub created_at: Option<String>,
    pub project: String,
    pub equipment: String,
}

/// The caller's JSON object, as `serde_json` reads it. Most input is read
/// by the policy's own scan, which reads plain text (no escapes, no
/// fractions, little nesting: [`Document::is_plain`]) value for value as
/// `serde_json` does, without building a map; anything else, and every
/// refusal, goes through `serde_json`, whose messages the errors quote.
enum InputObject<'a> {
    Scanned(Document<'a>),
    Parsed(Map<String, Value>),
}

/// A member of the input, as far as validation looks at it.
enum InputValue<'a> {
    Null,
    Str(&'a str),
    /// Anything else, by its type's name ([`type_name`]).
    Other(&'static str),
}

impl InputObject<'_> {
    fn get(&self, field: &str) -> Option<InputValue<'_>> {
        match self {
            InputObject::Scanned(doc) => doc.get(field).map(|m| match m.value.as_bytes()[0] {
                b'n' => InputValue::Null,
                // No escapes in a plain document: the text is the string.
                b'"' => InputValue::Str(&m.value[1..m.value.len() - 1]),
                _ => InputValue::Other(json::type_name(m.value)),
            }),
            InputObject::Parsed(map) => map.get(field).map(|v| match v {
                Value::Null => InputValue::Null,
                Value::String(s) => InputValue::Str(s),
                other => InputValue::Other(type_name(other)),
            }),
        }
    }
}

/// The caller's JSON object. Input that is not JSON, or not an object, is a
/// validation error of the whole document (`decode_error` is for disk only).
fn input_object(input_json: &str) -> Result<InputObject<'_>, Error> {
    if let Ok(doc) = Document::scan(input_json.as_bytes()) {
        if doc.is_object() && doc.is_plain() {
            return Ok(InputObject::Scanned(doc));
        }
    }
    parsed_input_object(input_json)
}

/// The caller's JSON object as `serde_json` parses it.
fn parsed_input_object(input_json: &str) -> Result<InputObject<'static>, Error> {
    match serde_json::from_str(input_json) {
        Ok(Value::Object(map)) => Ok(InputObject::Parsed(map)),
        Ok(other) => Err(Error::invalid(
            None,
            format!("input must be a JSON object, found {}", type_name(&other)),
        )),
        Err(e) => Err(Error::invalid(None, format!("input is not JSON: {e}"))),
    }
}

/// A required string field of the input.
fn input_string(input: &InputObject, field: &str) -> Result<String, Error> {
    match input.get(field) {
        Some(InputValue::Str(s)) => Ok(s.to_owned()),
        Some(InputValue::Null) => Err(not_a_string(field, "null")),
        Some(InputValue::Other(found)) => Err(not_a_string(field, found)),
        None => Err(missing(field)),
    }
}

/// Equipment input: `id`, `label`, `configured_local_root`,
/// `configured_nas_root` (strings); timestamps, `schema_version` and unknown
/// keys are ignored.
pub fn parse_equipment_input(input_json: &str) -> Result<EquipmentInput, Error> {
    equipment_input(&input_object(input_json)?)
}

fn equipment_input(input: &InputObject) -> Result<EquipmentInput, Error> {
    let id = input_string(input, "id")?;
    check_equipment_id("id", &id)?;
    Ok(EquipmentInput {
        id,
        label: input_string(input, "label")?,
        configured_local_root: input_string(input, "configured_local_root")?,
        configured_nas_root: input_string(input, "configured_nas_root")?,
    })
}

/// Marker input, checked in file order: `run_kind` (absent or null, or the
/// marker type's), `created_at` (absent/null, or a real time), `project`
/// (a safe path segment), `equipment` (an equipment id).
pub fn parse_marker_input(kind: MarkerKind, input_json: &str) -> Result<MarkerInput, Error> {
    marker_input(kind, &input_object(input_json)?)
}

fn marker_input(kind: MarkerKind, input: &InputObject) -> Result<MarkerInput, Error> {
    match input.get("run_kind") {
        None | Some(InputValue::Null) => {}
        Some(InputValue::Str(s)) if s == kind.run_kind() => {}
        Some(InputValue::Str(s)) => return Err(wrong_run_kind(kind, s)),
        Some(InputValue::Other(found)) => {
            return Err(Error::invalid(
                Some("run_kind"),
                format!("run_kind must be a string, found {found}"),
            ))
        }
    }
    let created_at = match input.get("created_at") {
        None | Some(InputValue::Null) => None,
        Some(InputValue::Str(s)) if time::is_real_time(s) => Some(s.to_owned()),
        Some(InputValue::Str(s)) => {
            return Err(Error::invalid(
                Some("created_at"),
                format!("created_at must be a real UTC time YYYY-MM-DDTHH:MM:SSZ, found {s:?}"),
            ))
        }
        Some(InputValue::Other(found)) => {
            return Err(Error::invalid(
                Some("created_at"),
                format!("created_at must be a string, found {found}"),
            ))
        }
    };
    let project = input_string(input, "project")?;
    check_path_segment("project", &project)?;
    let equipment = input_string(input, "equipment")?;
    check_equipment_id("equipment", &equipment)?;
    Ok(MarkerInput {
        created_at,
        project,
        equipment,
    })
}

/// An equipment id: `^[A-Z][A-Z0-9_]*$`, 1 to 32 characters.
pub fn is_equipment_id(id: &str) -> bool {
    let b = id.as_bytes();
    (1..=32).contains(&b.len())
        && b[0].is_ascii_uppercase()
        && b.iter()
            .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
}

fn check_equipment_id(field: &str, id: &str) -> Result<(), Error> {
    if is_equipment_id(id) {
        Ok(())
    } else {
        Err(Error::invalid(
            Some(field),
            format!("{field} must match ^[A-Z][A-Z0-9_]*$ with 1 to 32 characters, found {id:?}"),
        ))
    }
}

/// A safe single path segment: not empty, no `/` or `\`, no control
/// characters, not `.` or `..`, no leading or trailing whitespace.
pub fn is_path_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.chars().any(|c| c == '/' || c == '\\' || c.is_control())
        && !s.starts_with(char::is_whitespace)
        && !s.ends_with(char::is_whitespace)
}

fn check_path_segment(field: &str, s: &str) -> Result<(), Error> {
    if is_path_segment(s) {
        Ok(())
    } else {
        Err(Error::invalid(
            Some(field),
            format!(
                "{field} must be a single path segment (not empty, no / or \\, no control characters, \
                 not . or .., no surrounding whitespace), found {s:?}"
            ),
        ))
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: Error) -> Option<String> {
        match e {
            Error::Validation { field, .. } => field,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    /// Input texts around the scan's fast path: plain ones, and what makes
    /// text not plain (escapes, lone surrogates, fractions, exponents, long
    /// numbers, deep nesting), repeated keys and broken text.
    fn input_texts() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        let value = prop::sample::select(vec![
            r#""CONF_01""#.to_owned(),
            r#""P""#.to_owned(),
            r#""experimental""#.to_owned(),
            r#""test""#.to_owned(),
            r#""2026-04-17T14:00:00Z""#.to_owned(),
            r#""2026-02-30T14:00:00Z""#.to_owned(),
            r#""a b\u00e9""#.to_owned(),
            r#""\u0041""#.to_owned(),
            r#""\ud800""#.to_owned(),
            r#""tab\there""#.to_owned(),
            "\"raw\u{7f}\u{e9}\u{2028}\"".to_owned(),
            r#""..""#.to_owned(),
            r#""""#.to_owned(),
            "1".to_owned(),
            "-0".to_owned(),
            "1.5".to_owned(),
            "1e400".to_owned(),
            "123456789012345678901234567890".to_owned(),
            "true".to_owned(),
            "null".to_owned(),
            "[]".to_owned(),
            r#"{"a":[1,{"b":null}]}"#.to_owned(),
            deep(63),
            deep(64),
            deep(127),
            deep(128),
            deep(200),
        ]);
        let key = prop::sample::select(vec![
            "id",
            "label",
            "configured_local_root",
            "configured_nas_root",
            "project",
            "equipment",
            "created_at",
            "run_kind",
            r"\u0069d",
            "x",
        ]);
        let space = prop::sample::select(vec!["", " ", "\n\t "]);
        let member = (key, space.clone(), value, space.clone())
            .prop_map(|(k, a, v, b)| format!("{a}\"{k}\"{b}:{a}{v}{b}"));
        (prop::collection::vec(member, 0..10), space, any::<u8>()).prop_map(
            |(members, space, cut)| {
                let text = format!("{space}{{{}}}{space}", members.join(","));
                // Now and then broken text: cut short.
                if cut >= 10 {
                    return text;
                }
                let mut end = text.len() * usize::from(cut) / 10;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text[..end].to_owned()
            },
        )
    }

    proptest::proptest! {
        /// The scan's fast path reads input exactly as serde_json does:
        /// the same records, the same errors with the same messages.
        #[test]
        fn input_is_read_as_serde_json_reads_it(text in input_texts()) {
            let scanned = input_object(&text);
            let parsed = parsed_input_object(&text);
            let equipment = |input: &Result<InputObject, Error>| {
                input.as_ref().map_err(Clone::clone).and_then(equipment_input)
            };
            proptest::prop_assert_eq!(equipment(&scanned), equipment(&parsed));
            for kind in [MarkerKind::TestRuns, MarkerKind::Runs] {
                let marker = |input: &Result<InputObject, Error>| {
                    input.as_ref().map_err(Clone::clone).and_then(|i| marker_input(kind, i))
                };
                proptest::prop_assert_eq!(marker(&scanned), marker(&parsed));
            }
        }
    }

    /// Stored equipment texts around the canonical read: files as this
    /// policy writes them (any field values, escapes included), then now
    /// and then one edit (a byte dropped, replaced or inserted).
    fn stored_equipment_texts() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let field = prop::sample::select(vec![
            "",
            "1.0",
            "1.5",
            "2.0",
            "1",
            "01.5",
            " 1.0",
            "CONF_01",
            "a\"b",
            "back\\slash",
            "tab\there",
            "\u{7f}\u{e9}\u{2028}",
            "2026-04-17T14:00:00Z",
        ])
        .prop_map(str::to_owned);
        let edit = (
            any::<u8>(),
            any::<prop::sample::Index>(),
            prop::sample::select(vec![b'"', b'\\', b',', b'}', b' ', b'\n', b'x', 0xff, 0x01]),
        );
        (prop::collection::vec(field, 7), edit).prop_map(|(f, (how, at, byte))| {
            let record = Equipment {
                schema_version: f[0].clone(),
                id: f[1].clone(),
                label: f[2].clone(),
                configured_local_root: f[3].clone(),
                configured_nas_root: f[4].clone(),
                first_seen_at: f[5].clone(),
                last_modified_at: f[6].clone(),
            };
            let mut bytes = record.to_json().into_bytes();
            let at = at.index(bytes.len());
            match how % 4 {
                0 => {}
                1 => drop(bytes.remove(at)),
                2 => bytes[at] = byte,
                _ => bytes.insert(at, byte),
            }
            bytes
        })
    }

    proptest::proptest! {
        /// The canonical read gives what the scan gives, or leaves the text
        /// to it; and it takes every file this policy writes.
        #[test]
        fn the_canonical_read_agrees_with_the_scan(bytes in stored_equipment_texts()) {
            let scanned = scan_equipment(&bytes);
            proptest::prop_assert_eq!(decode_equipment(&bytes), scanned.clone());
            if let Some(record) = canonical_equipment(&bytes) {
                proptest::prop_assert_eq!(Ok((record, Vec::new())), scanned);
            } else if let Ok((record, kept)) = &scanned {
                let written = record.to_json().into_bytes() == bytes;
                let plain = !String::from_utf8_lossy(&bytes).contains('\\');
                proptest::prop_assert!(!(written && plain && kept.is_empty()), "missed {:?}", record);
            }
        }
    }

    #[test]
    fn a_file_as_this_policy_writes_it_is_read_without_a_scan() {
        const EQUIPMENT_FILE: &str = concat!(
            r#"{"schema_version":"1.0","id":"CONF_01","label":"Confocal é","#,
            r#""configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab","#,
            r#""first_seen_at":"2026-04-17T14:00:00Z","last_modified_at":"2026-04-17T14:00:00Z"}"#
        );
        let record = decode_equipment(EQUIPMENT_FILE.as_bytes()).unwrap().0;
        assert_eq!(
            canonical_equipment(EQUIPMENT_FILE.as_bytes()),
            Some(record.clone())
        );
        for not_canonical in [
            EQUIPMENT_FILE.replace(',', ", "),
            EQUIPMENT_FILE.replace("\"id\"", "\"i\\u0064\""),
            EQUIPMENT_FILE.replace("CONF", "C\\u004fNF"),
            EQUIPMENT_FILE.replace('}', ",\"x\":1}"),
            format!("{EQUIPMENT_FILE}\n"),
            EQUIPMENT_FILE.replace("\"1.0\"", "\"2.0\""),
            EQUIPMENT_FILE.replace("\"1.0\"", "\"\""),
            EQUIPMENT_FILE.replace("\"1.0\"", "1"),
        ] {
            assert_eq!(
                canonical_equipment(not_canonical.as_bytes()),
                None,
                "{not_canonical}"
            );
        }
    }

    #[test]
    fn plain_input_takes_the_scan_and_the_rest_serde_json() {
        let scanned = |text: &str| matches!(input_object(text), Ok(InputObject::Scanned(_)));
        assert!(scanned(
            r#"{"id":"A","label":"L","n":12,"o":{"a":[true,null]}}"#
        ));
        let deep = format!(r#"{{"deep":{}{}}}"#, "[".repeat(65), "]".repeat(65));
        for not_plain in [
            r#"{"id":"\u0041"}"#,
            r#"{"n":1.5}"#,
            r#"{"n":1e2}"#,
            r#"{"n":1234567890123456}"#,
            &deep,
            "[1]",
            "{",
        ] {
            assert!(!scanned(not_plain), "{not_plain}");
        }
    }

    #[test]
    fn records_are_written_as_serde_json_writes_their_map() {
        let every_ascii: String = (0u8..0x80).map(char::from).collect();
        for value in [every_ascii.as_str(), "é\u{2028}\u{10FFFF}\"\\/", ""] {
            let record = Equipment {
                schema_version: "1.0".into(),
                id: value.into(),
                label: value.into(),
                configured_local_root: "r".into(),
                configured_nas_root: value.into(),
                first_seen_at: "f".into(),
                last_modified_at: value.into(),
            };
            assert_eq!(record.to_json(), to_compact_json(&record.to_map()));
            let kept = [(r#""k""#.to_owned(), "[1,{}]".to_owned())];
            assert_eq!(
                record.to_json_with(&kept),
                to_compact_json_with(&record.to_map(), &kept)
            );
            let marker = Marker {
                schema_version: value.into(),
                run_kind: "test".into(),
                created_at: value.into(),
                project: value.into(),
                equipment: "E".into(),
            };
            assert_eq!(marker.to_json(), to_compact_json(&marker.to_map()));
        }
    }

    #[test]
    fn equipment_ids() {
        for ok in ["A", "CONFOCAL_01", "X_", &"A".repeat(32)] {
            assert!(is_equipment_id(ok), "{ok}");
        }
        for bad in ["", "a", "1A", "_A", "A-B", "A B", "Ä", &"A".repeat(33)] {
            assert!(!is_equipment_id(bad), "{bad}");
        }
    }

    #[test]
    fn path_segments() {
        for ok in ["P", "Project 1", "a.b", "...", "é"] {
            assert!(is_path_segment(ok), "{ok}");
        }
        for bad in [
            "", ".", "..", "a/b", "a\\b", " a", "a ", "a\tb", "a\u{0}", "\u{a0}x", "a\u{85}",
        ] {
            assert!(!is_path_segment(bad), "{bad:?}");
        }
    }

    #[test]
    fn input_that_is_not_a_json_object_faults_the_whole_document() {
        for bad in ["", "nope", "[1]", "\"x\"", "null", "{"] {
            assert_eq!(field_of(parse_equipment_input(bad).unwrap_err()), None);
            let e = parse_marker_input(MarkerKind::TestRuns, bad).unwrap_err();
            assert_eq!(field_of(e), None);
        }
    }

    #[test]
    fn the_first_invalid_field_in_file_order_is_reported() {
        let e = parse_equipment_input(r#"{"label":5,"id":"bad"}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("id"));
        let e = parse_equipment_input(r#"{"id":"A","label":"L","configured_nas_root":1}"#);
        assert_eq!(
            field_of(e.unwrap_err()).as_deref(),
            Some("configured_local_root")
        );
        let e = parse_marker_input(
            MarkerKind::Runs,
            r#"{"equipment":"bad","project":"..","created_at":"x","run_kind":"test"}"#,
        );
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("run_kind"));
        let e = parse_marker_input(
            MarkerKind::Runs,
            r#"{"equipment":"bad","project":"..","created_at":"x"}"#,
        );
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("created_at"));
        let e = parse_marker_input(MarkerKind::Runs, r#"{"equipment":"bad","project":".."}"#);
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("project"));
        let e = parse_marker_input(MarkerKind::Runs, r#"{"equipment":"bad","project":"P"}"#);
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("equipment"));
    }

    #[test]
    fn marker_input_run_kind_null_means_absent_and_schema_version_is_ignored() {
        let m = parse_marker_input(
            MarkerKind::TestRuns,
            r#"{"run_kind":null,"schema_version":"9.9","project":"P","equipment":"E","x":1}"#,
        )
        .unwrap();
        assert_eq!(m.created_at, None);
        let e = parse_marker_input(
            MarkerKind::TestRuns,
            r#"{"run_kind":1,"project":"P","equipment":"E"}"#,
        );
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("run_kind"));
    }

    #[test]
    fn rewrite_keeps_only_well_formed_newer_minors() {
        for (disk, kept) in [
            ("1.5", "1.5"),
            ("1.99", "1.99"),
            ("1.0", "1.0"),
            ("1", "1.0"),
            ("01.5", "1.0"),
            ("1.5.3", "1.0"),
            ("1.", "1.0"),
            ("1.05", "1.0"),
            ("1.x", "1.0"),
        ] {
            assert_eq!(rewrite_schema_version(disk), kept, "{disk}");
        }
    }

    #[test]
    fn stored_files_are_gated_before_their_shape_is_checked() {
        let e = decode_equipment(br#"{"schema_version":"2.0"}"#).unwrap_err();
        assert!(
            matches!(e, Error::SchemaMajorMismatch { ref found_json, .. } if found_json == "\"2.0\"")
        );
        let e = decode_equipment(br#"{"schema_version": 2.50 }"#).unwrap_err();
        assert!(
            matches!(e, Error::SchemaMajorMismatch { ref found_json, .. } if found_json == "2.50")
        );
        let e = decode_equipment(br#"{"id":"A"}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("schema_version"));
        let e = decode_equipment(br#"{"schema_version":1}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("schema_version"));
        let e = decode_equipment(br#"{"schema_version":"1.0","id":"A"}"#).unwrap_err();
        assert_eq!(field_of(e).as_deref(), Some("label"));
        // Found by the fuzz target stored_file: a double rounded these
        // numbers across a major (fuzz/regressions/stored_file).
        let e = decode_equipment(br#"{"schema_version":1.99999999999999999999,"id":"A"}"#);
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("schema_version"));
        let e = decode_equipment(br#"{"schema_version":0.99999999999999999999}"#).unwrap_err();
        assert!(
            matches!(e, Error::SchemaMajorMismatch { ref found_json, .. } if found_json == "0.99999999999999999999"),
            "{e:?}"
        );
        assert!(matches!(decode_equipment(b"{nope"), Err(Error::Decode(_))));
        assert!(matches!(
            decode_equipment(b"[1e400]"),
            Err(Error::Decode(_))
        ));
        assert_eq!(field_of(decode_equipment(b"[]").unwrap_err()), None);
        let e = decode_equipment(br#"{"schema_version": [ 2 ] }"#).unwrap_err();
        assert!(
            matches!(e, Error::SchemaMajorMismatch { ref found_json, .. } if found_json == "[ 2 ]"),
            "{e:?}"
        );
    }

    const RECORD: &str = r#""schema_version":"1.4","id":"A","label":"L","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"f","last_modified_at":"m""#;

    #[test]
    fn unknown_fields_keep_their_stored_text_without_whitespace() {
        let bytes = format!(
            r#"{{ {RECORD}, "big" : 18500000000000000000 ,
            "s": " a b \" c ", "o" : {{ "e" : [ 1e2 , -0 ] }}, "big": 123456789012345678901234567890 }}"#
        );
        let (_, kept) = decode_equipment(bytes.as_bytes()).unwrap();
        let kept_ref: Vec<(&str, &str)> =
            kept.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            kept_ref,
            [
                (r#""big""#, "123456789012345678901234567890"),
                (r#""s""#, r#"" a b \" c ""#),
                (r#""o""#, r#"{"e":[1e2,-0]}"#),
            ]
        );
        let mut known = Map::new();
        known.insert("k".into(), Value::from("v"));
        assert_eq!(
            to_compact_json_with(&known, &kept[2..]),
            r#"{"k":"v","o":{"e":[1e2,-0]}}"#
        );
        assert_eq!(
            to_compact_json_with(&Map::new(), &kept[2..]),
            r#"{"o":{"e":[1e2,-0]}}"#
        );
    }

    #[test]
    fn p3_deep_nesting_and_lone_surrogates_are_json_and_kept_exactly() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let bytes =
            format!(r#"{{{RECORD},"deep":{deep},"\ud800":"\udc00x\uD83D","o":{{"\uDFFF":[]}}}}"#);
        let (record, kept) = decode_equipment(bytes.as_bytes()).unwrap();
        assert_eq!(record.schema_version, "1.4");
        assert_eq!(
            kept,
            [
                (r#""deep""#.to_owned(), deep),
                (r#""\ud800""#.to_owned(), r#""\udc00x\uD83D""#.to_owned()),
                (r#""o""#.to_owned(), r#"{"\uDFFF":[]}"#.to_owned()),
            ]
        );
    }

    #[test]
    fn p3_a_lone_surrogate_in_a_known_field_reads_as_the_replacement_character() {
        let bytes = br#"{"schema_version":"1.0","id":"A","label":"a\ud800b\ud83d\ude00","configured_local_root":"\u00e9\/","configured_nas_root":"n","first_seen_at":"f","last_modified_at":"m"}"#;
        let (record, _) = decode_equipment(bytes).unwrap();
        assert_eq!(record.label, "a\u{FFFD}b\u{1F600}");
        assert_eq!(record.configured_local_root, "\u{e9}/");
    }

    #[test]
    fn p3_a_key_spelt_with_escapes_is_that_key_and_the_last_of_repeated_keys_wins() {
        let bytes = br#"{"schema_version":"1.0","\u0069d":"A","id":"B","label":"L","configured_local_root":"r","configured_nas_root":"n","first_seen_at":"f","last_modified_at":"m","x":1,"\ud800":2,"x":3,"\uD800":4}"#;
        let (record, kept) = decode_equipment(bytes).unwrap();
        assert_eq!(record.id, "B");
        // In the first one's place, as Python's json.loads keeps them.
        assert_eq!(
            kept,
            [
                (r#""x""#.to_owned(), "3".to_owned()),
                (r#""\ud800""#.to_owned(), "4".to_owned()),
            ]
        );
    }

    #[test]
    fn p3_text_that_is_not_json_is_still_a_decode_error() {
        for bad in [
            &b"{nope"[..],
            b"",
            b"   ",
            b"{\"a\":1,}",
            b"[1,]",
            b"{\"a\" 1}",
            b"{\"a\":1 \"b\":2}",
            b"{1:2}",
            b"[01]",
            b"[1.]",
            b"[.5]",
            b"[1e]",
            b"[-]",
            b"[+1]",
            b"[NaN]",
            b"[Infinity]",
            b"[-Infinity]",
            b"[1e400]",
            b"[-1e309]",
            b"[\"\\x\"]",
            b"[\"\\u12\"]",
            b"[\"\\u12G4\"]",
            b"[\"a\tb\"]",
            b"[\"open]",
            b"[tru]",
            b"[nul]",
            b"{} {}",
            b"[1]]",
            b"[[1]",
            b"\xef\xbb\xbf{}",
            b"[\"\xff\"]",
            b"{\"a\":[}",
        ] {
            assert!(
                matches!(decode_equipment(bad), Err(Error::Decode(_))),
                "{:?}: {:?}",
                String::from_utf8_lossy(bad),
                decode_equipment(bad)
            );
        }
        let Err(Error::Decode(message)) = decode_equipment(b"{\n  \"a\": tru }") else {
            panic!()
        };
        assert!(message.contains("line 2 column 8"), "{message}");
    }

    #[test]
    fn p3_half_a_million_levels_of_nesting_scan_without_recursion() {
        let pairs = 1 << 18; // an array and an object each
        let bytes = format!(
            r#"{{{RECORD},"deep":{}0{}}}"#,
            "[{\"a\":".repeat(pairs),
            "}]".repeat(pairs)
        );
        let (_, kept) = decode_equipment(bytes.as_bytes()).unwrap();
        assert_eq!(kept[0].1.len(), bytes.len() - RECORD.len() - 10);
        // One level short: not JSON.
        let torn = &bytes.as_bytes()[..bytes.len() - 3];
        assert!(matches!(decode_equipment(torn), Err(Error::Decode(_))));
    }

    #[test]
    fn stored_markers_default_and_check_their_run_kind() {
        let m = decode_marker(
            MarkerKind::Runs,
            br#"{"schema_version":"1.3","created_at":"whenever","project":"P","equipment":"E"}"#,
        )
        .unwrap();
        assert_eq!(m.run_kind, "experimental");
        assert_eq!(m.created_at, "whenever");
        let e = decode_marker(
            MarkerKind::Runs,
            br#"{"schema_version":"1.0","run_kind":"test","created_at":"t","project":"P","equipment":"E"}"#,
        );
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("run_kind"));
        let e = decode_marker(
            MarkerKind::Runs,
            br#"{"schema_version":"1.0","run_kind":null,"created_at":"t","project":"P","equipment":"E"}"#,
        );
        assert_eq!(field_of(e.unwrap_err()).as_deref(), Some("run_kind"));
    }
}
