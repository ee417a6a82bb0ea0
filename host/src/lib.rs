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

#[allow(missing_docs)]
mod bindings;
mod cache;
mod clock;
pub mod conformance;
mod error;
mod provenance;
mod regular_file;
mod runtime;
mod storage;
pub mod sync;
pub mod trust;
pub mod version;
pub mod watch;

#[cfg(feature = "tokio")]
mod async_cache;

#[cfg(feature = "tokio")]
pub use async_cache::AsyncCache;
pub use bindings::{Equipment, EquipmentWritten, Marker, MarkerKind, MarkerWritten};
pub use cache::{Cache, Settings, Swapped, WarningSink};
pub use clock::{Clock, ManualClock, SystemClock};
pub use conformance::ConformanceReport;
pub use error::Error;
pub use provenance::{sha256_hex, AllowList};
pub use runtime::{Policy, PolicyInfo, BUILTIN_POLICY, INTERFACE};
pub use storage::Root;
#[doc(hidden)]
pub use storage::{Faults, WriteStep};
