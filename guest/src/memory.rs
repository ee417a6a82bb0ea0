//! An in-memory [`Env`](crate::policy::Env) with an injected clock, for the
//! unit tests, property tests and fuzz targets. Compiled natively only, never
//! into the component.

use crate::policy::{Env, LockedFile};
use crate::Error;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// What a test's caller step does with the record it is handed.
pub type Step = Box<dyn Fn(&str) -> Option<String>>;

/// Files by path, a settable clock, a caller step, and counters of what the
/// policy did.
#[derive(Default)]
pub struct MemEnv {
    pub files: RefCell<BTreeMap<String, Vec<u8>>>,
    pub now: Cell<i64>,
    pub warnings: RefCell<Vec<String>>,
    pub locks_taken: Cell<u32>,
    pub clock_reads: Cell<u32>,
    /// The caller's step; none: the caller gives up.
    pub step: RefCell<Option<Step>>,
    /// What the step was handed, call by call.
    pub steps_seen: RefCell<Vec<String>>,
    /// The machine's name (default `labpc-test`).
    pub hostname: RefCell<Option<String>>,
}

impl MemEnv {
    /// An empty store whose clock says `now` (seconds since the epoch).
    pub fn at(now: i64) -> Self {
        let env = MemEnv::default();
        env.now.set(now);
        env
    }

    /// Puts `contents` at `path`, as if on disk before the call.
    pub fn put(&self, path: &str, contents: &[u8]) {
        self.files
            .borrow_mut()
            .insert(path.to_owned(), contents.to_vec());
    }

    /// The bytes at `path`, if any.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        self.files.borrow().get(path).cloned()
    }

    /// Sets the caller's step for the calls that follow.
    pub fn with_step(self, step: impl Fn(&str) -> Option<String> + 'static) -> Self {
        *self.step.borrow_mut() = Some(Box::new(step));
        self
    }
}

/// A "locked" file of a [`MemEnv`] (no real lock: one thread).
pub struct MemLock<'a> {
    env: &'a MemEnv,
    path: String,
}

impl<'a> Env for &'a MemEnv {
    type Locked = MemLock<'a>;
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.get(path))
    }
    fn lock(&self, path: &str) -> Result<MemLock<'a>, Error> {
        self.locks_taken.set(self.locks_taken.get() + 1);
        Ok(MemLock {
            env: self,
            path: path.to_owned(),
        })
    }
    fn append(&self, path: &str, line: &[u8]) -> Result<(), Error> {
        let mut files = self.files.borrow_mut();
        files
            .entry(path.to_owned())
            .or_default()
            .extend_from_slice(line);
        Ok(())
    }
    fn step(&self, record_json: &str) -> Option<String> {
        self.steps_seen.borrow_mut().push(record_json.to_owned());
        self.step.borrow().as_ref()?(record_json)
    }
    fn hostname(&self) -> String {
        self.hostname
            .borrow()
            .clone()
            .unwrap_or_else(|| "labpc-test".to_owned())
    }
    fn warn(&self, message: &str) {
        self.warnings.borrow_mut().push(message.to_owned());
    }
    fn now(&self) -> i64 {
        self.clock_reads.set(self.clock_reads.get() + 1);
        self.now.get()
    }
}

impl LockedFile for MemLock<'_> {
    fn read(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.env.get(&self.path))
    }
    fn replace(&self, contents: &[u8]) -> Result<(), Error> {
        self.env.put(&self.path, contents);
        Ok(())
    }
}
