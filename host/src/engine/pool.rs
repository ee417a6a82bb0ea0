//! Each thread's idle instances, and running one call on one.
//!
//! Instantiating costs far more than a call (tens of microseconds against a
//! few), so a call takes its thread's idle instance when there is one, and
//! puts it back afterwards only if the call left it exactly as clean as a
//! fresh one: no trap, no time or memory limit hit, no guest resource (a
//! lock) left in its table, nothing on its stderr, and its memory not grown
//! past half its limit. Anything else drops the store, which releases any
//! lock the guest still held, and the next call instantiates afresh. The
//! policy is stateless by contract; `policy`'s tests check that a reused
//! instance gives the same results as fresh ones.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use wasmtime::Store;

use super::bindings::{Exports, Outcome, PolicyPre};
use super::call::{new_store, CallState, Step};
use super::limits::ensure_ticker;
use crate::{Error, Root, Settings};

/// Whether calls reuse their thread's idle instance.
static REUSE: AtomicBool = AtomicBool::new(true);

/// Benchmarks only: with `false`, every call instantiates afresh.
pub(crate) fn set_reuse(enabled: bool) {
    REUSE.store(enabled, Ordering::Relaxed);
}

/// Most idle instances a thread keeps (one per policy it ran lately).
const IDLE_PER_THREAD: usize = 4;

/// Most times a call is run again after its write-once commit lost a race.
const MAX_RERUNS: u32 = 8;

/// An instance between two calls, with the store it lives in.
struct Idle {
    /// The policy it is an instance of (see [`run`]'s `alive`).
    policy: Weak<()>,
    store: Store<CallState>,
    exports: Exports,
}

thread_local! {
    /// This thread's idle instances, least recently used first.
    static IDLE: RefCell<Vec<Idle>> = const { RefCell::new(Vec::new()) };
}

#[cfg(test)]
thread_local! {
    /// Instantiations on this thread, for the tests.
    static INSTANTIATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Runs `f` on an instance of the component `pre`, whose identity is
/// `alive` (the idle instances of each thread hold it weakly, and are
/// dropped once the policy is gone), with the caller's `step` lent to it.
///
/// A call whose first write found the file created meanwhile (a writer that
/// got in while the lock file was deleted; nothing was overwritten) is run
/// again, at most [`MAX_RERUNS`] times, its lock waits within the call's
/// lock timeout: the policy is stateless, so the re-run reads the winner's
/// file and decides on it.
pub(crate) fn run<R>(
    pre: &PolicyPre,
    alive: &Arc<()>,
    root: &Arc<Root>,
    settings: &Arc<Settings>,
    step: Option<Step<'_>>,
    f: impl Fn(&Exports, &mut Store<CallState>) -> Outcome<R>,
) -> Result<R, Error> {
    ensure_ticker()?;
    let reuse = REUSE.load(Ordering::Relaxed);
    let idle = match reuse {
        true => take_idle(alive, settings.memory_limit),
        false => None,
    };
    let (mut store, exports) = match idle {
        Some(idle) => (idle.store, Some(idle.exports)),
        None => (new_store(settings.memory_limit), None),
    };
    // Per call: the caller's root, settings, clock and step; the time budget
    // and the host-time account start from zero; the deadline is one tick away.
    store.data_mut().begin(root, settings, step);
    store.set_epoch_deadline(1);
    let outcome = match exports {
        Some(exports) => Ok(exports),
        None => {
            #[cfg(test)]
            INSTANTIATIONS.with(|n| n.set(n.get() + 1));
            pre.instantiate(&mut store)
        }
    }
    .and_then(|exports| {
        let started = Instant::now();
        let mut reruns = 0;
        loop {
            let result = f(&exports, &mut store)?;
            let state = store.data_mut();
            if !std::mem::take(&mut state.commit_lost) || reruns == MAX_RERUNS {
                return Ok((exports, result));
            }
            reruns += 1;
            // The lost attempt's warnings were about a write that did not happen.
            state.warnings.clear();
            // A re-run waits for the lock only as long as the call has left
            // (with nothing left, it tries once).
            state.lock_timeout = settings.lock_timeout.saturating_sub(started.elapsed());
        }
    });
    let warnings = std::mem::take(&mut store.data_mut().warnings);
    let (exports, result) = match outcome {
        Ok((exports, Ok(value))) => (Some(exports), Ok(value)),
        Ok((exports, Err(e))) => (Some(exports), Err(e.into())),
        Err(e) => (None, Err(store.data().failure(&e))),
    };
    let clean = store.data_mut().finish();
    match exports {
        Some(exports) if reuse && clean => put_idle(Idle {
            policy: Arc::downgrade(alive),
            store,
            exports,
        }),
        // Dropping the store drops its instance, and any lock the guest
        // still held goes with it.
        _ => drop(store),
    }
    for warning in &warnings {
        (settings.on_warning)(warning);
    }
    result
}

/// Takes this thread's idle instance of `policy` made for `memory_limit`.
/// Nothing stays borrowed during the call, so a warning sink that calls the
/// cache again simply gets a fresh instance.
fn take_idle(policy: &Arc<()>, memory_limit: usize) -> Option<Idle> {
    IDLE.try_with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.retain(|i| i.policy.strong_count() > 0);
        let at = idle.iter().rposition(|i| is_for(i, policy, memory_limit))?;
        Some(idle.remove(at))
    })
    .ok()
    .flatten()
}

fn is_for(idle: &Idle, policy: &Arc<()>, memory_limit: usize) -> bool {
    std::ptr::eq(idle.policy.as_ptr(), Arc::as_ptr(policy))
        && idle.store.data().memory.limit == memory_limit
}

fn put_idle(instance: Idle) {
    let _ = IDLE.try_with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.push(instance);
        if idle.len() > IDLE_PER_THREAD {
            idle.remove(0);
        }
    });
}

/// For the tests: instantiations on this thread so far.
#[cfg(test)]
pub(crate) fn instantiations() -> u64 {
    INSTANTIATIONS.with(|n| n.get())
}

/// For the tests: whether this thread holds an idle instance of `policy`
/// for `memory_limit`.
#[cfg(test)]
pub(crate) fn holds_idle(policy: &Arc<()>, memory_limit: usize) -> bool {
    IDLE.with_borrow(|idle| idle.iter().any(|i| is_for(i, policy, memory_limit)))
}

/// For the tests: whether every idle instance of this thread belongs to a
/// policy still alive.
#[cfg(test)]
pub(crate) fn all_idle_alive() -> bool {
    IDLE.with_borrow(|idle| idle.iter().all(|i| i.policy.strong_count() > 0))
}
