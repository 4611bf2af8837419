//! One household's FHIR R4 resources: a `Group` (the household, OpenSRP's
//! convention) with its members, a `Patient` per person, and per visit an `Encounter`,
//! an `Observation` per measurement and per danger sign, an `Immunization` per dose
//! code listed, and a `ServiceRequest` for a referral. Every reference points at a
//! resource of the same household, as `urn:uuid:<id>` (the entry's `fullUrl`).
//!
//! Each resource is a typed structure that borrows the household's text and is
//! serialised straight into the bundle (a district bundle holds some 400,000
//! resources: building a `serde_json::Value` tree for each cost more than reading the
//! store). The field order of each structure is the order of the JSON members.

use std::borrow::Cow;
use std::collections::BTreeSet;

use jiff::civil::Date;
use kafo_health::age::{age_days, reference_birth_date};
use kafo_health::growth::LENGTH_UNTIL_DAYS;
use kafo_health::referral::is_followed_up;
use kafo_model::terms::Term;
use kafo_model::{Household, HouseholdStatus, Person, Visit};
use serde::Serialize;
use uuid::Uuid;

use super::codes::{
    ACT_CODE, CVX, LOINC, LOINC_HEIGHT, LOINC_LENGTH, LOINC_MUAC, LOINC_WEIGHT,
    OBSERVATION_CATEGORY, SNOMED, SNOMED_REFERRAL, UCUM, cvx_of, kafo_url, resource_id, split_dose,
};

/// One resource, ready to be an entry: serialises as the resource's JSON object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Resource<'h> {
    /// Its type, e.g. `Patient`.
    #[serde(rename = "resourceType")]
    pub resource_type: &'static str,
    /// Its id (a UUID v5 of its Kafo key).
    pub id: Uuid,
    /// Its other members.
    #[serde(flatten)]
    pub body: Body<'h>,
}

/// The members of a resource after `resourceType` and `id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body<'h> {
    /// A household.
    Group(Group<'h>),
    /// A member.
    Patient(Patient<'h>),
    /// A visit.
    Encounter(Encounter<'h>),
    /// A measurement or a danger sign.
    Observation(Observation<'h>),
    /// A dose given.
    Immunization(Immunization<'h>),
    /// A referral.
    ServiceRequest(ServiceRequest<'h>),
}

/// A `Coding`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coding<'h> {
    system: Cow<'h, str>,
    code: &'h str,
    #[serde(skip_serializing_if = "Option::is_none")]
    display: Option<&'h str>,
}

/// A `CodeableConcept`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concept<'h> {
    coding: Vec<Coding<'h>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'h str>,
}

/// An `Identifier` in one of Kafo's systems.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Identifier<'h> {
    system: String,
    value: Cow<'h, str>,
}

/// A `Reference` to a resource of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reference {
    reference: String,
}

/// A `Meta` with tags.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta<'h> {
    tag: [Coding<'h>; 2],
}

/// A member of a `Group`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupMember {
    entity: Reference,
}

/// The household.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group<'h> {
    meta: Meta<'h>,
    identifier: [Identifier<'h>; 1],
    active: bool,
    #[serde(rename = "type")]
    kind: &'static str,
    actual: bool,
    quantity: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'h str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    member: Vec<GroupMember>,
}

/// An extension with a boolean value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BooleanExtension {
    url: String,
    #[serde(rename = "valueBoolean")]
    value_boolean: bool,
}

/// The extensions of a primitive element (`_birthDate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElementExtensions {
    extension: [BooleanExtension; 1],
}

/// A `HumanName`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HumanName<'h> {
    #[serde(skip_serializing_if = "Option::is_none")]
    family: Option<&'h str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given: Option<[&'h str; 1]>,
}

/// A phone number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactPoint<'h> {
    system: &'static str,
    value: &'h str,
}

/// A member of the household.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Patient<'h> {
    identifier: [Identifier<'h>; 1],
    active: bool,
    gender: &'static str,
    #[serde(rename = "birthDate")]
    birth_date: String,
    #[serde(rename = "_birthDate", skip_serializing_if = "Option::is_none")]
    birth_date_extensions: Option<ElementExtensions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<[HumanName<'h>; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    telecom: Option<[ContactPoint<'h>; 1]>,
}

/// The CHW who made a visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Participant<'h> {
    individual: Individual<'h>,
}

/// A CHW, by identifier.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Individual<'h> {
    identifier: Identifier<'h>,
    display: &'h str,
}

/// A visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Encounter<'h> {
    identifier: [Identifier<'h>; 1],
    status: &'static str,
    class: Coding<'h>,
    #[serde(rename = "type")]
    kind: [Concept<'h>; 1],
    subject: Reference,
    participant: [Participant<'h>; 1],
    period: Period,
}

/// The day of a visit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Period {
    start: String,
    end: String,
}

/// A measured quantity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quantity {
    value: f64,
    unit: &'static str,
    system: &'static str,
    code: &'static str,
}

/// The value of an observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ObservationValue {
    /// A measurement.
    #[serde(rename = "valueQuantity")]
    Quantity(Quantity),
    /// A danger sign seen.
    #[serde(rename = "valueBoolean")]
    Boolean(bool),
}

/// A measurement or a danger sign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observation<'h> {
    identifier: [Identifier<'h>; 1],
    status: &'static str,
    category: [Concept<'h>; 1],
    code: Concept<'h>,
    subject: Reference,
    encounter: Reference,
    #[serde(rename = "effectiveDateTime")]
    effective_date_time: String,
    #[serde(flatten)]
    value: ObservationValue,
}

/// The dose number of an immunisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum DoseNumber {
    /// The birth dose (`0`), which `positiveInt` cannot hold.
    #[serde(rename = "doseNumberString")]
    Text(&'static str),
    /// The dose's number in its series.
    #[serde(rename = "doseNumberPositiveInt")]
    Positive(u32),
}

/// How a dose applies to its series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolApplied {
    #[serde(flatten)]
    dose_number: DoseNumber,
}

/// A dose given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Immunization<'h> {
    identifier: [Identifier<'h>; 1],
    status: &'static str,
    #[serde(rename = "vaccineCode")]
    vaccine_code: Concept<'h>,
    patient: Reference,
    encounter: Reference,
    #[serde(rename = "occurrenceDateTime")]
    occurrence_date_time: String,
    #[serde(rename = "protocolApplied")]
    protocol_applied: [ProtocolApplied; 1],
}

/// The facility a referral is to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Performer<'h> {
    identifier: Identifier<'h>,
    display: &'h str,
}

/// A reason in words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReasonText<'h> {
    text: &'h str,
}

/// A referral.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceRequest<'h> {
    identifier: [Identifier<'h>; 1],
    status: &'static str,
    intent: &'static str,
    priority: &'static str,
    code: Concept<'h>,
    subject: Reference,
    encounter: Reference,
    #[serde(rename = "authoredOn")]
    authored_on: String,
    performer: [Performer<'h>; 1],
    #[serde(rename = "reasonCode", skip_serializing_if = "Option::is_none")]
    reason_code: Option<[ReasonText<'h>; 1]>,
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

    fn reference(&self, resource_type: &str, key: &str) -> Reference {
        Reference {
            reference: format!("urn:uuid:{}", self.id(resource_type, key)),
        }
    }

    fn resource(&self, resource_type: &'static str, key: &str, body: Body<'h>) -> Resource<'h> {
        Resource {
            resource_type,
            id: self.id(resource_type, key),
            body,
        }
    }

    /// The household as a `Group` of its members.
    pub fn group(&self) -> Resource<'h> {
        let household = self.household;
        let group = Group {
            meta: Meta {
                tag: [
                    Coding {
                        system: Cow::Owned(kafo_url("CodeSystem/area")),
                        code: household.area.as_str(),
                        display: None,
                    },
                    Coding {
                        system: Cow::Owned(kafo_url("CodeSystem/chw")),
                        code: household.chw.as_str(),
                        display: None,
                    },
                ],
            },
            identifier: [identifier("id/household", household.id.as_str())],
            active: household.status == HouseholdStatus::Active,
            kind: "person",
            actual: true,
            quantity: household.members.len(),
            name: non_blank(&household.name),
            member: household
                .members
                .iter()
                .map(|person| GroupMember {
                    entity: self.reference("Patient", person.id.as_str()),
                })
                .collect(),
        };
        self.resource("Group", household.id.as_str(), Body::Group(group))
    }

    /// A member as a `Patient`: the birth date at its known precision, with an
    /// extension when it was estimated.
    pub fn patient(&self, person: &'h Person) -> Resource<'h> {
        let name = HumanName {
            family: non_blank(&person.family_name),
            given: non_blank(&person.given_name).map(|_| [person.given_name.as_str()]),
        };
        let patient = Patient {
            identifier: [identifier("id/person", person.id.as_str())],
            active: self.household.status == HouseholdStatus::Active,
            gender: person.sex.name(),
            birth_date: person.birth_date.to_string(),
            birth_date_extensions: person.birth_date_estimated.then(|| ElementExtensions {
                extension: [BooleanExtension {
                    url: kafo_url("StructureDefinition/birth-date-estimated"),
                    value_boolean: true,
                }],
            }),
            name: (name.family.is_some() || name.given.is_some()).then_some([name]),
            telecom: person.phone.as_deref().and_then(non_blank).map(|phone| {
                [ContactPoint {
                    system: "phone",
                    value: phone,
                }]
            }),
        };
        self.resource("Patient", person.id.as_str(), Body::Patient(patient))
    }

    /// Every resource of `visit`: its Encounter, then its Observations,
    /// Immunizations and ServiceRequest.
    pub fn visit(&self, visit: &'h Visit) -> Vec<Resource<'h>> {
        let key = visit.id.as_str();
        let subject = self.reference("Patient", visit.person_id.as_str());
        let encounter = self.reference("Encounter", key);
        let date = visit.date.to_string();
        let mut resources = vec![self.resource(
            "Encounter",
            key,
            Body::Encounter(Encounter {
                identifier: [identifier("id/visit", key)],
                status: "finished",
                class: Coding {
                    system: Cow::Borrowed(ACT_CODE),
                    code: "HH",
                    display: Some("home health"),
                },
                kind: [Concept {
                    coding: vec![Coding {
                        system: Cow::Owned(kafo_url("CodeSystem/visit-kind")),
                        code: visit.kind.name(),
                        display: None,
                    }],
                    text: None,
                }],
                subject: subject.clone(),
                participant: [Participant {
                    individual: Individual {
                        identifier: identifier("id/chw", visit.chw.as_str()),
                        display: visit.chw.as_str(),
                    },
                }],
                period: Period {
                    start: date.clone(),
                    end: date.clone(),
                },
            }),
        )];
        let observation = |part: &str, category: &'h str, code: Concept<'h>, value| {
            let part_key = format!("{key}/{part}");
            let body = Body::Observation(Observation {
                identifier: [identifier_owned("id/visit", part_key.clone())],
                status: "final",
                category: [Concept {
                    coding: vec![Coding {
                        system: Cow::Borrowed(OBSERVATION_CATEGORY),
                        code: category,
                        display: None,
                    }],
                    text: None,
                }],
                code,
                subject: subject.clone(),
                encounter: encounter.clone(),
                effective_date_time: date.clone(),
                value,
            });
            self.resource("Observation", &part_key, body)
        };
        let loinc = |(code, display): (&'h str, &'h str)| Concept {
            coding: vec![Coding {
                system: Cow::Borrowed(LOINC),
                code,
                display: Some(display),
            }],
            text: None,
        };
        let quantity = |value: f64, unit: &'static str| {
            ObservationValue::Quantity(Quantity {
                value,
                unit,
                system: UCUM,
                code: unit,
            })
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
            let code = Concept {
                coding: vec![Coding {
                    system: Cow::Owned(kafo_url("CodeSystem/danger-sign")),
                    code: sign,
                    display: None,
                }],
                text: Some(sign),
            };
            resources.push(observation(
                &format!("danger-sign/{sign}"),
                "exam",
                code,
                ObservationValue::Boolean(true),
            ));
        }
        let codes: BTreeSet<&str> = visit.vaccines.iter().map(String::as_str).collect();
        for code in codes {
            resources.push(self.immunization(visit, code, &subject, &encounter));
        }
        if let Some(referral) = &visit.referral {
            let followed_up = is_followed_up(visit, &self.household.visits, Date::MAX);
            let referral_key = format!("{key}/referral");
            let request = ServiceRequest {
                identifier: [identifier_owned("id/visit", referral_key.clone())],
                status: if followed_up { "completed" } else { "active" },
                intent: "order",
                priority: if referral.urgent { "urgent" } else { "routine" },
                code: Concept {
                    coding: vec![Coding {
                        system: Cow::Borrowed(SNOMED),
                        code: SNOMED_REFERRAL.0,
                        display: Some(SNOMED_REFERRAL.1),
                    }],
                    text: None,
                },
                subject: subject.clone(),
                encounter: encounter.clone(),
                authored_on: date.clone(),
                performer: [Performer {
                    identifier: identifier("id/facility", &referral.to),
                    display: &referral.to,
                }],
                reason_code: non_blank(&referral.reason).map(|_| {
                    [ReasonText {
                        text: &referral.reason,
                    }]
                }),
            };
            resources.push(self.resource(
                "ServiceRequest",
                &referral_key,
                Body::ServiceRequest(request),
            ));
        }
        resources
    }

    fn immunization(
        &self,
        visit: &'h Visit,
        code: &'h str,
        subject: &Reference,
        encounter: &Reference,
    ) -> Resource<'h> {
        let key = format!("{}/{code}", visit.id.as_str());
        let mut coding = Vec::with_capacity(2);
        if let Some(cvx) = cvx_of(code) {
            coding.push(Coding {
                system: Cow::Borrowed(CVX),
                code: &cvx.cvx,
                display: Some(&cvx.display),
            });
        }
        coding.push(Coding {
            system: Cow::Owned(kafo_url("CodeSystem/dose")),
            code,
            display: None,
        });
        let dose_number = match split_dose(code).1 {
            Some(0) => DoseNumber::Text("0"),
            Some(number) => DoseNumber::Positive(number),
            None => DoseNumber::Positive(1),
        };
        let body = Body::Immunization(Immunization {
            identifier: [identifier_owned("id/visit", key.clone())],
            status: "completed",
            vaccine_code: Concept {
                coding,
                text: Some(code),
            },
            patient: subject.clone(),
            encounter: encounter.clone(),
            occurrence_date_time: visit.date.to_string(),
            protocol_applied: [ProtocolApplied { dose_number }],
        });
        self.resource("Immunization", &key, body)
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

fn identifier<'h>(system: &str, value: &'h str) -> Identifier<'h> {
    Identifier {
        system: kafo_url(system),
        value: Cow::Borrowed(value),
    }
}

fn identifier_owned(system: &str, value: String) -> Identifier<'static> {
    Identifier {
        system: kafo_url(system),
        value: Cow::Owned(value),
    }
}

/// `text` unless it is blank (FHIR allows no empty strings).
fn non_blank(text: &str) -> Option<&str> {
    (!text.trim().is_empty()).then_some(text)
}
