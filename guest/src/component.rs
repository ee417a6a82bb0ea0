//! The policy as a component of the `exlab:cache/plugin` world: the host's
//! imports implement [`Env`], the exports call the pure policy.
//!
//! Built for the newest interface (`wit/since_v1.1.0`); with the feature
//! `v1_0`, for the frozen `exlab:cache@1.0.0` world, whose imports and
//! exports are a subset of 1.1's with the same names, so the same code
//! serves both (1.1's additions are cfg'd out).

use crate::policy::{self, Env, LockedFile};
use crate::records::{self, MarkerKind};
use crate::Error;

#[cfg(not(feature = "v1_0"))]
wit_bindgen::generate!({
    world: "plugin",
    path: "../wit/since_v1.1.0",
    // Fixture guests reuse these bindings and export their own policy.
    pub_export_macro: true,
    default_bindings_module: "exlab_cache_policy::component",
});

#[cfg(feature = "v1_0")]
wit_bindgen::generate!({
    world: "plugin",
    path: "../wit/since_v1.0.0",
    pub_export_macro: true,
    default_bindings_module: "exlab_cache_policy::component",
});

use exlab::cache::types as wit;
use exlab::cache::{log, storage};
use exports::exlab::cache::policy as api;
#[cfg(not(feature = "v1_0"))]
use {
    crate::kinds, exlab::cache::caller, exlab::cache::machine,
    exports::exlab::cache::kinds as kinds_api,
};

/// The policy's exports, implemented by the pure policy over [`Host`].
pub struct Policy;

impl api::Guest for Policy {
    fn info() -> api::PolicyInfo {
        api::PolicyInfo {
            name: crate::NAME.into(),
            version: crate::VERSION.into(),
        }
    }

    fn write_equipment(
        path: String,
        input_json: String,
    ) -> Result<api::EquipmentWritten, wit::CacheError> {
        let w = policy::write_equipment(&Host, &path, &input_json)?;
        Ok(api::EquipmentWritten {
            equipment: equipment(w.record),
            document: w.document,
        })
    }

    fn read_equipment(path: String) -> Result<wit::Equipment, wit::CacheError> {
        Ok(equipment(policy::read_equipment(&Host, &path)?))
    }

    fn write_marker(
        kind: wit::MarkerKind,
        path: String,
        input_json: String,
    ) -> Result<api::MarkerWritten, wit::CacheError> {
        let w = policy::write_marker(&Host, marker_kind(kind), &path, &input_json)?;
        Ok(api::MarkerWritten {
            written: w.written,
            document: w.document,
        })
    }

    fn read_marker(kind: wit::MarkerKind, path: String) -> Result<wit::Marker, wit::CacheError> {
        let m = policy::read_marker(&Host, marker_kind(kind), &path)?;
        Ok(wit::Marker {
            schema_version: m.schema_version,
            run_kind: m.run_kind,
            created_at: m.created_at,
            project: m.project,
            equipment: m.equipment,
        })
    }

    fn require_schema_major(
        version: Option<String>,
        expected_major: u32,
    ) -> Result<(), wit::CacheError> {
        Ok(crate::gate::require_schema_major(
            version.as_deref(),
            expected_major,
        )?)
    }
}

#[cfg(not(feature = "v1_0"))]
impl kinds_api::Guest for Policy {
    fn list_kinds() -> Vec<kinds_api::Kind> {
        kinds::list(&Host)
            .into_iter()
            .map(|k| kinds_api::Kind {
                name: k.name.into(),
                file_name: k.file_name,
                schema_version: k.schema_version.into(),
                operations: k
                    .operations
                    .into_iter()
                    .map(|o| kinds_api::Operation {
                        name: o.name.into(),
                        access: access(o.access),
                        takes_input: o.takes_input,
                        summary: o.summary.into(),
                    })
                    .collect(),
                summary: k.summary.into(),
            })
            .collect()
    }

    fn run(
        kind: String,
        operation: String,
        path: String,
        input_json: String,
    ) -> Result<String, wit::CacheError> {
        Ok(kinds::run(&Host, &kind, &operation, &path, &input_json)?)
    }
}

/// For fixture guests that change only the 1.0 operations: implements the
/// `kinds` export of `$fixture` as this policy's.
#[cfg(not(feature = "v1_0"))]
#[macro_export]
macro_rules! kinds_as_the_policy {
    ($fixture:ty) => {
        impl $crate::component::exports::exlab::cache::kinds::Guest for $fixture {
            fn list_kinds() -> Vec<$crate::component::exports::exlab::cache::kinds::Kind> {
                <$crate::component::Policy as $crate::component::exports::exlab::cache::kinds::Guest>::list_kinds()
            }
            fn run(
                kind: String,
                operation: String,
                path: String,
                input_json: String,
            ) -> Result<String, $crate::component::exlab::cache::types::CacheError> {
                <$crate::component::Policy as $crate::component::exports::exlab::cache::kinds::Guest>::run(
                    kind, operation, path, input_json,
                )
            }
        }
    };
}

#[cfg(not(feature = "v1_0"))]
fn access(a: kinds::Access) -> kinds_api::Access {
    use kinds::Access as A;
    match a {
        A::None => kinds_api::Access::None,
        A::Read => kinds_api::Access::Read,
        A::Write => kinds_api::Access::Write,
        A::Update => kinds_api::Access::Update,
        A::Append => kinds_api::Access::Append,
    }
}

#[cfg(feature = "export")]
export!(Policy with_types_in crate::component);

/// The host's imports, seen as the policy's environment.
pub struct Host;

impl Env for Host {
    type Locked = storage::LockedFile;

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(storage::read(path)?)
    }

    fn lock(&self, path: &str) -> Result<storage::LockedFile, Error> {
        Ok(storage::lock(path)?)
    }

    #[cfg(not(feature = "v1_0"))]
    fn append(&self, path: &str, line: &[u8]) -> Result<(), Error> {
        Ok(storage::append(path, line)?)
    }

    #[cfg(not(feature = "v1_0"))]
    fn step(&self, record_json: &str) -> Option<String> {
        caller::step(record_json)
    }

    #[cfg(not(feature = "v1_0"))]
    fn hostname(&self) -> String {
        machine::hostname()
    }

    // A 1.0 host offers none of these; a 1.0 component exports no operation
    // that needs them.
    #[cfg(feature = "v1_0")]
    fn append(&self, path: &str, _line: &[u8]) -> Result<(), Error> {
        Err(Error::Io(format!(
            "{path}: appending needs exlab:cache@1.1.0"
        )))
    }

    #[cfg(feature = "v1_0")]
    fn step(&self, _record_json: &str) -> Option<String> {
        None
    }

    #[cfg(feature = "v1_0")]
    fn hostname(&self) -> String {
        String::new()
    }

    fn warn(&self, message: &str) {
        log::warn(message);
    }

    fn now(&self) -> i64 {
        // The WASI wall clock: the host decides what "now" is (tests inject it).
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch.as_secs() as i64
    }
}

impl LockedFile for storage::LockedFile {
    fn read(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(storage::LockedFile::read(self)?)
    }

    fn replace(&self, contents: &[u8]) -> Result<(), Error> {
        Ok(storage::LockedFile::replace(self, contents)?)
    }
}

fn marker_kind(kind: wit::MarkerKind) -> MarkerKind {
    match kind {
        wit::MarkerKind::TestRuns => MarkerKind::TestRuns,
        wit::MarkerKind::Runs => MarkerKind::Runs,
    }
}

fn equipment(r: records::Equipment) -> wit::Equipment {
    wit::Equipment {
        schema_version: r.schema_version,
        id: r.id,
        label: r.label,
        configured_local_root: r.configured_local_root,
        configured_nas_root: r.configured_nas_root,
        first_seen_at: r.first_seen_at,
        last_modified_at: r.last_modified_at,
    }
}

impl From<wit::CacheError> for Error {
    fn from(e: wit::CacheError) -> Self {
        use wit::CacheError as W;
        match e {
            W::NotFound(m) => Error::NotFound(m),
            W::SchemaMajorMismatch(s) => Error::SchemaMajorMismatch {
                expected_major: s.expected_major,
                found_json: s.found_json,
                message: s.message,
            },
            W::DecodeError(m) => Error::Decode(m),
            W::ValidationError(i) => Error::Validation {
                field: i.field,
                message: i.message,
            },
            W::AccessDenied(m) => Error::AccessDenied(m),
            W::LockTimeout(m) => Error::LockTimeout(m),
            W::IoError(m) => Error::Io(m),
        }
    }
}

impl From<Error> for wit::CacheError {
    fn from(e: Error) -> Self {
        use wit::CacheError as W;
        match e {
            Error::NotFound(m) => W::NotFound(m),
            Error::SchemaMajorMismatch {
                expected_major,
                found_json,
                message,
            } => W::SchemaMajorMismatch(wit::SchemaMismatch {
                expected_major,
                found_json,
                message,
            }),
            Error::Decode(m) => W::DecodeError(m),
            Error::Validation { field, message } => {
                W::ValidationError(wit::Invalid { field, message })
            }
            Error::AccessDenied(m) => W::AccessDenied(m),
            Error::LockTimeout(m) => W::LockTimeout(m),
            Error::Io(m) => W::IoError(m),
        }
    }
}
