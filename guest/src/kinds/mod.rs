//! Record kinds by name (interface 1.1's `kinds` export): every file of the
//! `.exlab-wizard/` family the policy owns, with its operations. A front end
//! calls a kind it was not built for by name; the rules stay here.
//!
//! Inputs and results are JSON text. An operation's result is documented
//! beside it; the 1.0 files keep their CLI shapes (docs/spec.md §5). The
//! kinds of interface 1.1 are built from a declarative schema per kind
//! (`schema`, `record`) over the policy's one scan of stored JSON.

use crate::policy::{self, Env};
use crate::records::MarkerKind;
use crate::Error;

mod creation;
mod encode;
mod ingest;
mod isotime;
mod log;
mod node;
mod overrides;
mod readme_fields;
mod record;
mod schema;
mod shape;
mod split;

/// How an operation touches its file (the WIT's `access`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No file: a pure computation.
    None,
    /// Reads without a lock; creates nothing.
    Read,
    /// Writes under the file's lock.
    Write,
    /// Writes under the lock with the caller's step between read and write.
    Update,
    /// Appends one line, no lock.
    Append,
}

/// One operation of a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub name: &'static str,
    pub access: Access,
    /// Whether it takes the caller's input (else the input is `null`).
    pub takes_input: bool,
    pub summary: &'static str,
}

/// A record kind: its name, file, schema version and operations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    pub file_name: String,
    /// The schema version written; empty for a file without one.
    pub schema_version: &'static str,
    pub operations: Vec<Operation>,
    pub summary: &'static str,
}

const fn op(
    name: &'static str,
    access: Access,
    takes_input: bool,
    summary: &'static str,
) -> Operation {
    Operation {
        name,
        access,
        takes_input,
        summary,
    }
}

/// Every kind this policy owns, in a stable order.
pub fn list<E: Env>(env: &E) -> Vec<Kind> {
    let log_file = log::file_name(&env.hostname());
    KINDS
        .iter()
        .map(|k| Kind {
            name: k.name,
            file_name: match k.file {
                File::Named(name) => name.to_owned(),
                File::Marker(kind) => kind.file_name().to_owned(),
                File::Log => log_file.clone(),
            },
            schema_version: k.schema_version,
            operations: k.operations.to_vec(),
            summary: k.summary,
        })
        .collect()
}

/// A kind as the policy lists it; [`list`] spells its file's name.
struct Listed {
    name: &'static str,
    file: File,
    schema_version: &'static str,
    operations: &'static [Operation],
    summary: &'static str,
}

/// A kind's file name.
enum File {
    Named(&'static str),
    Marker(MarkerKind),
    /// This machine's log (`wizard.<hostname>.log`): a host call to name.
    Log,
}

const MARKER_OPERATIONS: &[Operation] = &[
    op(
        "write",
        Access::Write,
        true,
        "writes the marker once: {\"written\":bool,\"marker\":the file or null}",
    ),
    op("read", Access::Read, false, "the marker's known fields"),
];

/// The kinds, in the order [`list`] gives them. A static table: `run`
/// looks a name up without building anything.
const KINDS: &[Listed] = &[
    Listed {
        name: "equipment",
        file: File::Named("equipment.json"),
        schema_version: "1.0",
        operations: &[
            op(
                "write",
                Access::Write,
                true,
                "writes the registry record, stamped; the file as written",
            ),
            op("read", Access::Read, false, "the record's known fields"),
        ],
        summary: "the equipment registry record",
    },
    Listed {
        name: "test-runs",
        file: File::Marker(MarkerKind::TestRuns),
        schema_version: "1.0",
        operations: MARKER_OPERATIONS,
        summary: "marks a TestRuns/ folder as test-only, written once",
    },
    Listed {
        name: "runs",
        file: File::Marker(MarkerKind::Runs),
        schema_version: "1.0",
        operations: MARKER_OPERATIONS,
        summary: "marks a Runs/ folder as experimental-only, written once",
    },
    Listed {
        name: "creation",
        file: File::Named(creation::SPEC.file_name),
        schema_version: creation::SPEC.version,
        operations: &[
            op(
                "create",
                Access::Write,
                true,
                "writes the record once: {\"written\":bool,\"creation\":the file or null}",
            ),
            op(
                "update",
                Access::Update,
                false,
                "the caller's step rewrites the record under the lock; the file as written",
            ),
            op("read", Access::Read, false, "the record, defaults filled"),
            op(
                "active-overrides",
                Access::None,
                true,
                "the validation overrides active at now: {\"validation_overrides\":[...],\"now\"?}",
            ),
        ],
        summary: "a project's or run's provenance",
    },
    Listed {
        name: "ingest",
        file: File::Named(ingest::SPEC.file_name),
        schema_version: ingest::SPEC.version,
        operations: &[
            op(
                "create",
                Access::Write,
                true,
                "writes the record once: {\"written\":bool,\"ingest\":the file or null}",
            ),
            op(
                "transition",
                Access::Write,
                true,
                "moves the state one step forward, appending to history; the file as written",
            ),
            op("read", Access::Read, false, "the record's known fields"),
        ],
        summary: "a staged run's lifecycle on the orchestrator",
    },
    Listed {
        name: "readme-fields",
        file: File::Named(readme_fields::SPEC.file_name),
        schema_version: readme_fields::SPEC.version,
        operations: &[
            op(
                "write",
                Access::Write,
                true,
                "writes the record, stamped; the file as written",
            ),
            op("read", Access::Read, false, "the record's known fields"),
        ],
        summary: "the field values a README was written from",
    },
    Listed {
        name: "log",
        file: File::Log,
        schema_version: "",
        operations: &[
            op("format", Access::None, true, "one log line: {\"line\":...}"),
            op(
                "append",
                Access::Append,
                true,
                "appends one line to the machine's log: {\"path\":...,\"line\":...}",
            ),
        ],
        summary: "this machine's log, one event per line",
    },
];

/// Runs `operation` of `kind` on `path` with `input_json`; the result as JSON text.
pub fn run<E: Env>(
    env: &E,
    kind: &str,
    operation: &str,
    path: &str,
    input_json: &str,
) -> Result<String, Error> {
    let Some(found) = KINDS.iter().find(|k| k.name == kind) else {
        let names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        return Err(Error::invalid(
            Some("kind"),
            format!(
                "no kind {kind:?} in this policy (it has {})",
                names.join(", ")
            ),
        ));
    };
    if !found.operations.iter().any(|o| o.name == operation) {
        let names: Vec<&str> = found.operations.iter().map(|o| o.name).collect();
        return Err(Error::invalid(
            Some("operation"),
            format!(
                "kind {kind} has no operation {operation:?} (it has {})",
                names.join(", ")
            ),
        ));
    }
    match (kind, operation) {
        ("equipment", "write") => Ok(policy::write_equipment(env, path, input_json)?.document),
        ("equipment", "read") => Ok(policy::read_equipment(env, path)?.to_json()),
        ("test-runs" | "runs", "write") => {
            let written = policy::write_marker(env, marker_kind(kind), path, input_json)?;
            let marker = written.document.as_deref().unwrap_or("null");
            Ok(format!(
                "{{\"written\":{},\"marker\":{marker}}}",
                written.written
            ))
        }
        ("test-runs" | "runs", "read") => {
            Ok(policy::read_marker(env, marker_kind(kind), path)?.to_json())
        }
        ("creation", "create") => creation::create(env, path, input_json),
        ("creation", "update") => creation::update(env, path),
        ("creation", "read") => creation::read(env, path),
        ("creation", "active-overrides") => overrides::active(env, input_json),
        ("ingest", "create") => ingest::create(env, path, input_json),
        ("ingest", "transition") => ingest::transition(env, path, input_json),
        ("ingest", "read") => ingest::read(env, path),
        ("readme-fields", "write") => readme_fields::write(env, path, input_json),
        ("readme-fields", "read") => readme_fields::read(env, path),
        ("log", "format") => log::format(env, input_json),
        ("log", "append") => log::append(env, path, input_json),
        _ => unreachable!("every listed operation is dispatched"),
    }
}

fn marker_kind(kind: &str) -> MarkerKind {
    match kind {
        "runs" => MarkerKind::Runs,
        _ => MarkerKind::TestRuns,
    }
}

#[cfg(test)]
mod tests;
