//! Python peers as real processes: `filelock` of a given version in a venv
//! made under the target folder (and reused), and small helpers to talk to
//! a Python process over its stdin and stdout.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::cli_exe;

/// The newest of each `filelock` discipline: 3.20.3 never unlinks its lock
/// file (3.20.4 started to), 3.29.0 is the lab app's pin (unlinks on
/// release, re-checks `st_nlink`), 4.3.1 the newest 4.x (keeps the file).
pub const FILELOCK_VERSIONS: [&str; 3] = ["3.20.3", "3.29.0", "4.3.1"];

/// A venv's python with `filelock==version`, made once and kept under the
/// target folder; `Err` says why there is none.
pub fn filelock_python(version: &str) -> Result<PathBuf, String> {
    static MADE: OnceLock<Mutex<()>> = OnceLock::new();
    let _one_at_a_time = MADE.get_or_init(Mutex::default).lock().unwrap();
    let target = cli_exe().parent().unwrap().parent().unwrap();
    let venv = target.join("filelock-venvs").join(version);
    let python = venv.join("bin/python");
    let check = format!("import filelock, sys; sys.exit(filelock.__version__ != {version:?})");
    let works = |python: &Path| {
        Command::new(python)
            .args(["-c", &check])
            .status()
            .is_ok_and(|s| s.success())
    };
    if works(&python) {
        return Ok(python);
    }
    let building = target.join(format!("filelock-venvs/.{version}.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    let mut why = String::from("no python3");
    for pyenv in [Some("3.12.1"), None] {
        let mut venv_cmd = Command::new("python3");
        venv_cmd.args(["-m", "venv"]).arg(&building);
        if let Some(v) = pyenv {
            venv_cmd.env("PYENV_VERSION", v);
        }
        match venv_cmd.output() {
            Ok(out) if out.status.success() => {}
            Ok(out) => {
                why = format!("python3 -m venv: {}", String::from_utf8_lossy(&out.stderr));
                continue;
            }
            Err(e) => {
                why = format!("no python3: {e}");
                continue;
            }
        }
        let pip = Command::new(building.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("filelock=={version}"))
            .output()
            .map_err(|e| format!("pip: {e}"))?;
        if !pip.status.success() {
            return Err(format!(
                "pip install filelock=={version}: {}",
                String::from_utf8_lossy(&pip.stderr)
            ));
        }
        let _ = std::fs::remove_dir_all(&venv);
        std::fs::rename(&building, &venv).unwrap();
        // A venv's python is a symlink to the interpreter, so the venv works
        // from its new name.
        return if works(&python) {
            Ok(python)
        } else {
            Err(format!("filelock {version} does not import"))
        };
    }
    Err(why)
}

/// A Python process running `script` with `args`, stdin and stdout piped.
pub fn python(
    python: &Path,
    script: &str,
    args: &[&Path],
) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    (child, stdout)
}

pub fn line(stdout: &mut BufReader<std::process::ChildStdout>) -> String {
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    line.trim().to_owned()
}

/// Whether process `pid` has `file` open (it is waiting for its lock).
pub fn has_open(pid: u32, file: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == file))
}
