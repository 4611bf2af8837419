//! The world at the start of a run: the devices, the households each one holds, and
//! the visits CHWs will record, when.
//!
//! The caseload comes from `kafo-gen`: each household as the generator writes it,
//! without its visits, is the initial state, held in sync by every device whose scope
//! covers it. The generator's visits for the period (at its rate of 2,500 per CHW per
//! year, about 10 per working day) are recorded during the run on the phone of the
//! household's CHW, at a random moment of the field time of their day (a relief
//! colleague's visit too: it is written on the household's phone).

use std::collections::BTreeMap;

use automerge::transaction::CommitOptions;
use automerge::{ActorId, AutoCommit};
use kafo_gen::{ConfigError, GeneratorConfig, generate};
use kafo_model::document::{self, DocumentError};
use kafo_model::record::Visit;
use kafo_model::{AreaId, HouseholdId, Scope};
use kafo_proto::wire::DeviceId;
use kafo_proto::{Limits, Reveal, SessionConfig};
use rand::Rng;

use crate::plan::CalendarPlan;
use crate::scenario::{Program, Scenario};
use crate::storage::{SeedError, SimStorage, caseload_key};
use crate::time::SimTime;

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// A CHW's phone: her caseload.
    Chw,
    /// A supervisor's laptop: her area.
    Supervisor,
    /// A relay phone: an area, carried between devices that never meet.
    Relay,
    /// The district laptop: every area.
    District,
}

impl Role {
    /// Its name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Chw => "chw",
            Self::Supervisor => "supervisor",
            Self::Relay => "relay",
            Self::District => "district",
        }
    }
}

/// A simulated device.
#[derive(Debug)]
pub struct Device {
    /// Its name (`sikoro/chw-01`, `sikoro/supervisor`, `relay-1`, `district`).
    pub name: String,
    /// What it is.
    pub role: Role,
    /// Its area, if it has one.
    pub area: Option<usize>,
    /// What it offers and accepts.
    pub scopes: Vec<Scope>,
    /// Its session configuration.
    pub config: SessionConfig,
    /// Sessions it runs at once.
    pub max_sessions: usize,
    /// Whether it walks its area's field on working days (a relay that does).
    pub walks_field: bool,
    /// Its store.
    pub storage: SimStorage,
}

/// A household of the program.
#[derive(Debug, Clone)]
pub struct Household {
    /// Its id.
    pub id: HouseholdId,
    /// Its area (0-based).
    pub area: usize,
    /// The device of its CHW.
    pub owner: usize,
}

/// A visit to be recorded.
#[derive(Debug, Clone)]
pub struct PlannedVisit {
    /// Index of the household.
    pub household: usize,
    /// The record.
    pub visit: Visit,
    /// When it is recorded.
    pub at: SimTime,
}

/// One health area's devices.
#[derive(Debug, Clone)]
pub struct Area {
    /// Its id.
    pub id: AreaId,
    /// The supervisor's laptop.
    pub supervisor: usize,
    /// The CHWs' phones.
    pub chws: Vec<usize>,
    /// Its relays.
    pub relays: Vec<usize>,
    /// Households in it.
    pub households: u64,
}

/// The world at the start of a run.
#[derive(Debug)]
pub struct World {
    /// Every device.
    pub devices: Vec<Device>,
    /// Every household.
    pub households: Vec<Household>,
    /// Household index by id.
    pub household_index: BTreeMap<HouseholdId, usize>,
    /// The visits to record, by time.
    pub visits: Vec<PlannedVisit>,
    /// Visit index by visit id.
    pub visit_index: BTreeMap<String, usize>,
    /// The areas.
    pub areas: Vec<Area>,
    /// The district laptop.
    pub district: Option<usize>,
}

/// Why the world could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildWorldError {
    /// The generator refuses the program.
    #[error("the generator refuses the program: {0}")]
    Generator(#[from] ConfigError),
    /// A generated household could not become a document.
    #[error("a generated household could not become a document: {0}")]
    Document(#[from] DocumentError),
    /// A generated document did not load back from its saved form.
    #[error("a generated document did not load back: {0}")]
    Load(automerge::AutomergeError),
    /// A document could not be stored on a device.
    #[error("an initial document could not be stored: {0}")]
    Seed(#[from] SeedError),
    /// A device name is too long to be a device id.
    #[error("device name {name:?} is too long for a device id")]
    DeviceName {
        /// The name.
        name: String,
    },
    /// A generated household belongs to no CHW of the program.
    #[error("household {household} belongs to no chw of the program")]
    Orphan {
        /// The household.
        household: HouseholdId,
    },
}

impl World {
    /// Builds the devices, their initial documents and the visit plan.
    pub fn build(
        scenario: &Scenario,
        program: &Program,
        plan: &CalendarPlan,
        seed: u64,
        rng: &mut impl Rng,
    ) -> Result<Self, BuildWorldError> {
        let per_week = scenario.calendar.working_days.len() as f64;
        let per_working_day = f64::from(program.visits_per_chw_per_year) / (per_week * 52.18);
        let generator = GeneratorConfig {
            seed,
            areas: GeneratorConfig::bamako_areas(program.areas as usize),
            chws: program.areas * program.chws_per_area,
            households_per_chw: program.households_per_chw,
            visits_per_chw: (per_working_day * f64::from(plan.working_days())).round() as u32,
            start: plan.start,
            days: plan.days,
        };
        generator.check()?;
        let mut builder = Builder::default();
        let scopes = generator.scopes();
        for (area_index, area) in generator.areas.iter().enumerate() {
            let supervisor = builder.device(
                format!("{area}/supervisor"),
                Role::Supervisor,
                Some(area_index),
                vec![Scope::area(area.clone())],
                scenario.devices.supervisor_sessions,
            )?;
            let mut chws = Vec::new();
            for scope in scopes.iter().filter(|scope| scope.area == *area) {
                let chw = builder.device(
                    scope.to_string(),
                    Role::Chw,
                    Some(area_index),
                    vec![Scope::chw(scope.area.clone(), scope.chw.clone())],
                    scenario.devices.chw_sessions,
                )?;
                builder.owners.insert(caseload_key(scope), chw);
                chws.push(chw);
            }
            let mut relays = Vec::new();
            for relay in &scenario.devices.relays {
                if relay.area as usize != area_index + 1 {
                    continue;
                }
                let index = builder.device(
                    relay.name.clone(),
                    Role::Relay,
                    Some(area_index),
                    vec![Scope::area(area.clone())],
                    scenario.devices.relay_sessions,
                )?;
                builder.devices[index].walks_field = relay.in_field;
                relays.push(index);
            }
            builder.areas.push(Area {
                id: area.clone(),
                supervisor,
                chws,
                relays,
                households: 0,
            });
        }
        let district = if scenario.devices.district_laptop {
            let all = generator.areas.iter().cloned().map(Scope::area).collect();
            Some(builder.device(
                "district".to_string(),
                Role::District,
                None,
                all,
                scenario.devices.district_sessions,
            )?)
        } else {
            None
        };
        builder.district = district;
        builder.populate(&generator, plan, rng)
    }
}

#[derive(Debug, Default)]
struct Builder {
    devices: Vec<Device>,
    areas: Vec<Area>,
    owners: BTreeMap<String, usize>,
    district: Option<usize>,
}

impl Builder {
    fn device(
        &mut self,
        name: String,
        role: Role,
        area: Option<usize>,
        scopes: Vec<Scope>,
        max_sessions: usize,
    ) -> Result<usize, BuildWorldError> {
        let index = self.devices.len();
        let device = DeviceId::new(name.as_bytes().to_vec())
            .ok_or_else(|| BuildWorldError::DeviceName { name: name.clone() })?;
        let config = SessionConfig {
            device,
            offers: scopes.clone(),
            accepts: scopes.clone(),
            credentials: Vec::new(),
            reveal: Reveal::default(),
            limits: Limits::default(),
        };
        let track = matches!(role, Role::Supervisor);
        self.devices.push(Device {
            name,
            role,
            area,
            scopes,
            config,
            max_sessions,
            walks_field: matches!(role, Role::Chw),
            storage: SimStorage::new(actor(index), track),
        });
        Ok(index)
    }

    /// Generates the caseload: each household's document goes to every device whose
    /// scope covers it; its visits go to the plan.
    fn populate(
        mut self,
        generator: &GeneratorConfig,
        plan: &CalendarPlan,
        rng: &mut impl Rng,
    ) -> Result<World, BuildWorldError> {
        let mut households = Vec::new();
        let mut household_index = BTreeMap::new();
        let mut visits = Vec::new();
        let created = plan.unix_seconds(SimTime::ZERO) - 86_400;
        for mut record in generate(generator) {
            let Some(&owner) = self.owners.get(&caseload_key(&record.scope())) else {
                return Err(BuildWorldError::Orphan {
                    household: record.id,
                });
            };
            let area = self.devices[owner].area.unwrap_or_default();
            let planned = std::mem::take(&mut record.visits);
            let mut doc = AutoCommit::new().with_actor(actor(owner));
            document::apply_household(&mut doc, &record)?;
            doc.commit_with(CommitOptions::default().with_time(created));
            let saved = doc.save();
            let area_devices = &self.areas[area];
            let holders = [Some(owner), Some(area_devices.supervisor), self.district]
                .into_iter()
                .flatten()
                .chain(area_devices.relays.iter().copied())
                .collect::<Vec<_>>();
            // Loaded once from its saved form (compact in memory), then copied.
            let loaded = AutoCommit::load(&saved).map_err(BuildWorldError::Load)?;
            for holder in holders {
                self.devices[holder]
                    .storage
                    .seed(loaded.clone(), saved.len() as u64)?;
            }
            self.areas[area].households += 1;
            let index = households.len();
            household_index.insert(record.id.clone(), index);
            households.push(Household {
                id: record.id,
                area,
                owner,
            });
            for visit in planned {
                let offset = visit.date.duration_since(plan.start).as_secs() / 86_400;
                let day = u32::try_from(offset.max(0)).unwrap_or(u32::MAX);
                let fraction: f64 = rng.random();
                let at = plan
                    .field_day(area, day)
                    .and_then(|day| plan.field_instant(area, day, fraction));
                if let Some(at) = at {
                    visits.push(PlannedVisit {
                        household: index,
                        visit,
                        at,
                    });
                }
            }
        }
        visits.sort_by(|a, b| (a.at, a.visit.id.as_str()).cmp(&(b.at, b.visit.id.as_str())));
        let visit_index = visits
            .iter()
            .enumerate()
            .map(|(index, planned)| (planned.visit.id.as_str().to_string(), index))
            .collect();
        Ok(World {
            devices: self.devices,
            households,
            household_index,
            visits,
            visit_index,
            areas: self.areas,
            district: self.district,
        })
    }
}

/// The automerge actor of device `index`: fixed, so runs reproduce.
pub fn actor(index: usize) -> ActorId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(b"kafosim!");
    bytes[8..].copy_from_slice(&(index as u64).to_be_bytes());
    ActorId::from(bytes)
}
