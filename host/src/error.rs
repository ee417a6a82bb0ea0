//! The errors users see (docs/spec.md §4): a code, an exit status, and one
//! JSON object for the CLI's last stderr line. The policy's errors arrive
//! as the interface's `cache-error`, converted here and nowhere else.

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::interface::latest::CacheError;

/// A failed call. Every variant but [`Error::Policy`] is a domain outcome the
/// policy or the storage reported; `Policy` means the component itself failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The file to read does not exist.
    #[error("{message}")]
    NotFound {
        /// What and where.
        message: String,
    },
    /// Another (or no) schema major on disk, or refused by the gate.
    #[error("{message}")]
    SchemaMajorMismatch {
        /// The major this reader accepts.
        expected_major: u32,
        /// The offending value as JSON text, exactly as stored (`"2.0"`, `2`).
        found_json: String,
        /// What and where.
        message: String,
    },
    /// The file on disk is not JSON.
    #[error("{message}")]
    Decode {
        /// What and where.
        message: String,
    },
    /// Wrong shape or invalid input.
    #[error("{message}")]
    Validation {
        /// The field at fault; `None` when the whole document is.
        field: Option<String>,
        /// What and where.
        message: String,
    },
    /// The path leaves the root.
    #[error("{message}")]
    AccessDenied {
        /// What and where.
        message: String,
    },
    /// The lock was not had in time.
    #[error("{message}")]
    LockTimeout {
        /// What and where.
        message: String,
    },
    /// The policy component trapped, ran out of time or memory, or does not
    /// fit the interface.
    #[error("{message}")]
    Policy {
        /// What happened, with the guest's panic message when there was one.
        message: String,
    },
    /// Anything else from the file system.
    #[error("{message}")]
    Io {
        /// The step, the file and the OS error.
        message: String,
    },
}

impl Error {
    /// Every code with its CLI exit status (docs/spec.md §4), in the spec's
    /// order: the one table the CLI, the JSON and the Python package read.
    pub const CODES: [(&'static str, u8); 8] = [
        ("not_found", 3),
        ("schema_major_mismatch", 4),
        ("decode_error", 5),
        ("validation_error", 6),
        ("access_denied", 7),
        ("lock_timeout", 8),
        ("policy_error", 9),
        ("io_error", 1),
    ];

    /// This error's row of [`Error::CODES`].
    fn row(&self) -> (&'static str, u8) {
        Self::CODES[match self {
            Error::NotFound { .. } => 0,
            Error::SchemaMajorMismatch { .. } => 1,
            Error::Decode { .. } => 2,
            Error::Validation { .. } => 3,
            Error::AccessDenied { .. } => 4,
            Error::LockTimeout { .. } => 5,
            Error::Policy { .. } => 6,
            Error::Io { .. } => 7,
        }]
    }

    /// The code, e.g. `"schema_major_mismatch"`.
    pub fn code(&self) -> &'static str {
        self.row().0
    }

    /// The CLI's exit status for this error.
    pub fn exit_status(&self) -> u8 {
        self.row().1
    }

    /// The human-readable message.
    pub fn message(&self) -> &str {
        match self {
            Error::NotFound { message }
            | Error::SchemaMajorMismatch { message, .. }
            | Error::Decode { message }
            | Error::Validation { message, .. }
            | Error::AccessDenied { message }
            | Error::LockTimeout { message }
            | Error::Policy { message }
            | Error::Io { message } => message,
        }
    }

    /// The field at fault: `"schema_version"` for a mismatch, the input or
    /// stored field for a validation error.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::SchemaMajorMismatch { .. } => Some("schema_version"),
            Error::Validation { field, .. } => field.as_deref(),
            _ => None,
        }
    }

    /// `found` of a mismatch as a JSON value (`"2.0"`, `2`, `null`).
    pub fn found(&self) -> Option<Value> {
        match self {
            Error::SchemaMajorMismatch { found_json, .. } => {
                Some(serde_json::from_str(found_json).unwrap_or(Value::Null))
            }
            _ => None,
        }
    }

    /// One compact JSON object: `code`, then `field` / `expected_major` /
    /// `found` where the code carries them, then `message`. `found` is the
    /// stored JSON text verbatim.
    pub fn to_json(&self) -> String {
        let mut out = format!("{{\"code\":\"{}\"", self.code());
        match self {
            Error::SchemaMajorMismatch {
                expected_major,
                found_json,
                ..
            } => {
                let found = RawValue::from_string(found_json.clone())
                    .map(|raw| raw.get().to_owned())
                    .unwrap_or_else(|_| json!(found_json).to_string());
                out += &format!(
                    ",\"field\":\"schema_version\",\"expected_major\":{expected_major},\"found\":{found}"
                );
            }
            Error::Validation { field, .. } => {
                out += &format!(",\"field\":{}", json!(field));
            }
            _ => {}
        }
        out += &format!(",\"message\":{}}}", json!(self.message()));
        out
    }

    pub(crate) fn policy(message: impl Into<String>) -> Self {
        Error::Policy {
            message: message.into(),
        }
    }

    pub(crate) fn io(message: impl Into<String>) -> Self {
        Error::Io {
            message: message.into(),
        }
    }
}

impl From<CacheError> for Error {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::NotFound(message) => Error::NotFound { message },
            CacheError::SchemaMajorMismatch(m) => Error::SchemaMajorMismatch {
                expected_major: m.expected_major,
                found_json: m.found_json,
                message: m.message,
            },
            CacheError::DecodeError(message) => Error::Decode { message },
            CacheError::ValidationError(i) => Error::Validation {
                field: i.field,
                message: i.message,
            },
            CacheError::AccessDenied(message) => Error::AccessDenied { message },
            CacheError::LockTimeout(message) => Error::LockTimeout { message },
            CacheError::IoError(message) => Error::Io { message },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_one_exit_status_and_io_error_is_1() {
        let mut codes: Vec<_> = Error::CODES.iter().map(|(c, _)| *c).collect();
        let mut statuses: Vec<_> = Error::CODES.iter().map(|(_, s)| *s).collect();
        codes.dedup();
        statuses.sort();
        statuses.dedup();
        assert_eq!((codes.len(), statuses.len()), (8, 8));
        assert_eq!(Error::io("x").exit_status(), 1);
        assert_eq!(Error::policy("x").code(), "policy_error");
    }

    #[test]
    fn mismatch_json_keeps_found_verbatim() {
        let e = Error::SchemaMajorMismatch {
            expected_major: 1,
            found_json: "2.50".into(),
            message: "m".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"code":"schema_major_mismatch","field":"schema_version","expected_major":1,"found":2.50,"message":"m"}"#
        );
        assert_eq!(e.exit_status(), 4);
    }

    #[test]
    fn validation_json_carries_a_null_field_for_the_whole_document() {
        let e = Error::Validation {
            field: None,
            message: "not JSON".into(),
        };
        assert_eq!(
            e.to_json(),
            r#"{"code":"validation_error","field":null,"message":"not JSON"}"#
        );
        let v: Value = serde_json::from_str(&Error::io("x \"y\"").to_json()).unwrap();
        assert_eq!(v, json!({"code": "io_error", "message": "x \"y\""}));
    }
}
