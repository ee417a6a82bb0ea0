//! `sync CONFIG`: write every configured equipment's `equipment.json` from
//! the lab's YAML config.

use std::path::Path;

use serde_json::{json, Value};

use crate::interface::latest::EquipmentWritten;
use crate::regular_file::{self, Unreadable};
use crate::{Cache, Error, Policy, Root, Settings};

/// What became of one entry of the config's `equipment:` list.
#[derive(Debug)]
pub struct SyncOutcome {
    /// The entry's `id`, when it is a string.
    pub id: Option<String>,
    /// The record as written, or why not.
    pub result: Result<EquipmentWritten, Error>,
}

/// The keys of an entry, in the order they are checked.
const ENTRY_KEYS: [&str; 4] = ["id", "label", "local_root", "nas_root"];

/// Reads the lab config at `config` and writes, in order, each entry's
/// `<local_root>/<id>/.exlab-wizard/equipment.json` (a relative `local_root`
/// is taken from the config's folder). A `local_root` that is not an existing
/// folder fails that entry with `io_error` and is not created. One entry's
/// failure does not stop the others.
pub fn sync(
    policy: &Policy,
    settings: &Settings,
    config: &Path,
) -> Result<Vec<SyncOutcome>, Error> {
    let entries = read_config(config)?;
    let base = config.parent().unwrap_or(Path::new(""));
    Ok(entries
        .iter()
        .map(|entry| {
            let id = entry.get("id").and_then(Value::as_str).map(str::to_owned);
            let result = sync_entry(policy, settings, base, entry);
            SyncOutcome { id, result }
        })
        .collect())
}

fn sync_entry(
    policy: &Policy,
    settings: &Settings,
    base: &Path,
    entry: &Value,
) -> Result<EquipmentWritten, Error> {
    let [id, label, local_root, nas_root] =
        ENTRY_KEYS.map(|key| entry.get(key).and_then(Value::as_str));
    for (key, value) in ENTRY_KEYS.iter().zip([id, label, local_root, nas_root]) {
        if value.is_none() {
            return Err(Error::Validation {
                field: Some((*key).to_owned()),
                message: format!("equipment entry: {key} is missing or not a string"),
            });
        }
    }
    let (id, local_root) = (id.unwrap_or_default(), local_root.unwrap_or_default());
    let root_path = base.join(local_root);
    // Never create a missing local root: it may be an unmounted disk.
    let root = if root_path.is_dir() {
        Root::open(&root_path)?
    } else {
        Root::unavailable(format!(
            "local_root {local_root}: not an existing folder ({})",
            root_path.display()
        ))
    };
    let input = json!({
        "id": id,
        "label": label,
        "configured_local_root": local_root,
        "configured_nas_root": nas_root,
    });
    Cache::new(root, policy.clone(), settings.clone()).write_equipment(
        &format!("{id}/.exlab-wizard/equipment.json"),
        &input.to_string(),
    )
}

/// The largest lab config read, in bytes: 4 MiB, thousands of entries.
pub const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// The config's `equipment:` list. The file is read without blocking and
/// only if it is a regular file within [`MAX_CONFIG_SIZE`]: a FIFO, a
/// device or an oversize file is `io_error`, before anything is read.
fn read_config(config: &Path) -> Result<Vec<Value>, Error> {
    let text = regular_file::read(config, MAX_CONFIG_SIZE).map_err(|why| {
        let message = format!("config {}: {why}", config.display());
        match why {
            Unreadable::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Error::NotFound { message }
            }
            _ => Error::Io { message },
        }
    })?;
    let decode = |why: String| Error::Decode {
        message: format!("config {}: not YAML: {why}", config.display()),
    };
    let text = String::from_utf8(text).map_err(|e| decode(e.to_string()))?;
    let doc: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        // YAML 1.2 booleans only: `nas_root: n` is the string "n", not false.
        let options = serde_saphyr::options! { strict_booleans: true };
        serde_saphyr::from_str_with_options(&text, options).map_err(|e| decode(e.to_string()))?
    };
    match doc.get("equipment") {
        Some(Value::Array(entries)) => Ok(entries.clone()),
        _ => Err(Error::Validation {
            field: Some("equipment".into()),
            message: format!("config {}: no equipment: list", config.display()),
        }),
    }
}
