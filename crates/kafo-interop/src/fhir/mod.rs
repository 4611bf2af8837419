//! A FHIR R4 `transaction` Bundle of the caseload, written one household at a time.
//!
//! Each entry is `PUT Type/id` with `fullUrl` `urn:uuid:<id>`, so sending the bundle
//! twice updates the same resources. A resource's id is a UUID v5 of its Kafo key
//! ([`codes::resource_id`]), and the Kafo id is kept as an `identifier`. With a `since`
//! date, only the visits dated on or after it are written, with the Group and the
//! Patients of their households (the whole household, so that the Group's members all
//! resolve and a PUT never shrinks it).

pub mod codes;
mod resources;

use std::io::{self, Write};

use jiff::civil::Date;
use kafo_model::Household;
use serde::Serialize;
use uuid::Uuid;

pub use resources::{Body, HouseholdResources, Resource};

/// How many resources of each type a bundle holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ResourceCounts {
    /// Groups (households).
    pub groups: u64,
    /// Patients (members).
    pub patients: u64,
    /// Encounters (visits).
    pub encounters: u64,
    /// Observations (measurements and danger signs).
    pub observations: u64,
    /// Immunizations (dose codes listed at visits).
    pub immunizations: u64,
    /// ServiceRequests (referrals).
    pub service_requests: u64,
}

impl ResourceCounts {
    fn count(&mut self, resource_type: &str) {
        let counter = match resource_type {
            "Group" => &mut self.groups,
            "Patient" => &mut self.patients,
            "Encounter" => &mut self.encounters,
            "Observation" => &mut self.observations,
            "Immunization" => &mut self.immunizations,
            _ => &mut self.service_requests,
        };
        *counter += 1;
    }

    /// Every resource.
    pub fn total(&self) -> u64 {
        self.groups
            + self.patients
            + self.encounters
            + self.observations
            + self.immunizations
            + self.service_requests
    }
}

/// One entry of the bundle.
#[derive(Serialize)]
struct Entry<'r, 'h> {
    #[serde(rename = "fullUrl")]
    full_url: String,
    resource: &'r Resource<'h>,
    request: Request,
}

/// An entry's request: `PUT Type/id`.
#[derive(Serialize)]
struct Request {
    method: &'static str,
    url: String,
}

/// Writes a transaction Bundle into `out`, household by household.
#[derive(Debug)]
pub struct BundleWriter<W: Write> {
    out: W,
    since: Option<Date>,
    namespace: Uuid,
    counts: ResourceCounts,
}

impl<W: Write> BundleWriter<W> {
    /// Starts the bundle; with `since`, only visits dated on or after it are written.
    pub fn new(mut out: W, since: Option<Date>) -> io::Result<Self> {
        out.write_all(br#"{"resourceType":"Bundle","type":"transaction""#)?;
        Ok(Self {
            out,
            since,
            namespace: codes::id_namespace(),
            counts: ResourceCounts::default(),
        })
    }

    /// Adds `household`'s resources (none when `since` leaves none of its visits).
    pub fn add(&mut self, household: &Household) -> io::Result<()> {
        let since = self.since;
        let visits: Vec<_> = household
            .visits
            .iter()
            .filter(|visit| since.is_none_or(|since| visit.date >= since))
            .collect();
        if since.is_some() && visits.is_empty() {
            return Ok(());
        }
        let resources = HouseholdResources::new(self.namespace, household);
        self.entry(resources.group())?;
        for person in &household.members {
            self.entry(resources.patient(person))?;
        }
        for visit in visits {
            for resource in resources.visit(visit) {
                self.entry(resource)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, resource: Resource<'_>) -> io::Result<()> {
        // FHIR allows no empty array: `entry` opens with the first resource.
        let separator: &[u8] = if self.counts.total() == 0 {
            br#","entry":["#
        } else {
            b","
        };
        self.out.write_all(separator)?;
        let entry = Entry {
            full_url: format!("urn:uuid:{}", resource.id),
            resource: &resource,
            request: Request {
                method: "PUT",
                url: format!("{}/{}", resource.resource_type, resource.id),
            },
        };
        serde_json::to_writer(&mut self.out, &entry)?;
        self.counts.count(resource.resource_type);
        Ok(())
    }

    /// Ends the bundle: the writer back, flushed, and what it holds.
    pub fn finish(mut self) -> io::Result<(W, ResourceCounts)> {
        let end: &[u8] = if self.counts.total() == 0 {
            b"}\n"
        } else {
            b"]}\n"
        };
        self.out.write_all(end)?;
        self.out.flush()?;
        Ok((self.out, self.counts))
    }
}
