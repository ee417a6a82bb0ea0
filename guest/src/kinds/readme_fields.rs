//! `readme_fields.json` (app §11.4): the field values a README was written
//! from, schema `1.1` with the fields of the app's `ReadmeFieldsJson`.
//!
//! Decided here: a write replaces the record under the lock, like
//! equipment.json (docs/spec.md §2.1) and unlike the app's generator,
//! which writes without a lock or a gate: another major on disk is
//! refused and left as it is, a corrupt file is rewritten with a warning,
//! and a valid file's unknown top-level fields and newer minor are kept.
//! `generated_at` is the caller's when it is a real time (the app stamps
//! it with the creation time, so README and record agree); absent or null
//! it is the time of the write.

use super::node::Node;
use super::record::{self, Spec};
use super::schema::{self, optional, required, Field, Type};
use crate::policy::{self, Env, LockedFile};
use crate::{time, Error};

/// Character limits of two core fields after trimming whitespace (app
/// §11.4, `LABEL_MAX_LENGTH`, `OBJECTIVE_MAX_LENGTH`).
const LIMITS: [(&str, usize); 2] = [("label", 100), ("objective", 2000)];

const FIELDS: &[Field] = &[
    required("schema_version", Type::Str),
    required("generated_at", Type::Str),
    required("core_fields", Type::Map(&Type::Str)).checked(check_core_fields),
    required("system_fields", Type::FreeObject),
    optional("template_fields", Type::FreeObject, "{}"),
    optional("config_fields", Type::FreeObject, "{}"),
    optional("custom_fields", Type::List(&Type::Map(&Type::Str)), "[]"),
];

pub const SPEC: Spec = Spec {
    file_name: "readme_fields.json",
    version: "1.1",
    minor: 1,
    fields: FIELDS,
    unversioned_is_other_major: false,
    finish: None,
};

/// A writer must not produce a label over 100 or an objective over 2000
/// characters (Unicode scalar values, as Python's `len`), after trimming
/// what Python's `str.strip` trims.
fn check_core_fields(core_fields: &Node, at: &str) -> Result<(), Error> {
    for (name, max) in LIMITS {
        let Some(value) = core_fields.get(name).and_then(Node::as_str) else {
            continue;
        };
        let len = value.trim_matches(is_python_space).chars().count();
        if len > max {
            let field = format!("{at}.{name}");
            return Err(Error::invalid(
                Some(&field),
                format!("{field} exceeds {max} characters after trimming whitespace (got {len})"),
            ));
        }
    }
    Ok(())
}

/// Python's `str.isspace`: Unicode White_Space, and the separators
/// U+001C to U+001F, which Python strips too.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `write`: input the record. Result: the file as written.
pub fn write<E: Env>(env: &E, path: &str, input_json: &str) -> Result<String, Error> {
    let (mut record, stamp) = SPEC.input(input_json, Some("generated_at"))?;
    let ty = SPEC.ty();
    SPEC.check_fits(&record)?;
    let file = env.lock(path)?;
    let bytes = file.read()?;
    let doc = bytes.as_deref().map(record::scan).transpose();
    let judged = match &doc {
        Ok(None) => Ok(None),
        Ok(Some(doc)) => SPEC.decode(doc).map(Some),
        Err(e) => Err(e.clone()),
    };
    let kept = policy::rewrite_over(env, path, "readme_fields.json", judged)?;
    if let Some(on_disk) = &kept {
        record.set(
            "schema_version",
            Node::string(&SPEC.kept_version(&on_disk.version)),
        );
        // Unknown fields come from the file only: the input's are ignored.
        schema::keep_dropped(&ty, &mut record, &on_disk.record);
    }
    if stamp {
        record.set("generated_at", Node::string(&time::format_utc(env.now())));
    }
    let document = schema::to_json(&ty, &record, true);
    record::check_rewrite_fits(path, &document)?;
    file.replace(document.as_bytes())?;
    Ok(document)
}

/// `read`: the record's known fields.
pub fn read<E: Env>(env: &E, path: &str) -> Result<String, Error> {
    SPEC.read(env, path)
}

#[cfg(test)]
mod tests;
