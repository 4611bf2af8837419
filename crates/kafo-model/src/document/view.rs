//! Reading one map of a household document as owned values, including the case where
//! two devices created a map under the same key concurrently.
//!
//! Automerge keeps both maps of such a key as conflicting values and shows only one.
//! A view reads all of them as one map: for each key, every value any of them holds,
//! ordered by the id of the operation that wrote it, greatest (the winner) first. This
//! is exactly what a single map would hold had both devices written into it, so an
//! edit made on either device stays visible, and later writes go to the winning map
//! with a greater operation id than anything before them.

use std::collections::BTreeMap;

use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::DocumentError;

/// What a key holds: a scalar, or an object (by id).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Held {
    Scalar(ScalarValue),
    Object(ObjType, ObjId),
}

/// One value a key holds and the operation that wrote it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Candidate {
    pub(crate) held: Held,
    pub(crate) op: ObjId,
}

/// A map (or maps created concurrently under one key), read as one.
#[derive(Debug, Clone)]
pub(crate) struct MapView {
    /// The map objects read, greatest id first; writes go to the first.
    objs: Vec<ObjId>,
    /// Each key's values, winner first.
    pub(crate) fields: BTreeMap<String, Vec<Candidate>>,
}

impl MapView {
    /// The root map.
    pub(crate) fn root(doc: &impl ReadDoc) -> Result<Self, DocumentError> {
        Self::read(doc, vec![ROOT])
    }

    /// A map just created, known to be empty (nothing to read).
    pub(crate) fn empty(obj: ObjId) -> Self {
        Self {
            objs: vec![obj],
            fields: BTreeMap::new(),
        }
    }

    /// Reads the maps `objs` (greatest id first) as one.
    fn read(doc: &impl ReadDoc, objs: Vec<ObjId>) -> Result<Self, DocumentError> {
        let mut fields: BTreeMap<String, Vec<Candidate>> = BTreeMap::new();
        for obj in &objs {
            for item in doc.map_range(obj, ..) {
                let candidates = fields.entry(item.key.to_string()).or_default();
                if item.conflict {
                    let all = doc
                        .get_all(obj, item.key.as_ref())
                        .map_err(automerge_error)?;
                    candidates.extend(all.into_iter().map(|(value, op)| candidate(value, op)));
                } else {
                    let op = item.id();
                    candidates.push(candidate(item.value.into_value(), op));
                }
            }
        }
        for candidates in fields.values_mut() {
            candidates.sort_by(|a, b| b.op.cmp(&a.op));
        }
        Ok(Self { objs, fields })
    }

    /// The object new values are written into.
    pub(crate) fn target(&self) -> &ObjId {
        // A view is built from at least one object: `root` and `empty` give one, and
        // `child_map` builds one only when the winner is a map.
        &self.objs[0]
    }

    /// The winning value of `key`.
    pub(crate) fn winner(&self, key: &str) -> Option<&Candidate> {
        self.fields
            .get(key)
            .and_then(|candidates| candidates.first())
    }

    /// The map(s) under `key` read as one, when the winning value of `key` is a map;
    /// `Ok(None)` when `key` is absent or holds something else.
    pub(crate) fn child_map(
        &self,
        doc: &impl ReadDoc,
        key: &str,
    ) -> Result<Option<Self>, DocumentError> {
        let Some(candidates) = self.fields.get(key) else {
            return Ok(None);
        };
        let Some(Candidate {
            held: Held::Object(ObjType::Map, _),
            ..
        }) = candidates.first()
        else {
            return Ok(None);
        };
        let maps = candidates
            .iter()
            .filter_map(|candidate| match &candidate.held {
                Held::Object(ObjType::Map, obj) => Some(obj.clone()),
                _ => None,
            })
            .collect();
        Self::read(doc, maps).map(Some)
    }
}

fn candidate(value: Value<'_>, op: ObjId) -> Candidate {
    let held = match value {
        Value::Object(kind) => Held::Object(kind, op.clone()),
        Value::Scalar(scalar) => Held::Scalar(scalar.into_owned()),
    };
    Candidate { held, op }
}

pub(crate) fn automerge_error(err: automerge::AutomergeError) -> DocumentError {
    DocumentError::Automerge(err.to_string())
}
