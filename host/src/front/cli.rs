//! `exlab-cache`: the command line over the exlab-cache library.
//!
//! Prints results as compact JSON on stdout; an error as one JSON object on
//! the last line of stderr, with the exit status of docs/spec.md §4.
//! Usage errors are plain text with exit status 2.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use exlab_cache::{
    conformance, sync, Admission, AllowList, Cache, Error, MarkerKind, Policy, Root, Settings,
};

#[derive(Parser)]
#[command(
    name = "exlab-cache",
    version,
    about = "Sandboxed policy for lab data caches: the .exlab-wizard/ files (equipment.json, \
             test_runs.json, runs.json, creation.json, ingest.json, readme_fields.json, logs)"
)]
struct Cli {
    /// Root folder that every PATH is inside (default: the current folder).
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Policy component to load instead of the built-in one.
    #[arg(long, global = true, value_name = "FILE.wasm")]
    policy: Option<PathBuf>,
    /// Longest wait for a file's lock, in seconds (0: try once). Default 30.
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_seconds)]
    lock_timeout: Option<Duration>,
    /// Accept only policy components whose sha256 is listed in FILE (one hex
    /// hash per line, `sha256sum` output works), for --policy and policy check.
    #[arg(long, global = true, value_name = "FILE")]
    allow_policy_hashes: Option<PathBuf>,
    /// Accept only policy components signed (minisign, FILE.wasm.minisig
    /// beside them) by a key of FILE (minisign .pub files, one after the
    /// other), for --policy and policy check. Read at each admission.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "EXLAB_CACHE_TRUSTED_KEYS"
    )]
    trusted_keys: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The equipment registry record, equipment.json.
    Equipment {
        #[command(subcommand)]
        op: FileOp,
    },
    /// The test-only marker, test_runs.json (run_kind "test").
    TestRuns {
        #[command(subcommand)]
        op: FileOp,
    },
    /// The experimental-only marker, runs.json (run_kind "experimental").
    Runs {
        #[command(subcommand)]
        op: FileOp,
    },
    /// The provenance record, creation.json.
    Creation {
        #[command(subcommand)]
        op: CreationOp,
    },
    /// The orchestrator's staging record, ingest.json.
    Ingest {
        #[command(subcommand)]
        op: IngestOp,
    },
    /// The README's inputs, readme_fields.json.
    ReadmeFields {
        #[command(subcommand)]
        op: ReadmeFieldsOp,
    },
    /// The per-machine log, wizard.<hostname>.log.
    Log {
        #[command(subcommand)]
        op: LogOp,
    },
    /// The record kinds the policy owns, with their operations (JSON).
    Kinds,
    /// Any operation of any kind the policy owns, by name.
    ///
    /// The input, when the operation takes one, on stdin; for an `update`,
    /// a JSON merge patch (RFC 7396) on stdin.
    Kind {
        /// The kind (see `kinds`).
        name: String,
        /// Its operation.
        operation: String,
        /// The file, for an operation that touches one.
        path: Option<String>,
    },
    /// The schema-major gate.
    Schema {
        #[command(subcommand)]
        op: SchemaOp,
    },
    /// Write equipment.json for every entry of a lab config's equipment: list.
    Sync {
        /// The lab's YAML config.
        config: PathBuf,
    },
    /// The loaded policy component.
    Policy {
        #[command(subcommand)]
        op: PolicyOp,
    },
}

#[derive(Subcommand)]
enum FileOp {
    /// Write from the JSON object on stdin; print the file as written.
    Write { path: String },
    /// Print the file's known fields.
    Read { path: String },
}

#[derive(Subcommand)]
enum CreationOp {
    /// Create from the record on stdin, once: {"written":bool,"creation":...}.
    Create { path: String },
    /// Apply the JSON merge patch (RFC 7396) on stdin under the file's lock;
    /// print the file as written.
    Update { path: String },
    /// Print the record (every known field, migrated from an older minor).
    Read { path: String },
    /// The active entries of {"validation_overrides":[...],"now":...?} on stdin.
    ActiveOverrides,
}

#[derive(Subcommand)]
enum IngestOp {
    /// Create from the record on stdin, once: {"written":bool,"ingest":...}.
    Create { path: String },
    /// Append the state transition on stdin ({"state":...,"host":...?,...});
    /// print the file as written.
    Transition { path: String },
    /// Print the record.
    Read { path: String },
}

#[derive(Subcommand)]
enum ReadmeFieldsOp {
    /// Write from the record on stdin; print the file as written.
    Write { path: String },
    /// Print the record.
    Read { path: String },
}

#[derive(Subcommand)]
enum LogOp {
    /// Format the line of the fields on stdin ({"level","message",...}).
    Format,
    /// Append a line ({"line":...}, or the fields of `format`, on stdin) to
    /// PATH, a log file or the folder of wizard.<hostname>.log.
    Append { path: String },
}

#[derive(Subcommand)]
enum SchemaOp {
    /// Exit 0 if VERSION's major is N, else the error.
    Check {
        #[arg(allow_hyphen_values = true)]
        version: String,
        #[arg(long, value_name = "N")]
        major: u32,
    },
}

#[derive(Subcommand)]
enum PolicyOp {
    /// Name, version, interface, sha256 and signer of the policy.
    Info,
    /// Vet a policy component before shipping it: signature and allow-list
    /// (if given), interface version, compile, and the conformance gate on
    /// a scratch root. Prints the report; a refusal is a policy_error (exit 9).
    Check {
        /// The policy component to check.
        #[arg(value_name = "FILE.wasm")]
        file: PathBuf,
    },
    /// Print a status file written by a policy watcher
    /// (<policy>.status.json): what serves, since when, the last attempts.
    Status {
        /// The status file.
        file: PathBuf,
        /// Print the file's JSON as it is.
        #[arg(long)]
        json: bool,
    },
}

/// A non-negative decimal number of seconds; fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let decimal = digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty());
    let seconds: Option<f64> = decimal.then(|| text.parse().ok()).flatten();
    seconds
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{text:?} is not a non-negative number of seconds"))
}

fn main() -> ExitCode {
    // Under a file-size limit (`ulimit -f`), an oversize write would kill
    // the process with SIGXFSZ; ignored, the write fails with EFBIG, which is
    // reported as io_error with the old file intact.
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(status) => status,
        Err(e) => fail(&e),
    }
}

fn fail(e: &Error) -> ExitCode {
    eprintln!("{}", e.to_json());
    ExitCode::from(e.exit_status())
}

fn run(cli: Cli) -> Result<ExitCode, Error> {
    // Checks run in the spec's order (docs/spec.md §4): policy, then input,
    // then path, lock, file.
    if let Command::Policy {
        op: PolicyOp::Status { file, json },
    } = &cli.command
    {
        return policy_status(file, *json);
    }
    let admission = Admission {
        allowed: match &cli.allow_policy_hashes {
            Some(file) => Some(Arc::new(AllowList::from_file(file)?)),
            None => None,
        },
        trusted_keys: cli.trusted_keys.clone(),
    };
    if let Command::Policy {
        op: PolicyOp::Check { file },
    } = &cli.command
    {
        return policy_check(file, &admission);
    }
    let policy = match &cli.policy {
        Some(file) => Policy::admit_file(file, &admission)?,
        None => Policy::builtin()?,
    };
    let mut settings = Settings {
        on_warning: Arc::new(|warning| eprintln!("warning: {warning}")),
        ..Settings::default()
    };
    if let Some(timeout) = cli.lock_timeout {
        settings.lock_timeout = timeout;
    }
    let cache = || {
        let dir = cli.root.clone().unwrap_or_else(|| PathBuf::from("."));
        // A missing root fails the call with io_error after its input is checked.
        let root = Root::open(&dir).unwrap_or_else(|e| Root::unavailable(e.message()));
        Cache::new(root, policy.clone(), settings.clone())
    };
    match cli.command {
        Command::Equipment {
            op: FileOp::Write { path },
        } => {
            let written = cache().write_equipment(&path, &stdin_json()?)?;
            print(&written.document);
        }
        Command::Equipment {
            op: FileOp::Read { path },
        } => {
            print(&to_json(&cache().read_equipment(&path)?));
        }
        Command::TestRuns { op } => marker(cache(), MarkerKind::TestRuns, op)?,
        Command::Runs { op } => marker(cache(), MarkerKind::Runs, op)?,
        Command::Kinds => print(&kinds::to_json(&cache().kinds()?).to_string()),
        Command::Kind {
            name,
            operation,
            path,
        } => kinds::run(&cache(), &name, &operation, path.as_deref())?,
        Command::Creation { op } => {
            let (op, path) = match op {
                CreationOp::Create { path } => ("create", Some(path)),
                CreationOp::Update { path } => ("update", Some(path)),
                CreationOp::Read { path } => ("read", Some(path)),
                CreationOp::ActiveOverrides => ("active-overrides", None),
            };
            kinds::run(&cache(), "creation", op, path.as_deref())?
        }
        Command::Ingest { op } => {
            let (op, path) = match op {
                IngestOp::Create { path } => ("create", path),
                IngestOp::Transition { path } => ("transition", path),
                IngestOp::Read { path } => ("read", path),
            };
            kinds::run(&cache(), "ingest", op, Some(&path))?
        }
        Command::ReadmeFields { op } => {
            let (op, path) = match op {
                ReadmeFieldsOp::Write { path } => ("write", path),
                ReadmeFieldsOp::Read { path } => ("read", path),
            };
            kinds::run(&cache(), "readme-fields", op, Some(&path))?
        }
        Command::Log { op } => {
            let (op, path) = match op {
                LogOp::Format => ("format", None),
                LogOp::Append { path } => ("append", Some(path)),
            };
            kinds::run(&cache(), "log", op, path.as_deref())?
        }
        Command::Schema {
            op: SchemaOp::Check { version, major },
        } => {
            policy.require_schema_major(Some(&version), major, &Arc::new(settings))?;
        }
        Command::Policy { op: PolicyOp::Info } => print(&to_json(policy.info())),
        Command::Policy {
            op: PolicyOp::Check { .. } | PolicyOp::Status { .. },
        } => unreachable!("handled before a policy is loaded"),
        Command::Sync { config } => return sync_config(&policy, &settings, &config),
    }
    Ok(ExitCode::SUCCESS)
}

/// `policy check FILE.wasm`: the report on stdout, or on a refusal the
/// failed scenarios on stderr, then the policy_error as its last line.
fn policy_check(file: &std::path::Path, admission: &Admission) -> Result<ExitCode, Error> {
    let policy = Policy::admit_file(file, admission)?;
    let settings = Settings {
        on_warning: Arc::new(|_| {}),
        ..Settings::default()
    };
    let report = conformance::check(&policy, &settings)?;
    if report.passed {
        print(&report.to_json());
        return Ok(ExitCode::SUCCESS);
    }
    for failed in report.failures() {
        eprintln!("FAILED {}: {}", failed.name, failed.detail);
    }
    Err(report.into_result().unwrap_err())
}

/// `policy status FILE`: a watcher's status file, as lines for a person
/// (or its JSON with `--json`).
fn policy_status(file: &std::path::Path, raw: bool) -> Result<ExitCode, Error> {
    let status = exlab_cache::status::read_status_file(file)?;
    if raw {
        println!("{}", serde_json::to_string_pretty(&status).expect("JSON"));
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_owned();
    let policy = |p: &serde_json::Value| {
        let mut lines = format!(
            "{} {} ({}) since {}\n  sha256 {}",
            text(&p["name"]),
            text(&p["version"]),
            text(&p["interface"]),
            text(&p["since"]),
            text(&p["sha256"])
        );
        if p["signer"].is_object() {
            let trusted = match p["signer_trusted"].as_bool() {
                Some(true) => "trusted".to_owned(),
                Some(false) => format!("NOT TRUSTED NOW: {}", text(&p["trust_note"])),
                None => "no trust file configured".to_owned(),
            };
            lines.push_str(&format!(
                "\n  signed by key {} ({trusted})\n  trusted comment: {}",
                text(&p["signer"]["key_id"]),
                text(&p["signer"]["trusted_comment"])
            ));
        } else {
            lines.push_str("\n  unsigned");
        }
        lines
    };
    println!("status at {}", text(&status["at"]));
    println!("serving: {}", policy(&status["serving"]));
    match &status["previous"] {
        serde_json::Value::Null => println!("previous: none (nothing to roll back to)"),
        previous => println!("previous: {}", policy(previous)),
    }
    println!(
        "trusted keys: {}",
        status["trusted_keys"].as_str().unwrap_or("none configured")
    );
    let attempts = status["attempts"].as_array().cloned().unwrap_or_default();
    println!("last {} attempts, oldest first:", attempts.len());
    for a in &attempts {
        let sha = a["sha256"]
            .as_str()
            .map_or("-", |s| s.get(..12).unwrap_or(s));
        let mut line = format!(
            "  {} {} {} sha256 {sha}",
            text(&a["at"]),
            text(&a["action"]),
            text(&a["outcome"])
        );
        if let Some(source) = a["source"].as_str() {
            line.push_str(&format!(" from {source}"));
        }
        if let Some(reason) = a["reason"].as_str() {
            line.push_str(&format!(": {reason}"));
        }
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn marker(cache: Cache, kind: MarkerKind, op: FileOp) -> Result<(), Error> {
    match op {
        FileOp::Write { path } => {
            let outcome = cache.write_marker(kind, &path, &stdin_json()?)?;
            let marker = outcome.document.as_deref().unwrap_or("null");
            print(&format!(
                "{{\"written\":{},\"marker\":{marker}}}",
                outcome.written
            ));
        }
        FileOp::Read { path } => print(&to_json(&cache.read_marker(kind, &path)?)),
    }
    Ok(())
}

fn sync_config(
    policy: &Policy,
    settings: &Settings,
    config: &std::path::Path,
) -> Result<ExitCode, Error> {
    let mut first_failure = None;
    for outcome in sync::sync(policy, settings, config)? {
        match outcome.result {
            Ok(written) => println!("{}", written.document),
            Err(e) => {
                let id = serde_json::json!(outcome.id);
                println!("{{\"id\":{id},\"error\":{}}}", e.to_json());
                first_failure.get_or_insert(e);
            }
        }
    }
    Ok(match first_failure {
        Some(e) => fail(&e),
        None => ExitCode::SUCCESS,
    })
}

/// Record kinds by name: the typed commands and `kind NAME OP` alike.
mod kinds {
    use super::{print, stdin_json};
    use exlab_cache::{merge_patch, Access, Cache, Error, Kind, UpdateError};
    use serde_json::value::RawValue;
    use serde_json::Value;

    /// Runs `operation` of `kind`, its input from stdin when it takes one
    /// (a merge patch for an update); prints the policy's result.
    pub(super) fn run(
        cache: &Cache,
        kind: &str,
        operation: &str,
        path: Option<&str>,
    ) -> Result<(), Error> {
        let kinds = cache.kinds()?;
        let op = kinds
            .iter()
            .find(|k| k.name == kind)
            .and_then(|k| k.operations.iter().find(|o| o.name == operation));
        let Some(op) = op else {
            // Unknown names: the policy's own error, which lists what it has.
            return cache
                .run(kind, operation, path.unwrap_or_default(), "null")
                .map(drop);
        };
        let path = match (op.access, path) {
            (Access::None, _) => "",
            (_, Some(path)) => path,
            (_, None) => usage(&format!("{kind} {operation} needs a PATH")),
        };
        if op.access == Access::Update {
            // The patch is merged into the record's text: members it does
            // not name are handed back byte for byte.
            let patch = stdin_json()?;
            serde_json::from_str::<&RawValue>(&patch).map_err(|e| Error::Validation {
                field: None,
                message: format!("input is not JSON: {e}"),
            })?;
            let written = cache
                .update_json(kind, path, |record| merge_patch(&record, &patch))
                .map_err(|e| match e {
                    UpdateError::Cache(e) => e,
                    UpdateError::Step(e) => Error::Validation {
                        field: None,
                        message: format!(
                            "{path}: the merge patch cannot be applied to the record: {e}; nothing written"
                        ),
                    },
                })?;
            print(&written);
            return Ok(());
        }
        let input = if op.takes_input {
            stdin_json()?
        } else {
            "null".to_owned()
        };
        print(&cache.run(kind, operation, path, &input)?);
        Ok(())
    }

    /// A usage error found once the policy said what the kind takes.
    fn usage(message: &str) -> ! {
        eprintln!("error: {message}");
        std::process::exit(2)
    }

    /// The kinds as JSON: names, files, schema versions, operations.
    pub(super) fn to_json(kinds: &[Kind]) -> Value {
        exlab_cache::kinds_to_json(kinds)
    }
}

/// The caller's input: stdin as text (JSON checking is the policy's job).
fn stdin_json() -> Result<String, Error> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Io {
            message: format!("read stdin: {e}"),
        })?;
    String::from_utf8(bytes).map_err(|_| Error::Validation {
        field: None,
        message: "input is not JSON: stdin is not UTF-8".into(),
    })
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("records serialize")
}

/// Compact JSON, exactly the file's bytes for a write: no trailing newline.
fn print(json: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(json.as_bytes()).and_then(|()| out.flush());
}
