//! Issue 14: trust by key. Signatures made by independent minisign
//! implementations, the `minisign` tool and the `py-minisign` package
//! (`python3 -c "import minisign"`), verify with `exlab_cache::trust`, and
//! each refusal says why. Keys are generated at test time; no secret key is
//! kept in the repository. Each test runs with every implementation found
//! and is skipped with a printed reason when there is none.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use exlab_cache::trust::{self, Signer, TrustedKeys};
use exlab_cache::{Error, BUILTIN_POLICY};

#[derive(Debug, Clone, Copy)]
enum Tool {
    /// The `minisign` command.
    Minisign,
    /// The `py-minisign` package, through `python3`.
    PyMinisign,
}

/// A key pair made by a tool, with its id as minisign prints it.
struct Key {
    public: PathBuf,
    secret: PathBuf,
    id: String,
}

const PY_MINISIGN: &str = r#"
import sys, minisign
op = sys.argv[1]
if op == "keygen":
    kp = minisign.KeyPair.generate()
    open(sys.argv[2], "wb").write(bytes(kp.public_key) + b"\n")
    open(sys.argv[3], "wb").write(bytes(kp.secret_key))
elif op == "sign":
    sk = minisign.SecretKey.from_file(sys.argv[2])
    data = open(sys.argv[3], "rb").read()
    sig = sk.sign(data, prehash=sys.argv[5] == "prehashed", trusted_comment=sys.argv[4])
    open(sys.argv[3] + ".minisig", "wb").write(bytes(sig) + b"\n")
"#;

fn succeeds(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The implementations installed here; prints why one is missing.
fn tools() -> Vec<Tool> {
    let mut found = Vec::new();
    if succeeds(Command::new("minisign").arg("-v")) {
        found.push(Tool::Minisign);
    } else {
        println!("no `minisign` tool (apt-get install minisign)");
    }
    if succeeds(Command::new("python3").args(["-c", "import minisign; minisign.KeyPair"])) {
        found.push(Tool::PyMinisign);
    } else {
        println!("no py-minisign for python3 (pip install py-minisign)");
    }
    if found.is_empty() {
        println!("SKIPPED: no minisign implementation to sign with");
    }
    found
}

fn run(command: &mut Command) {
    let out = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Tool {
    fn keygen(self, dir: &Path, name: &str) -> Key {
        let public = dir.join(format!("{name}.pub"));
        let secret = dir.join(format!("{name}.key"));
        match self {
            Tool::Minisign => run(Command::new("minisign")
                .args(["-G", "-W", "-p"])
                .arg(&public)
                .arg("-s")
                .arg(&secret)),
            Tool::PyMinisign => run(Command::new("python3")
                .args(["-c", PY_MINISIGN, "keygen"])
                .arg(&public)
                .arg(&secret)),
        }
        // Both write the id in the untrusted comment of the .pub file, but
        // in two orders: minisign prints it as a little-endian number
        // (without leading zeros), py-minisign as its bytes. Ours is
        // minisign's number, always 16 digits.
        let text = std::fs::read_to_string(&public).unwrap();
        let printed = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("untrusted comment: minisign public key "))
            .unwrap_or_else(|| panic!("no key id in {text:?}"))
            .to_owned();
        let id = match self {
            Tool::Minisign => format!("{printed:0>16}"),
            Tool::PyMinisign => (0..8).rev().map(|i| &printed[2 * i..2 * i + 2]).collect(),
        };
        Key { public, secret, id }
    }

    /// Signs `file` into `file.minisig` (prehashed unless `legacy`).
    fn sign(self, key: &Key, file: &Path, trusted_comment: &str, legacy: bool) {
        match self {
            Tool::Minisign => {
                let mut command = Command::new("minisign");
                command.args(["-S", "-W", "-s"]).arg(&key.secret).arg("-m");
                command.arg(file).args(["-t", trusted_comment]);
                if legacy {
                    command.arg("-l");
                }
                run(&mut command)
            }
            Tool::PyMinisign => run(Command::new("python3")
                .args(["-c", PY_MINISIGN, "sign"])
                .arg(&key.secret)
                .arg(file)
                .arg(trusted_comment)
                .arg(if legacy { "legacy" } else { "prehashed" })),
        }
    }
}

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
