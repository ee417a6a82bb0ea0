//! The front ends over a policy: the library's [`cache::Cache`] and
//! `AsyncCache`, and the lab-config [`sync`]. The CLI, `cli.rs`, is a
//! binary of its own over the crate's public API.
//!
//! Architecture invariant: front ends only call; the rules are the
//! policy's and the mechanics are storage's.

#[cfg(feature = "tokio")]
pub(crate) mod async_cache;
pub(crate) mod cache;
pub(crate) mod kinds;
pub(crate) mod merge_patch;
pub mod sync;
