//! The sandbox: one process-wide `Engine` with epoch interruption, a linker
//! built once, one `PluginPre` per policy component, and a fresh `Store` per
//! call (so an instance that trapped or hit a limit is never used again, and
//! dropping the store releases any lock the guest still held).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::{CacheError, Plugin, PluginPre};
use crate::{Error, Root, Settings};

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
        let mut config = Config::new();
        config.wasm_component_model(true).epoch_interruption(true);
        let engine = Engine::new(&config).expect("a valid wasmtime configuration");
        // The ticker holds only a weak reference: it never keeps an engine alive.
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("exlab-cache-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })
            .expect("spawn the epoch ticker");
        engine
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
}

/// The policy built into this binary.
pub const BUILTIN_POLICY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/policy.wasm"));

impl Policy {
    /// The built-in policy, compiled once per process.
    pub fn builtin() -> Result<Policy, Error> {
        static BUILTIN: OnceLock<Result<Policy, Error>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| Policy::from_bytes(BUILTIN_POLICY))
            .clone()
    }

    /// A policy component from a file.
    pub fn from_file(path: impl AsRef<std::path::Path>) -> Result<Policy, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| {
            Error::policy(format!("cannot read the policy {}: {e}", path.display()))
        })?;
        Policy::from_bytes(&bytes)
    }

    /// A policy component from its bytes: compiled, checked to fit the
    /// `exlab:cache/plugin` world, and asked who it is. Nothing is touched.
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy, Error> {
        let unfit = |e: wasmtime::Error| {
            Error::policy(format!(
                "the policy component does not fit the {INTERFACE} interface: {e:#}"
            ))
        };
        // Another interface version is refused before anything is compiled.
        let interface = crate::version::check_interface(bytes)?;
        let component = Component::new(engine(), bytes)
            .map_err(|e| Error::policy(format!("the policy is not a valid component: {e:#}")))?;
        let pre = linker().instantiate_pre(&component).map_err(unfit)?;
        let pre = PluginPre::new(pre).map_err(unfit)?;
        let sha256 = Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut loaded = Loaded {
            pre,
            info: PolicyInfo {
                name: String::new(),
                version: String::new(),
                interface: interface.unwrap_or_else(|| INTERFACE.into()),
                sha256,
            },
        };
        let scratch = Arc::new(Root::unavailable("no storage while loading a policy"));
        let who = loaded.call(&scratch, &Settings::default(), |plugin, store| {
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
        let no_root = Arc::new(Root::unavailable("the schema gate has no storage"));
        self.call(&no_root, settings, |plugin, store| {
            plugin
                .exlab_cache_policy()
                .call_require_schema_major(store, version, expected_major)
        })
    }

    pub(crate) fn call<R>(
        &self,
        root: &Arc<Root>,
        settings: &Settings,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<Result<R, CacheError>>,
    ) -> Result<R, Error> {
        self.0.call(root, settings, f)
    }
}

impl Loaded {
    fn call<R>(
        &self,
        root: &Arc<Root>,
        settings: &Settings,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<Result<R, CacheError>>,
    ) -> Result<R, Error> {
        let mut store = Store::new(engine(), CallState::new(root.clone(), settings.clone()));
        store.limiter(|state| &mut state.memory);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|store| {
            let state = store.data();
            if state.guest_time() > state.settings.time_limit {
                Err(OutOfTime.into())
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
        let outcome = self
            .pre
            .instantiate(&mut store)
            .and_then(|plugin| f(&plugin, &mut store));
        for warning in store.data_mut().warnings.drain(..) {
            (settings.on_warning)(&warning);
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(Error::policy(store.data().describe_failure(&e))),
        }
        // The store drops here: its instance and any lock still held go with it.
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
    started: Instant,
    memory: MemoryCap,
    stderr: MemoryOutputPipe,
}

impl CallState {
    fn new(root: Arc<Root>, settings: Settings) -> Self {
        let stderr = MemoryOutputPipe::new(GUEST_STDERR_CAP);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(WasiClock(settings.clock.clone()))
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            root,
            memory: MemoryCap {
                limit: settings.memory_limit,
                hit: false,
            },
            settings,
            warnings: Vec::new(),
            host_time: Duration::ZERO,
            started: Instant::now(),
            stderr,
        }
    }

    fn guest_time(&self) -> Duration {
        self.started.elapsed().saturating_sub(self.host_time)
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
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.hit = true;
            wasmtime::bail!("memory limit of {} bytes reached", self.limit);
        }
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
struct WasiClock(Arc<dyn crate::Clock>);

impl HostWallClock for WasiClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        self.0.now().duration_since(UNIX_EPOCH).unwrap_or_default()
    }
}
