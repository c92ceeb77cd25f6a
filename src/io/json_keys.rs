//! A JSON check that serde_json does not make: the same key twice in one object. serde_json
//! keeps the last value silently, so a network file with two `w` fields would run with
//! whichever came last. [`check_unique_keys`] walks the document once and names the first
//! repeated key with its line and column.

use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value read only to check that no object repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                // Returned before its value is read: the position is the repeated key's.
                return Err(de::Error::custom(format!("key `{key}` appears twice")));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

/// Checks that no object in the JSON `text` repeats a key; the error (serde_json's, with line
/// and column) names the first repeated key. Malformed JSON is reported the same way.
pub fn check_unique_keys(text: &str) -> serde_json::Result<()> {
    serde_json::from_str::<UniqueKeys>(text).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_are_found_at_any_depth_and_named_with_their_line() {
        check_unique_keys(r#"{"a": 1, "b": [{"a": 2}, {"a": 3}], "c": {"d": null}}"#).unwrap();
        let e = check_unique_keys("{\n\"w\": [1],\n\"u\": 2,\n\"w\": [3]\n}").unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("key `w` appears twice") && m.contains("line 4"),
            "{m}"
        );
        let e = check_unique_keys(r#"{"x": [{"k": 1, "k": 2}]}"#).unwrap_err();
        assert!(e.to_string().contains("key `k`"), "{e}");
        assert!(check_unique_keys("{\"a\": ").is_err());
    }
}
