//! A Python record as JSON text, walked in Rust instead of `json.dumps`:
//! dicts (key order kept), lists, tuples, str, int, float, bool and None,
//! written as `json.dumps(..., ensure_ascii=False, allow_nan=False)` would;
//! any other object by its fields (`exlab_cache._records.fields_of`).

use std::fmt::Write;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::PyTypeInfo;

/// Deeper than this is refused: a cycle ends here instead of in a stack
/// overflow. As deep as `json.dumps` goes under Python's default recursion
/// limit: the policy accepts free-form objects (`variables`) that deep.
const MAX_DEPTH: usize = 1000;

/// Why a value is not JSON, worded as `json.dumps` words it.
pub(crate) type NotJson = String;

/// Appends `value` as JSON to `out`.
pub(crate) fn write_value(
    out: &mut String,
    value: &Bound<'_, PyAny>,
    depth: usize,
) -> Result<(), NotJson> {
    if depth > MAX_DEPTH {
        return Err("nested too deeply (or a circular reference)".into());
    }
    if let Ok(s) = value.cast::<PyString>() {
        write_str(out, s)
    } else if let Ok(dict) = value.cast::<PyDict>() {
        out.push('{');
        for (i, (key, item)) in dict.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_key(out, &key)?;
            out.push(':');
            write_value(out, &item, depth + 1)?;
        }
        out.push('}');
        Ok(())
    } else if let Ok(b) = value.cast::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
        Ok(())
    } else if value.is_instance_of::<PyInt>() {
        write_int(out, value)
    } else if let Ok(f) = value.cast::<PyFloat>() {
        write_float(out, f.value())
    } else if value.is_none() {
        out.push_str("null");
        Ok(())
    } else if let Ok(list) = value.cast::<PyList>() {
        write_items(out, list.iter(), depth)
    } else if let Ok(tuple) = value.cast::<PyTuple>() {
        write_items(out, tuple.iter(), depth)
    } else {
        // A mapping, dataclass, msgspec struct or enum, at any depth (a
        // struct's list of structs): by its fields, as msgspec writes it.
        let fields = fields_of(value).map_err(|e| e.to_string())?;
        if fields.is(value) {
            return Err(format!(
                "Object of type {} is not JSON serializable",
                type_name(value)
            ));
        }
        write_value(out, &fields, depth + 1)
    }
}

/// `exlab_cache._records.fields_of(value)`: the value's fields as a dict,
/// or the value itself when it has none.
fn fields_of<'py>(value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    static FIELDS_OF: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let py = value.py();
    let fields_of = FIELDS_OF.get_or_try_init(py, || {
        py.import("exlab_cache._records")?
            .getattr("fields_of")
            .map(Bound::unbind)
    })?;
    fields_of.bind(py).call1((value,))
}

fn write_items<'py>(
    out: &mut String,
    items: impl Iterator<Item = Bound<'py, PyAny>>,
    depth: usize,
) -> Result<(), NotJson> {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_value(out, &item, depth + 1)?;
    }
    out.push(']');
    Ok(())
}

/// Keys as `json.dumps` takes them: str, or int, float, bool, None as text.
fn write_key(out: &mut String, key: &Bound<'_, PyAny>) -> Result<(), NotJson> {
    if let Ok(s) = key.cast::<PyString>() {
        return write_str(out, s);
    }
    out.push('"');
    if let Ok(b) = key.cast::<PyBool>() {
        out.push_str(if b.is_true() { "true" } else { "false" });
    } else if key.is_instance_of::<PyInt>() {
        write_int(out, key)?;
    } else if let Ok(f) = key.cast::<PyFloat>() {
        write_float(out, f.value())?;
    } else if key.is_none() {
        out.push_str("null");
    } else {
        return Err(format!(
            "keys must be str, int, float, bool or None, not {}",
            type_name(key)
        ));
    }
    out.push('"');
    Ok(())
}

fn write_int(out: &mut String, value: &Bound<'_, PyAny>) -> Result<(), NotJson> {
    if let Ok(i) = value.extract::<i64>() {
        let _ = write!(out, "{i}");
    } else {
        // Beyond 64 bits (json.dumps writes every int): int's own repr, so
        // that an IntEnum is written as its number.
        let text = PyInt::type_object(value.py())
            .call_method1("__repr__", (value,))
            .and_then(|r| r.extract::<String>())
            .map_err(|e| e.to_string())?;
        out.push_str(&text);
    }
    Ok(())
}

fn write_float(out: &mut String, f: f64) -> Result<(), NotJson> {
    if !f.is_finite() {
        return Err(format!(
            "Out of range float values are not JSON compliant: {f}"
        ));
    }
    // Debug is the shortest text that reads back as the same f64, with an
    // exponent for very large or small values ("1e300"): valid JSON.
    let _ = write!(out, "{f:?}");
    Ok(())
}

/// A JSON string, escaped as serde_json and json.dumps escape (the same
/// rules: `"`, `\`, and control characters; other text as is).
fn write_str(out: &mut String, s: &Bound<'_, PyString>) -> Result<(), NotJson> {
    match s.to_cow() {
        Ok(text) => {
            escape_into(out, &text);
            Ok(())
        }
        // Lone surrogates: not UTF-8, so written as \u escapes (what
        // json.dumps with ensure_ascii would write) for the policy to judge.
        Err(_) => write_str_utf16(out, s),
    }
}

pub(crate) fn escape_into(out: &mut String, text: &str) {
    out.reserve(text.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, byte) in text.bytes().enumerate() {
        let short = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if short.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

fn write_str_utf16(out: &mut String, s: &Bound<'_, PyString>) -> Result<(), NotJson> {
    let units = s
        .call_method1("encode", ("utf-16-le", "surrogatepass"))
        .and_then(|b| b.extract::<Vec<u8>>())
        .map_err(|e| e.to_string())?;
    out.push('"');
    for pair in units.chunks_exact(2) {
        let unit = u16::from_le_bytes([pair[0], pair[1]]);
        match unit {
            0x20..=0x7e if unit != u16::from(b'"') && unit != u16::from(b'\\') => {
                out.push(char::from(unit as u8))
            }
            _ => {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out.push('"');
    Ok(())
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
