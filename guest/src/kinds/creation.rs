//! `creation.json` (app §11.3): a project's or run's provenance, written
//! once at creation, then updated under the lock by the caller's step
//! (`sync_status`, new `validation_overrides`).
//!
//! Schema `1.9`, as the app's code writes it (`CREATION_JSON_VERSION`; its
//! spec text still says 1.8, and no 1.9 row is in its history table), with
//! the fields, order and defaults of its `CreationJson` struct, encoded as
//! msgspec's `omit_defaults=True` does.
//!
//! Decided here:
//! - `create` writes once, like a marker: a file that is there is never
//!   overwritten (the app's spec says a second creator must fail, its code
//!   overwrites). The answer says `written: false` and carries the file as
//!   on disk; the Python layer turns that into `FileExistsError`.
//! - A stored file with no `schema_version` (absent, `null`, `""`) is
//!   `schema_major_mismatch`, the app's stricter reading for this file.
//! - Older minors read with the history table's defaults, as the app's
//!   reader applies them to a file of any minor: `run_kind`
//!   `"experimental"`, `lims_project.source` `"live"`,
//!   `cache_freshness_at_use` `null`, and overrides without an `id` get one
//!   ([`overrides::fill_ids`]). `lims_project` is absent before 1.5 and
//!   stays so (the app's struct cannot read such a file); from 1.5 on, a
//!   file without it is a `validation_error`.

use super::node::{self, Node};
use super::overrides;
use super::record::{self, OnDisk, Spec};
use super::schema::{self, migrated, optional, required, since, Field, Type};
use crate::json::Document;
use crate::policy::{Env, LockedFile};
use crate::Error;

const RUN_KIND: Type = Type::Enum(&["experimental", "test"]);

const LIMS_PROJECT: &[Field] = &[
    required("uid", Type::Str),
    required("short_id", Type::Str),
    required("name_at_creation", Type::Str),
    optional(
        "source",
        Type::Enum(&["live", "cache", "offline_catalogue"]),
        "\"live\"",
    ),
    optional("cache_freshness_at_use", Type::Nullable(&Type::Str), "null"),
];

const TEMPLATE: &[Field] = &[
    required("name", Type::Str),
    required("version", Type::Str),
    required("source_path", Type::Str),
    optional(
        "run_scope",
        Type::Nullable(&Type::Enum(&["experimental", "test", "both"])),
        "null",
    ),
];

const ISOLATION: &[Field] = &[
    required("duration_ms", Type::Int),
    required("exit_code", Type::Int),
    required("peak_memory_mb", Type::Int),
];

const PLUGIN_APPLIED: &[Field] = &[
    required("plugin", Type::Str),
    required("version", Type::Str),
    required("files_affected", Type::List(&Type::Str)),
    required(
        "status",
        Type::Enum(&[
            "success",
            "failed",
            "skipped",
            "timeout",
            "policy_violation",
        ]),
    ),
    optional(
        "isolation",
        Type::Nullable(&Type::Object(ISOLATION)),
        "null",
    ),
];

const PATHS: &[Field] = &[required("local", Type::Str), required("nas", Type::Str)];

const ORCHESTRATOR: &[Field] = &[
    required("enabled", Type::Bool),
    required("host", Type::Str),
    required("label", Type::Str),
    optional("equipment_label", Type::Nullable(&Type::Str), "null"),
    optional(
        "completeness_signal",
        Type::Nullable(&Type::Enum(&["sentinel_file", "manifest"])),
        "null",
    ),
    optional("sentinel_filename", Type::Nullable(&Type::Str), "null"),
    optional("manifest_filename", Type::Nullable(&Type::Str), "null"),
];

const FIELDS: &[Field] = &[
    required("schema_version", Type::Str),
    required("created_at", Type::Str),
    required("created_by", Type::Str),
    required("level", Type::Enum(&["project", "run"])),
    migrated("run_kind", RUN_KIND, "\"experimental\""),
    since("lims_project", Type::Object(LIMS_PROJECT), 5),
    required("template", Type::Object(TEMPLATE)),
    required("variables", Type::FreeObject),
    required("paths", Type::Object(PATHS)),
    optional(
        "plugins_applied",
        Type::List(&Type::Object(PLUGIN_APPLIED)),
        "[]",
    ),
    optional(
        "orchestrator",
        Type::Nullable(&Type::Object(ORCHESTRATOR)),
        "null",
    ),
    optional(
        "sync_status",
        Type::Enum(&[
            "pending",
            "synced",
            "cleaned",
            "failed",
            "blocked_by_validation",
        ]),
        "\"pending\"",
    ),
    optional("validation_overrides", Type::List(&Type::FreeObject), "[]"),
];

pub const SPEC: Spec = Spec {
    file_name: "creation.json",
    version: "1.9",
    minor: 9,
    fields: FIELDS,
    unversioned_is_other_major: true,
    finish: Some(fill_override_ids),
};

fn fill_override_ids(snapshot: &mut Node) {
    if let Some(Node::List(entries)) = snapshot.get_mut("validation_overrides") {
        overrides::fill_ids(entries);
    }
}

fn overrides_of<'r, 'a>(record: &'r Node<'a>) -> &'r [Node<'a>] {
    match record.get("validation_overrides") {
        Some(Node::List(entries)) => entries,
        _ => &[],
    }
}

/// `create`: input the record (`created_at` absent or null: now). Result
/// `{"written":bool,"creation":<the file as written, or as on disk>}`.
pub fn create<E: Env>(env: &E, path: &str, input_json: &str) -> Result<String, Error> {
    let (record, stamp) = SPEC.input(input_json, Some("created_at"))?;
    let stamp = stamp.then_some("created_at");
    SPEC.write_once(env, path, record, stamp, "creation")
}

/// `read`: the snapshot without unknown fields.
pub fn read<E: Env>(env: &E, path: &str) -> Result<String, Error> {
    SPEC.read(env, path)
}

/// `update`: under the lock, hands the caller's step the snapshot (every
/// known field, defaults filled, then the unknown ones as stored) and
/// writes the record it returns, validated as create's input, with the
/// unknown fields it dropped kept, `validation_overrides` append-only, and
/// the version bumped to ours (a newer minor kept). The result: the file
/// as written. A step that gives up writes nothing (`validation_error`).
pub fn update<E: Env>(env: &E, path: &str) -> Result<String, Error> {
    let (file, bytes) = SPEC.locked(env, path)?;
    let doc = record::scan(&bytes).map_err(record::untouched(path))?;
    let on_disk = SPEC.decode(&doc).map_err(record::untouched(path))?;
    let snapshot = SPEC.snapshot(&on_disk.record);
    let ty = SPEC.ty();
    let handed = schema::to_json(&ty, &snapshot, false);
    let returned = env.step(&handed).ok_or_else(|| {
        Error::invalid(
            None,
            format!("{path}: the caller's step gave up; nothing written"),
        )
    })?;
    let returned = node::input_object(&returned, "the record the caller's step returned")?;
    let mut record = stepped_record(&returned, &on_disk)?;
    if SPEC.rules(&on_disk.version, false).newer {
        schema::check_unknown_values_kept(&ty, &record, &on_disk.record)?;
    }
    schema::keep_dropped(&ty, &mut record, &on_disk.record);
    overrides::check_append_only(
        overrides_of(&snapshot),
        overrides_of(&on_disk.record),
        overrides_of(&record),
    )?;
    fill_override_ids(&mut record);
    let document = schema::to_json(&ty, &record, true);
    record::check_rewrite_fits(path, &document)?;
    file.replace(document.as_bytes())?;
    Ok(document)
}

/// The step's record, judged as input at the version it will be written
/// at. `created_at` never changes unasked: absent or null keeps the
/// file's, and the file's own value passes even when it is no real time.
fn stepped_record<'a>(returned: &'a Document, on_disk: &OnDisk<'a>) -> Result<Node<'a>, Error> {
    let mut given = Node::object_of(returned);
    let version = SPEC.kept_version(&on_disk.version);
    given.set("schema_version", Node::string(&version));
    let stored = on_disk.record.get("created_at");
    let asked = given.get("created_at").filter(|raw| raw.text() != "null");
    let keep_stored = match asked {
        None => true,
        Some(raw) if stored.is_some_and(|s| s.text() == raw.text()) => false,
        Some(raw) => {
            record::real_time("created_at", &raw.text())?;
            false
        }
    };
    if let (true, Some(stored)) = (keep_stored, stored) {
        given.set("created_at", stored.clone());
    }
    let rules = SPEC.rules(&version, true);
    schema::shape_fields(SPEC.fields, given.into_members(), rules)
}

#[cfg(test)]
mod tests;
