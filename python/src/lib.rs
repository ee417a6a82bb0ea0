//! `exlab_cache._native`: the exlab-cache host library, in-process for Python.
//!
//! A thin layer: every call goes to [`exlab_cache::Cache`], so the policy
//! component decides everything (validation, stamping, the schema gate)
//! exactly as for the CLI. Records cross as data: a dict is written out as
//! JSON text here (`to_json`), results are built as dicts straight from the
//! typed records the host returns (`to_py`), in the file's field order.
//! Writes and reads release the GIL (they may wait on a lock or the disk);
//! the schema gate, guest code only, keeps it. The record kinds of
//! interface 1.1 go through three calls (`kinds`, `run`, `update`); the
//! typed conveniences over them are Python (`exlab_cache._sync`). An
//! update's step is a Python callable, run with the GIL under the lock.
//! Errors are raised as the exception classes of `exlab_cache._errors`;
//! warnings go to the `logging` logger `exlab_cache`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exlab_cache::{Admission, Error, MarkerKind, Policy, Root, Settings, UpdateError};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyMemoryView, PyString, PyTuple};

mod to_json;
mod to_py;

/// Every error code with its exit status, from the host's own `Error`:
/// `_native.ERROR_CODES`, which `exlab_cache._errors` checks its classes
/// against at import.
fn error_codes() -> Vec<(&'static str, u8)> {
    let m = String::new;
    let all = [
        Error::NotFound { message: m() },
        Error::SchemaMajorMismatch {
            expected_major: 0,
            found_json: m(),
            message: m(),
        },
        Error::Decode { message: m() },
        Error::Validation {
            field: None,
            message: m(),
        },
        Error::AccessDenied { message: m() },
        Error::LockTimeout { message: m() },
        Error::Policy { message: m() },
        Error::Io { message: m() },
    ];
    // Fails to compile when the host grows a variant this list lacks.
    for e in &all {
        match e {
            Error::NotFound { .. }
            | Error::SchemaMajorMismatch { .. }
            | Error::Decode { .. }
            | Error::Validation { .. }
            | Error::AccessDenied { .. }
            | Error::LockTimeout { .. }
            | Error::Policy { .. }
            | Error::Io { .. } => {}
        }
    }
    all.iter().map(|e| (e.code(), e.exit_status())).collect()
}

/// The exception for a failed call: the class of `exlab_cache._errors`
/// registered for its code, built here (no Python factory in between).
fn raise(py: Python<'_>, e: Error) -> PyErr {
    match exception(py, &e) {
        Ok(exception) => PyErr::from_value(exception),
        Err(failed) => failed,
    }
}

fn exception<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyAny>> {
    static BY_CODE: PyOnceLock<Py<PyDict>> = PyOnceLock::new();
    let by_code = BY_CODE
        .get_or_try_init(py, || {
            let table = py.import("exlab_cache._errors")?.getattr("_BY_CODE")?;
            Ok::<_, PyErr>(table.cast_into::<PyDict>()?.unbind())
        })?
        .bind(py);
    let Some(class) = by_code.get_item(e.code())? else {
        return Err(PyValueError::new_err(format!(
            "exlab_cache: no exception class for the error code {:?}: {}",
            e.code(),
            e.message()
        )));
    };
    if let Error::SchemaMajorMismatch { expected_major, .. } = e {
        let kwargs = PyDict::new(py);
        kwargs.set_item(intern!(py, "expected_major"), *expected_major)?;
        let found = match e.found() {
            Some(found) => to_py::value_to_py(py, &found)?,
            None => py.None().into_bound(py),
        };
        kwargs.set_item(intern!(py, "found"), found)?;
        return class.call((e.message(), e.field()), Some(&kwargs));
    }
    class.call1((e.message(), e.field()))
}

/// Hands a warning to `logging.getLogger("exlab_cache").warning`.
fn log_warning(warning: &str) {
    static LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    Python::attach(|py| {
        let logged = LOGGER
            .get_or_try_init(py, || {
                py.import("logging")?
                    .call_method1("getLogger", ("exlab_cache",))
                    .map(Bound::unbind)
            })
            .and_then(|logger| logger.call_method1(py, "warning", ("%s", warning)));
        if let Err(e) = logged {
            e.write_unraisable(py, None);
        }
    });
}

/// A record's fields in their declared order, as a dict (policy info).
fn record_to_py<'py>(
    py: Python<'py>,
    record: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(record).map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_py::value_to_py(py, &value)
}

/// A path argument as the UTF-8 text the policy takes. A `str` is read
/// directly (the common case, and the cheap one); anything else goes
/// through `os.fspath` as a `PathBuf`.
fn path_arg(path: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = path.cast::<PyString>() {
        if let Ok(text) = s.to_cow() {
            return Ok(text.into_owned());
        }
    }
    let buf: PathBuf = path
        .extract()
        .map_err(|e| PyTypeError::new_err(format!("argument 'path': {e}")))?;
    buf.into_os_string().into_string().map_err(|p| {
        raise(
            path.py(),
            Error::Io {
                message: format!("{}: the path is not UTF-8", PathBuf::from(p).display()),
            },
        )
    })
}

/// A record as the JSON text the policy takes: `str`/bytes are JSON text
/// already; anything else (a dict, a mapping, a dataclass, a msgspec
/// struct, nested at any depth) is written out here (`to_json`).
fn record_arg(record: &Bound<'_, PyAny>) -> PyResult<String> {
    json_arg(record, "input")
}

/// [`record_arg`], with `what` naming the value in the error.
fn json_arg(record: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let py = record.py();
    let not_json = |why: String| {
        raise(
            py,
            Error::Validation {
                field: None,
                message: format!("{what} is not JSON: {why}"),
            },
        )
    };
    if let Ok(s) = record.cast::<PyString>() {
        return s
            .to_cow()
            .map(|t| t.into_owned())
            .map_err(|_| not_json("not UTF-8".into()));
    }
    let bytes = if let Ok(b) = record.cast::<PyBytes>() {
        Some(b.as_bytes().to_vec())
    } else if let Ok(b) = record.cast::<PyByteArray>() {
        Some(b.to_vec())
    } else if record.cast::<PyMemoryView>().is_ok() {
        Some(record.call_method0("tobytes")?.extract()?)
    } else {
        None
    };
    if let Some(bytes) = bytes {
        return String::from_utf8(bytes).map_err(|_| not_json("not UTF-8".into()));
    }
    let mut out = String::with_capacity(256);
    to_json::write_value(&mut out, record, 0).map_err(not_json)?;
    Ok(out)
}

/// An optional path argument: None is the empty path of an operation that
/// touches no file.
fn optional_path_arg(path: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
    match path {
        Some(path) if !path.is_none() => path_arg(path),
        _ => Ok(String::new()),
    }
}

/// Runs the caller's step of an update, with the GIL: the record as a dict
/// in; the record it returns (the dict as it left it, when it returns None)
/// back as the JSON value the policy checks and writes.
fn run_step(py: Python<'_>, step: &Bound<'_, PyAny>, record: &str) -> PyResult<String> {
    // From the policy's text straight to Python objects: integers past 64
    // bits and lone surrogates arrive as stored.
    let handed = to_py::document(py, record)?;
    let returned = step.call1((&handed,))?;
    let new = if returned.is_none() { handed } else { returned };
    json_arg(&new, "the record the step returned")
}

/// Whether reads release the GIL. On: a read can meet a stalled NAS, and
/// releasing measured no cost against a ~9 us read (BENCHMARKS.md);
/// `_set_release_gil_for_reads` flips it for the bench's A/B.
static RELEASE_GIL_FOR_READS: AtomicBool = AtomicBool::new(true);

/// Runs a read: with the GIL released or not, as set.
fn unlocked<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    if RELEASE_GIL_FOR_READS.load(Ordering::Relaxed) {
        py.detach(f)
    } else {
        f()
    }
}

/// Where a policy component comes from: its bytes, or a file.
enum PolicySource {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl PolicySource {
    /// bytes, bytearray, memoryview, or a path (str or os.PathLike).
    fn extract(policy: &Bound<'_, PyAny>) -> PyResult<PolicySource> {
        if let Ok(b) = policy.cast::<PyBytes>() {
            Ok(PolicySource::Bytes(b.as_bytes().to_vec()))
        } else if let Ok(b) = policy.cast::<PyByteArray>() {
            Ok(PolicySource::Bytes(b.to_vec()))
        } else if policy.cast::<PyMemoryView>().is_ok() {
            Ok(PolicySource::Bytes(
                policy.call_method0("tobytes")?.extract()?,
            ))
        } else {
            policy.extract().map(PolicySource::File).map_err(|_| {
                PyTypeError::new_err(
                    "policy must be None, a path (str or os.PathLike) or the component's bytes",
                )
            })
        }
    }
}

/// `policy` of the constructor: None (the built-in one), bytes, or a path,
/// let in through the host's one admission door.
fn load_policy(
    py: Python<'_>,
    policy: Option<&Bound<'_, PyAny>>,
    admission: &Admission,
) -> PyResult<Policy> {
    let Some(policy) = policy.filter(|p| !p.is_none()) else {
        return py.detach(Policy::builtin).map_err(|e| raise(py, e));
    };
    let loaded = match PolicySource::extract(policy)? {
        PolicySource::Bytes(bytes) => py.detach(|| Policy::admit(&bytes, admission)),
        PolicySource::File(path) => py.detach(|| Policy::admit_file(path, admission)),
    };
    loaded.map_err(|e| raise(py, e))
}

/// The synchronous cache; `exlab_cache.Cache` adds record conversion on top.
#[pyclass(subclass, frozen, module = "exlab_cache._native", name = "Cache")]
struct Cache {
    inner: exlab_cache::Cache,
    root: PathBuf,
}

#[pymethods]
impl Cache {
    #[new]
    #[pyo3(signature = (root, *, policy=None, lock_timeout=30.0, time_limit=None, memory_limit=None, trusted_keys=None))]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        policy: Option<&Bound<'_, PyAny>>,
        lock_timeout: f64,
        time_limit: Option<f64>,
        memory_limit: Option<usize>,
        trusted_keys: Option<PathBuf>,
    ) -> PyResult<Self> {
        let seconds = |name: &str, value: f64| {
            Duration::try_from_secs_f64(value).map_err(|_| {
                PyValueError::new_err(format!(
                    "{name} must be a non-negative number of seconds, not {value}"
                ))
            })
        };
        let defaults = Settings::default();
        let settings = Settings {
            lock_timeout: seconds("lock_timeout", lock_timeout)?,
            time_limit: match time_limit {
                Some(limit) => seconds("time_limit", limit)?,
                None => defaults.time_limit,
            },
            memory_limit: memory_limit.unwrap_or(defaults.memory_limit),
            on_warning: Arc::new(log_warning),
            ..defaults
        };
        // With a trust file, every policy given here or swapped in later must
        // carry a valid signature of a listed key (read at each admission).
        let admission = match trusted_keys {
            Some(file) => Admission::trusted_keys(file),
            None => Admission::default(),
        };
        let policy = load_policy(py, policy, &admission)?;
        // As the CLI: a root that is not there (an unmounted disk) fails each
        // call with io_error once its input is checked, and creates nothing.
        let opened = {
            let root = root.clone();
            py.detach(move || Root::open(&root))
        };
        let root_cap = opened.unwrap_or_else(|e| Root::unavailable(e.message()));
        let inner = exlab_cache::Cache::new(root_cap, policy, settings);
        inner.set_admission(admission);
        Ok(Cache { inner, root })
    }

    /// The root folder, as given.
    #[getter]
    fn root(&self) -> PathBuf {
        self.root.clone()
    }

    /// The lock timeout in seconds.
    #[getter]
    fn lock_timeout(&self) -> f64 {
        self.inner.settings().lock_timeout.as_secs_f64()
    }

    /// The guest time allowed per call, in seconds (host calls not counted).
    #[getter]
    fn time_limit(&self) -> f64 {
        self.inner.settings().time_limit.as_secs_f64()
    }

    /// The linear memory a guest may grow to, in bytes.
    #[getter]
    fn memory_limit(&self) -> usize {
        self.inner.settings().memory_limit
    }

    /// Reads `equipment.json` (no lock): its known fields in file order.
    fn read_equipment<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let path = path_arg(path)?;
        let record = unlocked(py, || self.inner.read_equipment(&path)).map_err(|e| raise(py, e))?;
        to_py::equipment(py, &record)
    }

    /// Reads `test_runs.json` (no lock).
    fn read_test_runs_marker<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.read_marker(py, MarkerKind::TestRuns, path)
    }

    /// Reads `runs.json` (no lock).
    fn read_runs_marker<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        self.read_marker(py, MarkerKind::Runs, path)
    }

    /// Writes `equipment.json`; returns the record as written (unknown
    /// fields kept from disk included).
    fn write_equipment<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        record: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = record_arg(record)?;
        let path = path_arg(path)?;
        // Takes the file's lock: may wait, so other threads run meanwhile.
        let written = py
            .detach(|| self.inner.write_equipment(&path, &input))
            .map_err(|e| raise(py, e))?;
        to_py::equipment_written(py, &written)
    }

    /// Writes `test_runs.json` once: `(written, marker as on disk)`.
    fn write_test_runs_marker<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        marker: &Bound<'py, PyAny>,
    ) -> PyResult<(bool, Bound<'py, PyAny>)> {
        self.write_marker(py, MarkerKind::TestRuns, path, marker)
    }

    /// Writes `runs.json` once: `(written, marker as on disk)`.
    fn write_runs_marker<'py>(
        &self,
        py: Python<'py>,
        path: &Bound<'py, PyAny>,
        marker: &Bound<'py, PyAny>,
    ) -> PyResult<(bool, Bound<'py, PyAny>)> {
        self.write_marker(py, MarkerKind::Runs, path, marker)
    }

    /// The record kinds the serving policy owns (interface 1.1), with their
    /// file names, schema versions and operations.
    fn kinds<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let kinds = py.detach(|| self.inner.kinds()).map_err(|e| raise(py, e))?;
        to_py::value_to_py(py, &exlab_cache::kinds_to_json(&kinds))
    }

    /// Runs `operation` of `kind` on `path` (None for an operation that
    /// touches no file) with `input` (None for one that takes none); the
    /// policy's result as data. An operation of access `update` needs
    /// `update`.
    #[pyo3(signature = (kind, operation, path=None, input=None))]
    fn run<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        operation: &str,
        path: Option<&Bound<'py, PyAny>>,
        input: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let input = match input {
            Some(input) if !input.is_none() => record_arg(input)?,
            _ => "null".to_owned(),
        };
        let path = optional_path_arg(path)?;
        // May take a lock or wait on the disk: other threads run meanwhile.
        let result = py
            .detach(|| self.inner.run(kind, operation, &path, &input))
            .map_err(|e| raise(py, e))?;
        to_py::document(py, &result)
    }

    /// Runs the `update` operation of `kind` on `path`: under the file's
    /// lock, `step` (called with the GIL) gets the record as a dict and
    /// returns the new record, or None for the dict as it left it. The
    /// policy checks it and writes it; returns the record as written. If
    /// `step` raises, nothing is written and its exception is raised here.
    fn update<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        path: &Bound<'py, PyAny>,
        step: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !step.is_callable() {
            return Err(PyTypeError::new_err("step must be callable"));
        }
        let path = path_arg(path)?;
        let step = step.clone().unbind();
        // The GIL is released while the host waits for the lock and writes,
        // and taken back only while the step runs.
        let updated = py.detach(|| {
            self.inner.update_json(kind, &path, |record| {
                Python::attach(|py| run_step(py, step.bind(py), &record))
            })
        });
        match updated {
            Ok(document) => to_py::document(py, &document),
            // The step's own exception, the very object it raised.
            Err(UpdateError::Step(e)) => Err(e),
            Err(UpdateError::Cache(e)) => Err(raise(py, e)),
        }
    }

    /// Name, version, interface and sha256 of the policy component.
    fn policy_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        record_to_py(py, &self.inner.policy_info())
    }

    /// Replaces the policy at runtime, from a path or the component's bytes.
    /// It is admitted (signature when `trusted_keys` was given: the
    /// `.minisig` beside a path, or `signature` for bytes; then the interface
    /// and compile) and run through the conformance gate first; a refused
    /// policy raises `PolicyError` and the old one goes on serving. Returns
    /// the new policy's info.
    #[pyo3(signature = (policy, *, signature=None))]
    fn set_policy<'py>(
        &self,
        py: Python<'py>,
        policy: &Bound<'py, PyAny>,
        signature: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let swapped = match (PolicySource::extract(policy)?, signature) {
            (PolicySource::Bytes(bytes), Some(signature)) => {
                py.detach(|| self.inner.swap_policy_signed(&bytes, &signature))
            }
            (PolicySource::Bytes(bytes), None) => py.detach(|| self.inner.swap_policy(&bytes)),
            (PolicySource::File(path), _) => py.detach(|| self.inner.swap_policy_file(path)),
        };
        let swapped = swapped.map_err(|e| raise(py, e))?;
        record_to_py(py, &swapped.current)
    }

    /// Goes back to the policy that served before the last swap (atomic,
    /// calls in flight finish on theirs); returns the info of the policy
    /// serving now. `PolicyError` when there is none to go back to.
    fn rollback<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let rolled = py
            .detach(|| self.inner.rollback())
            .map_err(|e| raise(py, e))?;
        record_to_py(py, &rolled.current)
    }

    /// What serves now (with its signer and since when), the one before,
    /// and the last admission attempts with their outcome and reason.
    fn status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let status = py.detach(|| self.inner.status());
        record_to_py(py, &status)
    }

    /// The schema gate of this cache's policy (guest code only, no I/O).
    #[pyo3(signature = (version, expected_major))]
    fn require_schema_major(
        &self,
        py: Python<'_>,
        version: Option<&Bound<'_, PyString>>,
        expected_major: u32,
    ) -> PyResult<()> {
        // Guest code only (~0.5 us), never waits: the GIL stays held, as
        // releasing and retaking it costs a measurable share of the call.
        let version = version.map(|v| v.to_cow()).transpose()?;
        self.inner
            .require_schema_major(version.as_deref(), expected_major)
            .map_err(|e| raise(py, e))
    }

    fn __repr__(&self) -> String {
        let info = self.inner.policy_info();
        format!(
            "Cache({:?}, policy={} {})",
            self.root.display().to_string(),
            info.name,
            info.version
        )
    }
}

impl Cache {
    fn read_marker<'py>(
        &self,
        py: Python<'py>,
        kind: MarkerKind,
        path: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let path = path_arg(path)?;
        let marker =
            unlocked(py, || self.inner.read_marker(kind, &path)).map_err(|e| raise(py, e))?;
        to_py::marker(py, &marker)
    }

    /// (written?, the marker as on disk, or None if what is there does not parse).
    fn write_marker<'py>(
        &self,
        py: Python<'py>,
        kind: MarkerKind,
        path: &Bound<'py, PyAny>,
        marker: &Bound<'py, PyAny>,
    ) -> PyResult<(bool, Bound<'py, PyAny>)> {
        let input = record_arg(marker)?;
        let path = path_arg(path)?;
        // Takes the file's lock: may wait, so other threads run meanwhile.
        let outcome = py
            .detach(|| self.inner.write_marker(kind, &path, &input))
            .map_err(|e| raise(py, e))?;
        let marker = match outcome.document.as_deref() {
            Some(document) => to_py::document(py, document)?,
            None => py.None().into_bound(py),
        };
        Ok((outcome.written, marker))
    }
}

/// Median microseconds of `n` calls of `op` on the Rust library alone (the
/// `exlab_cache::Cache` inside `cache`), each call timed by itself, GIL
/// released: the Rust row of python/bench.py.
fn bench_rust(
    py: Python<'_>,
    n: usize,
    mut op: impl FnMut() -> Result<(), Error> + Send,
) -> PyResult<f64> {
    let samples = py.detach(|| {
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            op()?;
            samples.push(start.elapsed().as_secs_f64());
        }
        Ok::<_, Error>(samples)
    });
    let mut samples = samples.map_err(|e| raise(py, e))?;
    if samples.is_empty() {
        return Err(PyValueError::new_err("n must be at least 1"));
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2] * 1e6)
}

/// `read_equipment(path)`, `n` times, in Rust.
#[pyfunction]
fn _bench_read_equipment(
    py: Python<'_>,
    cache: &Bound<'_, Cache>,
    path: &str,
    n: usize,
) -> PyResult<f64> {
    let inner = &cache.get().inner;
    bench_rust(py, n, || inner.read_equipment(path).map(drop))
}

/// `write_marker(test_runs, path, input_json)`, `n` times, in Rust.
#[pyfunction]
fn _bench_write_test_runs_marker(
    py: Python<'_>,
    cache: &Bound<'_, Cache>,
    path: &str,
    input_json: &str,
    n: usize,
) -> PyResult<f64> {
    let inner = &cache.get().inner;
    bench_rust(py, n, || {
        inner
            .write_marker(MarkerKind::TestRuns, path, input_json)
            .map(drop)
    })
}

/// `require_schema_major(version, expected_major)`, `n` times, in Rust.
#[pyfunction]
#[pyo3(signature = (cache, version, expected_major, n))]
fn _bench_require_schema_major(
    py: Python<'_>,
    cache: &Bound<'_, Cache>,
    version: Option<&str>,
    expected_major: u32,
    n: usize,
) -> PyResult<f64> {
    let inner = &cache.get().inner;
    bench_rust(py, n, || {
        inner.require_schema_major(version, expected_major)
    })
}

/// For the bench's A/B: whether reads release the GIL.
#[pyfunction]
fn _set_release_gil_for_reads(release: bool) {
    RELEASE_GIL_FOR_READS.store(release, Ordering::Relaxed);
}

/// The schema gate of the built-in policy: passes when `version`'s major is
/// `expected_major`; `None` fails like an absent version.
#[pyfunction]
#[pyo3(signature = (version, expected_major))]
fn require_schema_major(
    py: Python<'_>,
    version: Option<String>,
    expected_major: u32,
) -> PyResult<()> {
    // The default settings once per process, not built at every call.
    static DEFAULTS: std::sync::OnceLock<Arc<Settings>> = std::sync::OnceLock::new();
    let settings = DEFAULTS.get_or_init(Default::default);
    py.detach(|| {
        Policy::builtin()?.require_schema_major(version.as_deref(), expected_major, settings)
    })
    .map_err(|e| raise(py, e))
}

/// The exlab-cache host library, in-process (the `exlab_cache` package wraps it).
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Cache>()?;
    m.add_function(wrap_pyfunction!(require_schema_major, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_read_equipment, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_write_test_runs_marker, m)?)?;
    m.add_function(wrap_pyfunction!(_bench_require_schema_major, m)?)?;
    m.add_function(wrap_pyfunction!(_set_release_gil_for_reads, m)?)?;
    m.add("ERROR_CODES", PyTuple::new(m.py(), error_codes())?)?;
    m.add("INTERFACE", exlab_cache::INTERFACE)?;
    m.add(
        "BUILTIN_POLICY",
        PyBytes::new(m.py(), exlab_cache::BUILTIN_POLICY),
    )?;
    Ok(())
}
