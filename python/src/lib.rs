//! `exlab_cache._native`: the exlab-cache host library, in-process for Python.
//!
//! A thin layer: every call goes to [`exlab_cache::Cache`] with the GIL
//! released, so the policy component decides everything (validation,
//! stamping, the schema gate) exactly as for the CLI. Records arrive as JSON
//! text (the pure-Python layer turns dicts, dataclasses and msgspec structs
//! into it) and leave as dicts in the file's field order. Errors are raised
//! as the exception classes of `exlab_cache._errors`; warnings go to the
//! `logging` logger `exlab_cache`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use exlab_cache::{Error, MarkerKind, Policy, Root, Settings};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyString};
use serde_json::Value;

/// The exception for a failed call, built by `exlab_cache._errors._from_native`.
fn raise(py: Python<'_>, e: Error) -> PyErr {
    static FACTORY: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let factory = FACTORY.get_or_try_init(py, || {
        py.import("exlab_cache._errors")?
            .getattr("_from_native")
            .map(Bound::unbind)
    });
    let (expected_major, found_json) = match &e {
        Error::SchemaMajorMismatch {
            expected_major,
            found_json,
            ..
        } => (Some(*expected_major), Some(found_json.as_str())),
        _ => (None, None),
    };
    let made = factory.and_then(|f| {
        f.call1(
            py,
            (e.code(), e.message(), e.field(), expected_major, found_json),
        )
    });
    match made {
        Ok(exception) => PyErr::from_value(exception.into_bound(py)),
        Err(failed) => failed,
    }
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

/// A JSON value as the Python object `json.loads` would give (dicts keep
/// the document's key order).
fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (key, item) in fields {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// A record's fields in their declared order, as a dict.
fn record_to_py<'py>(
    py: Python<'py>,
    record: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let value = serde_json::to_value(record).map_err(|e| PyValueError::new_err(e.to_string()))?;
    to_py(py, &value)
}

/// A document the policy wrote or found (compact JSON) as a dict in file
/// order. JSON that serde_json refuses but the policy keeps (nesting past
/// 128, lone surrogate escapes) goes to Python's own `json.loads`.
fn document_to_py<'py>(py: Python<'py>, document: &str) -> PyResult<Bound<'py, PyAny>> {
    match serde_json::from_str::<Value>(document) {
        Ok(value) => to_py(py, &value),
        Err(_) => py.import("json")?.call_method1("loads", (document,)),
    }
}

/// `str` or `os.PathLike` as the UTF-8 text the policy takes.
fn path_text(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    path.into_os_string().into_string().map_err(|p| {
        raise(
            py,
            Error::Io {
                message: format!("{}: the path is not UTF-8", PathBuf::from(p).display()),
            },
        )
    })
}

fn marker_kind(kind: &str) -> PyResult<MarkerKind> {
    match kind {
        "test_runs" => Ok(MarkerKind::TestRuns),
        "runs" => Ok(MarkerKind::Runs),
        other => Err(PyValueError::new_err(format!(
            "marker kind must be 'test_runs' or 'runs', not {other:?}"
        ))),
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

/// `policy` of the constructor: None (the built-in one), bytes, or a path.
fn load_policy(py: Python<'_>, policy: Option<&Bound<'_, PyAny>>) -> PyResult<Policy> {
    let Some(policy) = policy.filter(|p| !p.is_none()) else {
        return py.detach(Policy::builtin).map_err(|e| raise(py, e));
    };
    let loaded = match PolicySource::extract(policy)? {
        PolicySource::Bytes(bytes) => py.detach(move || Policy::from_bytes(&bytes)),
        PolicySource::File(path) => py.detach(move || Policy::from_file(path)),
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
    #[pyo3(signature = (root, *, policy=None, lock_timeout=30.0, time_limit=None, memory_limit=None))]
    fn new(
        py: Python<'_>,
        root: PathBuf,
        policy: Option<&Bound<'_, PyAny>>,
        lock_timeout: f64,
        time_limit: Option<f64>,
        memory_limit: Option<usize>,
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
        let policy = load_policy(py, policy)?;
        // As the CLI: a root that is not there (an unmounted disk) fails each
        // call with io_error once its input is checked, and creates nothing.
        let opened = {
            let root = root.clone();
            py.detach(move || Root::open(&root))
        };
        let root_cap = opened.unwrap_or_else(|e| Root::unavailable(e.message()));
        Ok(Cache {
            inner: exlab_cache::Cache::new(root_cap, policy, settings),
            root,
        })
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
    fn read_equipment<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        let path = path_text(py, path)?;
        let record = py
            .detach(|| self.inner.read_equipment(&path))
            .map_err(|e| raise(py, e))?;
        record_to_py(py, &record)
    }

    /// Reads `test_runs.json` (no lock).
    fn read_test_runs_marker<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.read_marker(py, MarkerKind::TestRuns, path)
    }

    /// Reads `runs.json` (no lock).
    fn read_runs_marker<'py>(&self, py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyAny>> {
        self.read_marker(py, MarkerKind::Runs, path)
    }

    /// Writes `equipment.json` from JSON text; returns the file as written.
    fn _write_equipment_json<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        input_json: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let path = path_text(py, path)?;
        let written = py
            .detach(|| self.inner.write_equipment(&path, &input_json))
            .map_err(|e| raise(py, e))?;
        document_to_py(py, &written.document)
    }

    /// Writes a marker (`kind` "test_runs" or "runs") once, from JSON text;
    /// returns (written?, the marker as on disk or None if it does not parse).
    fn _write_marker_json<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        path: PathBuf,
        input_json: String,
    ) -> PyResult<(bool, Bound<'py, PyAny>)> {
        let kind = marker_kind(kind)?;
        let path = path_text(py, path)?;
        let outcome = py
            .detach(|| self.inner.write_marker(kind, &path, &input_json))
            .map_err(|e| raise(py, e))?;
        let marker = match outcome.document.as_deref() {
            Some(document) => document_to_py(py, document)?,
            None => py.None().into_bound(py),
        };
        Ok((outcome.written, marker))
    }

    /// Name, version, interface and sha256 of the policy component.
    fn policy_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        record_to_py(py, &self.inner.policy_info())
    }

    /// Replaces the policy at runtime, from a path or the component's bytes.
    /// It is compiled, checked against the interface and run through the
    /// conformance gate first; a refused policy raises `PolicyError` and the
    /// old one goes on serving. Returns the new policy's info.
    fn set_policy<'py>(
        &self,
        py: Python<'py>,
        policy: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let swapped = match PolicySource::extract(policy)? {
            PolicySource::Bytes(bytes) => py.detach(|| self.inner.swap_policy(&bytes)),
            PolicySource::File(path) => py.detach(|| self.inner.swap_policy_file(path)),
        };
        let swapped = swapped.map_err(|e| raise(py, e))?;
        record_to_py(py, &swapped.current)
    }

    /// The schema gate of this cache's policy.
    #[pyo3(signature = (version, expected_major))]
    fn require_schema_major(
        &self,
        py: Python<'_>,
        version: Option<String>,
        expected_major: u32,
    ) -> PyResult<()> {
        py.detach(|| {
            self.inner
                .require_schema_major(version.as_deref(), expected_major)
        })
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
        path: PathBuf,
    ) -> PyResult<Bound<'py, PyAny>> {
        let path = path_text(py, path)?;
        let marker = py
            .detach(|| self.inner.read_marker(kind, &path))
            .map_err(|e| raise(py, e))?;
        record_to_py(py, &marker)
    }
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
    py.detach(|| {
        Policy::builtin()?.require_schema_major(
            version.as_deref(),
            expected_major,
            &Settings::default(),
        )
    })
    .map_err(|e| raise(py, e))
}

/// The interface version of the WIT world this host serves.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Cache>()?;
    m.add_function(wrap_pyfunction!(require_schema_major, m)?)?;
    m.add("INTERFACE", exlab_cache::INTERFACE)?;
    m.add(
        "BUILTIN_POLICY",
        PyBytes::new(m.py(), exlab_cache::BUILTIN_POLICY),
    )?;
    Ok(())
}
