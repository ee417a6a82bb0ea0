//! The limits every call runs under, in one place: guest time (epoch ticks
//! and the deadline), guest memory (a limiter with its test beside it), and
//! the ticker that keeps the time limit true, in a forked child too.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use wasmtime::{ResourceLimiter, UpdateDeadline};

use super::engine;
use crate::Error;

/// How often the epoch advances; a runaway guest stops within about one tick
/// of its time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Whether this process has an epoch ticker. A forked child has only the
/// thread that forked, so the `pthread_atfork` handler clears this there,
/// and the child's next call starts a ticker of its own.
static TICKING: AtomicBool = AtomicBool::new(false);

/// Set in the child of a fork (by the same handler).
pub(super) static FORKED: AtomicBool = AtomicBool::new(false);

/// The deadline callback's verdict at each epoch tick: stop a guest whose
/// time (host calls not counted) is past its limit, else look again at the
/// next tick.
pub(super) fn at_tick(guest_time: Duration, limit: Duration) -> wasmtime::Result<UpdateDeadline> {
    if guest_time > limit {
        Err(OutOfTime.into())
    } else {
        Ok(UpdateDeadline::Continue(1))
    }
}

/// Starts the epoch ticker unless it runs: without it, no time limit holds.
/// One atomic load when it runs (every call makes it).
pub(crate) fn ensure_ticker() -> Result<(), Error> {
    if TICKING.load(Ordering::Acquire) {
        return Ok(());
    }
    watch_for_fork().clone()?;
    if TICKING
        .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return Ok(()); // another thread started it just now
    }
    // The ticker holds only a weak reference: it never keeps an engine alive.
    let weak = engine().weak();
    let spawned = std::thread::Builder::new()
        .name("exlab-cache-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        });
    spawned.map(drop).map_err(|e| {
        TICKING.store(false, Ordering::Release);
        Error::io(format!("cannot start the policy's time keeper: {e}"))
    })
}

/// Registers, once, the fork handler that tells a child it is one.
pub(super) fn watch_for_fork() -> &'static Result<(), Error> {
    static REGISTERED: OnceLock<Result<(), Error>> = OnceLock::new();
    REGISTERED.get_or_init(|| {
        #[cfg(unix)]
        {
            extern "C" fn in_child() {
                // Atomic stores: async-signal-safe, as a fork handler must be.
                TICKING.store(false, Ordering::Release);
                FORKED.store(true, Ordering::Release);
            }
            // SAFETY: registers a handler that only stores to atomics.
            let failed = unsafe { libc::pthread_atfork(None, None, Some(in_child)) };
            if failed != 0 {
                let e = std::io::Error::from_raw_os_error(failed);
                return Err(Error::io(format!("cannot watch for fork: {e}")));
            }
        }
        Ok(())
    })
}

/// The epoch callback's verdict when a guest exceeds its time limit.
#[derive(Debug)]
pub(super) struct OutOfTime;

impl std::fmt::Display for OutOfTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the policy ran out of time")
    }
}

impl std::error::Error for OutOfTime {}

/// Caps a guest's linear memory; a growth past the cap traps.
pub(crate) struct MemoryCap {
    pub(crate) limit: usize,
    /// Whether a growth past the cap was refused in this call.
    pub(super) hit: bool,
    /// The largest memory the instance has grown to.
    pub(super) size: usize,
}

impl MemoryCap {
    pub(super) fn new(limit: usize) -> Self {
        MemoryCap {
            limit,
            hit: false,
            size: 0,
        }
    }
}

/// Most table elements a guest may have (its function tables are small).
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            wasmtime::bail!("memory limit of {} bytes reached", self.limit);
        }
        self.size = self.size.max(current).max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_grows_up_to_the_cap_and_a_growth_past_it_traps_and_is_remembered() {
        let mut cap = MemoryCap::new(1 << 20);
        assert!(cap.memory_growing(0, 64 << 10, None).unwrap());
        assert!(cap.memory_growing(64 << 10, 1 << 20, None).unwrap());
        assert_eq!((cap.size, cap.hit), (1 << 20, false));
        let e = cap
            .memory_growing(1 << 20, (1 << 20) + 1, None)
            .unwrap_err();
        assert!(
            e.to_string().contains("memory limit of 1048576 bytes"),
            "{e}"
        );
        assert!(cap.hit);
        assert_eq!(cap.size, 1 << 20, "a refused growth does not count");
    }

    #[test]
    fn a_guest_is_stopped_at_the_first_tick_past_its_time_limit() {
        let limit = Duration::from_millis(100);
        assert!(at_tick(Duration::from_millis(100), limit).is_ok());
        let Err(e) = at_tick(Duration::from_millis(101), limit) else {
            panic!("a guest past its limit goes on");
        };
        assert!(e.is::<OutOfTime>());
    }

    #[test]
    fn tables_are_capped_too() {
        let mut cap = MemoryCap::new(1 << 20);
        assert!(cap.table_growing(0, MAX_TABLE_ELEMENTS, None).unwrap());
        assert!(!cap.table_growing(0, MAX_TABLE_ELEMENTS + 1, None).unwrap());
    }
}
