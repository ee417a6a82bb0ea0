//! Results as Python objects, built directly: typed records field by field,
//! JSON documents parsed straight into dicts and lists (no `serde_json::Value`
//! in between), with `json.loads` for what serde_json cannot parse.

use std::fmt;

use exlab_cache::{Equipment, EquipmentWritten, Marker};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// From here on an integral f64 may be an integer serde_json could not
/// hold (2^63): parsed by `json.loads` instead.
const BEYOND_64_BITS: f64 = (1u64 << 63) as f64;

/// A JSON value as the Python object `json.loads` would give (dicts keep
/// the document's key order).
pub(crate) fn value_to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
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
                list.append(value_to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(fields) => {
            let dict = PyDict::new(py);
            for (key, item) in fields {
                dict.set_item(key, value_to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// `equipment.json`'s known fields, in file order.
pub(crate) fn equipment<'py>(py: Python<'py>, e: &Equipment) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (key, value) in equipment_fields(py, e) {
        dict.set_item(key, value)?;
    }
    Ok(dict)
}

fn equipment_fields<'py, 'a>(
    py: Python<'py>,
    e: &'a Equipment,
) -> [(&'a Bound<'py, PyString>, &'a str); 7] {
    [
        (intern!(py, "schema_version"), &e.schema_version),
        (intern!(py, "id"), &e.id),
        (intern!(py, "label"), &e.label),
        (
            intern!(py, "configured_local_root"),
            &e.configured_local_root,
        ),
        (intern!(py, "configured_nas_root"), &e.configured_nas_root),
        (intern!(py, "first_seen_at"), &e.first_seen_at),
        (intern!(py, "last_modified_at"), &e.last_modified_at),
    ]
}

/// A marker's known fields, in file order.
pub(crate) fn marker<'py>(py: Python<'py>, m: &Marker) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item(intern!(py, "schema_version"), &m.schema_version)?;
    dict.set_item(intern!(py, "run_kind"), &m.run_kind)?;
    dict.set_item(intern!(py, "created_at"), &m.created_at)?;
    dict.set_item(intern!(py, "project"), &m.project)?;
    dict.set_item(intern!(py, "equipment"), &m.equipment)?;
    Ok(dict)
}

/// The file an equipment write produced, as a dict: the typed record, then
/// only the unknown fields parsed. The policy writes the known fields first
/// (compact, in order); when the document does not start with exactly them,
/// it is parsed whole instead.
pub(crate) fn equipment_written<'py>(
    py: Python<'py>,
    written: &EquipmentWritten,
) -> PyResult<Bound<'py, PyAny>> {
    let mut known = String::with_capacity(written.document.len());
    for (key, value) in equipment_fields(py, &written.equipment) {
        known.push(if known.is_empty() { '{' } else { ',' });
        crate::to_json::escape_into(&mut known, key.to_cow()?.as_ref());
        known.push(':');
        crate::to_json::escape_into(&mut known, value);
    }
    let rest = match written.document.strip_prefix(known.as_str()) {
        Some(rest) if rest == "}" || rest.starts_with(',') => rest,
        _ => return document(py, &written.document),
    };
    let dict = equipment(py, &written.equipment)?;
    if rest != "}" {
        let unknown = format!("{{{}", &rest[1..]);
        if parse(&unknown, Fill(dict.clone())).is_err() {
            return document(py, &written.document);
        }
    }
    Ok(dict.into_any())
}

/// A document the policy wrote (compact JSON) as a dict in file order;
/// `json.loads` takes what serde_json refuses (nesting past its limit,
/// lone surrogates) or would round (integers beyond 64 bits).
pub(crate) fn document<'py>(py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyAny>> {
    match parse(text, AnyValue(py)) {
        Ok(value) => Ok(value),
        Err(_) => {
            static LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            let loads = LOADS.get_or_try_init(py, || {
                py.import("json")?.getattr("loads").map(Bound::unbind)
            })?;
            loads.bind(py).call1((text,))
        }
    }
}

fn parse<'de, S: DeserializeSeed<'de>>(
    text: &'de str,
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Any JSON value, as a Python object.
#[derive(Clone, Copy)]
struct AnyValue<'py>(Python<'py>);

/// A JSON object whose fields are added to an existing dict.
struct Fill<'py>(Bound<'py, PyDict>);

/// An object key as a Python str.
struct Key<'py>(Python<'py>);

fn py_err<E: de::Error>(e: PyErr) -> E {
    E::custom(e)
}

impl<'de, 'py> DeserializeSeed<'de> for AnyValue<'py> {
    type Value = Bound<'py, PyAny>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, 'py> Visitor<'de> for AnyValue<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.0, v).into_any())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(PyInt::new(self.0, v).into_any())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // serde_json gives an integer past 64 bits as a rounded f64: such
        // a document goes to json.loads, which keeps the int exact.
        if v.fract() == 0.0 && v.abs() >= BEYOND_64_BITS {
            return Err(E::custom("an integer beyond 64 bits"));
        }
        Ok(PyFloat::new(self.0, v).into_any())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v).into_any())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.0);
        while let Some(item) = seq.next_element_seed(self)? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        Fill(PyDict::new(self.0))
            .visit_map(map)
            .map(Bound::into_any)
    }
}

impl<'de, 'py> DeserializeSeed<'de> for Fill<'py> {
    type Value = Bound<'py, PyDict>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, 'py> Visitor<'de> for Fill<'py> {
    type Value = Bound<'py, PyDict>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let py = self.0.py();
        // Duplicate keys: the last value wins at the first key's place, as
        // in json.loads.
        while let Some(key) = map.next_key_seed(Key(py))? {
            let value = map.next_value_seed(AnyValue(py))?;
            self.0.set_item(key, value).map_err(py_err)?;
        }
        Ok(self.0)
    }
}

impl<'de, 'py> DeserializeSeed<'de> for Key<'py> {
    type Value = Bound<'py, PyString>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de, 'py> Visitor<'de> for Key<'py> {
    type Value = Bound<'py, PyString>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v))
    }
}
