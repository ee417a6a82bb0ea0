//! Trust by key (issue 14): a policy is admitted when a detached minisign
//! signature (`<policy>.minisig`) by a key of a trust file verifies over its
//! exact bytes.
//!
//! The format is the `minisign` tool's (Ed25519), so a lab signs with
//! `minisign -Sm policy.wasm` or any compatible library, and the trust file
//! is its `minisign.pub` files put one after the other. Verification is
//! `minisign-verify`'s; this module parses the trust file, picks the key the
//! signature names and turns every refusal into a `policy_error` that says
//! which file and why.
//!
//! Nothing here caches: the caller reads the trust file at each admission,
//! so a key added or removed takes effect on the next one.

use std::fs::OpenOptions;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use minisign_verify::{PublicKey, Signature};

use crate::Error;

/// The largest trust file read; thousands of keys fit in far less.
pub const MAX_TRUST_FILE: u64 = 1 << 20;

/// The largest signature file read: a signature is ~300 bytes plus its
/// one-line trusted comment.
pub const MAX_SIGNATURE_FILE: u64 = 64 << 10;

/// The suffix of a detached signature beside its policy file.
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// One public key of a trust file.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    id: String,
    comment: Option<String>,
    raw: Vec<u8>,
    key: PublicKey,
}

impl TrustedKey {
    /// The key id as minisign prints it: 16 upper-case hex digits.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The text after `untrusted comment:` on the line before the key, if
    /// there was one. Untrusted: for display only.
    pub fn comment(&self) -> Option<&str> {
        self.comment.as_deref()
    }
}

/// The public keys a host trusts to sign policies.
///
/// As text: one or more keys in the `minisign.pub` format (an optional
/// `untrusted comment:` line, then the base64 key line); blank lines and
/// lines starting with `#` are ignored. `cat lab-a.pub lab-b.pub > trusted`
/// makes a trust file. A malformed line refuses the whole file (fail
/// closed); a file with no keys trusts nothing.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
    source: String,
}

impl TrustedKeys {
    /// Parses the text of a trust file; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<TrustedKeys, Error> {
        let malformed = |line: usize, why: &str| {
            Error::policy(format!(
                "trusted keys {source}, line {line}: {why}; the whole file is refused"
            ))
        };
        let mut keys: Vec<TrustedKey> = Vec::new();
        // An untrusted comment waits for its key line: (line number, text).
        let mut pending: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(comment) = line.strip_prefix("untrusted comment:") {
                if let Some((at, _)) = pending {
                    return Err(malformed(
                        at,
                        "an untrusted comment with no key line after it",
                    ));
                }
                pending = Some((line_no, comment.trim().to_owned()));
                continue;
            }
            // The line itself is never echoed: it may be a secret key pasted
            // by mistake.
            let (key, raw) = parse_key_line(line).map_err(|why| malformed(line_no, why))?;
            let id = key_id(&raw[2..10]);
            let comment = pending.take().map(|(_, text)| text);
            match keys.iter().find(|k| k.id == id) {
                // The same key twice (two copies of one .pub) is harmless.
                Some(same) if same.raw == raw => {}
                // Two keys behind one id would make the id ambiguous.
                Some(_) => {
                    return Err(malformed(
                        line_no,
                        &format!("key id {id} is listed before with a different key"),
                    ))
                }
                None => keys.push(TrustedKey {
                    id,
                    comment,
                    raw,
                    key,
                }),
            }
        }
        if let Some((at, _)) = pending {
            return Err(malformed(
                at,
                "an untrusted comment with no key line after it",
            ));
        }
        Ok(TrustedKeys {
            keys,
            source: source.to_owned(),
        })
    }

    /// Reads a trust file: a regular file of at most [`MAX_TRUST_FILE`]
    /// bytes. One that cannot be read is a `policy_error`: without its keys a
    /// host admits nothing.
    pub fn from_file(path: impl AsRef<Path>) -> Result<TrustedKeys, Error> {
        let path = path.as_ref();
        let text = read_small_text(path, MAX_TRUST_FILE).map_err(|e| {
            Error::policy(format!(
                "cannot read the trusted keys {}: {e}",
                path.display()
            ))
        })?;
        TrustedKeys::parse(&text, &path.display().to_string())
    }

    /// The keys, in the order of the file.
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The key ids, in the order of the file.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    /// The key with this id (hex, either case; leading zeros optional, as
    /// minisign itself omits them).
    pub fn get(&self, id: &str) -> Option<&TrustedKey> {
        let wanted = u64::from_str_radix(id, 16).ok()?;
        self.keys
            .iter()
            .find(|k| u64::from_str_radix(&k.id, 16).ok() == Some(wanted))
    }

    /// How many keys are trusted.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is trusted (every policy is refused).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// What the keys were read from (the path of the trust file).
    pub fn source(&self) -> &str {
        &self.source
    }
}

/// Who signed an admitted policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Signer {
    /// The signing key's id, as minisign prints it (16 upper-case hex).
    pub key_id: String,
    /// The signature's trusted comment (covered by the signature).
    pub trusted_comment: String,
}

/// Where the detached signature of the policy file `policy` is:
/// `<policy>.minisig`, as `minisign -Sm` writes it.
pub fn signature_path(policy: &Path) -> PathBuf {
    let mut path = policy.as_os_str().to_owned();
    path.push(SIGNATURE_SUFFIX);
    PathBuf::from(path)
}

/// Reads the signature beside the policy file `policy`; a missing one is
/// the refusal "no signature".
pub fn read_signature(policy: &Path) -> Result<String, Error> {
    let sig = signature_path(policy);
    read_small_text(&sig, MAX_SIGNATURE_FILE).map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            missing_signature(policy)
        } else {
            Error::policy(format!(
                "policy {}: cannot read its signature {}: {e}; refused before compiling",
                policy.display(),
                sig.display()
            ))
        }
    })
}

/// The refusal of the policy file `policy` when no `.minisig` is beside it.
pub fn missing_signature(policy: &Path) -> Error {
    Error::policy(format!(
        "policy {}: no signature {} beside it; with trusted keys configured, a policy \
         is admitted only when signed by a trusted key; refused before compiling",
        policy.display(),
        signature_path(policy).display()
    ))
}

/// Verifies `signature_text` (a `.minisig` file's content) over
/// `policy_bytes` with the trusted key it names; `source` names the policy
/// in errors. Prehashed (`ED`) and legacy (`Ed`) signatures are accepted.
pub fn verify(
    keys: &TrustedKeys,
    policy_bytes: &[u8],
    signature_text: &str,
    source: &str,
) -> Result<Signer, Error> {
    verify_named(keys, policy_bytes, signature_text, source, "its signature")
}

/// [`verify`] with the signature beside the policy file `policy`
/// ([`signature_path`]). `policy_bytes` are the bytes the caller read from
/// `policy` and will compile: those are what is verified.
pub fn verify_beside(
    keys: &TrustedKeys,
    policy: &Path,
    policy_bytes: &[u8],
) -> Result<Signer, Error> {
    verify_text_beside(keys, policy, policy_bytes, &read_signature(policy)?)
}

/// [`verify_beside`] with the signature's text already read (by a watcher
/// that hashed it): errors name the `.minisig` beside `policy`.
pub fn verify_text_beside(
    keys: &TrustedKeys,
    policy: &Path,
    policy_bytes: &[u8],
    text: &str,
) -> Result<Signer, Error> {
    let sig = format!("its signature {}", signature_path(policy).display());
    verify_named(
        keys,
        policy_bytes,
        text,
        &policy.display().to_string(),
        &sig,
    )
}

fn verify_named(
    keys: &TrustedKeys,
    policy_bytes: &[u8],
    signature_text: &str,
    policy: &str,
    sig: &str,
) -> Result<Signer, Error> {
    let refused =
        |why: String| Error::policy(format!("policy {policy}: {why}; refused before compiling"));
    let malformed = |why: &str| refused(format!("{sig} is not a minisign signature ({why})"));

    let signature = Signature::decode(signature_text).map_err(|e| match e {
        minisign_verify::Error::UnsupportedAlgorithm => {
            malformed("unknown signature algorithm; expected ED or Ed")
        }
        _ => malformed("expected an untrusted comment, the signature line, a trusted comment and the global signature"),
    })?;
    // The crate does not expose the key id of a signature: it is bytes 2..10
    // of the signature line (after the 2-byte algorithm), decoded here.
    let id = signature_text
        .lines()
        .nth(1)
        .and_then(|line| base64::engine::general_purpose::STANDARD.decode(line).ok())
        .filter(|bin| bin.len() == 74)
        .map(|bin| key_id(&bin[2..10]))
        .ok_or_else(|| malformed("the signature line is not base64"))?;

    let Some(trusted) = keys.keys.iter().find(|k| k.id == id) else {
        let trusts = if keys.is_empty() {
            "no keys".to_owned()
        } else {
            keys.key_ids().join(", ")
        };
        return Err(refused(format!(
            "signed by key {id}, which is not trusted ({} trusts {trusts})",
            keys.source
        )));
    };
    // Legacy signatures (`Ed`, over the raw bytes) are what minisign wrote
    // before 0.8 and are as sound; the crate verifies both.
    trusted
        .key
        .verify(policy_bytes, &signature, true)
        .map_err(|_| {
            refused(format!(
                "{sig} by key {id} does not verify: the policy's bytes or the trusted comment \
             were changed, or it is the signature of another file"
            ))
        })?;
    Ok(Signer {
        key_id: id,
        trusted_comment: signature.trusted_comment().to_owned(),
    })
}

/// A base64 minisign public key line: the crate's key and its 42 bytes.
fn parse_key_line(line: &str) -> Result<(PublicKey, Vec<u8>), &'static str> {
    let key = PublicKey::from_base64(line).map_err(|e| match e {
        minisign_verify::Error::UnsupportedAlgorithm => "not an Ed25519 minisign public key",
        _ => "not a minisign public key (expected the base64 key line of a minisign.pub file)",
    })?;
    // Decoded again for the key id, which the crate keeps private.
    let raw = base64::engine::general_purpose::STANDARD
        .decode(line)
        .ok()
        .filter(|raw| raw.len() == 42)
        .ok_or("not a minisign public key (not canonical base64)")?;
    Ok((key, raw))
}

/// minisign prints a key id as a little-endian 64-bit number in hex; we
/// always print 16 digits (minisign drops leading zeros), so an id has one
/// width and still contains minisign's spelling of it.
fn key_id(bytes: &[u8]) -> String {
    let mut id = [0u8; 8];
    id.copy_from_slice(bytes);
    format!("{:016X}", u64::from_le_bytes(id))
}

/// A regular file of at most `cap` bytes, as UTF-8 text.
fn read_small_text(path: &Path, cap: u64) -> io::Result<String> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Opening a FIFO would block until a writer came; with O_NONBLOCK
        // it opens at once and is refused below as not a regular file.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    // Checked on the open file: what is checked is what is read.
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    let mut bytes = Vec::new();
    file.take(cap + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than the {cap}-byte limit"),
        ));
    }
    String::from_utf8(bytes)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
}

#[cfg(test)]
mod tests;
