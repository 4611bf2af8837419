//! Fields that hold concurrent values: what two devices set differently without
//! seeing each other's edit. Automerge keeps every such value and picks one winner
//! deterministically; this lists them so a person can decide.

use automerge::{ObjId, ObjType, ReadDoc, ScalarValue};
use serde_json::{Map, Number, Value};

use super::read::decode_strings;
use super::view::{Candidate, Held, MapView};

/// How deep the walk goes: the layout nests three maps (`visits.<id>.referral`), and a
/// malformed document must not exhaust the stack.
const MAX_DEPTH: usize = 8;

/// The keys whose string value is a JSON-encoded list.
const LIST_KEYS: &[&str] = &["danger_signs", "vaccines"];

/// One field holding concurrent values.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    /// The field, as a path from the root: `name`, `location.lat`,
    /// `members.<id>.pregnancy.edd`, `visits.<id>.weight_kg`.
    pub path: String,
    /// Every distinct value, the winning one (what [`super::read_household`] reads)
    /// first, then the others from the most recent operation down. Lists are JSON
    /// arrays; a map that conflicts with a scalar is shown as a JSON object.
    pub values: Vec<Value>,
}

/// Every field of a household document that holds concurrent, differing values, in
/// path order. Concurrent writes of the same value are not conflicts and are not
/// listed. Members and visits created concurrently on two devices are read as one
/// (see [`super`]), so only their fields can conflict.
///
/// Reading never fails: parts of a malformed document that cannot be read are
/// skipped ([`super::read_household`] reports them).
pub fn conflicts(doc: &impl ReadDoc) -> Vec<FieldConflict> {
    let mut found = Vec::new();
    if let Ok(root) = MapView::root(doc) {
        walk(doc, &root, "", 0, &mut found);
    }
    found
}

fn walk(
    doc: &impl ReadDoc,
    view: &MapView,
    prefix: &str,
    depth: usize,
    found: &mut Vec<FieldConflict>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for (key, candidates) in &view.fields {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        if let Some(Candidate {
            held: Held::Object(ObjType::Map, _),
            ..
        }) = candidates.first()
        {
            if let Ok(Some(child)) = view.child_map(doc, key) {
                walk(doc, &child, &path, depth + 1, found);
            }
            // Maps merge; only scalars (or other objects) beside them conflict.
            if candidates
                .iter()
                .all(|c| matches!(c.held, Held::Object(ObjType::Map, _)))
            {
                continue;
            }
        }
        let mut values: Vec<Value> = Vec::new();
        for candidate in candidates {
            let value = render(doc, &candidate.held, key);
            if !values.contains(&value) {
                values.push(value);
            }
        }
        if values.len() > 1 {
            found.push(FieldConflict { path, values });
        }
    }
}

fn render(doc: &impl ReadDoc, held: &Held, key: &str) -> Value {
    match held {
        Held::Scalar(ScalarValue::Str(text)) if LIST_KEYS.contains(&key) => {
            match decode_strings(text) {
                Some(list) => Value::Array(list.into_iter().map(Value::String).collect()),
                None => Value::String(text.to_string()),
            }
        }
        Held::Scalar(scalar) => scalar_json(scalar),
        Held::Object(kind, obj) => object_json(doc, *kind, obj, 0),
    }
}

fn scalar_json(scalar: &ScalarValue) -> Value {
    match scalar {
        ScalarValue::Str(text) => Value::String(text.to_string()),
        ScalarValue::Int(n) | ScalarValue::Timestamp(n) => Value::from(*n),
        ScalarValue::Uint(n) => Value::from(*n),
        ScalarValue::F64(n) => {
            Number::from_f64(*n).map_or_else(|| Value::String(n.to_string()), Value::Number)
        }
        ScalarValue::Boolean(flag) => Value::Bool(*flag),
        ScalarValue::Null => Value::Null,
        other => Value::String(other.to_string()),
    }
}

/// An object's winning contents as JSON (for a conflict between a map and a scalar,
/// which only a malformed document has).
fn object_json(doc: &impl ReadDoc, kind: ObjType, obj: &ObjId, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    match kind {
        ObjType::Map | ObjType::Table => {
            let mut map = Map::new();
            for item in doc.map_range(obj, ..) {
                let op = item.id();
                let value = match item.value.into_value() {
                    automerge::Value::Object(kind) => object_json(doc, kind, &op, depth + 1),
                    automerge::Value::Scalar(scalar) => scalar_json(&scalar),
                };
                map.insert(item.key.to_string(), value);
            }
            Value::Object(map)
        }
        ObjType::List => Value::Array(
            doc.list_range(obj, ..)
                .map(|item| {
                    let op = item.id();
                    match item.value.into_value() {
                        automerge::Value::Object(kind) => object_json(doc, kind, &op, depth + 1),
                        automerge::Value::Scalar(scalar) => scalar_json(&scalar),
                    }
                })
                .collect(),
        ),
        ObjType::Text => Value::String(doc.text(obj).unwrap_or_default()),
    }
}
