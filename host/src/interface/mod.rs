//! The boundary between host and policy: one module of generated bindings
//! per frozen WIT version, which versions this host serves, and which one a
//! policy component was built for.
//!
//! Released WIT is frozen: each released version is a full folder
//! `wit/since_vX.Y.Z/` that is never edited (see `wit/README.md`), and has
//! its module here, `since_vX_Y_Z`, with `latest` naming the newest (as
//! zed's `extension_host` does). Each version's name is read from its WIT
//! file by the build script: no second spelling. A component names the
//! version it was built for in its own exports (`exlab:cache/policy@1.0.0`);
//! the host reads that name with `wasmparser` before compiling anything, so
//! a policy of another major is refused with both versions named, cheaply,
//! instead of with a linker type error.
//!
//! Architecture invariant: this module depends on nothing else of the host;
//! everything else depends on it. Refusing a version is admission's job.

// Generated code carries the WIT's own doc comments, not Rust's.
#[allow(missing_docs)]
pub mod since_v1_0_0;
#[allow(missing_docs)]
pub mod since_v1_1_0;

/// The newest interface: what storage errors and the engine's imports speak.
pub use since_v1_1_0 as latest;

/// `SINCE_V1_0_0` and friends: each `wit/since_v*/` folder's package.
mod wit_packages {
    include!(concat!(env!("OUT_DIR"), "/interfaces.rs"));
}

/// The WIT package of the policy interface.
pub const PACKAGE: &str = "exlab:cache";

/// The interface version of the newest bindings, `exlab:cache@1.1.0`.
pub const INTERFACE: &str = latest::INTERFACE;

/// Every interface version this host serves, newest first: one per bindings
/// module. A component built for any other version is refused before it is
/// compiled.
pub const ACCEPTED_INTERFACES: &[&str] = &[since_v1_1_0::INTERFACE, since_v1_0_0::INTERFACE];

/// The interface versions a policy may be built for, by what it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `exlab:cache@1.0.0`: the equipment and marker operations.
    V1_0,
    /// `exlab:cache@1.1.0`: those, and record kinds by name.
    V1_1,
}

impl Version {
    /// The version of a served interface name; `None` for any other.
    pub fn of(interface: &str) -> Option<Version> {
        match interface {
            since_v1_0_0::INTERFACE => Some(Version::V1_0),
            since_v1_1_0::INTERFACE => Some(Version::V1_1),
            _ => None,
        }
    }

    /// Its interface name, `exlab:cache@X.Y.Z`.
    pub fn interface(self) -> &'static str {
        match self {
            Version::V1_0 => since_v1_0_0::INTERFACE,
            Version::V1_1 => since_v1_1_0::INTERFACE,
        }
    }
}

/// The interface a component was built for (`exlab:cache@1.0.0`), read from
/// the version of the `exlab:cache/...@X.Y.Z` interfaces it exports at its
/// top level. `None` when the bytes are not a component or export no
/// `exlab:cache` interface: the compiler's type check reports those.
pub fn component_interface(bytes: &[u8]) -> Option<String> {
    use wasmparser::{Parser, Payload};
    let prefix = format!("{PACKAGE}/");
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.ok()? {
            Payload::Version {
                encoding: wasmparser::Encoding::Module,
                ..
            } if depth == 0 => return None,
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if depth == 0 => return None,
            Payload::End(_) => depth -= 1,
            Payload::ComponentExportSection(exports) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    let name = export.name.name;
                    let Some(rest) = name.strip_prefix(&prefix) else {
                        continue;
                    };
                    if let Some((_interface, version)) = rest.split_once('@') {
                        return Some(format!("{PACKAGE}@{version}"));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_names_the_interface_it_was_built_for() {
        assert_eq!(
            component_interface(crate::BUILTIN_POLICY).as_deref(),
            Some(INTERFACE)
        );
    }

    #[test]
    fn every_frozen_wit_folder_has_bindings_and_is_served() {
        let wit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit");
        let mut folders: Vec<String> = std::fs::read_dir(wit)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().into_string().ok())
            .filter_map(|name| Some(format!("{PACKAGE}@{}", name.strip_prefix("since_v")?)))
            .collect();
        folders.sort();
        let mut served = ACCEPTED_INTERFACES.to_vec();
        served.sort();
        assert_eq!(folders, served);
        assert_eq!(INTERFACE, "exlab:cache@1.1.0");
        for interface in ACCEPTED_INTERFACES {
            assert_eq!(Version::of(interface).unwrap().interface(), *interface);
        }
    }

    #[test]
    fn bytes_that_are_no_component_name_no_interface() {
        assert_eq!(component_interface(b"not wasm"), None);
        // An empty core module.
        assert_eq!(component_interface(b"\0asm\x01\0\0\0"), None);
    }
}
