//! One household's FHIR R4 resources, as JSON: a `Group` (the household, OpenSRP's
//! convention) with its members, a `Patient` per person, and per visit an `Encounter`,
//! an `Observation` per measurement and per danger sign, an `Immunization` per dose
//! code listed, and a `ServiceRequest` for a referral. Every reference points at a
//! resource of the same household, as `urn:uuid:<id>` (the entry's `fullUrl`).

use std::collections::BTreeSet;

use jiff::civil::Date;
use kafo_health::age::{age_days, reference_birth_date};
use kafo_health::growth::LENGTH_UNTIL_DAYS;
use kafo_health::referral::is_followed_up;
use kafo_model::terms::Term;
use kafo_model::{Household, HouseholdStatus, Person, Visit};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::codes::{
    ACT_CODE, CVX, LOINC, LOINC_HEIGHT, LOINC_LENGTH, LOINC_MUAC, LOINC_WEIGHT,
    OBSERVATION_CATEGORY, SNOMED, SNOMED_REFERRAL, UCUM, cvx_of, kafo_url, resource_id, split_dose,
};

/// One resource, ready to be an entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// Its type, e.g. `Patient`.
    pub resource_type: &'static str,
    /// Its id (a UUID v5 of its Kafo key).
    pub id: Uuid,
    /// The resource itself.
    pub json: Value,
}

/// Builds the resources of one household.
#[derive(Debug)]
pub struct HouseholdResources<'h> {
    namespace: Uuid,
    household: &'h Household,
}

impl<'h> HouseholdResources<'h> {
    /// The builder for `household`, with ids in `namespace`.
    pub fn new(namespace: Uuid, household: &'h Household) -> Self {
        Self {
            namespace,
            household,
        }
    }

    fn id(&self, resource_type: &str, key: &str) -> Uuid {
        resource_id(&self.namespace, resource_type, key)
    }

    fn reference(&self, resource_type: &str, key: &str) -> Value {
        json!({"reference": format!("urn:uuid:{}", self.id(resource_type, key))})
    }

    fn resource(&self, resource_type: &'static str, key: &str, mut json: Value) -> Resource {
        let id = self.id(resource_type, key);
        if let Some(object) = json.as_object_mut() {
            let mut ordered = Map::new();
            ordered.insert("resourceType".to_owned(), resource_type.into());
            ordered.insert("id".to_owned(), id.to_string().into());
            ordered.append(object);
            json = Value::Object(ordered);
        }
        Resource {
            resource_type,
            id,
            json,
        }
    }

    /// The household as a `Group` of its members.
    pub fn group(&self) -> Resource {
        let household = self.household;
        let mut group = json!({
            "meta": {"tag": [
                {"system": kafo_url("CodeSystem/area"), "code": household.area.as_str()},
                {"system": kafo_url("CodeSystem/chw"), "code": household.chw.as_str()},
            ]},
            "identifier": [identifier("id/household", household.id.as_str())],
            "active": household.status == HouseholdStatus::Active,
            "type": "person",
            "actual": true,
            "quantity": household.members.len(),
        });
        insert_text(&mut group, "name", &household.name);
        let members: Vec<Value> = household
            .members
            .iter()
            .map(|person| json!({"entity": self.reference("Patient", person.id.as_str())}))
            .collect();
        if !members.is_empty() {
            group["member"] = members.into();
        }
        self.resource("Group", household.id.as_str(), group)
    }

    /// A member as a `Patient`: the birth date at its known precision, with an
    /// extension when it was estimated.
    pub fn patient(&self, person: &Person) -> Resource {
        let mut patient = json!({
            "identifier": [identifier("id/person", person.id.as_str())],
            "active": self.household.status == HouseholdStatus::Active,
            "gender": person.sex.name(),
            "birthDate": person.birth_date.to_string(),
        });
        if person.birth_date_estimated {
            patient["_birthDate"] = json!({"extension": [{
                "url": kafo_url("StructureDefinition/birth-date-estimated"),
                "valueBoolean": true,
            }]});
        }
        let mut name = json!({});
        insert_text(&mut name, "family", &person.family_name);
        if !person.given_name.trim().is_empty() {
            name["given"] = json!([person.given_name]);
        }
        if name.as_object().is_some_and(|fields| !fields.is_empty()) {
            patient["name"] = json!([name]);
        }
        if let Some(phone) = person
            .phone
            .as_deref()
            .filter(|phone| !phone.trim().is_empty())
        {
            patient["telecom"] = json!([{"system": "phone", "value": phone}]);
        }
        self.resource("Patient", person.id.as_str(), patient)
    }

    /// Every resource of `visit`: its Encounter, then its Observations,
    /// Immunizations and ServiceRequest.
    pub fn visit(&self, visit: &Visit) -> Vec<Resource> {
        let key = visit.id.as_str();
        let subject = self.reference("Patient", visit.person_id.as_str());
        let encounter = self.reference("Encounter", key);
        let date = visit.date.to_string();
        let mut resources = vec![self.resource(
            "Encounter",
            key,
            json!({
                "identifier": [identifier("id/visit", key)],
                "status": "finished",
                "class": {"system": ACT_CODE, "code": "HH", "display": "home health"},
                "type": [{"coding": [{
                    "system": kafo_url("CodeSystem/visit-kind"),
                    "code": visit.kind.name(),
                }]}],
                "subject": subject,
                "participant": [{"individual": {
                    "identifier": identifier("id/chw", visit.chw.as_str()),
                    "display": visit.chw.as_str(),
                }}],
                "period": {"start": date, "end": date},
            }),
        )];
        let observation = |part: &str, category: &str, code: Value, value: (&str, Value)| {
            let mut json = json!({
                "identifier": [identifier("id/visit", &format!("{key}/{part}"))],
                "status": "final",
                "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": category}]}],
                "code": code,
                "subject": subject,
                "encounter": encounter,
                "effectiveDateTime": date,
            });
            json[value.0] = value.1;
            self.resource("Observation", &format!("{key}/{part}"), json)
        };
        let loinc = |(code, display): (&str, &str)| json!({"coding": [{"system": LOINC, "code": code, "display": display}]});
        let quantity = |value: f64, unit: &str| {
            (
                "valueQuantity",
                json!({"value": value, "unit": unit, "system": UCUM, "code": unit}),
            )
        };
        if let Some(kg) = visit.weight_kg {
            resources.push(observation(
                "weight",
                "vital-signs",
                loinc(LOINC_WEIGHT),
                quantity(kg, "kg"),
            ));
        }
        if let Some(cm) = visit.height_cm {
            let code = if self.is_lying_length_age(visit) {
                LOINC_LENGTH
            } else {
                LOINC_HEIGHT
            };
            resources.push(observation(
                "height",
                "vital-signs",
                loinc(code),
                quantity(cm, "cm"),
            ));
        }
        if let Some(mm) = visit.muac_mm {
            resources.push(observation(
                "muac",
                "exam",
                loinc(LOINC_MUAC),
                quantity(f64::from(mm), "mm"),
            ));
        }
        let signs: BTreeSet<&str> = visit.danger_signs.iter().map(String::as_str).collect();
        for sign in signs {
            let code = json!({"coding": [{"system": kafo_url("CodeSystem/danger-sign"), "code": sign}], "text": sign});
            resources.push(observation(
                &format!("danger-sign/{sign}"),
                "exam",
                code,
                ("valueBoolean", true.into()),
            ));
        }
        let codes: BTreeSet<&str> = visit.vaccines.iter().map(String::as_str).collect();
        for code in codes {
            resources.push(self.immunization(visit, code, &subject, &encounter));
        }
        if let Some(referral) = &visit.referral {
            let followed_up = is_followed_up(visit, &self.household.visits, Date::MAX);
            let mut request = json!({
                "identifier": [identifier("id/visit", &format!("{key}/referral"))],
                "status": if followed_up { "completed" } else { "active" },
                "intent": "order",
                "priority": if referral.urgent { "urgent" } else { "routine" },
                "code": {"coding": [{"system": SNOMED, "code": SNOMED_REFERRAL.0, "display": SNOMED_REFERRAL.1}]},
                "subject": subject,
                "encounter": encounter,
                "authoredOn": date,
                "performer": [{
                    "identifier": identifier("id/facility", &referral.to),
                    "display": referral.to,
                }],
            });
            if !referral.reason.trim().is_empty() {
                request["reasonCode"] = json!([{"text": referral.reason}]);
            }
            resources.push(self.resource("ServiceRequest", &format!("{key}/referral"), request));
        }
        resources
    }

    fn immunization(
        &self,
        visit: &Visit,
        code: &str,
        subject: &Value,
        encounter: &Value,
    ) -> Resource {
        let key = format!("{}/{code}", visit.id.as_str());
        let mut coding = Vec::new();
        if let Some(cvx) = cvx_of(code) {
            coding.push(json!({"system": CVX, "code": cvx.cvx, "display": cvx.display}));
        }
        coding.push(json!({"system": kafo_url("CodeSystem/dose"), "code": code}));
        let dose_number = match split_dose(code).1 {
            Some(0) => json!({"doseNumberString": "0"}),
            Some(number) => json!({"doseNumberPositiveInt": number}),
            None => json!({"doseNumberPositiveInt": 1}),
        };
        self.resource(
            "Immunization",
            &key,
            json!({
                "identifier": [identifier("id/visit", &key)],
                "status": "completed",
                "vaccineCode": {"coding": coding, "text": code},
                "patient": subject,
                "encounter": encounter,
                "occurrenceDateTime": visit.date.to_string(),
                "protocolApplied": [dose_number],
            }),
        )
    }

    /// Whether the person visited was under 731 days old (measured lying down).
    fn is_lying_length_age(&self, visit: &Visit) -> bool {
        self.household
            .members
            .iter()
            .find(|person| person.id == visit.person_id)
            .and_then(|person| reference_birth_date(&person.birth_date))
            .is_some_and(|birth| (0..LENGTH_UNTIL_DAYS).contains(&age_days(birth, visit.date)))
    }
}

fn identifier(system: &str, value: &str) -> Value {
    json!({"system": kafo_url(system), "value": value})
}

/// Sets `field` to `text` unless it is blank (FHIR allows no empty strings).
fn insert_text(object: &mut Value, field: &str, text: &str) {
    if !text.trim().is_empty() {
        object[field] = text.into();
    }
}
