//! Writing records into household documents: the import rule of format v1, writing
//! only what differs.

use std::collections::HashMap;

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ScalarValue, hydrate};

use super::read::encode_strings;
use super::view::{Candidate, Held, MapView, automerge_error};
use super::{
    DocumentError, KEY_AREA, KEY_CHW, KEY_ID, KEY_LAYOUT, KEY_LOCATION, KEY_MEMBERS, KEY_NAME,
    KEY_STATUS, KEY_VISITS, LAYOUT_VERSION,
};
use crate::ids::HouseholdId;
use crate::record::{Household, PartialDate, Person, Visit};
use crate::terms::Term;
use crate::validate;

/// The actor of every household document's first change (see the module doc of
/// [`crate::document`]). It names the layout version: a later layout with a different
/// first change must use another actor, or two first changes would share an actor
/// and sequence number.
pub const GENESIS_ACTOR: &[u8] = b"kafo/household-genesis/layout-1";

/// What [`apply_household`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyOutcome {
    /// The document was empty; it now holds the household.
    Created,
    /// Some fields differed and were written.
    Updated,
    /// The document already held every value of the record; nothing was written.
    Unchanged,
}

/// Merges `household` into `doc` by the import rule of format v1.
///
/// An empty document gets its first change (layout, id, empty maps) and then every
/// field. Otherwise the document must be the same household's: scalar fields take the
/// new value; members and visits are matched by id, new ones added and existing ones
/// updated field by field; nothing is removed. Only values that differ from the
/// current winning value are written, so applying the same household again writes
/// nothing (the heads do not move).
///
/// Fields absent from the record (`None` options, empty `danger_signs` and `vaccines`)
/// leave the document's value as it is. `status` and `birth_date_estimated` always
/// have a value (format v1 omits them when they hold their default), and take it.
///
/// The record is checked first ([`validate::check_household`]); a record that breaks a
/// rule is refused with [`DocumentError::Invalid`] and nothing is written.
pub fn apply_household(
    doc: &mut AutoCommit,
    household: &Household,
) -> Result<ApplyOutcome, DocumentError> {
    if let Some(error) = validate::check_household(household).into_iter().next() {
        return Err(error.into());
    }
    let created = doc.get_heads().is_empty();
    if created {
        write_first_change(doc, &household.id)?;
    }
    let root = MapView::root(doc)?;
    check_layout(&root)?;
    check_household_id(&root, &household.id)?;

    let mut writer = Writer {
        doc,
        changed: false,
    };
    writer.update(&root, &household_fields(household))?;
    let members = writer.map(&root, KEY_MEMBERS)?;
    for person in &household.members {
        writer.object(&members, person.id.as_str(), &person_fields(person))?;
    }
    let visits = writer.map(&root, KEY_VISITS)?;
    for visit in &household.visits {
        writer.object(&visits, visit.id.as_str(), &visit_fields(visit))?;
    }
    Ok(match (created, writer.changed) {
        (true, _) => ApplyOutcome::Created,
        (false, true) => ApplyOutcome::Updated,
        (false, false) => ApplyOutcome::Unchanged,
    })
}

/// Adds `visit` to the household of `doc`, or updates the visit of the same id field by
/// field (absent fields left as they are), writing only what differs.
///
/// The visit's own values are checked first (ranges, note length); whether the person
/// seen is a member is the caller's check ([`validate::check_visit`]), which needs the
/// household.
pub fn put_visit(doc: &mut AutoCommit, visit: &Visit) -> Result<(), DocumentError> {
    let mut errors = Vec::new();
    validate::visit_values(visit, &format!("visits.{}.", visit.id), &mut errors);
    if let Some(error) = errors.into_iter().next() {
        return Err(error.into());
    }
    let root = MapView::root(doc)?;
    check_layout(&root)?;
    let mut writer = Writer {
        doc,
        changed: false,
    };
    let visits = writer.map(&root, KEY_VISITS)?;
    writer.object(&visits, visit.id.as_str(), &visit_fields(visit))
}

/// Writes the first change of a new household document with the genesis actor, then
/// gives the document back its own actor and author.
fn write_first_change(doc: &mut AutoCommit, id: &HouseholdId) -> Result<(), DocumentError> {
    let own_actor = doc.get_actor().clone();
    let own_author = doc.get_author().cloned();
    if own_author.is_some() {
        // The author would be recorded in the change and make it differ per device.
        doc.set_author(None);
    }
    doc.set_actor(ActorId::from(GENESIS_ACTOR));
    let written = (|| {
        doc.put(ROOT, KEY_LAYOUT, ScalarValue::Uint(LAYOUT_VERSION))?;
        doc.put(ROOT, KEY_ID, id.as_str())?;
        doc.put_object(ROOT, KEY_MEMBERS, ObjType::Map)?;
        doc.put_object(ROOT, KEY_VISITS, ObjType::Map)?;
        Ok(())
    })();
    match written {
        Ok(()) => {
            doc.commit_with(CommitOptions::default().with_time(0));
        }
        Err(_) => {
            doc.rollback();
        }
    }
    if own_author.is_some() {
        doc.set_author(own_author);
    }
    doc.set_actor(own_actor);
    written.map_err(automerge_error)
}

fn check_layout(root: &MapView) -> Result<(), DocumentError> {
    match root.winner(KEY_LAYOUT).map(|c| &c.held) {
        None => Err(DocumentError::Missing {
            field: KEY_LAYOUT.into(),
        }),
        Some(Held::Scalar(ScalarValue::Uint(found))) if *found > LAYOUT_VERSION => {
            Err(DocumentError::UnsupportedLayout { found: *found })
        }
        Some(Held::Scalar(ScalarValue::Uint(_))) => Ok(()),
        Some(_) => Err(DocumentError::WrongType {
            field: KEY_LAYOUT.into(),
        }),
    }
}

fn check_household_id(root: &MapView, record: &HouseholdId) -> Result<(), DocumentError> {
    let Some(Held::Scalar(ScalarValue::Str(found))) = root.winner(KEY_ID).map(|c| &c.held) else {
        return Err(DocumentError::WrongType {
            field: KEY_ID.into(),
        });
    };
    if found.as_str() == record.as_str() {
        return Ok(());
    }
    let document = HouseholdId::parse(found.as_str()).map_err(|source| DocumentError::BadId {
        field: KEY_ID.into(),
        source,
    })?;
    Err(DocumentError::WrongHousehold {
        document,
        record: record.clone(),
    })
}

/// A field as the layout stores it.
enum Field {
    /// A scalar, written when it differs from the current winning value.
    Value(ScalarValue),
    /// A bool whose absence means `false`.
    Flag(bool),
    /// A nested map.
    Map(Vec<(&'static str, Field)>),
}

fn text(value: &str) -> Field {
    Field::Value(ScalarValue::Str(value.into()))
}

fn date(value: PartialDate) -> Field {
    text(&value.to_string())
}

/// The root fields of a household, other than `layout`, `id`, `members` and `visits`.
fn household_fields(household: &Household) -> Vec<(&'static str, Field)> {
    let mut fields = vec![
        (KEY_AREA, text(household.area.as_str())),
        (KEY_CHW, text(household.chw.as_str())),
        (KEY_NAME, text(&household.name)),
        (KEY_STATUS, text(household.status.name())),
    ];
    if let Some(location) = household.location {
        fields.push((
            KEY_LOCATION,
            Field::Map(vec![
                ("lat", Field::Value(ScalarValue::F64(location.lat))),
                ("lon", Field::Value(ScalarValue::F64(location.lon))),
            ]),
        ));
    }
    fields
}

/// A person's fields; absent options are left out.
fn person_fields(person: &Person) -> Vec<(&'static str, Field)> {
    let mut fields = vec![
        ("given_name", text(&person.given_name)),
        ("family_name", text(&person.family_name)),
        ("sex", text(person.sex.name())),
        ("birth_date", date(person.birth_date)),
        (
            "birth_date_estimated",
            Field::Flag(person.birth_date_estimated),
        ),
        ("relationship", text(person.relationship.name())),
    ];
    if let Some(mother) = &person.mother_id {
        fields.push(("mother_id", text(mother.as_str())));
    }
    if let Some(phone) = &person.phone {
        fields.push(("phone", text(phone)));
    }
    if let Some(pregnancy) = &person.pregnancy {
        let mut nested = Vec::new();
        if let Some(lmp) = pregnancy.lmp {
            nested.push(("lmp", date(PartialDate::Day(lmp))));
        }
        if let Some(edd) = pregnancy.edd {
            nested.push(("edd", date(PartialDate::Day(edd))));
        }
        fields.push(("pregnancy", Field::Map(nested)));
    }
    fields
}

/// A visit's fields; absent options and empty lists are left out.
fn visit_fields(visit: &Visit) -> Vec<(&'static str, Field)> {
    let mut fields = vec![
        ("person_id", text(visit.person_id.as_str())),
        ("date", date(PartialDate::Day(visit.date))),
        ("chw", text(visit.chw.as_str())),
        ("kind", text(visit.kind.name())),
    ];
    if let Some(weight) = visit.weight_kg {
        fields.push(("weight_kg", Field::Value(ScalarValue::F64(weight))));
    }
    if let Some(height) = visit.height_cm {
        fields.push(("height_cm", Field::Value(ScalarValue::F64(height))));
    }
    if let Some(muac) = visit.muac_mm {
        fields.push(("muac_mm", Field::Value(ScalarValue::Uint(muac.into()))));
    }
    if !visit.danger_signs.is_empty() {
        fields.push(("danger_signs", text(&encode_strings(&visit.danger_signs))));
    }
    if !visit.vaccines.is_empty() {
        fields.push(("vaccines", text(&encode_strings(&visit.vaccines))));
    }
    if let Some(referral) = &visit.referral {
        fields.push((
            "referral",
            Field::Map(vec![
                ("to", text(&referral.to)),
                ("reason", text(&referral.reason)),
                (
                    "urgent",
                    Field::Value(ScalarValue::Boolean(referral.urgent)),
                ),
            ]),
        ));
    }
    if let Some(note) = &visit.note {
        fields.push(("note", text(note)));
    }
    fields
}

/// A new map holding `fields`, for one batch insertion.
fn hydrate(fields: &[(&'static str, Field)]) -> hydrate::Value {
    let map: HashMap<&str, hydrate::Value> = fields
        .iter()
        .filter_map(|(key, field)| {
            let value = match field {
                Field::Value(value) => hydrate::Value::Scalar(value.clone()),
                Field::Flag(false) => return None,
                Field::Flag(true) => hydrate::Value::Scalar(ScalarValue::Boolean(true)),
                Field::Map(nested) => hydrate(nested),
            };
            Some((*key, value))
        })
        .collect();
    // Automerge inserts a batch's keys in sorted order, so the change does not depend
    // on this map's iteration order.
    hydrate::Value::Map(map.into())
}

/// Writes values that differ from a view's winning values.
struct Writer<'a> {
    doc: &'a mut AutoCommit,
    changed: bool,
}

impl Writer<'_> {
    /// Writes `fields` into the map under `key`: field by field if it exists, as one
    /// batch insertion (much cheaper than one operation at a time) if it does not.
    fn object(
        &mut self,
        parent: &MapView,
        key: &str,
        fields: &[(&'static str, Field)],
    ) -> Result<(), DocumentError> {
        if let Some(existing) = parent.child_map(&*self.doc, key)? {
            return self.update(&existing, fields);
        }
        self.doc
            .batch_create_object(parent.target(), key, &hydrate(fields), false)
            .map_err(automerge_error)?;
        self.changed = true;
        Ok(())
    }

    /// Writes the fields that differ from the view's winning values.
    fn update(
        &mut self,
        view: &MapView,
        fields: &[(&'static str, Field)],
    ) -> Result<(), DocumentError> {
        for (key, field) in fields {
            match field {
                Field::Value(value) => self.scalar(view, key, value)?,
                // Absent means false: nothing to write for false over nothing.
                Field::Flag(false) if view.winner(key).is_none() => {}
                Field::Flag(flag) => self.scalar(view, key, &ScalarValue::Boolean(*flag))?,
                Field::Map(nested) => self.object(view, key, nested)?,
            }
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        view: &MapView,
        key: &str,
        value: &ScalarValue,
    ) -> Result<(), DocumentError> {
        if let Some(Candidate {
            held: Held::Scalar(current),
            ..
        }) = view.winner(key)
            && current == value
        {
            return Ok(());
        }
        self.doc
            .put(view.target(), key, value.clone())
            .map_err(automerge_error)?;
        self.changed = true;
        Ok(())
    }

    /// The map under `key`, created in the view's target if `key` holds no map.
    fn map(&mut self, view: &MapView, key: &str) -> Result<MapView, DocumentError> {
        if let Some(existing) = view.child_map(&*self.doc, key)? {
            return Ok(existing);
        }
        let obj = self
            .doc
            .put_object(view.target(), key, ObjType::Map)
            .map_err(automerge_error)?;
        self.changed = true;
        Ok(MapView::empty(obj))
    }
}

#[cfg(test)]
mod tests {
    use automerge::{Author, ReadDoc};

    use super::*;
    use crate::ids::{AreaId, ChwId};

    fn household() -> Household {
        Household {
            id: HouseholdId::parse("h1").expect("valid id"),
            area: AreaId::parse("sikoro").expect("valid id"),
            chw: ChwId::parse("chw-01").expect("valid id"),
            name: "Famille Keita".into(),
            location: None,
            status: Default::default(),
            members: Vec::new(),
            visits: Vec::new(),
        }
    }

    #[test]
    fn the_first_change_is_the_same_on_every_device() {
        let mut plain = AutoCommit::new().with_actor(ActorId::from([1; 16]));
        let mut authored = AutoCommit::new()
            .with_author(Some(Author::from(b"alice".to_vec())))
            .with_actor(ActorId::from([2; 16]));
        for doc in [&mut plain, &mut authored] {
            apply_household(doc, &household()).expect("apply");
        }
        let first = |doc: &mut AutoCommit| doc.get_changes(&[])[0].raw_bytes().to_vec();
        assert_eq!(first(&mut plain), first(&mut authored));

        // Each device keeps its own actor (and author) for everything after it.
        assert_eq!(plain.get_actor(), &ActorId::from([1; 16]));
        assert_eq!(authored.get_actor(), &ActorId::from([2; 16]));
        assert!(authored.get_author().is_some());
        let second = authored.get_changes(&[])[1].clone();
        assert_eq!(second.actor_id(), &ActorId::from([2; 16]));
    }

    #[test]
    fn an_empty_document_gets_the_layout_version_and_typed_values() {
        let mut doc = AutoCommit::new();
        let mut household = household();
        household.location = Some(crate::record::Location {
            lat: 12.5,
            lon: -8.0,
        });
        apply_household(&mut doc, &household).expect("apply");
        let (_, location) = doc.get(ROOT, KEY_LOCATION).expect("get").expect("location");
        assert_eq!(doc.object_type(&location).expect("object"), ObjType::Map);
        let (lat, _) = doc.get(&location, "lat").expect("get").expect("lat");
        assert_eq!(lat.as_f64(), Some(12.5));
        let (layout, _) = doc.get(ROOT, KEY_LAYOUT).expect("get").expect("layout");
        assert_eq!(layout.as_u64(), Some(LAYOUT_VERSION));
    }
}
