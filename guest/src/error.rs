//! The policy's error: the `cache-error` variant of the WIT, natively.

/// Every outcome that is not a success (docs/spec.md §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    NotFound(String),
    SchemaMajorMismatch {
        expected_major: u32,
        /// The offending value as JSON text, exactly as stored.
        found_json: String,
        message: String,
    },
    Decode(String),
    Validation {
        field: Option<String>,
        message: String,
    },
    AccessDenied(String),
    LockTimeout(String),
    Io(String),
}

impl Error {
    /// A validation error naming `field` (`None`: the whole document).
    pub fn invalid(field: Option<&str>, message: impl Into<String>) -> Self {
        Error::Validation {
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A schema-major mismatch for a value given as JSON text.
    pub fn mismatch(expected_major: u32, found_json: String) -> Self {
        let message =
            format!("schema major mismatch: expected major {expected_major}, found {found_json}");
        Error::SchemaMajorMismatch {
            expected_major,
            found_json,
            message,
        }
    }

    /// The same error with `context` (usually the file) in front of its message.
    pub fn context(self, context: &str) -> Self {
        let add = |m: String| format!("{context}: {m}");
        match self {
            Error::NotFound(m) => Error::NotFound(add(m)),
            Error::SchemaMajorMismatch {
                expected_major,
                found_json,
                message,
            } => Error::SchemaMajorMismatch {
                expected_major,
                found_json,
                message: add(message),
            },
            Error::Decode(m) => Error::Decode(add(m)),
            Error::Validation { field, message } => Error::Validation {
                field,
                message: add(message),
            },
            Error::AccessDenied(m) => Error::AccessDenied(add(m)),
            Error::LockTimeout(m) => Error::LockTimeout(add(m)),
            Error::Io(m) => Error::Io(add(m)),
        }
    }
}
