//! Shared fixtures: a program with an admin, a supervisor for `sikoro` and a
//! CHW for `sikoro/chw-01`, each with its own device key.
#![allow(dead_code)]

use kafo_model::{AreaId, ChwId, HouseholdScope};
use kafo_trust::{DeviceKey, Enrolment, ProgramKey, Role, Scopes};
use libp2p_identity::ed25519::Keypair;

pub const NOW: u64 = 1_750_000_000;
pub const DAY: u64 = 86_400;

pub fn scopes(list: &[&str]) -> Scopes {
    Scopes::only(list.iter().map(|s| s.parse().expect("valid scope")))
}

pub fn household(area: &str, chw: &str) -> HouseholdScope {
    HouseholdScope {
        area: AreaId::parse(area).expect("valid area"),
        chw: ChwId::parse(chw).expect("valid chw"),
    }
}

pub struct Device {
    pub keypair: Keypair,
    pub key: DeviceKey,
}

impl Device {
    pub fn new() -> Self {
        let keypair = Keypair::generate();
        let key = DeviceKey::from_public(&keypair.public());
        Self { keypair, key }
    }
}

pub struct Fixture {
    pub program: ProgramKey,
    pub admin_device: Device,
    pub admin: Enrolment,
    pub supervisor_device: Device,
    pub supervisor: Enrolment,
    pub chw_device: Device,
    pub chw: Enrolment,
}

impl Fixture {
    pub fn new() -> Self {
        let program = ProgramKey::generate();
        let admin_device = Device::new();
        let admin = program
            .enrol(
                admin_device.key,
                Role::Admin,
                Scopes::All,
                NOW - DAY,
                NOW + 90 * DAY,
            )
            .expect("root enrolment")
            .verify(&program.id(), NOW)
            .expect("admin chain verifies");
        let supervisor_device = Device::new();
        let supervisor = admin
            .enrol(
                &admin_device.keypair,
                supervisor_device.key,
                Role::Supervisor,
                scopes(&["sikoro"]),
                NOW - DAY,
                NOW + 60 * DAY,
            )
            .expect("admin enrols a supervisor")
            .verify(&program.id(), NOW)
            .expect("supervisor chain verifies");
        let chw_device = Device::new();
        let chw = supervisor
            .enrol(
                &supervisor_device.keypair,
                chw_device.key,
                Role::Chw,
                scopes(&["sikoro/chw-01"]),
                NOW - DAY,
                NOW + 30 * DAY,
            )
            .expect("supervisor enrols a chw")
            .verify(&program.id(), NOW)
            .expect("chw chain verifies");
        Self {
            program,
            admin_device,
            admin,
            supervisor_device,
            supervisor,
            chw_device,
            chw,
        }
    }
}
