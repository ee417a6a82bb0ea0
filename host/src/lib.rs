//! exlab-cache: the lab-cache policy as a sandboxed WebAssembly component,
//! and the host that serves it.
//!
//! The policy (stamping, idempotency, the schema gate, validation, JSON)
//! lives in a component built to the `exlab:cache@1.0.0` WIT world. This
//! crate is the mechanics around it: a capability for one root folder
//! (`cap-std`), flock-based locks shared with Python's `filelock`, durable
//! atomic replace, and a wasmtime sandbox with time and memory limits.
//!
//! ```no_run
//! use exlab_cache::{Cache, MarkerKind};
//!
//! let cache = Cache::open("/data/lab")?;
//! let written = cache.write_equipment(
//!     "CONFOCAL_01/.exlab-wizard/equipment.json",
//!     r#"{"id":"CONFOCAL_01","label":"Confocal 1","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab"}"#,
//! )?;
//! println!("first seen {}", written.equipment.first_seen_at);
//! let marker = cache.write_marker(
//!     MarkerKind::TestRuns,
//!     "CONFOCAL_01/P1/TestRuns/.exlab-wizard/test_runs.json",
//!     r#"{"project":"P1","equipment":"CONFOCAL_01"}"#,
//! )?;
//! assert!(marker.written);
//! # Ok::<(), exlab_cache::Error>(())
//! ```
#![deny(missing_docs)]
//!
//! The rooms, lowest first (each may use only the ones above it; see
//! ARCHITECTURE.md):
//! - [`interface`]: the WIT boundary, one bindings module per frozen version;
//! - `error`, `clock`, `settings`: the vocabulary every room shares;
//! - `storage`: the capability root, locks, durable replace;
//! - `engine`: wasmtime, limits, per-call state, the imports, instances;
//! - [`policy`]: admission, the policy's operations, provenance, trust,
//!   the conformance gate, the watcher;
//! - `front`: the library's `Cache` and `AsyncCache`, and [`sync`]; the CLI
//!   (`front/cli.rs`) is a binary over this crate.

mod clock;
mod engine;
mod error;
mod front;
pub mod interface;
pub mod policy;
mod regular_file;
mod settings;
mod storage;
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod testing;

pub use clock::{format_utc, Clock, ManualClock, SystemClock};
pub use error::Error;
#[cfg(feature = "tokio")]
pub use front::async_cache::AsyncCache;
pub use front::cache::Cache;
pub use front::kinds::{kinds_to_json, Appended, Created, UpdateError};
pub use front::merge_patch::merge_patch;
pub use front::sync;
pub use interface::latest::{
    Access, Equipment, EquipmentWritten, Kind, Marker, MarkerKind, MarkerWritten, Operation,
};
pub use interface::INTERFACE;
pub use policy::conformance::{self, ConformanceReport};
pub use policy::provenance::{sha256_hex, AllowList};
pub use policy::status::{self, PolicyStatus};
pub use policy::{trust, watch};
pub use policy::{Admission, KindCall, Policy, PolicyInfo, RolledBack, Swapped, BUILTIN_POLICY};
pub use settings::{machine_hostname, CollectedWarnings, Settings, WarningSink};
pub use storage::Root;
#[doc(hidden)]
pub use storage::{Faults, WriteStep};
