//! The sandbox's machinery: one process-wide wasmtime `Engine` with epoch
//! interruption, the linker built once, and the per-call state and limits
//! every policy call runs under.
//!
//! - [`limits`]: the time limit (epoch ticks, the deadline), the memory
//!   cap, and keeping both true after a fork.
//! - [`call`]: what a call's store holds (`CallState`) and how a failure in
//!   the runtime is told apart (the policy's fault or the machine's).
//! - [`imports`]: the host side of the WIT imports (storage, log, the
//!   caller's step, the machine) over the call's root.
//! - [`bindings`]: a policy's exports, whichever interface version it was
//!   built for.
//! - [`pool`]: each thread's idle instances, and running one call.
//!
//! The environment's limits are not the policy's fault: loading writes no
//! file (no copy-on-write memory images, which need a memfd that
//! `ulimit -f` refuses), a failure that is the machine's (an OS error, the
//! host out of memory) is `io_error`, and in a forked child, which inherits
//! no threads, the epoch ticker is restarted and compiling uses a thread
//! pool of the child's own.
//!
//! Architecture invariant: the engine knows storage (the call's root) and
//! the interface, never a policy's identity, admission or the front ends.

pub(crate) mod bindings;
pub(crate) mod call;
mod imports;
pub(crate) mod limits;
pub(crate) mod pool;

use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

use call::CallState;

/// The one engine of this process.
pub(crate) fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        // Before anything runs on the engine: a later fork's child must know.
        let _ = limits::watch_for_fork();
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

/// Compiles a component. wasmtime compiles in parallel on rayon's global
/// pool, whose threads a forked child does not have: there it would wait
/// forever, so a child compiles on a pool of its own for the occasion.
pub(crate) fn compile(bytes: &[u8]) -> wasmtime::Result<Component> {
    if !limits::FORKED.load(Ordering::Acquire) {
        return Component::new(engine(), bytes);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("exlab-cache-compile-{i}"))
        .build()?;
    pool.install(|| Component::new(engine(), bytes))
}

/// The linker of every policy: WASI for what Rust's std imports (the
/// context grants nothing but the clock: no preopens, no env, no sockets),
/// and the `exlab:cache` imports.
pub(crate) fn linker() -> &'static Linker<CallState> {
    static LINKER: OnceLock<Linker<CallState>> = OnceLock::new();
    LINKER.get_or_init(|| {
        let mut linker = Linker::new(engine());
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).expect("link WASI");
        bindings::add_imports(&mut linker).expect("link the exlab:cache imports");
        linker
    })
}
