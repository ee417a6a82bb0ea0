//! A policy's exports, whichever interface version it was built for: the
//! one place that knows how each served version's exports are called.
//! Every version has the 1.0 operations (a 1.1 policy exports them again,
//! unchanged); `kinds` is 1.1's alone.

use wasmtime::component::{InstancePre, Linker};
use wasmtime::Store;

use super::call::CallState;
use crate::interface::latest::exports::exlab::cache::kinds::Guest as KindsExports;
use crate::interface::latest::{
    CacheError, Equipment, EquipmentWritten, Marker, MarkerKind, MarkerWritten, PolicyInfo,
};
use crate::interface::{since_v1_0_0 as v1_0, since_v1_1_0 as v1_1, Version};

/// What an export returns: a trap (`Err`), or the policy's answer.
pub(crate) type Outcome<T> = wasmtime::Result<Result<T, CacheError>>;

/// A component linked once, for the version it was built for.
pub(crate) enum PolicyPre {
    V1_0(v1_0::PluginPre<CallState>),
    V1_1(v1_1::PluginPre<CallState>),
}

/// One instance's exports.
pub(crate) enum Exports {
    V1_0(v1_0::Plugin),
    V1_1(v1_1::Plugin),
}

impl PolicyPre {
    /// Links `pre` as a policy of `version`: fails when its exports do not
    /// fit that version's world.
    pub(crate) fn new(version: Version, pre: InstancePre<CallState>) -> wasmtime::Result<Self> {
        Ok(match version {
            Version::V1_0 => PolicyPre::V1_0(v1_0::PluginPre::new(pre)?),
            Version::V1_1 => PolicyPre::V1_1(v1_1::PluginPre::new(pre)?),
        })
    }

    /// The interface version it was linked for.
    pub(crate) fn version(&self) -> Version {
        match self {
            PolicyPre::V1_0(_) => Version::V1_0,
            PolicyPre::V1_1(_) => Version::V1_1,
        }
    }

    pub(crate) fn instantiate(&self, store: &mut Store<CallState>) -> wasmtime::Result<Exports> {
        Ok(match self {
            PolicyPre::V1_0(pre) => Exports::V1_0(pre.instantiate(store)?),
            PolicyPre::V1_1(pre) => Exports::V1_1(pre.instantiate(store)?),
        })
    }
}

/// The same call on whichever version's `policy` export, its result in 1.1's
/// types (1.0's records are converted; the shared ones are the same types).
macro_rules! policy_export {
    ($exports:expr, |$policy:ident| $call:expr) => {
        match $exports {
            Exports::V1_0(plugin) => {
                let $policy = plugin.exlab_cache_policy();
                $call.map(|r| r.map(Into::into))
            }
            Exports::V1_1(plugin) => {
                let $policy = plugin.exlab_cache_policy();
                $call
            }
        }
    };
}

impl Exports {
    pub(crate) fn info(&self, store: &mut Store<CallState>) -> wasmtime::Result<PolicyInfo> {
        match self {
            Exports::V1_0(plugin) => plugin.exlab_cache_policy().call_info(store).map(Into::into),
            Exports::V1_1(plugin) => plugin.exlab_cache_policy().call_info(store),
        }
    }

    pub(crate) fn write_equipment(
        &self,
        store: &mut Store<CallState>,
        path: &str,
        input_json: &str,
    ) -> Outcome<EquipmentWritten> {
        policy_export!(self, |p| p.call_write_equipment(store, path, input_json))
    }

    pub(crate) fn read_equipment(
        &self,
        store: &mut Store<CallState>,
        path: &str,
    ) -> Outcome<Equipment> {
        policy_export!(self, |p| p.call_read_equipment(store, path))
    }

    pub(crate) fn write_marker(
        &self,
        store: &mut Store<CallState>,
        kind: MarkerKind,
        path: &str,
        input_json: &str,
    ) -> Outcome<MarkerWritten> {
        policy_export!(self, |p| p.call_write_marker(store, kind, path, input_json))
    }

    pub(crate) fn read_marker(
        &self,
        store: &mut Store<CallState>,
        kind: MarkerKind,
        path: &str,
    ) -> Outcome<Marker> {
        policy_export!(self, |p| p.call_read_marker(store, kind, path))
    }

    pub(crate) fn require_schema_major(
        &self,
        store: &mut Store<CallState>,
        version: Option<&str>,
        expected_major: u32,
    ) -> Outcome<()> {
        policy_export!(self, |p| p.call_require_schema_major(
            store,
            version,
            expected_major
        ))
    }

    /// The `kinds` export; `None` for a policy built before interface 1.1.
    pub(crate) fn kinds(&self) -> Option<&KindsExports> {
        match self {
            Exports::V1_0(_) => None,
            Exports::V1_1(plugin) => Some(plugin.exlab_cache_kinds()),
        }
    }
}

/// Adds the newest interface's imports to `linker`; an older version's
/// imports resolve to them (the linker matches `@1.0.0` to `@1.1.0`).
pub(crate) fn add_imports(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    v1_1::Plugin::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |state| state)
}
