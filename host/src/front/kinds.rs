//! Record kinds by name (interface 1.1): the generic calls any kind of the
//! serving policy answers to, and typed conveniences for the kinds this
//! crate knows (creation.json, ingest.json, readme_fields.json, log lines).
//!
//! Records are `serde_json::Value`s with the keys in file order: the policy
//! owns the schemas, so a field a newer policy adds comes through unchanged.

use serde_json::Value;

use crate::interface::latest::{Access, Kind};
use crate::policy::KindCall;
use crate::{Cache, Error};

/// A write-once create: whether this call wrote the file, and the record as
/// on disk (as written, or as found; `None` when what is there is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    /// `false`: the file existed, and nothing was written.
    pub written: bool,
    /// The file's record.
    pub record: Option<Value>,
}

/// One log line appended: the file it went to and the line (no newline).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Appended {
    /// The log file, relative to the root or absolute as given.
    pub path: String,
    /// The line as written, without its newline.
    pub line: String,
}

/// An update that did not happen: the cache refused it, or the caller's
/// step did (its error, as it returned it). Either way nothing was written.
#[derive(Debug)]
pub enum UpdateError<E> {
    /// The cache's error (the file, the lock, the policy's validation of
    /// the step's record...).
    Cache(Error),
    /// The caller's step failed.
    Step(E),
}

impl<E: std::fmt::Display> std::fmt::Display for UpdateError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpdateError::Cache(e) => e.fmt(f),
            UpdateError::Step(e) => write!(f, "the update's step failed: {e}"),
        }
    }
}

impl<E: std::fmt::Debug + std::fmt::Display> std::error::Error for UpdateError<E> {}

impl From<Error> for UpdateError<std::convert::Infallible> {
    fn from(e: Error) -> Self {
        UpdateError::Cache(e)
    }
}

impl Cache {
    /// The record kinds the serving policy owns, with their operations.
    /// A policy built for interface 1.0 has none: `policy_error`.
    pub fn kinds(&self) -> Result<Vec<Kind>, Error> {
        self.policy().kinds(&self.settings)
    }

    /// Runs `operation` of `kind` on `path` with `input_json` (a JSON
    /// value; `"null"` for an operation that takes none; `path` empty for
    /// one that touches no file); the result as JSON text, exactly as the
    /// policy gives it (for a write, the file as written). An operation of
    /// access `update` needs [`Cache::update`].
    pub fn run(
        &self,
        kind: &str,
        operation: &str,
        path: &str,
        input_json: &str,
    ) -> Result<String, Error> {
        let call = KindCall {
            kind,
            operation,
            path,
            input_json,
        };
        self.policy()
            .run_kind(&self.root, &self.settings, call, None)
    }

    /// Runs the `update` operation of `kind` on `path`: under the file's
    /// lock, the policy hands `step` the record read (every known field,
    /// migrated, then the unknown ones), and writes what `step` leaves,
    /// once it passed the policy's checks. If `step` fails, nothing is
    /// written and its error comes back as [`UpdateError::Step`]. Returns
    /// the record as written.
    ///
    /// The record is a `serde_json::Value`. A record it cannot hold
    /// exactly is refused, nothing written: an integer past 64 bits (a
    /// `Value` would make it a float, and the write would change a field
    /// nobody asked to change), a lone surrogate, nesting past 128 levels.
    /// [`Cache::update_json`] hands over the text, which holds them all.
    pub fn update<E>(
        &self,
        kind: &str,
        path: &str,
        mut step: impl FnMut(&mut Value) -> Result<(), E>,
    ) -> Result<Value, UpdateError<E>> {
        // The step's own error, or None: the record could not be a Value.
        let mut unrepresentable = String::new();
        let written = self.update_json(kind, path, |record| {
            if let Some(number) = integer_past_64_bits(&record) {
                unrepresentable = format!("the integer {number} does not fit in 64 bits");
                return Err(None);
            }
            let mut record: Value = serde_json::from_str(&record).map_err(|e| {
                unrepresentable = e.to_string();
                None
            })?;
            step(&mut record).map_err(Some)?;
            Ok(record.to_string())
        });
        match written {
            Ok(document) => parse(&document).map_err(UpdateError::Cache),
            Err(UpdateError::Step(Some(e))) => Err(UpdateError::Step(e)),
            Err(UpdateError::Step(None)) => Err(UpdateError::Cache(Error::Validation {
                field: None,
                message: format!(
                    "{path}: the record cannot be handed over as a serde_json::Value \
                     ({unrepresentable}); nothing written (Cache::update_json takes it as text)"
                ),
            })),
            Err(UpdateError::Cache(e)) => Err(UpdateError::Cache(e)),
        }
    }

    /// [`Cache::update`] with the record as JSON text, in and out, exactly
    /// as the policy gives it (numbers and escapes as stored): `step` gets
    /// the record and returns the one to write. Returns the file as written.
    pub fn update_json<E>(
        &self,
        kind: &str,
        path: &str,
        mut step: impl FnMut(String) -> Result<String, E>,
    ) -> Result<String, UpdateError<E>> {
        let mut failed = None;
        let mut json_step = |record_json: String| match step(record_json) {
            Ok(record) => Some(record),
            Err(e) => {
                failed = Some(e);
                None
            }
        };
        let call = KindCall {
            kind,
            operation: "update",
            path,
            input_json: "null",
        };
        let result = self
            .policy()
            .run_kind(&self.root, &self.settings, call, Some(&mut json_step));
        match (failed, result) {
            (Some(e), _) => Err(UpdateError::Step(e)),
            (None, result) => result.map_err(UpdateError::Cache),
        }
    }

    fn run_value(&self, kind: &str, op: &str, path: &str, input: &str) -> Result<Value, Error> {
        parse(&self.run(kind, op, path, input)?)
    }

    fn create(&self, kind: &str, path: &str, record_json: &str) -> Result<Created, Error> {
        let mut result = self.run_value(kind, "create", path, record_json)?;
        let written = result["written"].as_bool().unwrap_or(false);
        let record = result
            .get_mut(kind)
            .map(Value::take)
            .filter(|r| !r.is_null());
        Ok(Created { written, record })
    }

    /// Creates `creation.json` once, from its record; a file already there
    /// is left as it is (`written: false`).
    pub fn create_creation(&self, path: &str, record_json: &str) -> Result<Created, Error> {
        self.create("creation", path, record_json)
    }

    /// Updates `creation.json` under its lock with `step` (see [`Cache::update`]).
    pub fn update_creation<E>(
        &self,
        path: &str,
        step: impl FnMut(&mut Value) -> Result<(), E>,
    ) -> Result<Value, UpdateError<E>> {
        self.update("creation", path, step)
    }

    /// Reads `creation.json` (no lock): every known field, migrated from an
    /// older minor.
    pub fn read_creation(&self, path: &str) -> Result<Value, Error> {
        self.run_value("creation", "read", path, "null")
    }

    /// The active entries of a `validation_overrides` list:
    /// `{"validation_overrides":[...],"now":"<time>"?}` in.
    pub fn active_overrides(&self, input_json: &str) -> Result<Value, Error> {
        self.run_value("creation", "active-overrides", "", input_json)
    }

    /// Creates `ingest.json` once, from its record (see [`Cache::create_creation`]).
    pub fn create_ingest(&self, path: &str, record_json: &str) -> Result<Created, Error> {
        self.create("ingest", path, record_json)
    }

    /// Appends a state transition to `ingest.json` under its lock:
    /// `{"state":...,"host":...?,...}` in; the record as written.
    pub fn transition_ingest(&self, path: &str, transition_json: &str) -> Result<Value, Error> {
        self.run_value("ingest", "transition", path, transition_json)
    }

    /// Reads `ingest.json` (no lock).
    pub fn read_ingest(&self, path: &str) -> Result<Value, Error> {
        self.run_value("ingest", "read", path, "null")
    }

    /// Writes `readme_fields.json` (an overwrite, stamped); the record as written.
    pub fn write_readme_fields(&self, path: &str, record_json: &str) -> Result<Value, Error> {
        self.run_value("readme-fields", "write", path, record_json)
    }

    /// Reads `readme_fields.json` (no lock).
    pub fn read_readme_fields(&self, path: &str) -> Result<Value, Error> {
        self.run_value("readme-fields", "read", path, "null")
    }

    /// Formats one log line from its fields (`level`, `message`, tags...);
    /// no newline.
    pub fn format_log_line(&self, fields_json: &str) -> Result<String, Error> {
        #[derive(serde::Deserialize)]
        struct Formatted {
            line: String,
        }
        let formatted: Formatted = parse(&self.run("log", "format", "", fields_json)?)?;
        Ok(formatted.line)
    }

    /// Appends one line to a log: `path` is the log file, or the folder of
    /// `wizard.<hostname>.log`; `input_json` a formatted `{"line":...}` or
    /// the fields of [`Cache::format_log_line`].
    pub fn append_log_line(&self, path: &str, input_json: &str) -> Result<Appended, Error> {
        parse(&self.run("log", "append", path, input_json)?)
    }
}

/// Kinds as JSON, for a person or a script: names, files, schema
/// versions, operations with their access (`none`, `read`, `write`,
/// `update`, `append`) and whether they take input.
pub fn kinds_to_json(kinds: &[Kind]) -> Value {
    let access = |a: Access| match a {
        Access::None => "none",
        Access::Read => "read",
        Access::Write => "write",
        Access::Update => "update",
        Access::Append => "append",
    };
    Value::Array(
        kinds
            .iter()
            .map(|k| {
                serde_json::json!({
                    "name": k.name,
                    "file_name": k.file_name,
                    "schema_version": k.schema_version,
                    "summary": k.summary,
                    "operations": k.operations.iter().map(|o| serde_json::json!({
                        "name": o.name,
                        "access": access(o.access),
                        "takes_input": o.takes_input,
                        "summary": o.summary,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// The first integer of the JSON `text` (outside its strings) that no
/// `i64` or `u64` holds: `serde_json::Value` would keep only a float of it.
fn integer_past_64_bits(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while bytes.get(i).is_some_and(|&b| b != b'"') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while bytes
                    .get(i)
                    .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                let number = &text[start..i];
                let integer = !number.contains(['.', 'e', 'E']);
                if integer && number.parse::<i64>().is_err() && number.parse::<u64>().is_err() {
                    return Some(number);
                }
            }
            _ => i += 1,
        }
    }
    None
}

/// The policy's result, as data (a `Value`, or the shape a typed call expects).
fn parse<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| {
        Error::policy(format!(
            "the policy's result is not what this call expects: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::integer_past_64_bits;

    #[test]
    fn integers_past_64_bits_are_found_outside_strings_only() {
        assert_eq!(
            integer_past_64_bits(r#"{"a":1,"b":-9223372036854775808}"#),
            None
        );
        assert_eq!(integer_past_64_bits(r#"{"a":18446744073709551615}"#), None);
        assert_eq!(
            integer_past_64_bits(r#"{"a":18446744073709551616}"#),
            Some("18446744073709551616")
        );
        assert_eq!(
            integer_past_64_bits(r#"{"a":[-9223372036854775809]}"#),
            Some("-9223372036854775809")
        );
        // Floats are floats to every reader; digits inside strings are text.
        assert_eq!(
            integer_past_64_bits(r#"{"a":1e400,"b":0.100000000000000000001}"#),
            None
        );
        assert_eq!(
            integer_past_64_bits(r#"{"a":"99999999999999999999\"9"}"#),
            None
        );
        assert_eq!(integer_past_64_bits(r#"{"99999999999999999999":1}"#), None);
    }
}
