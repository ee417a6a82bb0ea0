//! The harness shared by the integration tests in `tests/`: temp roots, a
//! cache with an injected clock and captured warnings, and the CLI run as a
//! real process.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub mod python;
pub mod signing;

pub use exlab_cache::testing::{Harness, T0};

/// `unix_secs` in the spec's UTC format, as the status writes times.
pub fn utc(unix_secs: i64) -> String {
    exlab_cache::format_utc(std::time::UNIX_EPOCH + Duration::from_secs(unix_secs as u64))
}

pub const EQUIPMENT: &str = "CONFOCAL_01/.exlab-wizard/equipment.json";
pub const TEST_RUNS: &str = "CONFOCAL_01/P1/TestRuns/.exlab-wizard/test_runs.json";
pub const RUNS: &str = "CONFOCAL_01/P1/Runs/.exlab-wizard/runs.json";

pub fn equipment_input(label: &str) -> String {
    serde_json::json!({
        "id": "CONFOCAL_01",
        "label": label,
        "configured_local_root": "/data/lab",
        "configured_nas_root": "//nas01/lab",
    })
    .to_string()
}

pub fn marker_input(project: &str) -> String {
    serde_json::json!({"project": project, "equipment": "CONFOCAL_01"}).to_string()
}

/// Every file under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Leftover temp files (`*.tmp`) anywhere under `dir`.
pub fn temp_files(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_iter()
        .filter(|p| p.ends_with(".tmp"))
        .collect()
}

/// The CLI under test: `exlab-cache` of the profile these tests were built
/// with, built (or found up to date) by cargo once per test process. Tests
/// of another crate than the binary's get no `CARGO_BIN_EXE_*`, and a
/// binary left over from an earlier build must never be what is tested.
pub fn cli_exe() -> &'static Path {
    static EXE: OnceLock<PathBuf> = OnceLock::new();
    EXE.get_or_init(|| {
        // target/<profile>/deps/<test binary>
        let test_exe = std::env::current_exe().unwrap();
        let profile_dir = test_exe.parent().and_then(Path::parent).unwrap();
        let profile = profile_dir.file_name().unwrap().to_str().unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build.args([
            "build",
            "--locked",
            "-p",
            "exlab-cache",
            "--bin",
            "exlab-cache",
        ]);
        match profile {
            "debug" => {}
            "release" => {
                build.arg("--release");
            }
            other => {
                build.args(["--profile", other]);
            }
        }
        let target_dir = profile_dir.parent().unwrap();
        build
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        let status = build.status().expect("run cargo to build the CLI");
        assert!(status.success(), "building the exlab-cache CLI failed");
        profile_dir.join("exlab-cache")
    })
}

/// One CLI run: exit status, stdout, stderr.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The JSON error on the last stderr line.
    pub fn error(&self) -> serde_json::Value {
        let last = self.stderr.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("no JSON error in {:?}: {e}", self.stderr))
    }

    pub fn code(&self) -> String {
        self.error()["code"].as_str().unwrap().to_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout {:?}: {e}", self.stdout))
    }
}

/// Starts the CLI in `cwd` with `args`, `stdin` written to it, output piped.
pub fn spawn_cli(cwd: &Path, args: &[&str], stdin: &str) -> std::process::Child {
    let mut child = Command::new(cli_exe())
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A CLI that fails before reading its input (a bad --policy) closes the pipe.
    match child.stdin.take().unwrap().write_all(stdin.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("stdin: {e}"),
        _ => {}
    }
    child
}

/// Runs the CLI in `cwd` with `args`, `stdin` piped in.
pub fn cli(cwd: &Path, args: &[&str], stdin: &str) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = spawn_cli(cwd, args, stdin).wait_with_output().unwrap();
    Run {
        status: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}
