//! Hostile policies for the reliability tests (issue 4, item 4): they use
//! only what the WIT grants, but use it against the host.
//!
//! `hostile-storage`: an equipment write runs the command given as its
//! input text (`"<op> <arg>"`), not the policy:
//!
//! | op | what the guest does |
//! |---|---|
//! | `lock P` / `read P` / `read-locked P` | `storage.lock`, `storage.read`, `locked-file.read` of path P; the storage error is returned as is |
//! | `lock-long-name N` | locks a path whose file name is N bytes long |
//! | `hold P` | takes P's lock and never drops it (`mem::forget`), then returns |
//! | `hold-and-spin P` | takes P's lock, forgets it, then loops forever |
//! | `lock-twice P` | takes P's lock, then asks for it again in the same call |
//! | `huge-result N` | returns a document of N bytes |
//! | `warn-flood N` | logs N warnings of 64 KiB each |
//!
//! `ungranted-import`: the real policy, but the component also imports an
//! interface the host does not grant; the host must refuse it at load.

use exlab_cache_policy::component::exlab::cache::types::{CacheError, Equipment};
use exlab_cache_policy::component::exlab::cache::{log, storage};
use exlab_cache_policy::component::exports::exlab::cache::policy::EquipmentWritten;

#[cfg(feature = "ungranted-import")]
mod ungranted {
    wit_bindgen::generate!({
        inline: "package fixture:ungranted;
                 interface keys { secret: func() -> string; }
                 world ungranted { import keys; }",
    });
}

fn done(document: String) -> Result<EquipmentWritten, CacheError> {
    let blank = String::new;
    Ok(EquipmentWritten {
        equipment: Equipment {
            schema_version: blank(),
            id: blank(),
            label: blank(),
            configured_local_root: blank(),
            configured_nas_root: blank(),
            first_seen_at: blank(),
            last_modified_at: blank(),
        },
        document,
    })
}

fn bytes_seen(read: Option<Vec<u8>>) -> String {
    match read {
        None => "none".into(),
        Some(bytes) => format!("{} bytes", bytes.len()),
    }
}

fn number(arg: &str) -> usize {
    arg.parse().expect("a number")
}

/// An equipment write of a hostile policy: runs `input` as a command.
pub fn write_equipment(_path: String, input: String) -> Result<EquipmentWritten, CacheError> {
    #[cfg(feature = "ungranted-import")]
    if input == "use the ungranted import" {
        return done(ungranted::fixture::ungranted::keys::secret());
    }
    let (op, arg) = input.split_once(' ').unwrap_or((&input, ""));
    match op {
        "lock" => {
            let _lock = storage::lock(arg)?;
            done("locked".into())
        }
        "read" => done(bytes_seen(storage::read(arg)?)),
        "read-locked" => {
            let lock = storage::lock(arg)?;
            done(bytes_seen(lock.read()?))
        }
        "lock-long-name" => {
            let _lock = storage::lock(&"n".repeat(number(arg)))?;
            done("locked".into())
        }
        "hold" => {
            std::mem::forget(storage::lock(arg)?);
            done("held".into())
        }
        "hold-and-spin" => {
            std::mem::forget(storage::lock(arg)?);
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "lock-twice" => {
            let _first = storage::lock(arg)?;
            let _second = storage::lock(arg)?;
            done("locked twice".into())
        }
        "huge-result" => done("x".repeat(number(arg))),
        "warn-flood" => {
            let message = "w".repeat(64 << 10);
            for _ in 0..number(arg) {
                log::warn(&message);
            }
            done("flooded".into())
        }
        other => panic!("hostile-storage: no op {other:?}"),
    }
}
