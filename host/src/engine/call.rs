//! What one call's store holds: the WASI context (a clock and captured
//! stderr, nothing else), the guest's resources, the caller's root and
//! settings, and the accounts of the call (host time, warnings).

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use wasmtime::component::ResourceTable;
use wasmtime::{Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::engine;
use super::limits::{self, MemoryCap, OutOfTime};
use crate::{Clock, Error, Root, Settings};

/// How much of a guest's stderr (its panic message) is kept per call.
const GUEST_STDERR_CAP: usize = 16 * 1024;

/// The state of one store: idle between calls, the caller's during one.
pub(crate) struct CallState {
    wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) root: Arc<Root>,
    pub(super) settings: Arc<Settings>,
    /// How long this attempt may wait for a lock: the caller's timeout, less
    /// what earlier attempts of the same call took.
    pub(super) lock_timeout: Duration,
    pub(super) warnings: Vec<String>,
    /// Time spent in host calls, which does not count against the guest.
    pub(super) host_time: Duration,
    /// Set when a write-once commit found the file created meanwhile: the
    /// call is run again (see `pool::run`).
    pub(super) commit_lost: bool,
    started: Instant,
    pub(super) memory: MemoryCap,
    stderr: MemoryOutputPipe,
    /// The clock the WASI context reads: the current caller's.
    clock: Arc<Mutex<Arc<dyn Clock>>>,
    /// The caller's step, lent for the call in progress.
    pub(super) step: StepSlot,
}

/// A caller's step: the record it makes of the one read under the lock
/// (JSON in, JSON out), or `None` when it gives up.
pub type Step<'a> = &'a mut dyn FnMut(String) -> Option<String>;

/// Where a call's store finds the caller's step (`caller.step`). The step
/// is the caller's, borrowed for one call only, and a store's data must be
/// `'static`: so the slot holds it as a pointer, set by
/// [`CallState::begin`] and cleared by [`CallState::finish`]. A store that
/// does not reach `finish` (a panic) is dropped, never reused.
#[derive(Default)]
pub(crate) struct StepSlot(Option<*mut (dyn FnMut(String) -> Option<String> + 'static)>);

// SAFETY: the pointer is set only while the thread that lent it runs the
// call on this store, and cleared before that call returns.
unsafe impl Send for StepSlot {}

impl StepSlot {
    fn lend(&mut self, step: Option<Step<'_>>) {
        self.0 = step.map(|step| {
            let step: *mut (dyn FnMut(String) -> Option<String> + '_) = step;
            // SAFETY: only the lifetime is erased; `finish` clears the slot
            // before the call returns, within the step's borrow.
            unsafe {
                std::mem::transmute::<
                    *mut (dyn FnMut(String) -> Option<String> + '_),
                    *mut (dyn FnMut(String) -> Option<String> + 'static),
                >(step)
            }
        });
    }

    /// Runs the lent step; `None` without one (nothing may be written).
    pub(super) fn call(&mut self, record_json: String) -> Option<String> {
        // SAFETY: set only while the lender's borrow lasts (see `lend`).
        let step = unsafe { &mut *self.0? };
        step(record_json)
    }
}

/// Why there is no root: a store between calls, or a call that needs none.
#[derive(Clone, Copy)]
pub(crate) enum NoRoot {
    Loading,
    SchemaGate,
    Kinds,
    Idle,
}

/// A root that fails every storage call, for the calls that need none.
pub(crate) fn no_root(why: NoRoot) -> &'static Arc<Root> {
    static LOADING: OnceLock<Arc<Root>> = OnceLock::new();
    static SCHEMA_GATE: OnceLock<Arc<Root>> = OnceLock::new();
    static KINDS: OnceLock<Arc<Root>> = OnceLock::new();
    static IDLE: OnceLock<Arc<Root>> = OnceLock::new();
    let (root, reason) = match why {
        NoRoot::Loading => (&LOADING, "no storage while loading a policy"),
        NoRoot::SchemaGate => (&SCHEMA_GATE, "the schema gate has no storage"),
        NoRoot::Kinds => (&KINDS, "listing the kinds needs no storage"),
        NoRoot::Idle => (&IDLE, "no call in progress"),
    };
    root.get_or_init(|| Arc::new(Root::unavailable(reason)))
}

/// What an idle store holds between calls: nothing of the last caller's.
fn idle_settings() -> &'static Arc<Settings> {
    static IDLE_SETTINGS: OnceLock<Arc<Settings>> = OnceLock::new();
    IDLE_SETTINGS.get_or_init(Default::default)
}

/// A store for one instance of a policy, its limits wired: the memory cap,
/// and the deadline that stops a guest past its time limit.
pub(super) fn new_store(memory_limit: usize) -> Store<CallState> {
    let mut store = Store::new(engine(), CallState::new(memory_limit));
    store.limiter(|state| &mut state.memory);
    store.epoch_deadline_callback(|store| {
        let state = store.data();
        limits::at_tick(state.guest_time(), state.settings.time_limit)
    });
    store
}

impl CallState {
    /// The state of a new store, idle until [`CallState::begin`].
    fn new(memory_limit: usize) -> Self {
        let stderr = MemoryOutputPipe::new(GUEST_STDERR_CAP);
        let settings = idle_settings().clone();
        let clock = Arc::new(Mutex::new(settings.clock.clone()));
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(WasiClock(clock.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            root: no_root(NoRoot::Idle).clone(),
            lock_timeout: settings.lock_timeout,
            settings,
            memory: MemoryCap::new(memory_limit),
            warnings: Vec::new(),
            host_time: Duration::ZERO,
            commit_lost: false,
            started: Instant::now(),
            stderr,
            clock,
            step: StepSlot::default(),
        }
    }

    /// Readies the state for one call by `settings` on `root`, with the
    /// caller's `step` when the call has one (see [`StepSlot`]).
    pub(super) fn begin(
        &mut self,
        root: &Arc<Root>,
        settings: &Arc<Settings>,
        step: Option<Step<'_>>,
    ) {
        self.step.lend(step);
        debug_assert_eq!(self.memory.limit, settings.memory_limit);
        self.root = root.clone();
        self.settings = settings.clone();
        self.lock_timeout = settings.lock_timeout;
        *self.clock.lock().unwrap() = settings.clock.clone();
        self.warnings.clear();
        self.memory.hit = false;
        self.host_time = Duration::ZERO;
        self.commit_lost = false;
        self.started = Instant::now();
    }

    /// Ends a call: lets go of the caller's root, settings and clock, and
    /// says whether the instance is as clean as a fresh one, i.e. reusable.
    pub(super) fn finish(&mut self) -> bool {
        self.step = StepSlot::default();
        let idle = idle_settings();
        self.root = no_root(NoRoot::Idle).clone();
        self.settings = idle.clone();
        *self.clock.lock().unwrap() = idle.clock.clone();
        self.table.is_empty()
            && !self.memory.hit
            && self.memory.size <= self.memory.limit / 2
            && self.stderr.contents().is_empty()
    }

    pub(super) fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
    }

    /// Runs a host call, keeping its time off the guest's time budget
    /// (epoch interruption cannot stop a host call anyway).
    pub(super) fn host_call<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let start = Instant::now();
        let out = f(self);
        self.host_time += start.elapsed();
        out
    }

    /// The error for a call that failed in the runtime: `policy_error` when
    /// the guest trapped, hit a limit or does not fit; `io_error` when the
    /// machine refused the runtime something (an OS error, host memory).
    pub(super) fn failure(&self, e: &wasmtime::Error) -> Error {
        let guest_fault = e.is::<OutOfTime>() || e.is::<Trap>() || self.memory.hit;
        match machine_fault(e) {
            Some(why) if !guest_fault => Error::io(format!(
                "the sandbox could not get what it needs from the machine: {why}"
            )),
            _ => Error::policy(self.describe_failure(e)),
        }
    }

    fn describe_failure(&self, e: &wasmtime::Error) -> String {
        let mut message = if e.downcast_ref::<OutOfTime>().is_some() {
            format!(
                "the policy ran out of time (limit {}s)",
                self.settings.time_limit.as_secs_f64()
            )
        } else if self.memory.hit {
            format!(
                "the policy ran out of memory (limit {} bytes)",
                self.memory.limit
            )
        } else if let Some(trap) = e.downcast_ref::<Trap>() {
            format!("the policy trapped: {trap}")
        } else {
            format!("the policy failed: {e:#}")
        };
        let stderr = self.stderr.contents();
        let stderr = String::from_utf8_lossy(&stderr);
        let stderr = stderr.trim();
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(stderr);
        }
        message
    }
}

/// The OS error or host allocation failure behind `e`, if there is one:
/// a memfd write past `ulimit -f`, a memory reservation past `ulimit -v`.
fn machine_fault(e: &wasmtime::Error) -> Option<String> {
    fn from_the_machine(cause: &(dyn std::error::Error + 'static)) -> bool {
        #[cfg(unix)]
        if cause.is::<rustix::io::Errno>() {
            return true;
        }
        cause.is::<std::io::Error>() || cause.is::<wasmtime::OutOfMemory>()
    }
    // The whole chain: wasmtime's context says what it was doing.
    e.chain().any(from_the_machine).then(|| format!("{e:#}"))
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The injected clock, as WASI's wall clock: the guest's only view of time.
/// Shared with the store's state, which points it at each caller's clock.
struct WasiClock(Arc<Mutex<Arc<dyn Clock>>>);

impl HostWallClock for WasiClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        let clock = self.0.lock().unwrap().clone();
        clock.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}
