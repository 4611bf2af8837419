//! `kafo visit add`.

use std::path::Path;

use kafo::model::{ChwId, HouseholdId, PersonId, Referral, Visit, VisitId, VisitKind};

use crate::cli::VisitAddArgs;
use crate::commands::household::parse_flag;
use crate::failure::Failure;
use crate::output::{print_json, print_text};

pub fn add(data_dir: &Path, json: bool, args: &VisitAddArgs) -> Result<(), Failure> {
    let household: HouseholdId = parse_flag("--household", &args.household)?;
    let node = crate::passphrase::open_node(data_dir)?;
    let chw = match &args.chw {
        Some(chw) => parse_flag::<ChwId>("--chw", chw)?,
        None => match node.household(&household)? {
            Some(view) => view.household.chw,
            None => return Err(Failure::NoSuchHousehold(household.to_string())),
        },
    };
    let id = match &args.id {
        Some(id) => parse_flag::<VisitId>("--id", id)?,
        None => new_visit_id(&household),
    };
    let visit = Visit {
        id,
        person_id: parse_flag::<PersonId>("--person", &args.person)?,
        date: parse_flag("--date", &args.date)?,
        chw,
        kind: parse_kind(&args.kind)?,
        weight_kg: args.weight_kg,
        height_cm: args.height_cm,
        muac_mm: args.muac_mm,
        danger_signs: args.danger_signs.clone(),
        vaccines: args.vaccines.clone(),
        referral: match (&args.refer_to, &args.reason) {
            (Some(to), Some(reason)) => Some(Referral {
                to: to.clone(),
                reason: reason.clone(),
                urgent: args.urgent,
            }),
            _ => None,
        },
        note: args.note.clone(),
    };
    node.add_visit(&household, &visit)?;
    if json {
        #[derive(serde::Serialize)]
        struct Added<'a> {
            household: &'a HouseholdId,
            visit: &'a VisitId,
        }
        return print_json(&Added {
            household: &household,
            visit: &visit.id,
        });
    }
    print_text(&format!(
        "recorded visit {} in household {household}\n",
        visit.id
    ))
}

fn parse_kind(kind: &str) -> Result<VisitKind, Failure> {
    serde_json::from_value(serde_json::Value::String(kind.to_owned())).map_err(|_| {
        Failure::BadValue(format!(
            "--kind: {kind:?} is not one of routine, growth, anc, postnatal, sick-child"
        ))
    })
}

/// A new visit id: `<household>.v-<8 hex>` when it fits in 64 characters, else `v-<32 hex>`.
fn new_visit_id(household: &HouseholdId) -> VisitId {
    let random = uuid::Uuid::new_v4().simple().to_string();
    let short = format!("{household}.v-{}", &random[..8]);
    VisitId::parse(short)
        .or_else(|_| VisitId::parse(format!("v-{random}")))
        .expect("v- and 32 hex digits is a valid id of 34 characters")
}
