//! Builds the policy guest (`../guest`) as a `wasm32-wasip2` component and
//! puts it in `OUT_DIR/policy.wasm`, where `src/runtime.rs` embeds it.
//! `EXLAB_CACHE_POLICY_WASM` names a prebuilt component instead (for packagers).

use std::path::{Path, PathBuf};
use std::{env, fs};

#[path = "guest_build.rs"]
mod guest_build;
use guest_build::build_guest;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap()).join("policy.wasm");
    println!("cargo:rerun-if-env-changed=EXLAB_CACHE_POLICY_WASM");
    if let Some(prebuilt) = env::var_os("EXLAB_CACHE_POLICY_WASM") {
        println!("cargo:rerun-if-changed={}", Path::new(&prebuilt).display());
        fs::copy(&prebuilt, &out).expect("copy EXLAB_CACHE_POLICY_WASM");
        return;
    }
    let workspace = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_owned();
    // The workspace Cargo.toml holds the guest's build profile.
    for input in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(input).display());
    }
    let wasm = build_guest(&workspace, "exlab-cache-policy", &[], "guest-build");
    fs::copy(&wasm, &out).expect("copy the policy component");
}
