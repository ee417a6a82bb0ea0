//! The three files' records: their known fields in file order, decoding
//! what is on disk (gate first, then shape), and validating caller input.

use crate::gate::{self, Stored};
use crate::{time, Error};
use serde_json::{Map, Value};

/// The schema major this policy reads and writes.
pub const MAJOR: u32 = 1;

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

    /// The known fields as a JSON object, in file order.
    pub fn to_map(&self) -> Map<String, Value> {
        to_map(&Self::FIELDS, &self.values())
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

    pub fn to_map(&self) -> Map<String, Value> {
        let values = [
            &self.schema_version,
            &self.run_kind,
            &self.created_at,
            &self.project,
            &self.equipment,
        ];
        to_map(&Self::FIELDS, &values)
    }
}

fn to_map(fields: &[&str], values: &[&String]) -> Map<String, Value> {
    fields
        .iter()
        .zip(values)
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).clone())))
        .collect()
}

/// Compact JSON (no spaces, no trailing newline), keys in insertion order.
pub fn to_compact_json(map: &Map<String, Value>) -> String {
    Value::Object(map.clone()).to_string()
}

/// The fields of a stored JSON object (`map`, decoded from `bytes`) whose
/// keys are not in `known`, in file order, each with its JSON text exactly
/// as stored but for insignificant whitespace. A rewrite that keeps them
/// this way never rounds a number this policy cannot hold exactly (a
/// 30-digit serial, `1e400` aside: that is not a file it reads).
pub fn unknown_fields_verbatim(
    bytes: &[u8],
    map: &Map<String, Value>,
    known: &[&str],
) -> Vec<(String, String)> {
    type RawMap = std::collections::HashMap<String, Box<serde_json::value::RawValue>>;
    let raw = serde_json::from_slice::<RawMap>(bytes).unwrap_or_default();
    map.iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(key, value)| {
            let text = raw
                .get(key)
                .map(|v| strip_whitespace(v.get()))
                .unwrap_or_else(|| value.to_string());
            (key.clone(), text)
        })
        .collect()
}

/// Compact JSON of `map`, then the `extra` fields given as JSON text.
pub fn to_compact_json_with(map: &Map<String, Value>, extra: &[(String, String)]) -> String {
    let mut out = to_compact_json(map);
    if extra.is_empty() {
        return out;
    }
    out.pop(); // the closing brace
    for (key, text) in extra {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&Value::String(key.clone()).to_string());
        out.push(':');
        out.push_str(text);
    }
    out.push('}');
    out
}

/// Valid JSON text without the whitespace between its tokens.
fn strip_whitespace(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// On disk: JSON, then the schema gate, then the shape.
// ---------------------------------------------------------------------------

/// Decodes a stored file into its JSON object: `decode_error` if it is not
/// JSON, `schema_major_mismatch` for another major (checked before the
/// shape), `validation_error` if it is not an object or has no version.
pub fn stored_object(bytes: &[u8]) -> Result<Map<String, Value>, Error> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Error::Decode(format!("not JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::invalid(None, "not a JSON object"));
    };
    let version = map.get("schema_version");
    let stored = match version {
        // A number's major is that of its digits as stored, not of a double.
        Some(Value::Number(_)) => {
            let text = stored_text(bytes, "schema_version", version);
            if gate::number_major_is(&text, MAJOR) {
                Stored::SameMajor
            } else {
                Stored::OtherMajor
            }
        }
        _ => gate::classify(version, MAJOR),
    };
    match stored {
        Stored::Missing => Err(Error::invalid(
            Some("schema_version"),
            "schema_version is missing or empty",
        )),
        Stored::OtherMajor => {
            let found = stored_text(bytes, "schema_version", map.get("schema_version"));
            Err(Error::mismatch(MAJOR, found))
        }
        Stored::SameMajor => Ok(map),
    }
}

/// The JSON text of `key` exactly as stored (`2.50` stays `2.50`); the
/// re-serialised `value` if the raw text cannot be had.
fn stored_text(bytes: &[u8], key: &str, value: Option<&Value>) -> String {
    type RawMap = std::collections::HashMap<String, Box<serde_json::value::RawValue>>;
    serde_json::from_slice::<RawMap>(bytes)
        .ok()
        .and_then(|raw| raw.get(key).map(|v| v.get().to_owned()))
        .unwrap_or_else(|| value.unwrap_or(&Value::Null).to_string())
}

/// A stored string field: present and a string (types, not formats).
fn stored_string(map: &Map<String, Value>, field: &str) -> Result<String, Error> {
    match map.get(field) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(Error::invalid(
            Some(field),
            format!("{field} must be a string, found {}", type_name(other)),
        )),
        None => Err(Error::invalid(Some(field), format!("{field} is missing"))),
    }
}

/// Decodes a stored `equipment.json`; also returns the whole object, so that
/// a rewrite can keep the fields this policy does not know.
pub fn decode_equipment(bytes: &[u8]) -> Result<(Equipment, Map<String, Value>), Error> {
    let map = stored_object(bytes)?;
    let [schema_version, id, label, local, nas, first, last] =
        Equipment::FIELDS.map(|f| stored_string(&map, f));
    let record = Equipment {
        schema_version: schema_version?,
        id: id?,
        label: label?,
        configured_local_root: local?,
        configured_nas_root: nas?,
        first_seen_at: first?,
        last_modified_at: last?,
    };
    Ok((record, map))
}

/// Decodes a stored marker. A missing `run_kind` reads as the marker type's
/// (the Python original omits it when it is the default); a contradicting
/// one is a validation error.
pub fn decode_marker(kind: MarkerKind, bytes: &[u8]) -> Result<Marker, Error> {
    let map = stored_object(bytes)?;
    let schema_version = stored_string(&map, "schema_version")?;
    let run_kind = match map.get("run_kind") {
        None => kind.run_kind().to_owned(),
        Some(_) => stored_string(&map, "run_kind")?,
    };
    if run_kind != kind.run_kind() {
        return Err(wrong_run_kind(kind, &run_kind));
    }
    Ok(Marker {
        schema_version,
        run_kind,
        created_at: stored_string(&map, "created_at")?,
        project: stored_string(&map, "project")?,
        equipment: stored_string(&map, "equipment")?,
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

/// The caller's JSON object. Input that is not JSON, or not an object, is a
/// validation error of the whole document (`decode_error` is for disk only).
fn input_object(input_json: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str(input_json) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(Error::invalid(
            None,
            format!("input must be a JSON object, found {}", type_name(&other)),
        )),
        Err(e) => Err(Error::invalid(None, format!("input is not JSON: {e}"))),
    }
}

/// A required string field of the input.
fn input_string(map: &Map<String, Value>, field: &str) -> Result<String, Error> {
    stored_string(map, field)
}

/// Equipment input: `id`, `label`, `configured_local_root`,
/// `configured_nas_root` (strings); timestamps, `schema_version` and unknown
/// keys are ignored.
pub fn parse_equipment_input(input_json: &str) -> Result<EquipmentInput, Error> {
    let map = input_object(input_json)?;
    let id = input_string(&map, "id")?;
    check_equipment_id("id", &id)?;
    Ok(EquipmentInput {
        id,
        label: input_string(&map, "label")?,
        configured_local_root: input_string(&map, "configured_local_root")?,
        configured_nas_root: input_string(&map, "configured_nas_root")?,
    })
}

/// Marker input, checked in file order: `run_kind` (absent or null, or the
/// marker type's), `created_at` (absent/null, or a real time), `project`
/// (a safe path segment), `equipment` (an equipment id).
pub fn parse_marker_input(kind: MarkerKind, input_json: &str) -> Result<MarkerInput, Error> {
    let map = input_object(input_json)?;
    match map.get("run_kind") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == kind.run_kind() => {}
        Some(Value::String(s)) => return Err(wrong_run_kind(kind, s)),
        Some(other) => {
            return Err(Error::invalid(
                Some("run_kind"),
                format!("run_kind must be a string, found {}", type_name(other)),
            ))
        }
    }
    let created_at = match map.get("created_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if time::is_real_time(s) => Some(s.clone()),
        Some(Value::String(s)) => {
            return Err(Error::invalid(
                Some("created_at"),
                format!("created_at must be a real UTC time YYYY-MM-DDTHH:MM:SSZ, found {s:?}"),
            ))
        }
        Some(other) => {
            return Err(Error::invalid(
                Some("created_at"),
                format!("created_at must be a string, found {}", type_name(other)),
            ))
        }
    };
    let project = input_string(&map, "project")?;
    check_path_segment("project", &project)?;
    let equipment = input_string(&map, "equipment")?;
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
    }

    #[test]
    fn unknown_fields_keep_their_stored_text_without_whitespace() {
        let bytes = br#"{ "schema_version" : "1.0", "big" : 18500000000000000000 ,
            "s": " a b \" c ", "o" : { "e" : [ 1e2 , -0 ] }, "big": 123456789012345678901234567890 }"#;
        let map = stored_object(bytes).unwrap();
        let kept = unknown_fields_verbatim(bytes, &map, &Equipment::FIELDS);
        assert_eq!(
            kept,
            [
                (
                    "big".to_owned(),
                    "123456789012345678901234567890".to_owned()
                ),
                ("s".to_owned(), r#"" a b \" c ""#.to_owned()),
                ("o".to_owned(), r#"{"e":[1e2,-0]}"#.to_owned()),
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
