//! Two things for the host crate, both in `OUT_DIR`:
//! - `interfaces.rs`: the version of each frozen WIT folder
//!   `wit/since_vX.Y.Z/`, read from its `package` line, so that the WIT is
//!   the one spelling of every interface version (`src/interface/`);
//! - `policy.wasm`: the policy guest (`../guest`) built as a
//!   `wasm32-wasip2` component, embedded by `src/policy/`.
//!   `EXLAB_CACHE_POLICY_WASM` names a prebuilt component instead (for
//!   packagers);
//! - `policy.sha256`: its hex sha256, so that a process need not hash the
//!   265 KB at every start (~0.25 ms of a CLI call).

use std::path::{Path, PathBuf};
use std::{env, fs};

#[path = "guest_build.rs"]
mod guest_build;
use guest_build::build_guest;

fn main() {
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    write_interfaces(&manifest.join("../wit"), &out_dir.join("interfaces.rs"));
    let out = out_dir.join("policy.wasm");
    println!("cargo:rerun-if-env-changed=EXLAB_CACHE_POLICY_WASM");
    if let Some(prebuilt) = env::var_os("EXLAB_CACHE_POLICY_WASM") {
        println!("cargo:rerun-if-changed={}", Path::new(&prebuilt).display());
        fs::copy(&prebuilt, &out).expect("copy EXLAB_CACHE_POLICY_WASM");
        write_sha256(&out);
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
    write_sha256(&out);
}

/// `<file>`'s hex sha256 into `policy.sha256` beside it.
fn write_sha256(file: &Path) {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(fs::read(file).expect("read the policy component"));
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    fs::write(file.with_file_name("policy.sha256"), hex).expect("write policy.sha256");
}

/// `pub const SINCE_V1_0_0: &str = "exlab:cache@1.0.0";` for every folder
/// `since_v1.0.0/` of `wit`, from the `package` line of its WIT files.
fn write_interfaces(wit: &Path, out: &Path) {
    println!("cargo:rerun-if-changed={}", wit.display());
    let mut consts = String::new();
    let mut folders: Vec<_> = fs::read_dir(wit)
        .expect("the wit folder")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    for folder in folders {
        let name = folder.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(version) = name.strip_prefix("since_v") else {
            continue;
        };
        let package = fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| path.extension().is_some_and(|x| x == "wit"))
            .find_map(|path| {
                let text = fs::read_to_string(&path).unwrap();
                text.lines()
                    .find_map(|line| line.trim().strip_prefix("package "))
                    .map(|p| p.trim_end_matches(';').trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no package line in {}", folder.display()));
        assert!(
            package.ends_with(&format!("@{version}")),
            "{} declares {package}: the folder and the package disagree",
            folder.display()
        );
        let ident = format!("SINCE_V{}", version.replace('.', "_"));
        consts +=
            &format!("/// The package of `wit/{name}/`.\npub const {ident}: &str = {package:?};\n");
    }
    fs::write(out, consts).expect("write interfaces.rs");
}
