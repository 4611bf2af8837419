//! Turning one line's JSON value into a typed [`Household`], collecting every problem
//! with the path of its field (`visits[3].weight_kg`) instead of stopping at the first.

use std::collections::BTreeSet;

use jiff::civil::Date;
use serde_json::{Map, Value};

use crate::fields as v1;
use crate::ids::{AreaId, ChwId, HouseholdId, IdError, PersonId, VisitId};
use crate::record::{
    Household, HouseholdStatus, Location, PartialDate, Person, Pregnancy, Referral, Visit,
};
use crate::terms::Term;
use crate::validate::{self, Bounds, FieldError, Problem};

const HOUSEHOLD_FIELDS: &[&str] = &[
    "id", "area", "chw", "name", "location", "status", "members", "visits",
];

const FULL_DATE: &str = "YYYY-MM-DD";
const PARTIAL_DATE: &str = "YYYY, YYYY-MM or YYYY-MM-DD";

/// Reads a household from a parsed line, with every problem found.
pub(crate) fn household(value: &Value) -> Result<Household, Vec<FieldError>> {
    let mut walk = Walk::default();
    let household = walk.household(value);
    match household {
        Some(household) if walk.errors.is_empty() => Ok(household),
        _ => Err(walk.errors),
    }
}

/// The fields of one JSON object and the path that leads to it.
struct Object<'v> {
    map: &'v Map<String, Value>,
    path: String,
}

impl<'v> Object<'v> {
    fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

#[derive(Default)]
struct Walk {
    errors: Vec<FieldError>,
}

impl Walk {
    fn fail<T>(&mut self, field: String, problem: Problem) -> Option<T> {
        self.errors.push(FieldError::new(field, problem));
        None
    }

    /// An object whose keys are all in `allowed`; unknown keys are reported.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: String,
        allowed: &[&str],
    ) -> Option<Object<'v>> {
        let Value::Object(map) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "an object",
                },
            );
        };
        let object = Object { map, path };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.errors
                    .push(FieldError::new(object.path(key), Problem::UnknownField));
            }
        }
        Some(object)
    }

    /// A required field, read by `read`; `None` when missing or bad (already reported).
    fn required<'v, T>(
        &mut self,
        object: &Object<'v>,
        key: &str,
        read: impl FnOnce(&mut Self, &'v Value, String) -> Option<T>,
    ) -> Option<T> {
        match object.map.get(key) {
            Some(value) => read(self, value, object.path(key)),
            None => self.fail(object.path(key), Problem::Missing),
        }
    }

    /// An optional field: `Some(None)` when absent, `None` when present but bad.
    fn optional<'v, T>(
        &mut self,
        object: &Object<'v>,
        key: &str,
        read: impl FnOnce(&mut Self, &'v Value, String) -> Option<T>,
    ) -> Option<Option<T>> {
        match object.map.get(key) {
            Some(value) => read(self, value, object.path(key)).map(Some),
            None => Some(None),
        }
    }

    fn string(&mut self, value: &Value, path: String) -> Option<String> {
        match value {
            Value::String(text) => Some(text.clone()),
            _ => self.fail(
                path,
                Problem::WrongType {
                    expected: "a string",
                },
            ),
        }
    }

    fn boolean(&mut self, value: &Value, path: String) -> Option<bool> {
        match value {
            Value::Bool(flag) => Some(*flag),
            _ => self.fail(
                path,
                Problem::WrongType {
                    expected: "true or false",
                },
            ),
        }
    }

    fn id<T>(
        &mut self,
        value: &Value,
        path: String,
        parse: fn(String) -> Result<T, IdError>,
    ) -> Option<T> {
        let text = self.string(value, path.clone())?;
        match parse(text) {
            Ok(id) => Some(id),
            Err(err) => self.fail(path, Problem::BadId(err)),
        }
    }

    fn number(&mut self, value: &Value, path: String, bounds: Bounds) -> Option<f64> {
        let Some(number) = value.as_f64() else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "a number",
                },
            );
        };
        match bounds.check(number) {
            Ok(()) => Some(number),
            Err(problem) => self.fail(path, problem),
        }
    }

    /// A muac value: an integer in range. JSON does not tell `150` from `150.0`, so
    /// both are accepted; a fraction is not.
    fn muac(&mut self, value: &Value, path: String) -> Option<u16> {
        let Some(number) = value.as_f64() else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "an integer",
                },
            );
        };
        if number.fract() != 0.0 {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "an integer",
                },
            );
        }
        match validate::MUAC_MM.check(number) {
            // Within 50..=400 and whole, so the conversion is exact.
            Ok(()) => Some(number as u16),
            Err(problem) => self.fail(path, problem),
        }
    }

    fn term<T: Term>(&mut self, value: &Value, path: String) -> Option<T> {
        let Value::String(text) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "a string",
                },
            );
        };
        match T::from_name(text) {
            Some(term) => Some(term),
            None => self.fail(path, Problem::UnknownValue { allowed: T::NAMES }),
        }
    }

    fn partial_date(&mut self, value: &Value, path: String) -> Option<PartialDate> {
        let Value::String(text) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "a string",
                },
            );
        };
        match text.parse::<PartialDate>() {
            Ok(date) => Some(date),
            Err(err) => self.fail(path, validate::date_problem(&err, PARTIAL_DATE)),
        }
    }

    fn date(&mut self, value: &Value, path: String) -> Option<Date> {
        let Value::String(text) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "a string",
                },
            );
        };
        match text.parse::<PartialDate>() {
            Ok(PartialDate::Day(date)) => Some(date),
            Ok(_) => self.fail(
                path,
                Problem::NotADate {
                    expected: FULL_DATE,
                },
            ),
            Err(err) => self.fail(path, validate::date_problem(&err, FULL_DATE)),
        }
    }

    fn strings(&mut self, value: &Value, path: String) -> Option<Vec<String>> {
        let Value::Array(items) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "an array of strings",
                },
            );
        };
        let mut strings = Some(Vec::with_capacity(items.len()));
        for (index, item) in items.iter().enumerate() {
            let text = self.string(item, format!("{path}[{index}]"));
            match (&mut strings, text) {
                (Some(list), Some(text)) => list.push(text),
                _ => strings = None,
            }
        }
        strings
    }

    /// An array whose every item is read by `read`; `None` if any item is bad.
    fn array<'v, T>(
        &mut self,
        value: &'v Value,
        path: String,
        mut read: impl FnMut(&mut Self, &'v Value, String) -> Option<T>,
    ) -> Option<Vec<T>> {
        let Value::Array(items) = value else {
            return self.fail(
                path,
                Problem::WrongType {
                    expected: "an array",
                },
            );
        };
        let mut all = Some(Vec::with_capacity(items.len()));
        for (index, item) in items.iter().enumerate() {
            match (&mut all, read(self, item, format!("{path}[{index}]"))) {
                (Some(list), Some(item)) => list.push(item),
                _ => all = None,
            }
        }
        all
    }

    fn household(&mut self, value: &Value) -> Option<Household> {
        let object = self.object(value, String::new(), HOUSEHOLD_FIELDS)?;
        let id = self.required(&object, "id", |w, v, p| w.id(v, p, HouseholdId::parse));
        let area = self.required(&object, "area", |w, v, p| w.id(v, p, AreaId::parse));
        let chw = self.required(&object, "chw", |w, v, p| w.id(v, p, ChwId::parse));
        let name = self.required(&object, "name", Self::string);
        let location = self.optional(&object, "location", Self::location);
        let status = self.optional(&object, "status", Self::term::<HouseholdStatus>);
        let members = self.optional(&object, "members", |w, v, p| w.array(v, p, Self::person));
        let visits = self.optional(&object, "visits", |w, v, p| w.array(v, p, Self::visit));
        self.membership(&object);
        Some(Household {
            id: id?,
            area: area?,
            chw: chw?,
            name: name?,
            location: location?,
            status: status?.unwrap_or_default(),
            members: members?.unwrap_or_default(),
            visits: visits?.unwrap_or_default(),
        })
    }

    fn location(&mut self, value: &Value, path: String) -> Option<Location> {
        let object = self.object(value, path, v1::LOCATION)?;
        let lat = self.required(&object, "lat", |w, v, p| w.number(v, p, validate::LATITUDE));
        let lon = self.required(&object, "lon", |w, v, p| {
            w.number(v, p, validate::LONGITUDE)
        });
        Some(Location {
            lat: lat?,
            lon: lon?,
        })
    }

    fn person(&mut self, value: &Value, path: String) -> Option<Person> {
        let object = self.object(value, path, v1::PERSON)?;
        let id = self.required(&object, "id", |w, v, p| w.id(v, p, PersonId::parse));
        let given_name = self.required(&object, "given_name", Self::string);
        let family_name = self.required(&object, "family_name", Self::string);
        let sex = self.required(&object, "sex", Self::term);
        let birth_date = self.required(&object, "birth_date", Self::partial_date);
        let estimated = self.optional(&object, "birth_date_estimated", Self::boolean);
        let relationship = self.required(&object, "relationship", Self::term);
        let mother_id = self.optional(&object, "mother_id", |w, v, p| w.id(v, p, PersonId::parse));
        let phone = self.optional(&object, "phone", Self::string);
        let pregnancy = self.optional(&object, "pregnancy", Self::pregnancy);
        Some(Person {
            id: id?,
            given_name: given_name?,
            family_name: family_name?,
            sex: sex?,
            birth_date: birth_date?,
            birth_date_estimated: estimated?.unwrap_or(false),
            relationship: relationship?,
            mother_id: mother_id?,
            phone: phone?,
            pregnancy: pregnancy?,
        })
    }

    fn pregnancy(&mut self, value: &Value, path: String) -> Option<Pregnancy> {
        let object = self.object(value, path, v1::PREGNANCY)?;
        let lmp = self.optional(&object, "lmp", Self::date);
        let edd = self.optional(&object, "edd", Self::date);
        Some(Pregnancy {
            lmp: lmp?,
            edd: edd?,
        })
    }

    fn visit(&mut self, value: &Value, path: String) -> Option<Visit> {
        let object = self.object(value, path, v1::VISIT)?;
        let id = self.required(&object, "id", |w, v, p| w.id(v, p, VisitId::parse));
        let person_id = self.required(&object, "person_id", |w, v, p| w.id(v, p, PersonId::parse));
        let date = self.required(&object, "date", Self::date);
        let chw = self.required(&object, "chw", |w, v, p| w.id(v, p, ChwId::parse));
        let kind = self.required(&object, "kind", Self::term);
        let weight_kg = self.optional(&object, "weight_kg", |w, v, p| {
            w.number(v, p, validate::WEIGHT_KG)
        });
        let height_cm = self.optional(&object, "height_cm", |w, v, p| {
            w.number(v, p, validate::HEIGHT_CM)
        });
        let muac_mm = self.optional(&object, "muac_mm", Self::muac);
        let danger_signs = self.optional(&object, "danger_signs", Self::strings);
        let vaccines = self.optional(&object, "vaccines", Self::strings);
        let referral = self.optional(&object, "referral", Self::referral);
        let note = self.optional(&object, "note", |w, v, p| {
            let note = w.string(v, p.clone())?;
            match validate::check_note(&note) {
                Ok(()) => Some(note),
                Err(problem) => w.fail(p, problem),
            }
        });
        Some(Visit {
            id: id?,
            person_id: person_id?,
            date: date?,
            chw: chw?,
            kind: kind?,
            weight_kg: weight_kg?,
            height_cm: height_cm?,
            muac_mm: muac_mm?,
            danger_signs: danger_signs?.unwrap_or_default(),
            vaccines: vaccines?.unwrap_or_default(),
            referral: referral?,
            note: note?,
        })
    }

    fn referral(&mut self, value: &Value, path: String) -> Option<Referral> {
        let object = self.object(value, path, v1::REFERRAL)?;
        let to = self.required(&object, "to", Self::string);
        let reason = self.required(&object, "reason", Self::string);
        let urgent = self.required(&object, "urgent", Self::boolean);
        Some(Referral {
            to: to?,
            reason: reason?,
            urgent: urgent?,
        })
    }

    /// Duplicate member and visit ids, and people who are not members (mothers and
    /// people visited), checked on the raw id strings so that one bad member does
    /// not hide the problems of the others.
    fn membership(&mut self, household: &Object<'_>) {
        let items = |key: &str| -> Option<&Vec<Value>> {
            match household.map.get(key) {
                Some(Value::Array(items)) => Some(items),
                _ => None,
            }
        };
        let id_of =
            |item: &'_ Value| -> Option<String> { item.get("id")?.as_str().map(str::to_owned) };
        let mut members = BTreeSet::new();
        for (index, member) in items("members").into_iter().flatten().enumerate() {
            if let Some(id) = id_of(member)
                && !members.insert(id)
            {
                self.errors.push(FieldError::new(
                    format!("members[{index}].id"),
                    Problem::Duplicate,
                ));
            }
        }
        let mut visits = BTreeSet::new();
        for (index, visit) in items("visits").into_iter().flatten().enumerate() {
            if let Some(id) = id_of(visit)
                && !visits.insert(id)
            {
                self.errors.push(FieldError::new(
                    format!("visits[{index}].id"),
                    Problem::Duplicate,
                ));
            }
        }
        // When `members` is not an array, or a member has no readable id, the members
        // are not all known: claim nothing about membership.
        let all_known = match household.map.get("members") {
            None => true,
            Some(Value::Array(items)) => items.iter().all(|item| id_of(item).is_some()),
            Some(_) => false,
        };
        if !all_known {
            return;
        }
        for (index, member) in items("members").into_iter().flatten().enumerate() {
            if let Some(Value::String(mother)) = member.get("mother_id")
                && !members.contains(mother)
            {
                self.errors.push(FieldError::new(
                    format!("members[{index}].mother_id"),
                    Problem::NotAMember,
                ));
            }
        }
        for (index, visit) in items("visits").into_iter().flatten().enumerate() {
            if let Some(Value::String(person)) = visit.get("person_id")
                && !members.contains(person)
            {
                self.errors.push(FieldError::new(
                    format!("visits[{index}].person_id"),
                    Problem::NotAMember,
                ));
            }
        }
    }
}
