//! Builds guest components from build scripts (the host's policy, the test
//! fixtures): a nested cargo with its own target dir (sharing the outer one
//! deadlocks), the outer build's flags and wrappers removed.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Builds one guest package of the workspace for `wasm32-wasip2` in
/// `<target dir>/<build_dir>` and returns the path of its component.
///
/// Each caller needs its own `build_dir`: cargo writes a dependency's cdylib
/// to the same output path as when it is built on its own, so the fixtures
/// (which use the policy crate without its export) would overwrite the real
/// policy component in a shared one.
pub fn build_guest(workspace: &Path, package: &str, features: &[&str], build_dir: &str) -> PathBuf {
    ensure_target();
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join(build_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args([
            "build",
            "--locked",
            "--profile",
            "guest",
            "--target",
            TARGET,
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the guest");
    assert!(
        status.success(),
        "building the policy guest failed ({status})"
    );
    target_dir
        .join(TARGET)
        .join("guest")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Machines with `RUSTUP_AUTO_INSTALL=0` ignore `rust-toolchain.toml`'s
/// target list; add the target through rustup when it is missing.
fn ensure_target() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    let installed = sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).exists());
    if installed {
        return;
    }
    println!("cargo:warning=installing the {TARGET} target with rustup");
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        added,
        "the {TARGET} target is missing: run `rustup target add {TARGET}`"
    );
}
