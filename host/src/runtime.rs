//! The sandbox: one process-wide `Engine` with epoch interruption, a linker
//! built once, one `PluginPre` per policy component, and per thread an idle
//! instance of each policy that the next call on that thread reuses.
//!
//! Instantiating costs far more than a call (tens of microseconds against a
//! few), so a call takes its thread's idle instance when there is one, and
//! puts it back afterwards only if the call left it exactly as clean as a
//! fresh one: no trap, no time or memory limit hit, no guest resource (a lock)
//! left in its table, nothing on its stderr, and its memory not grown past
//! half its limit. Anything else drops the store, which releases any lock the
//! guest still held, and the next call instantiates afresh. The policy is
//! stateless by contract; the tests below check that a reused instance gives
//! the same results as fresh ones.
//!
//! The built-in policy's compiled code is cached on disk (see
//! [`precompiled`]), so a CLI process deserializes it instead of compiling.
//!
//! The environment's limits are not the policy's fault: loading writes no
//! file (no copy-on-write memory images, which need a memfd that `ulimit -f`
//! refuses), a failure that is the machine's (an OS error, the host out of
//! memory) is `io_error`, and in a forked child, which inherits no threads,
//! the epoch ticker that enforces the time limit is restarted and compiling
//! uses a thread pool of the child's own.

mod precompiled;

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant, UNIX_EPOCH};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{CacheError, Plugin, PluginPre};
use crate::{sha256_hex, Error, Root, Settings};

/// The WIT interface version this host serves.
pub const INTERFACE: &str = "exlab:cache@1.0.0";

/// How often the epoch advances; a runaway guest stops within about one tick
/// of its time limit.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How much of a guest's stderr (its panic message) is kept per call.
const GUEST_STDERR_CAP: usize = 16 * 1024;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        // Before anything runs on the engine: a later fork's child must know.
        let _ = watch_for_fork();
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            // Copy-on-write memory images live in a memfd that wasmtime fills
            // with write(2), which a file-size limit (`ulimit -f`) refuses.
            // Copying the data segments instead costs ~20 us per fresh
            // instance, and calls reuse their instances.
            .memory_init_cow(false);
        Engine::new(&config).expect("a valid wasmtime configuration")
    })
}

/// Whether this process has an epoch ticker. A forked child has only the
/// thread that forked, so the `pthread_atfork` handler clears this there,
/// and the child's next call starts a ticker of its own.
static TICKING: AtomicBool = AtomicBool::new(false);

/// Set in the child of a fork (by the same handler).
static FORKED: AtomicBool = AtomicBool::new(false);

/// Compiles a component. wasmtime compiles in parallel on rayon's global
/// pool, whose threads a forked child does not have: there it would wait
/// forever, so a child compiles on a pool of its own for the occasion.
fn compile(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    if !FORKED.load(Ordering::Acquire) {
        return Component::new(engine, bytes);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("exlab-cache-compile-{i}"))
        .build()?;
    pool.install(|| Component::new(engine, bytes))
}

/// Starts the epoch ticker unless it runs: without it, no time limit holds.
/// One atomic load when it runs (every call makes it).
fn ensure_ticker() -> Result<(), Error> {
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
fn watch_for_fork() -> &'static Result<(), Error> {
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

fn linker() -> &'static Linker<CallState> {
    static LINKER: OnceLock<Linker<CallState>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(engine());
        // WASI for what Rust's std imports; the context grants nothing but
        // the clock (no preopens, no env, no sockets).
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("link WASI");
        Plugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |state| state)
            .expect("link the exlab:cache imports");
        linker
    })
}

/// Who a loaded policy is, and exactly which bytes it was loaded from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PolicyInfo {
    /// The policy's own name.
    pub name: String,
    /// The policy's semver.
    pub version: String,
    /// The WIT interface it was linked against (`exlab:cache@1.0.0`).
    pub interface: String,
    /// Hex sha256 of the component's bytes.
    pub sha256: String,
}

/// A policy component, compiled, type-checked against the WIT world and
/// linked once. Cheap to clone; shared by every call and thread.
#[derive(Clone)]
pub struct Policy(Arc<Loaded>);

struct Loaded {
    pre: PluginPre<CallState>,
    info: PolicyInfo,
    /// Identity of this policy for the idle instances of each thread; they
    /// hold it weakly, and are dropped once the policy is gone.
    alive: Arc<()>,
}

/// The policy built into this binary.
pub const BUILTIN_POLICY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.wasm"));

impl Policy {
    /// The built-in policy, compiled once per process.
    ///
    /// Its compiled code is cached under `$XDG_CACHE_HOME/exlab-cache/` (or
    /// `~/.cache/exlab-cache/`, only when `$HOME` exists), keyed by the
    /// component's sha256 and the engine's compatibility hash, so that later
    /// processes skip compiling; files of other versions are pruned.
    /// `EXLAB_CACHE_CODE_CACHE=off` (or `0`) turns the cache off. A cache
    /// that cannot be read or written only costs a compile (~0.5 s).
    pub fn builtin() -> Result<Policy, Error> {
        static BUILTIN: OnceLock<Result<Policy, Error>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                // Built from wit/since_v1.0.0 (version.rs's tests pin it): no
                // need to parse it again at every process start.
                let sha256 = sha256_hex(BUILTIN_POLICY);
                let component = precompiled::component(engine(), BUILTIN_POLICY, &sha256);
                Policy::load(component, sha256, Some(INTERFACE.to_owned()))
            })
            .clone()
    }

    /// The largest policy component file read, in bytes: 64 MiB, some 250
    /// times the built-in policy.
    pub const MAX_FILE_SIZE: u64 = 64 << 20;

    /// A policy component from a file (read as [`Policy::read_file`] does).
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Policy, Error> {
        Policy::from_bytes(&Policy::read_file(path)?)
    }

    /// The bytes of a policy component file, for every door that takes one:
    /// opened without blocking, refused with `policy_error` unless it is a
    /// regular file of at most [`Policy::MAX_FILE_SIZE`] bytes (a FIFO,
    /// `/dev/zero` or a folder is refused before anything is read).
    pub fn read_file(path: impl AsRef<std::path::Path>) -> Result<Vec<u8>, Error> {
        let path = path.as_ref();
        crate::regular_file::read(path, Policy::MAX_FILE_SIZE).map_err(|why| {
            Error::policy(format!("cannot read the policy {}: {why}", path.display()))
        })
    }

    /// A policy component from its bytes: compiled, checked to fit the
    /// `exlab:cache/plugin` world, and asked who it is. Nothing is touched.
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy, Error> {
        // Another interface version is refused before anything is compiled.
        let interface = crate::version::check_interface(bytes)?;
        Policy::load(compile(engine(), bytes), sha256_hex(bytes), interface)
    }

    /// Checks a compiled component against the world and asks it who it is.
    fn load(
        component: wasmtime::Result<Component>,
        sha256: String,
        interface: Option<String>,
    ) -> Result<Policy, Error> {
        let unfit = |e: wasmtime::Error| {
            Error::policy(format!(
                "the policy component does not fit the {INTERFACE} interface: {e:#}"
            ))
        };
        let component = component
            .map_err(|e| Error::policy(format!("the policy is not a valid component: {e:#}")))?;
        let pre = linker().instantiate_pre(&component).map_err(unfit)?;
        let pre = PluginPre::new(pre).map_err(unfit)?;
        let mut loaded = Loaded {
            pre,
            info: PolicyInfo {
                name: String::new(),
                version: String::new(),
                interface: interface.unwrap_or_else(|| INTERFACE.into()),
                sha256,
            },
            alive: Arc::new(()),
        };
        let scratch = no_root(NoRoot::Loading);
        ensure_ticker()?;
        let who = loaded.call(scratch, &Settings::default(), |plugin, store| {
            plugin.exlab_cache_policy().call_info(store).map(Ok)
        })?;
        loaded.info.name = who.name;
        loaded.info.version = who.version;
        Ok(Policy(Arc::new(loaded)))
    }

    /// Name, version, interface and sha256.
    pub fn info(&self) -> &PolicyInfo {
        &self.0.info
    }

    /// The schema gate of this policy; it needs no root.
    pub fn require_schema_major(
        &self,
        version: Option<&str>,
        expected_major: u32,
        settings: &Settings,
    ) -> Result<(), Error> {
        let no_root = no_root(NoRoot::SchemaGate);
        self.call(no_root, settings, |plugin, store| {
            plugin
                .exlab_cache_policy()
                .call_require_schema_major(store, version, expected_major)
        })
    }

    pub(crate) fn call<R>(
        &self,
        root: &Arc<Root>,
        settings: &Settings,
        f: impl Fn(&Plugin, &mut Store<CallState>) -> wasmtime::Result<Result<R, CacheError>>,
    ) -> Result<R, Error> {
        ensure_ticker()?;
        self.0.call(root, settings, f)
    }

    /// Benchmarks only: with `false`, every call instantiates the policy
    /// afresh (the cost that reusing instances saves). Process-wide.
    #[doc(hidden)]
    pub fn set_instance_reuse(enabled: bool) {
        REUSE.store(enabled, Ordering::Relaxed);
    }
}

/// Whether calls reuse their thread's idle instance (see the module docs).
static REUSE: AtomicBool = AtomicBool::new(true);

/// Most idle instances a thread keeps (one per policy it ran lately).
const IDLE_PER_THREAD: usize = 4;

/// An instance between two calls, with the store it lives in.
struct Idle {
    policy: Weak<()>,
    store: Store<CallState>,
    plugin: Plugin,
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

/// Takes this thread's idle instance of `policy` made for `memory_limit`.
/// Nothing stays borrowed during the call, so a warning sink that calls the
/// cache again simply gets a fresh instance.
fn take_idle(policy: &Arc<()>, memory_limit: usize) -> Option<Idle> {
    IDLE.try_with(|idle| {
        let mut idle = idle.borrow_mut();
        idle.retain(|i| i.policy.strong_count() > 0);
        let at = idle.iter().rposition(|i| {
            std::ptr::eq(i.policy.as_ptr(), Arc::as_ptr(policy))
                && i.store.data().memory.limit == memory_limit
        })?;
        Some(idle.remove(at))
    })
    .ok()
    .flatten()
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

/// A root that fails every storage call, for the calls that need none.
fn no_root(why: NoRoot) -> &'static Arc<Root> {
    static ROOTS: [OnceLock<Arc<Root>>; 3] = [const { OnceLock::new() }; 3];
    let reason = match why {
        NoRoot::Loading => "no storage while loading a policy",
        NoRoot::SchemaGate => "the schema gate has no storage",
        NoRoot::Idle => "no call in progress",
    };
    ROOTS[why as usize].get_or_init(|| Arc::new(Root::unavailable(reason)))
}

#[derive(Clone, Copy)]
enum NoRoot {
    Loading,
    SchemaGate,
    Idle,
}

/// What an idle store holds between calls: nothing of the last caller's.
fn idle_settings() -> &'static Settings {
    static IDLE_SETTINGS: OnceLock<Settings> = OnceLock::new();
    IDLE_SETTINGS.get_or_init(Settings::default)
}

/// A store for one instance of a policy, limits and epoch deadline wired.
fn new_store(memory_limit: usize) -> Store<CallState> {
    let mut store = Store::new(engine(), CallState::new(memory_limit));
    store.limiter(|state| &mut state.memory);
    store.epoch_deadline_callback(|store| {
        let state = store.data();
        if state.guest_time() > state.settings.time_limit {
            Err(OutOfTime.into())
        } else {
            Ok(UpdateDeadline::Continue(1))
        }
    });
    store
}

/// Most times a call is run again after its write-once commit lost a race.
const MAX_RERUNS: u32 = 8;

impl Loaded {
    /// Runs `f` on an instance of this policy. A call whose first write found
    /// the file created meanwhile (a writer that got in while the lock file
    /// was deleted; nothing was overwritten) is run again, at most
    /// [`MAX_RERUNS`] times, its lock waits within the call's lock timeout:
    /// the policy is stateless, so the re-run reads the winner's file and
    /// decides on it.
    fn call<R>(
        &self,
        root: &Arc<Root>,
        settings: &Settings,
        f: impl Fn(&Plugin, &mut Store<CallState>) -> wasmtime::Result<Result<R, CacheError>>,
    ) -> Result<R, Error> {
        let reuse = REUSE.load(Ordering::Relaxed);
        let idle = match reuse {
            true => take_idle(&self.alive, settings.memory_limit),
            false => None,
        };
        let (mut store, plugin) = match idle {
            Some(idle) => (idle.store, Some(idle.plugin)),
            None => (new_store(settings.memory_limit), None),
        };
        // Per call: the caller's root, settings and clock; the time budget and
        // the host-time account start from zero; the deadline is one tick away.
        store.data_mut().begin(root, settings);
        store.set_epoch_deadline(1);
        let outcome = match plugin {
            Some(plugin) => Ok(plugin),
            None => {
                #[cfg(test)]
                INSTANTIATIONS.with(|n| n.set(n.get() + 1));
                self.pre.instantiate(&mut store)
            }
        }
        .and_then(|plugin| {
            let started = Instant::now();
            let mut reruns = 0;
            loop {
                let result = f(&plugin, &mut store)?;
                let state = store.data_mut();
                if !std::mem::take(&mut state.commit_lost) || reruns == MAX_RERUNS {
                    return Ok((plugin, result));
                }
                reruns += 1;
                // The lost attempt's warnings were about a write that did not happen.
                state.warnings.clear();
                // A re-run waits for the lock only as long as the call has left
                // (with nothing left, it tries once).
                state.settings.lock_timeout =
                    settings.lock_timeout.saturating_sub(started.elapsed());
            }
        });
        let warnings = std::mem::take(&mut store.data_mut().warnings);
        let (plugin, result) = match outcome {
            Ok((plugin, Ok(value))) => (Some(plugin), Ok(value)),
            Ok((plugin, Err(e))) => (Some(plugin), Err(e.into())),
            Err(e) => (None, Err(store.data().failure(&e))),
        };
        let clean = store.data_mut().finish();
        match plugin {
            Some(plugin) if reuse && clean => put_idle(Idle {
                policy: Arc::downgrade(&self.alive),
                store,
                plugin,
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
}

/// What one call's store holds: the WASI context (clock and captured stderr
/// only), the guest's resources, and the host side of the call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) root: Arc<Root>,
    pub(crate) settings: Settings,
    pub(crate) warnings: Vec<String>,
    /// Time spent in host calls, which does not count against the guest.
    pub(crate) host_time: Duration,
    /// Set by `replace` when a write-once commit found the file created
    /// meanwhile: the call is run again.
    pub(crate) commit_lost: bool,
    started: Instant,
    memory: MemoryCap,
    stderr: MemoryOutputPipe,
    /// The clock the WASI context reads: the current caller's.
    clock: Arc<Mutex<Arc<dyn crate::Clock>>>,
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
            memory: MemoryCap {
                limit: memory_limit,
                hit: false,
                size: 0,
            },
            settings,
            warnings: Vec::new(),
            host_time: Duration::ZERO,
            commit_lost: false,
            started: Instant::now(),
            stderr,
            clock,
        }
    }

    /// Readies the state for one call by `settings` on `root`.
    fn begin(&mut self, root: &Arc<Root>, settings: &Settings) {
        debug_assert_eq!(self.memory.limit, settings.memory_limit);
        self.root = root.clone();
        self.settings = settings.clone();
        *self.clock.lock().unwrap() = settings.clock.clone();
        self.warnings.clear();
        self.memory.hit = false;
        self.host_time = Duration::ZERO;
        self.commit_lost = false;
        self.started = Instant::now();
    }

    /// Ends a call: lets go of the caller's root, settings and clock, and
    /// says whether the instance is as clean as a fresh one, i.e. reusable.
    fn finish(&mut self) -> bool {
        let idle = idle_settings();
        self.root = no_root(NoRoot::Idle).clone();
        self.settings = idle.clone();
        *self.clock.lock().unwrap() = idle.clock.clone();
        self.table.is_empty()
            && !self.memory.hit
            && self.memory.size <= self.memory.limit / 2
            && self.stderr.contents().is_empty()
    }

    fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
    }

    /// The error for a call that failed in the runtime: `policy_error` when
    /// the guest trapped, hit a limit or does not fit; `io_error` when the
    /// machine refused the runtime something (an OS error, host memory).
    fn failure(&self, e: &wasmtime::Error) -> Error {
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

/// The epoch callback's verdict when a guest exceeds its time limit.
#[derive(Debug)]
struct OutOfTime;

impl std::fmt::Display for OutOfTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the policy ran out of time")
    }
}

impl std::error::Error for OutOfTime {}

/// Caps a guest's linear memory; a growth past the cap traps.
struct MemoryCap {
    limit: usize,
    hit: bool,
    /// The largest memory the instance has grown to.
    size: usize,
}

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
        Ok(desired <= 100_000)
    }
}

/// The injected clock, as WASI's wall clock: the guest's only view of time.
/// Shared with the store's state, which points it at each caller's clock.
struct WasiClock(Arc<Mutex<Arc<dyn crate::Clock>>>);

impl HostWallClock for WasiClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        let clock = self.0.lock().unwrap().clone();
        clock.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Mutex;

    use super::*;
    use crate::{Cache, ManualClock, MarkerKind};

    const T0: i64 = 1_776_434_400;
    const EQUIPMENT: &str = "CONFOCAL_01/.exlab-wizard/equipment.json";
    const TEST_RUNS: &str = "CONFOCAL_01/P1/TestRuns/.exlab-wizard/test_runs.json";
    const RUNS: &str = "CONFOCAL_01/P1/Runs/.exlab-wizard/runs.json";

    fn instantiations() -> u64 {
        INSTANTIATIONS.with(|n| n.get())
    }

    /// Whether this thread holds an idle instance of `h`'s policy for its
    /// memory limit.
    fn idle_instance_of(h: &Harness) -> bool {
        let policy = &h.cache.policy().0.alive;
        let limit = h.cache.settings().memory_limit;
        IDLE.with_borrow(|idle| {
            idle.iter().any(|i| {
                std::ptr::eq(i.policy.as_ptr(), Arc::as_ptr(policy))
                    && i.store.data().memory.limit == limit
            })
        })
    }

    fn equipment(label: &str) -> String {
        format!(
            r#"{{"id":"CONFOCAL_01","label":"{label}","configured_local_root":"/data/lab","configured_nas_root":"//nas01/lab"}}"#
        )
    }

    struct Harness {
        dir: tempfile::TempDir,
        cache: Cache,
        clock: Arc<ManualClock>,
        warnings: Arc<Mutex<Vec<String>>>,
    }

    fn harness(policy: Policy, tweak: impl FnOnce(&mut Settings)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::at(T0));
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let sink = warnings.clone();
        let mut settings = Settings {
            clock: clock.clone(),
            on_warning: Arc::new(move |w| sink.lock().unwrap().push(w.to_owned())),
            lock_timeout: Duration::from_secs(5),
            ..Settings::default()
        };
        tweak(&mut settings);
        let cache = Cache::new(Root::open(dir.path()).unwrap(), policy, settings);
        Harness {
            dir,
            cache,
            clock,
            warnings,
        }
    }

    /// Every file under `dir` with its bytes, sorted.
    fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                let name = path.strip_prefix(base).unwrap().display().to_string();
                if path.is_dir() {
                    walk(base, &path, out);
                } else {
                    out.push((name, std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(dir, dir, &mut out);
        out.sort();
        out
    }

    /// Every export and most outcomes, each call run by `run`; the
    /// transcript of results, warnings and files.
    fn script(h: &Harness, run: &dyn Fn(&(dyn Fn() -> String + Sync)) -> String) -> Vec<String> {
        let c = &h.cache;
        let put = |path: &str, bytes: &str| {
            let path = h.dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        };
        let mut out = Vec::new();
        let mut step = |f: &(dyn Fn() -> String + Sync)| out.push(run(f));
        step(&|| format!("{:?}", c.read_equipment(EQUIPMENT)));
        step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, r#"{"id":"bad id"}"#)));
        step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, "[1]")));
        step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, &equipment("one"))));
        h.clock.advance(60);
        step(&|| format!("{:?}", c.write_equipment(EQUIPMENT, &equipment("two"))));
        step(&|| format!("{:?}", c.read_equipment(EQUIPMENT)));
        put(
            "A/.exlab-wizard/equipment.json",
            r#"{"schema_version":"2.0"}"#,
        );
        step(&|| format!("{:?}", c.read_equipment("A/.exlab-wizard/equipment.json")));
        step(&|| {
            let e = c.write_equipment("A/.exlab-wizard/equipment.json", &equipment("a"));
            format!("{e:?}")
        });
        put("B/.exlab-wizard/equipment.json", "{not json");
        step(&|| format!("{:?}", c.read_equipment("B/.exlab-wizard/equipment.json")));
        step(&|| {
            let e = c.write_equipment("B/.exlab-wizard/equipment.json", &equipment("b"));
            format!("{e:?}")
        });
        let marker = r#"{"project":"P1","equipment":"CONFOCAL_01"}"#;
        step(&|| {
            format!(
                "{:?}",
                c.write_marker(MarkerKind::TestRuns, TEST_RUNS, marker)
            )
        });
        h.clock.advance(60);
        step(&|| {
            format!(
                "{:?}",
                c.write_marker(MarkerKind::TestRuns, TEST_RUNS, marker)
            )
        });
        step(&|| format!("{:?}", c.read_marker(MarkerKind::TestRuns, TEST_RUNS)));
        step(&|| {
            let bad = r#"{"project":"..","equipment":"CONFOCAL_01"}"#;
            format!("{:?}", c.write_marker(MarkerKind::Runs, RUNS, bad))
        });
        step(&|| format!("{:?}", c.write_marker(MarkerKind::Runs, RUNS, marker)));
        step(&|| format!("{:?}", c.read_marker(MarkerKind::Runs, TEST_RUNS)));
        step(&|| format!("{:?}", c.read_equipment("../outside.json")));
        for version in [Some("1.0"), Some("1"), Some("garbage"), Some(" 1.0"), None] {
            step(&|| format!("{:?}", c.require_schema_major(version, 1)));
        }
        out.push(format!("{:?}", h.warnings.lock().unwrap()));
        // The warning names the temp root, which differs between harnesses.
        let root = h.dir.path().display().to_string();
        let mut out: Vec<String> = out.iter().map(|s| s.replace(&root, "<root>")).collect();
        out.push(format!("{:?}", files(h.dir.path())));
        out
    }

    #[test]
    fn a_reused_instance_gives_the_same_results_as_fresh_ones() {
        let policy = Policy::builtin().unwrap();
        // Fresh: each call on a new thread, which has no idle instance.
        let fresh = harness(policy.clone(), |_| {});
        let on_new_thread = |f: &(dyn Fn() -> String + Sync)| {
            std::thread::scope(|s| {
                s.spawn(|| {
                    let result = f();
                    assert_eq!(instantiations(), 1, "a fresh instance per call");
                    result
                })
                .join()
                .unwrap()
            })
        };
        let fresh = script(&fresh, &on_new_thread);

        let reused = harness(policy.clone(), |_| {});
        policy
            .require_schema_major(Some("1.0"), 1, &Settings::default())
            .unwrap();
        let before = instantiations();
        let here = |f: &(dyn Fn() -> String + Sync)| f();
        let transcript = script(&reused, &here);
        assert_eq!(instantiations(), before, "every call reused one instance");
        assert!(idle_instance_of(&reused));
        let reused = transcript;

        assert_eq!(fresh.len(), reused.len());
        for (f, r) in fresh.iter().zip(&reused) {
            assert_eq!(f, r);
        }
        // The script did reach the interesting outcomes.
        let all = reused.join("\n");
        for outcome in [
            "NotFound",
            "SchemaMajorMismatch",
            "Decode",
            "Validation",
            "AccessDenied",
        ] {
            assert!(all.contains(outcome), "{outcome} in\n{all}");
        }
        assert!(all.contains("written: false"), "{all}");
    }

    #[test]
    fn a_reused_instance_stamps_with_each_callers_clock_and_limits() {
        let policy = Policy::builtin().unwrap();
        let a = harness(policy.clone(), |_| {});
        let b = harness(policy.clone(), |_| {});
        b.clock.set(T0 + 86_400);
        let a1 = a.cache.write_equipment(EQUIPMENT, &equipment("a")).unwrap();
        let before = instantiations();
        let b1 = b.cache.write_equipment(EQUIPMENT, &equipment("b")).unwrap();
        let a2 = a.cache.write_equipment(EQUIPMENT, &equipment("a")).unwrap();
        assert_eq!(instantiations(), before, "one instance served both caches");
        assert_eq!(a1.equipment.first_seen_at, "2026-04-17T14:00:00Z");
        assert_eq!(b1.equipment.first_seen_at, "2026-04-18T14:00:00Z");
        assert_eq!(a2.equipment.last_modified_at, "2026-04-17T14:00:00Z");

        // The time budget starts afresh with each call: idle time between
        // two calls on a reused instance does not count.
        let quick = harness(policy.clone(), |s| s.time_limit = Duration::from_millis(30));
        quick.cache.require_schema_major(Some("1.0"), 1).unwrap();
        let before = instantiations();
        std::thread::sleep(Duration::from_millis(80));
        quick
            .cache
            .write_equipment(EQUIPMENT, &equipment("q"))
            .unwrap();
        assert_eq!(instantiations(), before);

        // Another memory limit is another instance.
        let small = harness(policy.clone(), |s| s.memory_limit = 32 << 20);
        small.cache.require_schema_major(Some("1.0"), 1).unwrap();
        assert_eq!(instantiations(), before + 1);
    }

    fn fixture(name: &str) -> Policy {
        Policy::from_bytes(&exlab_cache_test_guests::bytes(name)).unwrap()
    }

    /// Asserts that `<path>.lock` is free right now.
    fn lock_is_free(h: &Harness, path: &str) {
        let root = Root::open(h.dir.path()).unwrap();
        assert!(
            root.lock(path, Duration::ZERO).is_ok(),
            "{path}.lock is held"
        );
    }

    #[test]
    fn a_trap_or_a_limit_discards_the_instance_and_releases_its_locks() {
        for (name, tweak) in [
            ("trap-holding-lock", None),
            ("loop-forever", Some(Duration::from_millis(100))),
            ("grow-memory", None),
        ] {
            let policy = fixture(name);
            let h = harness(policy.clone(), |s| {
                if let Some(limit) = tweak {
                    s.time_limit = limit;
                }
                s.memory_limit = 16 << 20;
            });
            // A clean call leaves an idle instance, which the next call uses.
            assert!(h.cache.read_equipment(EQUIPMENT).is_err());
            assert!(idle_instance_of(&h), "{name}");
            let before = instantiations();
            let e = h
                .cache
                .write_equipment(EQUIPMENT, &equipment("x"))
                .unwrap_err();
            assert_eq!(e.code(), "policy_error", "{name}: {e:?}");
            assert_eq!(instantiations(), before, "{name}: the idle instance ran");
            assert!(!idle_instance_of(&h), "{name}: the instance is poisoned");
            lock_is_free(&h, EQUIPMENT);
            // The next call gets a fresh instance, and works.
            assert_eq!(
                h.cache.read_equipment(EQUIPMENT).unwrap_err().code(),
                "not_found"
            );
            assert_eq!(instantiations(), before + 1, "{name}");
        }
    }

    #[test]
    fn a_lock_left_in_the_table_discards_the_instance_and_is_released() {
        let policy = fixture("leak-lock");
        let h = harness(policy.clone(), |_| {});
        let leaked = format!("{EQUIPMENT}.leak");
        h.cache.write_equipment(EQUIPMENT, &equipment("x")).unwrap();
        assert!(!idle_instance_of(&h));
        lock_is_free(&h, &leaked);
        lock_is_free(&h, EQUIPMENT);
        // Calls that leave nothing behind keep their instance.
        h.cache.read_equipment(EQUIPMENT).unwrap();
        assert!(idle_instance_of(&h));
    }

    #[test]
    fn idle_instances_of_a_dropped_policy_are_let_go() {
        let policy = Policy::from_bytes(BUILTIN_POLICY).unwrap();
        let weak = Arc::downgrade(&policy.0.alive);
        let h = harness(policy.clone(), |_| {});
        h.cache.read_equipment(EQUIPMENT).unwrap_err();
        assert!(idle_instance_of(&h));
        drop((h, policy));
        assert_eq!(weak.strong_count(), 0);
        // The next call on this thread, of any policy, prunes them.
        Policy::builtin()
            .unwrap()
            .require_schema_major(Some("1.0"), 1, &Settings::default())
            .unwrap();
        IDLE.with_borrow(|idle| assert!(idle.iter().all(|i| i.policy.strong_count() > 0)));
    }
}
