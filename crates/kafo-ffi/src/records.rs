//! Plain records handed to the host: what a node holds, listings, summaries.

use kafo::trust::{Enrolment as KafoEnrolment, KnownDevice, Scopes, WhoAmI as KafoWhoAmI};

/// What a device's store holds.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Status {
    pub device_id: String,
    pub households: u64,
    pub people: u64,
    pub visits: u64,
    pub size_on_disk: u64,
    /// The store is encrypted at rest (opened with `Node.open_encrypted`).
    pub encrypted: bool,
    /// Households held back here (changes by a revoked device, until settled).
    pub held_back: Vec<String>,
    /// This device's enrolment, `None` when it is not enrolled in a program.
    pub enrolment: Option<Enrolment>,
}

/// A device's place in a health program.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Enrolment {
    /// The program's id.
    pub program: String,
    /// `admin`, `supervisor` or `chw`.
    pub role: String,
    /// `*` for the whole program, else `area` or `area/chw` scopes.
    pub scopes: Vec<String>,
    /// End of validity, unix seconds.
    pub not_after: u64,
}

impl From<&KafoEnrolment> for Enrolment {
    fn from(enrolment: &KafoEnrolment) -> Self {
        Self {
            program: enrolment.program.to_string(),
            role: enrolment.role.to_string(),
            scopes: scopes_text(&enrolment.scopes),
            not_after: enrolment.not_after,
        }
    }
}

/// The text of each scope (`*` for every household of the program).
pub(crate) fn scopes_text(scopes: &Scopes) -> Vec<String> {
    match scopes {
        Scopes::All => vec!["*".to_owned()],
        Scopes::Only(list) => list.iter().map(ToString::to_string).collect(),
    }
}

/// What an import did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct ImportSummary {
    /// Lines (households) read.
    pub households: u64,
    /// Households new to the store.
    pub created: u64,
    /// Households merged into what was stored, with changes.
    pub merged: u64,
    /// Households already stored exactly as imported.
    pub unchanged: u64,
}

impl From<kafo::ImportSummary> for ImportSummary {
    fn from(summary: kafo::ImportSummary) -> Self {
        Self {
            households: summary.households as u64,
            created: summary.created as u64,
            merged: summary.merged as u64,
            unchanged: summary.unchanged as u64,
        }
    }
}

/// One line of a household listing.
#[derive(Debug, Clone, uniffi::Record)]
pub struct HouseholdListing {
    pub id: String,
    pub area: String,
    pub chw: String,
    pub name: String,
    pub members: u64,
    pub visits: u64,
}

impl From<kafo::HouseholdListing> for HouseholdListing {
    fn from(listing: kafo::HouseholdListing) -> Self {
        Self {
            id: listing.id.to_string(),
            area: listing.area.to_string(),
            chw: listing.chw.to_string(),
            name: listing.name,
            members: listing.members as u64,
            visits: listing.visits as u64,
        }
    }
}

/// A field edited concurrently on several devices.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Conflict {
    /// The field, as a path from the household: `name`, `visits.<id>.weight_kg`.
    pub path: String,
    /// Every distinct value as JSON, the winner (what the household reads) first.
    pub values_json: Vec<String>,
}

impl From<kafo::Conflict> for Conflict {
    fn from(conflict: kafo::Conflict) -> Self {
        Self {
            path: conflict.path,
            values_json: conflict.values.iter().map(ToString::to_string).collect(),
        }
    }
}

/// This device and its enrolment.
#[derive(Debug, Clone, uniffi::Record)]
pub struct WhoAmI {
    pub device_id: String,
    pub program: Option<String>,
    pub program_name: Option<String>,
    pub enrolment: Option<Enrolment>,
}

impl From<KafoWhoAmI> for WhoAmI {
    fn from(who: KafoWhoAmI) -> Self {
        Self {
            device_id: who.device.to_string(),
            program: who.program.map(|program| program.to_string()),
            program_name: who.program_name,
            enrolment: who.enrolment.as_ref().map(Enrolment::from),
        }
    }
}

/// A device this one knows in its program.
#[derive(Debug, Clone, uniffi::Record)]
pub struct Device {
    pub device_id: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub not_after: u64,
    /// Why it was revoked, `None` while it is not.
    pub revoked_reason: Option<String>,
    pub this_device: bool,
}

impl From<KnownDevice> for Device {
    fn from(device: KnownDevice) -> Self {
        Self {
            device_id: device.device.to_string(),
            role: device.role.to_string(),
            scopes: scopes_text(&device.scopes),
            not_after: device.not_after,
            revoked_reason: device.revoked.map(|revoked| revoked.reason),
            this_device: device.this_device,
        }
    }
}
