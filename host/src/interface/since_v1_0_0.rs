//! The bindings of `exlab:cache@1.0.0` (`wit/since_v1.0.0/`, frozen), for
//! the policies built before 1.1. Its imports and shared types are 1.1's
//! (the same interfaces, unchanged: `with` below), so only its `policy`
//! export is generated here; the three records of that export that 1.1
//! generates again are converted to 1.1's.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/since_v1.0.0",
    imports: { default: trappable },
    with: {
        "exlab:cache/types": super::latest::exlab::cache::types,
        "exlab:cache/storage": super::latest::exlab::cache::storage,
        "exlab:cache/log": super::latest::exlab::cache::log,
    },
});

/// This version's package name: `exlab:cache@1.0.0`, read from the WIT.
pub const INTERFACE: &str = super::wit_packages::SINCE_V1_0_0;

use super::latest;
use exports::exlab::cache::policy as v1_0;

impl From<v1_0::EquipmentWritten> for latest::EquipmentWritten {
    fn from(w: v1_0::EquipmentWritten) -> Self {
        latest::EquipmentWritten {
            equipment: w.equipment,
            document: w.document,
        }
    }
}

impl From<v1_0::MarkerWritten> for latest::MarkerWritten {
    fn from(w: v1_0::MarkerWritten) -> Self {
        latest::MarkerWritten {
            written: w.written,
            document: w.document,
        }
    }
}

impl From<v1_0::PolicyInfo> for latest::PolicyInfo {
    fn from(i: v1_0::PolicyInfo) -> Self {
        latest::PolicyInfo {
            name: i.name,
            version: i.version,
        }
    }
}
