//! Reading one line as a JSON value, rejecting objects that repeat a key.
//!
//! `serde_json::Value` keeps the last of two equal keys and drops the first without a
//! word; format v1 forbids silent loss, so this reader builds the same
//! `serde_json::Value` but stops at the first repeated key and says where it is.

use std::cell::RefCell;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::validate::{FieldError, Problem};

/// Parses `line` as one JSON value; a repeated key is reported at its path.
pub(crate) fn parse_value(line: &str) -> Result<Value, FieldError> {
    let repeated = RefCell::new(None);
    let seed = ValueSeed {
        path: &Path::Root,
        repeated: &repeated,
    };
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(value),
        Err(err) => Err(match repeated.into_inner() {
            Some(field) => FieldError::new(field, Problem::DuplicateKey),
            None => FieldError::new(
                "",
                Problem::InvalidJson {
                    message: err.to_string(),
                },
            ),
        }),
    }
}

/// Where a value sits, as a chain borrowed from the callers (rendered only on error).
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, index) => write!(f, "{parent}[{index}]"),
        }
    }
}

#[derive(Clone, Copy)]
struct ValueSeed<'a> {
    path: &'a Path<'a>,
    repeated: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Value, E> {
        Number::from_f64(value)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let path = Path::Index(self.path, items.len());
            let seed = ValueSeed {
                path: &path,
                repeated: self.repeated,
            };
            match seq.next_element_seed(seed)? {
                Some(item) => items.push(item),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            let path = Path::Key(self.path, &key);
            let seed = ValueSeed {
                path: &path,
                repeated: self.repeated,
            };
            let value = access.next_value_seed(seed)?;
            if map.contains_key(&key) {
                let field = Path::Key(self.path, &key).to_string();
                *self.repeated.borrow_mut() = Some(field);
                return Err(A::Error::custom("repeated key"));
            }
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let line = r#"{"a":[1,-2,3.5,"x",true,null,{"b":{}}],"c":"é"}"#;
        let expected: Value = serde_json::from_str(line).expect("valid JSON");
        assert_eq!(parse_value(line), Ok(expected));
    }

    #[test]
    fn a_repeated_key_is_reported_at_its_path() {
        let err = parse_value(r#"{"visits":[{},{"weight_kg":1,"weight_kg":2}]}"#)
            .expect_err("repeated key");
        assert_eq!(
            err,
            FieldError::new("visits[1].weight_kg", Problem::DuplicateKey)
        );
        let err = parse_value(r#"{"name":"a","name":"a"}"#).expect_err("repeated key");
        assert_eq!(err, FieldError::new("name", Problem::DuplicateKey));
    }

    #[test]
    fn broken_json_and_trailing_text_are_invalid_json() {
        for line in [r#"{"a":"#, r#"{"a":1} x"#, "", "{\"a\":1e999}", "NaN"] {
            let err = parse_value(line).expect_err("invalid JSON");
            assert!(
                matches!(err.problem, Problem::InvalidJson { .. }),
                "{line:?}: {err:?}"
            );
            assert_eq!(err.field, "");
        }
    }
}
