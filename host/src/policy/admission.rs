//! The one door a policy comes in by: read (when it is a file), size,
//! signature (when trusted keys are configured), allow-list, interface
//! version, compile. The CLI's `--policy` and `policy check`,
//! `Policy::from_file`/`from_bytes`, `Cache::swap_policy*`, the watcher and
//! the Python package all come through here; the conformance gate runs on
//! what it lets in.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::trust::{self, Signer, TrustedKeys};
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
    /// When set, the trust file (minisign public keys, see [`trust`]): a
    /// component is let in only with a valid detached signature by one of
    /// its keys, checked before anything else but the size. The file is
    /// read at each admission, so a key added or removed counts at once.
    pub trusted_keys: Option<PathBuf>,
}

/// Where the signature of the bytes being admitted comes from.
pub(crate) enum Signature<'a> {
    /// Bytes given on their own.
    None,
    /// Bytes given with the text of their `.minisig`.
    Text(&'a str),
    /// Bytes read from the file `.0`, with its `.minisig` as read (or why
    /// it could not be).
    Beside(&'a Path, &'a Result<String, Error>),
}

impl Admission {
    /// An admission that requires the sha256 to be on `allowed`.
    pub fn allow_list(allowed: AllowList) -> Admission {
        Admission {
            allowed: Some(Arc::new(allowed)),
            trusted_keys: None,
        }
    }

    /// An admission that requires a signature by a key of the trust file
    /// `path`.
    pub fn trusted_keys(path: impl Into<PathBuf>) -> Admission {
        Admission {
            allowed: None,
            trusted_keys: Some(path.into()),
        }
    }

    /// The keys trusted now: the trust file read afresh (`None` when no
    /// trust file is configured).
    pub fn read_trusted_keys(&self) -> Result<Option<TrustedKeys>, Error> {
        self.trusted_keys
            .as_ref()
            .map(TrustedKeys::from_file)
            .transpose()
    }

    /// The checks on the bytes themselves, before anything is compiled, in
    /// order: size, signature, allow-list. Returns the signer when trusted
    /// keys are configured.
    fn check_bytes(&self, bytes: &[u8], signature: Signature) -> Result<Option<Signer>, Error> {
        if bytes.len() as u64 > Policy::MAX_FILE_SIZE {
            return Err(Error::policy(format!(
                "the policy is {} bytes, larger than the {}-byte limit",
                bytes.len(),
                Policy::MAX_FILE_SIZE
            )));
        }
        let signer = match self.read_trusted_keys()? {
            None => None,
            Some(keys) => Some(match signature {
                Signature::None => {
                    return Err(Error::policy(format!(
                        "a signature is required: trusted keys are configured ({}), so a \
                         policy is admitted only with its minisign signature (give the \
                         bytes with their .minisig text, or the file with its .minisig \
                         beside it); refused before compiling",
                        keys.source()
                    )))
                }
                Signature::Text(text) => {
                    let source = format!("(sha256 {})", short(&crate::sha256_hex(bytes)));
                    trust::verify(&keys, bytes, text, &source)?
                }
                Signature::Beside(path, text) => trust::verify_text_beside(
                    &keys,
                    path,
                    bytes,
                    text.as_ref().map_err(Clone::clone)?,
                )?,
            }),
        };
        if let Some(allowed) = &self.allowed {
            allowed.check(bytes)?;
        }
        Ok(signer)
    }

    /// The checks that apply to a policy already compiled: its sha256 on the
    /// allow-list, and with trusted keys a signer that is trusted now.
    pub(crate) fn check_compiled(&self, policy: &Policy) -> Result<(), Error> {
        let info = policy.info();
        if self.trusted_keys.is_some() && info.signer.is_none() {
            return Err(Error::policy(format!(
                "a signature is required: trusted keys are configured, and policy {} {} \
                 (sha256 {}) was admitted unsigned",
                info.name,
                info.version,
                short(&info.sha256)
            )));
        }
        self.check_signer(info)?;
        match &self.allowed {
            Some(allowed) => allowed.check_hash(&info.sha256),
            None => Ok(()),
        }
    }

    /// With trusted keys, refuses a signed policy whose key is not in the
    /// trust file now (revoked). An unsigned one passes.
    pub(crate) fn check_signer(&self, info: &super::PolicyInfo) -> Result<(), Error> {
        let Some(signer) = &info.signer else {
            return Ok(());
        };
        let Some(keys) = self.read_trusted_keys()? else {
            return Ok(());
        };
        match keys.get(&signer.key_id) {
            Some(_) => Ok(()),
            None => Err(Error::policy(format!(
                "policy {} {} is signed by key {}, which is not trusted ({} trusts {})",
                info.name,
                info.version,
                signer.key_id,
                keys.source(),
                keys.key_ids().join(", ")
            ))),
        }
    }
}

fn short(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

impl Policy {
    /// The largest policy component admitted, in bytes: 64 MiB, some 250
    /// times the built-in policy.
    pub const MAX_FILE_SIZE: u64 = 64 << 20;

    /// Lets the component `bytes` in: size, signature and allow-list first,
    /// then its interface version (all before compiling), then compiled,
    /// checked to fit the `exlab:cache/plugin` world, and asked who it is.
    /// Refusals are `policy_error`; nothing is touched. With trusted keys
    /// configured, bytes alone are refused: use [`Policy::admit_signed`] or
    /// [`Policy::admit_file`].
    pub fn admit(bytes: &[u8], admission: &Admission) -> Result<Policy, Error> {
        Policy::admit_as(bytes, Signature::None, admission)
    }

    /// [`Policy::admit`] for bytes with `signature`, the text of their
    /// `.minisig` (verified only when trusted keys are configured; the
    /// signer is then in [`crate::PolicyInfo::signer`]).
    pub fn admit_signed(
        bytes: &[u8],
        signature: &str,
        admission: &Admission,
    ) -> Result<Policy, Error> {
        Policy::admit_as(bytes, Signature::Text(signature), admission)
    }

    /// [`Policy::admit`] for the component in the file `path` (read as
    /// [`Policy::read_file`] does), with trusted keys its signature
    /// `<path>.minisig` beside it.
    pub fn admit_file(path: impl AsRef<Path>, admission: &Admission) -> Result<Policy, Error> {
        let path = path.as_ref();
        let bytes = Policy::read_file(path)?;
        Policy::admit_beside(path, &bytes, admission)
    }

    /// [`Policy::admit_file`] for `bytes` already read from `path`; the
    /// signature beside it is read only when trusted keys are configured.
    pub(crate) fn admit_beside(
        path: &Path,
        bytes: &[u8],
        admission: &Admission,
    ) -> Result<Policy, Error> {
        let signature = match admission.trusted_keys {
            Some(_) => trust::read_signature(path),
            None => Ok(String::new()),
        };
        Policy::admit_as(bytes, Signature::Beside(path, &signature), admission)
    }

    pub(crate) fn admit_as(
        bytes: &[u8],
        signature: Signature,
        admission: &Admission,
    ) -> Result<Policy, Error> {
        let signer = admission.check_bytes(bytes, signature)?;
        let interface = check_interface(bytes)?;
        Policy::compile(bytes, interface, signer)
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
