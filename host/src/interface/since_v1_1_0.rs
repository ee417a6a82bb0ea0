//! The bindings of `exlab:cache@1.1.0` (`wit/since_v1.1.0/`), the newest
//! interface, generated from the same files the guest is built from. Only
//! generated code lives here: the host side of the imports is in
//! `engine::imports`, written once, for every version (older versions'
//! imports are the same functions: the linker resolves a `@1.0.0` import to
//! its `@1.1.0` definition, semver-compatibly).
//!
//! `locked-file` is left to the generator's own placeholder type; the
//! engine keeps a storage `FileLock` in the resource table under that
//! handle, so that this module depends on nothing of the host's.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/since_v1.1.0",
    // A bad resource handle is a broken guest: a trap, not a domain error.
    imports: { default: trappable },
    additional_derives: [serde::Serialize, serde::Deserialize, PartialEq, Eq],
});

/// This version's package name: `exlab:cache@1.1.0`, read from the WIT.
pub const INTERFACE: &str = super::wit_packages::SINCE_V1_1_0;

pub use exlab::cache::types::{CacheError, Equipment, Invalid, Marker, MarkerKind, SchemaMismatch};
pub use exports::exlab::cache::kinds::{Access, Kind, Operation};
pub use exports::exlab::cache::policy::{EquipmentWritten, MarkerWritten, PolicyInfo};
