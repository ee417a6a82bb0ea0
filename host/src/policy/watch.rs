//! Watching a policy file: for platforms that deliver a new policy by
//! dropping a file, reload it when it changes, through every check of
//! [`crate::Cache::swap_policy_file`] (signature, allow-list, interface
//! version, compile, the conformance gate).
//!
//! It polls: every `interval` it reads the file and its `.minisig` and
//! hashes them. A change takes effect once both have stayed the same for
//! `debounce` (a writer that is still writing is not loaded half-way), and
//! only when the policy's hash differs from the policy serving now. A
//! refused file is not retried until it or its signature changes again (a
//! lab that signs after dropping the file is not stuck). With
//! [`WatchOptions::write_status`], the cache's status is written after each
//! attempt as JSON to `<policy>.status.json` ([`status::status_path`]). Polling needs no new dependency and
//! works the same on every platform and file system (network mounts
//! included, where change notifications are unreliable); a policy is a few
//! hundred KB, so reading it once a second costs next to nothing.
//!
//! Wiring it: deliver the file atomically (write `policy.wasm.tmp` next to
//! it, then rename it over `policy.wasm`), then either run a
//! [`PolicyWatcher`] thread beside the cache, or call [`Watch::poll`] from a
//! timer the platform already has.
//!
//! ```no_run
//! use exlab_cache::watch::{PolicyWatcher, WatchEvent, WatchOptions};
//! use exlab_cache::Cache;
//!
//! let cache = Cache::open("/data/lab")?;
//! let watcher = PolicyWatcher::spawn(
//!     cache.clone(),
//!     "/etc/exlab/policy.wasm",
//!     WatchOptions::default(),
//!     |event| match event {
//!         WatchEvent::Swapped(s) => eprintln!("policy {} serves now", s.current.version),
//!         WatchEvent::Refused { sha256, error } => eprintln!("policy {sha256} refused: {error}"),
//!         WatchEvent::Unreadable { message } => eprintln!("{message}"),
//!     },
//! )?;
//! // ... serve with `cache`; dropping the watcher stops it.
//! drop(watcher);
//! # Ok::<(), exlab_cache::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{status, trust};
use crate::{sha256_hex, Error, Policy, Swapped};

/// What a watcher swaps policies into: a `Cache` (kept as a trait so that
/// this room does not depend on the front ends).
pub trait Swappable: Send {
    /// The sha256 of the policy serving now.
    fn serving_sha256(&self) -> String;
    /// Swaps in the component `bytes`, read from `path`, through every
    /// check; `signature` is its `.minisig` as read (or why not).
    fn swap_file(
        &self,
        path: &Path,
        bytes: &[u8],
        signature: &Result<String, Error>,
    ) -> Result<Swapped, Error>;
    /// The status as JSON, for the status file (`None`: write none).
    fn status_json(&self) -> Option<String> {
        None
    }
}

/// How often to look, and how long a change must settle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchOptions {
    /// Time between two looks at the file. Default 1 s.
    pub interval: Duration,
    /// How long the file's content must stay the same before it is loaded.
    /// Default 2 s.
    pub debounce: Duration,
    /// Write the cache's status to `<policy>.status.json` after each swap
    /// attempt (and at the first look). Default: no.
    pub write_status: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            interval: Duration::from_secs(1),
            debounce: Duration::from_secs(2),
            write_status: false,
        }
    }
}

/// What a look at the file led to (only changes are reported).
#[derive(Debug, Clone)]
pub enum WatchEvent {
    /// The file's new content passed every check and serves now.
    Swapped(Box<Swapped>),
    /// The file's new content was refused; the old policy keeps serving.
    Refused {
        /// The sha256 of the refused content.
        sha256: String,
        /// Why (a `policy_error`).
        error: Error,
    },
    /// The file cannot be read (missing, not a regular file, over
    /// [`Policy::MAX_FILE_SIZE`]); the old policy keeps serving.
    Unreadable {
        /// What the OS said.
        message: String,
    },
}

/// The watching itself, without a thread: call [`Watch::poll`] with the
/// current instant (tests pass instants of their own instead of sleeping).
pub struct Watch {
    cache: Box<dyn Swappable>,
    path: PathBuf,
    debounce: Duration,
    /// The content seen last (policy and signature), and since when it has
    /// been the same.
    seen: Option<(String, Instant)>,
    /// The content last tried (swapped in, refused, or already serving).
    tried: Option<String>,
    unreadable_reported: bool,
    /// Where to write the status, and whether it was written at least once.
    status_file: Option<(PathBuf, bool)>,
}

impl Watch {
    /// Watches `path` on behalf of `cache` (a `Cache`, say).
    pub fn new(
        cache: impl Swappable + 'static,
        path: impl Into<PathBuf>,
        debounce: Duration,
    ) -> Watch {
        Watch {
            cache: Box::new(cache),
            path: path.into(),
            debounce,
            seen: None,
            tried: None,
            unreadable_reported: false,
            status_file: None,
        }
    }

    /// Also writes the cache's status to `<path>.status.json` after each
    /// swap attempt and at the first look (durably: temp file, fsync,
    /// rename, folder fsync). A failed write is logged, never fatal.
    pub fn writing_status(mut self) -> Watch {
        self.status_file = Some((status::status_path(&self.path), false));
        self
    }

    /// The file watched.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Looks at the file once; `now` is the current instant.
    pub fn poll(&mut self, now: Instant) -> Option<WatchEvent> {
        let event = self.look(now);
        if let Some((path, written)) = &mut self.status_file {
            let attempted = matches!(
                event,
                Some(WatchEvent::Swapped(_) | WatchEvent::Refused { .. })
            );
            if attempted || !*written {
                if let Some(json) = self.cache.status_json() {
                    match status::write_status_file(path, &json) {
                        Ok(()) => *written = true,
                        Err(e) => log::warn!(
                            target: "exlab_cache",
                            "cannot write the policy status {}: {e}",
                            path.display()
                        ),
                    }
                }
            }
        }
        event
    }

    fn look(&mut self, now: Instant) -> Option<WatchEvent> {
        let bytes = match Policy::read_file(&self.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                self.seen = None;
                if std::mem::replace(&mut self.unreadable_reported, true) {
                    return None;
                }
                return Some(WatchEvent::Unreadable {
                    message: e.message().to_owned(),
                });
            }
        };
        self.unreadable_reported = false;
        let hash = sha256_hex(&bytes);
        // The signature counts as content too: one that arrives (or is
        // fixed) after the policy makes the pair new, and it is tried again.
        let signature = trust::read_signature(&self.path);
        let content = match &signature {
            Ok(text) => format!("{hash} signed {}", sha256_hex(text.as_bytes())),
            Err(e) => format!("{hash} unsigned: {}", e.message()),
        };
        if self.tried.as_ref() == Some(&content) {
            self.seen = None;
            return None;
        }
        let since = match &self.seen {
            Some((seen, since)) if *seen == content => *since,
            _ => {
                self.seen = Some((content.clone(), now));
                now
            }
        };
        if now.saturating_duration_since(since) < self.debounce {
            return None;
        }
        self.seen = None;
        self.tried = Some(content);
        if self.cache.serving_sha256() == hash {
            return None;
        }
        Some(match self.cache.swap_file(&self.path, &bytes, &signature) {
            Ok(swapped) => WatchEvent::Swapped(Box::new(swapped)),
            Err(error) => WatchEvent::Refused {
                sha256: hash,
                error,
            },
        })
    }
}

/// A thread that polls a policy file for a cache until dropped (or
/// [`PolicyWatcher::stop`]ped), calling `on_event` with each change.
pub struct PolicyWatcher {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PolicyWatcher {
    /// Starts watching `path` for `cache` (clones of a cache share its
    /// policy, so the swap reaches every clone).
    pub fn spawn(
        cache: impl Swappable + 'static,
        path: impl Into<PathBuf>,
        options: WatchOptions,
        on_event: impl Fn(WatchEvent) + Send + 'static,
    ) -> Result<PolicyWatcher, Error> {
        let mut watch = Watch::new(cache, path, options.debounce);
        if options.write_status {
            watch = watch.writing_status();
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("exlab-cache-policy-watch".into())
            .spawn(move || loop {
                if let Some(event) = watch.poll(Instant::now()) {
                    on_event(event);
                }
                match stopped.recv_timeout(options.interval) {
                    Err(RecvTimeoutError::Timeout) => {}
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })
            .map_err(|e| Error::io(format!("start the policy watcher: {e}")))?;
        Ok(PolicyWatcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops watching and waits for the thread (a swap in progress finishes).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PolicyWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}
