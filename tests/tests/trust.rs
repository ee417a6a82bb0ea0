//! Issue 14: trust by key. Signatures made by independent minisign
//! implementations, the `minisign` tool and the `py-minisign` package
//! (`python3 -c "import minisign"`), verify with `exlab_cache::trust`, and
//! each refusal says why. Keys are generated at test time; no secret key is
//! kept in the repository. Each test runs with every implementation found
//! and is skipped with a printed reason when there is none.

use std::path::{Path, PathBuf};

use exlab_cache::trust::{self, Signer, TrustedKeys};
use exlab_cache::{Error, BUILTIN_POLICY};
use exlab_cache_tests::signing::{tools, Key};

/// A scratch folder with a policy file (the built-in component's bytes).
struct Bench {
    dir: tempfile::TempDir,
    policy: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let policy = dir.path().join("policy.wasm");
        std::fs::write(&policy, BUILTIN_POLICY).unwrap();
        Bench { dir, policy }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes the trust file `trusted.pub` from these .pub files.
    fn trust(&self, keys: &[&Key]) -> PathBuf {
        let text: String = keys
            .iter()
            .map(|k| std::fs::read_to_string(&k.public).unwrap())
            .collect();
        let path = self.path("trusted.pub");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// What an admission does: read the trust file, the policy and its
    /// signature, then verify.
    fn admit(&self, trust_file: &Path) -> Result<Signer, Error> {
        let keys = TrustedKeys::from_file(trust_file)?;
        let bytes = std::fs::read(&self.policy).unwrap();
        trust::verify_beside(&keys, &self.policy, &bytes)
    }
}

fn assert_refused(result: Result<Signer, Error>, needles: &[&str]) {
    let e = result.expect_err("refused");
    assert_eq!(e.code(), "policy_error", "{e:?}");
    for needle in needles {
        assert!(e.message().contains(needle), "{needle:?} not in {e}");
    }
}

#[test]
fn signed_by_a_trusted_key_verifies_with_its_id_and_trusted_comment() {
    for tool in tools() {
        let b = Bench::new();
        let key = tool.keygen(b.dir.path(), "lab-a");
        let trusted = b.trust(&[&key]);
        for legacy in [false, true] {
            let comment = format!("lab A: exlab-cache-policy 1.0.0 ({tool:?}, legacy {legacy})");
            tool.sign(&key, &b.policy, &comment, legacy);
            let signer = b
                .admit(&trusted)
                .unwrap_or_else(|e| panic!("{tool:?}: {e}"));
            assert_eq!(
                signer,
                Signer {
                    key_id: key.id.clone(),
                    trusted_comment: comment
                },
                "{tool:?}"
            );
        }
        // The tool's own .pub file is a trust file as it is.
        let keys = TrustedKeys::from_file(&key.public).unwrap();
        assert_eq!(keys.key_ids(), [key.id.as_str()]);
        // verify() on the signature text gives the same signer.
        let text = std::fs::read_to_string(trust::signature_path(&b.policy)).unwrap();
        assert_eq!(
            trust::verify(&keys, BUILTIN_POLICY, &text, "builtin")
                .unwrap()
                .key_id,
            key.id
        );
    }
}

#[test]
fn a_key_not_in_the_trust_file_is_refused_naming_both_ids() {
    for tool in tools() {
        let b = Bench::new();
        let trusted_key = tool.keygen(b.dir.path(), "lab-a");
        let stranger = tool.keygen(b.dir.path(), "stranger");
        let trusted = b.trust(&[&trusted_key]);
        tool.sign(&stranger, &b.policy, "not from the lab", false);
        assert_refused(
            b.admit(&trusted),
            &[
                &b.policy.display().to_string(),
                &format!("signed by key {}, which is not trusted", stranger.id),
                &format!("{} trusts {}", trusted.display(), trusted_key.id),
                "refused before compiling",
            ],
        );
    }
}

#[test]
fn tampered_bytes_are_refused() {
    for tool in tools() {
        let b = Bench::new();
        let key = tool.keygen(b.dir.path(), "lab-a");
        let trusted = b.trust(&[&key]);
        tool.sign(&key, &b.policy, "lab A", false);
        b.admit(&trusted).unwrap();

        let mut bytes = BUILTIN_POLICY.to_vec();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::write(&b.policy, &bytes).unwrap();
        assert_refused(
            b.admit(&trusted),
            &[
                &format!("by key {} does not verify", key.id),
                "policy.wasm.minisig",
            ],
        );
        // One byte more is tampering too.
        let mut longer = BUILTIN_POLICY.to_vec();
        longer.push(0);
        std::fs::write(&b.policy, &longer).unwrap();
        assert_refused(b.admit(&trusted), &["does not verify"]);
    }
}

#[test]
fn the_signature_of_another_file_is_refused() {
    for tool in tools() {
        let b = Bench::new();
        let key = tool.keygen(b.dir.path(), "lab-a");
        let trusted = b.trust(&[&key]);
        let other = b.path("other.wasm");
        std::fs::write(&other, b"another policy").unwrap();
        tool.sign(&key, &other, "lab A: other", false);
        std::fs::copy(
            trust::signature_path(&other),
            trust::signature_path(&b.policy),
        )
        .unwrap();
        assert_refused(b.admit(&trusted), &["does not verify", "another file"]);
    }
}

#[test]
fn a_missing_or_malformed_signature_is_refused() {
    for tool in tools() {
        let b = Bench::new();
        let key = tool.keygen(b.dir.path(), "lab-a");
        let trusted = b.trust(&[&key]);
        assert_refused(
            b.admit(&trusted),
            &[
                "no signature",
                &trust::signature_path(&b.policy).display().to_string(),
            ],
        );
        tool.sign(&key, &b.policy, "lab A", false);
        // Cut after its second line: the trusted comment and the global
        // signature are gone.
        let sig = trust::signature_path(&b.policy);
        let text = std::fs::read_to_string(&sig).unwrap();
        let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
        std::fs::write(&sig, cut).unwrap();
        assert_refused(b.admit(&trusted), &["is not a minisign signature"]);
    }
}

#[test]
fn a_malformed_trust_file_is_refused_naming_the_file_and_line() {
    for tool in tools() {
        let b = Bench::new();
        let key = tool.keygen(b.dir.path(), "lab-a");
        tool.sign(&key, &b.policy, "lab A", false);
        let trusted = b.trust(&[&key]);
        let good = std::fs::read_to_string(&trusted).unwrap();

        // A stray line after a good key refuses the whole file.
        std::fs::write(&trusted, format!("{good}lab B's key goes here\n")).unwrap();
        assert_refused(
            b.admit(&trusted),
            &[
                &trusted.display().to_string(),
                "line 3",
                "whole file is refused",
            ],
        );
        // A key line cut short.
        std::fs::write(&trusted, &good[..good.len() - 6]).unwrap();
        assert_refused(b.admit(&trusted), &["line 2", "not a minisign public key"]);
        // No trust file at all admits nothing either.
        assert_refused(
            b.admit(&b.path("absent.pub")),
            &["cannot read the trusted keys", "absent.pub"],
        );
    }
}

#[test]
fn a_trust_file_with_two_keys_accepts_either() {
    let tools = tools();
    for tool in &tools {
        let b = Bench::new();
        let a = tool.keygen(b.dir.path(), "lab-a");
        let c = tool.keygen(b.dir.path(), "lab-c");
        let trusted = b.trust(&[&a, &c]);
        for key in [&a, &c] {
            tool.sign(key, &b.policy, &format!("signed by {}", key.id), false);
            assert_eq!(b.admit(&trusted).unwrap().key_id, key.id, "{tool:?}");
        }
    }
    // Keys of both implementations in one file.
    if let [first, second] = tools[..] {
        let b = Bench::new();
        let a = first.keygen(b.dir.path(), "a");
        let c = second.keygen(b.dir.path(), "c");
        let trusted = b.trust(&[&a, &c]);
        second.sign(&c, &b.policy, "by the other implementation", false);
        assert_eq!(b.admit(&trusted).unwrap().key_id, c.id);
        first.sign(&a, &b.policy, "by the first", false);
        assert_eq!(b.admit(&trusted).unwrap().key_id, a.id);
    }
}

#[test]
fn a_key_added_or_removed_counts_at_the_next_read_of_the_trust_file() {
    for tool in tools() {
        let b = Bench::new();
        let old = tool.keygen(b.dir.path(), "old");
        let new = tool.keygen(b.dir.path(), "new");
        let trusted = b.trust(&[&old]);
        tool.sign(&new, &b.policy, "signed with the new key", false);
        assert_refused(b.admit(&trusted), &[&new.id, "not trusted"]);

        // Rotation: add the new key; the next read honours it.
        b.trust(&[&old, &new]);
        assert_eq!(b.admit(&trusted).unwrap().key_id, new.id);

        // Revocation: drop the old key; its signatures are refused next time.
        b.trust(&[&new]);
        tool.sign(&old, &b.policy, "signed with the old key", false);
        assert_refused(
            b.admit(&trusted),
            &[&format!("signed by key {}, which is not trusted", old.id)],
        );
    }
}
