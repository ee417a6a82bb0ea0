//! Provenance: the sha256 of a policy component, and an allow-list of the
//! hashes a host accepts. A component whose hash is not listed is refused
//! before it is compiled.

use std::collections::BTreeSet;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::Error;

/// Lower-case hex sha256 of `bytes` (what `sha256sum` prints).
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The largest allow-list file read: 1 MiB, some 13,000 hashes.
const MAX_LIST_SIZE: u64 = 1 << 20;

/// The sha256 hashes of the policy components a host may load.
///
/// As text: one hash per line, 64 hex digits, optionally prefixed `sha256:`;
/// anything after the hash on its line (the file name `sha256sum` prints) is
/// ignored, as are blank lines and lines starting with `#`. So
/// `sha256sum policy.wasm >> allowed-policies.txt` adds a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowList {
    hashes: BTreeSet<String>,
    source: String,
}

impl AllowList {
    /// An allow-list of these hex sha256 hashes.
    pub fn new<I, S>(hashes: I) -> Result<AllowList, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = BTreeSet::new();
        for hash in hashes {
            set.insert(parse_hash(hash.as_ref()).ok_or_else(|| {
                Error::policy(format!(
                    "policy allow-list: {:?} is not a sha256 (64 hex digits)",
                    hash.as_ref()
                ))
            })?);
        }
        Ok(AllowList {
            hashes: set,
            source: "the allow-list setting".into(),
        })
    }

    /// Parses the text of an allow-list file; `source` names it in errors.
    /// A malformed line refuses the whole list (fail closed).
    pub fn parse(text: &str, source: &str) -> Result<AllowList, Error> {
        let mut hashes = BTreeSet::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let first = line.split_whitespace().next().unwrap_or_default();
            let hash = parse_hash(first).ok_or_else(|| {
                Error::policy(format!(
                    "policy allow-list {source}, line {}: {first:?} is not a sha256 (64 hex digits)",
                    n + 1
                ))
            })?;
            hashes.insert(hash);
        }
        Ok(AllowList {
            hashes,
            source: source.to_owned(),
        })
    }

    /// Reads an allow-list file. One that cannot be read is a `policy_error`:
    /// without its list a host accepts nothing.
    pub fn from_file(path: impl AsRef<Path>) -> Result<AllowList, Error> {
        let path = path.as_ref();
        let unreadable = |why: String| {
            Error::policy(format!(
                "cannot read the policy allow-list {}: {why}",
                path.display()
            ))
        };
        // A regular file only, opened without blocking: a FIFO or /dev/zero
        // here must not hang or fill memory.
        let bytes = crate::regular_file::read(path, MAX_LIST_SIZE)
            .map_err(|why| unreadable(why.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8".into()))?;
        AllowList::parse(&text, &path.display().to_string())
    }

    /// Whether the hex sha256 `hash` is listed.
    pub fn contains(&self, hash: &str) -> bool {
        parse_hash(hash).is_some_and(|h| self.hashes.contains(&h))
    }

    /// How many hashes are listed.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether nothing is listed (every component is refused).
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Passes when the component with hex sha256 `hash` is listed.
    pub fn check_hash(&self, hash: &str) -> Result<(), Error> {
        if self.contains(hash) {
            Ok(())
        } else {
            Err(Error::policy(format!(
                "the policy component (sha256 {hash}) is not on {}; refused before compiling",
                self.source
            )))
        }
    }

    /// Passes when `component`'s sha256 is listed; returns the hash.
    pub fn check(&self, component: &[u8]) -> Result<String, Error> {
        let hash = sha256_hex(component);
        self.check_hash(&hash)?;
        Ok(hash)
    }
}

/// A sha256 in hex (either case, optional `sha256:` prefix), lower-cased.
fn parse_hash(text: &str) -> Option<String> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_is_lower_hex() {
        assert_eq!(sha256_hex(b""), EMPTY);
    }

    #[test]
    fn a_file_of_hashes_takes_sha256sum_output_and_comments() {
        let text = format!(
            "# vetted policies\n\n{}  policy.wasm\nsha256:{}\n",
            EMPTY.to_uppercase(),
            "a".repeat(64)
        );
        let list = AllowList::parse(&text, "allowed.txt").unwrap();
        assert_eq!(list.len(), 2);
        assert!(list.contains(EMPTY));
        assert!(list.contains(&"A".repeat(64)));
        assert_eq!(list.check(b"").unwrap(), EMPTY);
        let refused = list.check(b"other").unwrap_err();
        assert_eq!(refused.code(), "policy_error");
        assert!(refused.message().contains("allowed.txt"), "{refused}");
    }

    #[test]
    fn a_malformed_line_refuses_the_list() {
        let e = AllowList::parse("# ok\nnot-a-hash\n", "allowed.txt").unwrap_err();
        assert_eq!(e.code(), "policy_error");
        assert!(e.message().contains("line 2"), "{e}");
        assert!(AllowList::new(["abc"]).is_err());
        assert!(AllowList::new([EMPTY]).unwrap().contains(EMPTY));
    }

    #[test]
    fn an_empty_list_accepts_nothing() {
        let list = AllowList::parse("# nothing yet\n", "allowed.txt").unwrap();
        assert!(list.is_empty());
        assert!(list.check(b"").is_err());
    }
}
