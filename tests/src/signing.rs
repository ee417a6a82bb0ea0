//! Signing policies at test time with independent minisign
//! implementations: the `minisign` tool and the `py-minisign` package
//! (`python3 -c "import minisign"`). Keys are generated per test; no secret
//! key is kept in the repository. Tests run with every implementation found
//! and print why one is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy)]
pub enum Tool {
    /// The `minisign` command.
    Minisign,
    /// The `py-minisign` package, through `python3`.
    PyMinisign,
}

/// A key pair made by a tool, with its id as minisign prints it.
pub struct Key {
    pub public: PathBuf,
    pub secret: PathBuf,
    pub id: String,
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
pub fn tools() -> Vec<Tool> {
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
    pub fn keygen(self, dir: &Path, name: &str) -> Key {
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
    pub fn sign(self, key: &Key, file: &Path, trusted_comment: &str, legacy: bool) {
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

/// The first implementation found, for tests that need one signer.
pub fn any_tool() -> Option<Tool> {
    tools().into_iter().next()
}

/// Writes the trust file `path` from these keys' .pub files.
pub fn write_trust_file(path: &Path, keys: &[&Key]) {
    let text: String = keys
        .iter()
        .map(|k| std::fs::read_to_string(&k.public).unwrap())
        .collect();
    std::fs::write(path, text).unwrap();
}
