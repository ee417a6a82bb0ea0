//! JSON merge patch (RFC 7396) on JSON text: what the CLI's `update`
//! applies to the record an update hands over. Members the patch does not
//! name keep their text byte for byte, so an update never rewrites a value
//! it was not asked to touch (an integer past 64 bits, a decimal longer
//! than a double, a lone surrogate escape); members keep their order.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// `patch` merged into `target` (both JSON texts): the members of an
/// object patch are merged in, member by member, a `null` removing one;
/// any other patch replaces the target. Errors name the text that is not
/// JSON.
pub fn merge_patch(target: &str, patch: &str) -> Result<String, serde_json::Error> {
    let patch: &RawValue = serde_json::from_str(patch)?;
    merge(target, patch)
}

fn merge(target: &str, patch: &RawValue) -> Result<String, serde_json::Error> {
    let Some(Members(patch_members)) = members(patch.get())? else {
        return Ok(patch.get().to_owned());
    };
    let mut merged: Vec<(String, String)> = match members(target)? {
        Some(Members(old)) => old
            .into_iter()
            .map(|(name, value)| (name, value.get().to_owned()))
            .collect(),
        None => Vec::new(),
    };
    for (name, value) in patch_members {
        let at = merged.iter().position(|(n, _)| *n == name);
        if value.get() == "null" {
            if let Some(at) = at {
                merged.remove(at);
            }
            continue;
        }
        match at {
            Some(at) => merged[at].1 = merge(&merged[at].1, value)?,
            None => {
                let new = merge("null", value)?;
                merged.push((name, new));
            }
        }
    }
    let mut out = String::from("{");
    for (i, (name, value)) in merged.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(name)?);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    Ok(out)
}

/// An object's members in order, their values as written; `None` when
/// `text` is JSON but not an object.
fn members(text: &str) -> Result<Option<Members<'_>>, serde_json::Error> {
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map(Some)
    } else {
        serde_json::from_str::<&RawValue>(text).map(|_| None)
    }
}

struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for InOrder<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(InOrder(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::merge_patch;

    #[test]
    fn follows_the_examples_of_rfc_7396_appendix_a() {
        let cases = [
            (r#"{"a":"b"}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"b":"c"}"#, r#"{"a":"b","b":"c"}"#),
            (r#"{"a":"b"}"#, r#"{"a":null}"#, r#"{}"#),
            (r#"{"a":"b","b":"c"}"#, r#"{"a":null}"#, r#"{"b":"c"}"#),
            (r#"{"a":["b"]}"#, r#"{"a":"c"}"#, r#"{"a":"c"}"#),
            (r#"{"a":"c"}"#, r#"{"a":["b"]}"#, r#"{"a":["b"]}"#),
            (
                r#"{"a":{"b":"c"}}"#,
                r#"{"a":{"b":"d","c":null}}"#,
                r#"{"a":{"b":"d"}}"#,
            ),
            (r#"{"a":[{"b":"c"}]}"#, r#"{"a":[1]}"#, r#"{"a":[1]}"#),
            (r#"["a","b"]"#, r#"["c","d"]"#, r#"["c","d"]"#),
            (r#"{"a":"b"}"#, r#"["c"]"#, r#"["c"]"#),
            (r#"{"a":"foo"}"#, "null", "null"),
            (r#"{"a":"foo"}"#, r#""bar""#, r#""bar""#),
            (r#"{"e":null}"#, r#"{"a":1}"#, r#"{"e":null,"a":1}"#),
            (r#"[1,2]"#, r#"{"a":"b","c":null}"#, r#"{"a":"b"}"#),
            ("{}", r#"{"a":{"bb":{"ccc":null}}}"#, r#"{"a":{"bb":{}}}"#),
        ];
        for (target, patch, merged) in cases {
            assert_eq!(
                merge_patch(target, patch).unwrap(),
                merged,
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn members_it_does_not_name_keep_their_text_and_order() {
        let target = r#"{"u1":18446744073709551616123,"s":"x","dec":0.10000000000000000000001,"sur":"\ud800","u3":3}"#;
        let merged = merge_patch(target, r#"{"s":null,"t":{"n":1e400}}"#).unwrap();
        assert_eq!(
            merged,
            r#"{"u1":18446744073709551616123,"dec":0.10000000000000000000001,"sur":"\ud800","u3":3,"t":{"n":1e400}}"#
        );
    }

    #[test]
    fn text_that_is_not_json_is_an_error() {
        assert!(merge_patch("{}", "{").is_err());
        assert!(merge_patch("{", r#"{"a":1}"#).is_err());
    }
}
