//! The one door a policy comes in by: read (when it is a file), size,
//! allow-list, interface version, compile. The CLI's `--policy` and
//! `policy check`, `Policy::from_file`/`from_bytes`, `Cache::swap_policy*`,
//! the watcher and the Python package all come through here; the
//! conformance gate runs on what it lets in.

use std::path::Path;
use std::sync::Arc;

use super::Policy;
use crate::interface::{component_interface, ACCEPTED_INTERFACES};
use crate::{AllowList, Error};

/// What a policy must show, besides fitting the interface, to be let in.
/// Default: nothing more (any component of a served interface version).
#[derive(Debug, Clone, Default)]
pub struct Admission {
    /// When set, the component's sha256 must be on this list; checked before
    /// it is compiled.
    pub allowed: Option<Arc<AllowList>>,
}

impl Admission {
    /// An admission that requires the sha256 to be on `allowed`.
    pub fn allow_list(allowed: AllowList) -> Admission {
        Admission {
            allowed: Some(Arc::new(allowed)),
        }
    }

    /// The checks on the bytes themselves, before anything is compiled.
    fn check_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        if bytes.len() as u64 > Policy::MAX_FILE_SIZE {
            return Err(Error::policy(format!(
                "the policy is {} bytes, larger than the {}-byte limit",
                bytes.len(),
                Policy::MAX_FILE_SIZE
            )));
        }
        match &self.allowed {
            Some(allowed) => allowed.check(bytes).map(drop),
            None => Ok(()),
        }
    }

    /// The checks that apply to a policy already compiled (by its sha256).
    pub(crate) fn check_compiled(&self, policy: &Policy) -> Result<(), Error> {
        match &self.allowed {
            Some(allowed) => allowed.check_hash(&policy.info().sha256),
            None => Ok(()),
        }
    }
}

impl Policy {
    /// The largest policy component admitted, in bytes: 64 MiB, some 250
    /// times the built-in policy.
    pub const MAX_FILE_SIZE: u64 = 64 << 20;

    /// Lets the component `bytes` in: size and `admission` first, then its
    /// interface version (both before compiling), then compiled, checked to
    /// fit the `exlab:cache/plugin` world, and asked who it is. Refusals are
    /// `policy_error`; nothing is touched.
    pub fn admit(bytes: &[u8], admission: &Admission) -> Result<Policy, Error> {
        admission.check_bytes(bytes)?;
        let interface = check_interface(bytes)?;
        Policy::compile(bytes, interface)
    }

    /// [`Policy::admit`] for the component in the file `path` (read as
    /// [`Policy::read_file`] does).
    pub fn admit_file(path: impl AsRef<Path>, admission: &Admission) -> Result<Policy, Error> {
        Policy::admit(&Policy::read_file(path)?, admission)
    }

    /// The bytes of a policy component file: opened without blocking,
    /// refused with `policy_error` unless it is a regular file of at most
    /// [`Policy::MAX_FILE_SIZE`] bytes (a FIFO, `/dev/zero` or a folder is
    /// refused before anything is read).
    pub fn read_file(path: impl AsRef<Path>) -> Result<Vec<u8>, Error> {
        let path = path.as_ref();
        crate::regular_file::read(path, Policy::MAX_FILE_SIZE).map_err(|why| {
            Error::policy(format!("cannot read the policy {}: {why}", path.display()))
        })
    }
}

/// The major of `exlab:cache@X.Y.Z` (`X`), if it has one.
fn major(interface: &str) -> Option<u64> {
    let version = interface.rsplit_once('@')?.1;
    semver::Version::parse(version).ok().map(|v| v.major)
}

/// Refuses a component built for an interface this host does not serve,
/// before it is compiled. Returns the interface it was built for, when the
/// component names one.
pub(crate) fn check_interface(bytes: &[u8]) -> Result<Option<String>, Error> {
    let Some(found) = component_interface(bytes) else {
        return Ok(None);
    };
    if ACCEPTED_INTERFACES.contains(&found.as_str()) {
        return Ok(Some(found));
    }
    let accepted = ACCEPTED_INTERFACES.join(", ");
    let why = match (
        major(&found),
        ACCEPTED_INTERFACES.first().and_then(|a| major(a)),
    ) {
        (Some(f), Some(a)) if f != a => format!("interface major {f}, this host serves major {a}"),
        (Some(_), Some(_)) => "a minor this host does not serve: update the host".into(),
        _ => "not a semver interface version".into(),
    };
    Err(Error::policy(format!(
        "the policy was built for {found}, but this host accepts {accepted} ({why}); \
         rebuild it against wit/since_v{}/",
        ACCEPTED_INTERFACES[0]
            .rsplit_once('@')
            .map_or("", |(_, v)| v)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_policy_is_of_a_served_interface() {
        assert_eq!(
            check_interface(crate::BUILTIN_POLICY).unwrap().as_deref(),
            Some(crate::INTERFACE)
        );
        assert_eq!(check_interface(b"not wasm"), Ok(None));
    }

    #[test]
    fn majors_of_interface_names() {
        assert_eq!(major("exlab:cache@2.0.0"), Some(2));
        assert_eq!(major("exlab:cache@x"), None);
    }
}
