//! The exlab-cache policy: stamping, idempotency, the schema gate,
//! validation and JSON for `equipment.json`, `test_runs.json` and `runs.json`.
//!
//! Everything here is pure logic over the [`policy::Env`] trait (storage, log,
//! clock), so it is tested natively with an in-memory `Env`. Built for
//! `wasm32-wasip2`, the `component` module binds that trait to the host's
//! imports of the `exlab:cache` WIT world and exports the policy.

pub mod error;
pub mod gate;
pub mod json;
pub mod kinds;
// An in-memory Env for native builds (unit and property tests, fuzz
// targets); never compiled into the component.
#[cfg(not(target_arch = "wasm32"))]
pub mod memory;
pub mod policy;
pub mod records;
pub mod time;

#[cfg(target_arch = "wasm32")]
pub mod component;

pub use error::Error;

/// This policy's name and semver, as reported by `policy info`.
pub const NAME: &str = env!("CARGO_PKG_NAME");
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
