//! Flat CSV tables for spreadsheets, written with the `csv` crate, one household at a
//! time: `households.csv`, `people.csv`, `visits.csv` (one row per visit),
//! `vaccines.csv` (one row per dose code listed at a visit; a code listed twice at one
//! visit is one row) and `referrals.csv`. Each starts with a UTF-8 BOM (so that Excel
//! reads it as UTF-8) and a header row. Empty cells are absent values; booleans are
//! `true`/`false`; a visit's danger signs are joined with `;`.

use std::collections::BTreeSet;
use std::io::{self, Write};

use jiff::civil::Date;
use kafo_health::referral::is_followed_up;
use kafo_model::Household;
use kafo_model::terms::Term;
use serde::Serialize;

/// The byte-order mark that starts each file.
pub const BOM: &[u8] = "\u{feff}".as_bytes();

/// One of the tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Table {
    /// One row per household.
    Households,
    /// One row per member.
    People,
    /// One row per visit.
    Visits,
    /// One row per dose code listed at a visit.
    Vaccines,
    /// One row per referral.
    Referrals,
}

impl Table {
    /// Every table, in the order they are described.
    pub const ALL: [Table; 5] = [
        Table::Households,
        Table::People,
        Table::Visits,
        Table::Vaccines,
        Table::Referrals,
    ];

    /// Its file name, e.g. `visits.csv`.
    pub fn file_name(&self) -> &'static str {
        match self {
            Self::Households => "households.csv",
            Self::People => "people.csv",
            Self::Visits => "visits.csv",
            Self::Vaccines => "vaccines.csv",
            Self::Referrals => "referrals.csv",
        }
    }

    /// Its header row.
    pub fn columns(&self) -> &'static [&'static str] {
        match self {
            Self::Households => &[
                "household_id",
                "area",
                "chw",
                "name",
                "status",
                "lat",
                "lon",
                "members",
                "visits",
            ],
            Self::People => &[
                "person_id",
                "household_id",
                "area",
                "chw",
                "given_name",
                "family_name",
                "sex",
                "birth_date",
                "birth_date_estimated",
                "relationship",
                "mother_id",
                "phone",
                "pregnancy_lmp",
                "pregnancy_edd",
            ],
            Self::Visits => &[
                "visit_id",
                "household_id",
                "person_id",
                "area",
                "chw",
                "date",
                "kind",
                "weight_kg",
                "height_cm",
                "muac_mm",
                "danger_signs",
                "vaccines",
                "referral_to",
                "referral_reason",
                "referral_urgent",
                "note",
            ],
            Self::Vaccines => &[
                "visit_id",
                "household_id",
                "person_id",
                "area",
                "chw",
                "date",
                "code",
            ],
            Self::Referrals => &[
                "visit_id",
                "household_id",
                "person_id",
                "area",
                "chw",
                "date",
                "to",
                "reason",
                "urgent",
                "followed_up",
            ],
        }
    }
}

/// How many rows each table holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    /// Rows of `households.csv`.
    pub households: u64,
    /// Rows of `people.csv`.
    pub people: u64,
    /// Rows of `visits.csv`.
    pub visits: u64,
    /// Rows of `vaccines.csv`.
    pub vaccines: u64,
    /// Rows of `referrals.csv`.
    pub referrals: u64,
}

/// Writes the five tables, household by household.
#[derive(Debug)]
pub struct TablesWriter<W: Write> {
    households: csv::Writer<W>,
    people: csv::Writer<W>,
    visits: csv::Writer<W>,
    vaccines: csv::Writer<W>,
    referrals: csv::Writer<W>,
    counts: TableCounts,
}

impl<W: Write> TablesWriter<W> {
    /// Starts the tables in the outputs `open` gives for each: BOM, then header row.
    pub fn new(mut open: impl FnMut(Table) -> io::Result<W>) -> io::Result<Self> {
        let mut start = |table: Table| -> io::Result<csv::Writer<W>> {
            let mut out = open(table)?;
            out.write_all(BOM)?;
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(table.columns())?;
            Ok(writer)
        };
        Ok(Self {
            households: start(Table::Households)?,
            people: start(Table::People)?,
            visits: start(Table::Visits)?,
            vaccines: start(Table::Vaccines)?,
            referrals: start(Table::Referrals)?,
            counts: TableCounts::default(),
        })
    }

    /// Adds `household`'s rows to every table.
    pub fn add(&mut self, household: &Household) -> io::Result<()> {
        let id = household.id.as_str();
        let area = household.area.as_str();
        let (lat, lon) = household
            .location
            .map_or((String::new(), String::new()), |at| {
                (at.lat.to_string(), at.lon.to_string())
            });
        self.households.write_record([
            id,
            area,
            household.chw.as_str(),
            &household.name,
            household.status.name(),
            &lat,
            &lon,
            &household.members.len().to_string(),
            &household.visits.len().to_string(),
        ])?;
        self.counts.households += 1;
        for person in &household.members {
            self.people.write_record([
                person.id.as_str(),
                id,
                area,
                household.chw.as_str(),
                &person.given_name,
                &person.family_name,
                person.sex.name(),
                &person.birth_date.to_string(),
                flag(person.birth_date_estimated),
                person.relationship.name(),
                person
                    .mother_id
                    .as_ref()
                    .map_or("", |mother| mother.as_str()),
                person.phone.as_deref().unwrap_or(""),
                &date_cell(person.pregnancy.and_then(|pregnancy| pregnancy.lmp)),
                &date_cell(person.pregnancy.and_then(|pregnancy| pregnancy.edd)),
            ])?;
            self.counts.people += 1;
        }
        for visit in &household.visits {
            let date = visit.date.to_string();
            let codes: BTreeSet<&str> = visit.vaccines.iter().map(String::as_str).collect();
            let referral = visit.referral.as_ref();
            let common = [
                visit.id.as_str(),
                id,
                visit.person_id.as_str(),
                area,
                visit.chw.as_str(),
                &date,
            ];
            let mut row: Vec<String> = common.iter().map(|cell| (*cell).to_owned()).collect();
            row.extend([
                visit.kind.name().to_owned(),
                visit.weight_kg.map(|kg| kg.to_string()).unwrap_or_default(),
                visit.height_cm.map(|cm| cm.to_string()).unwrap_or_default(),
                visit.muac_mm.map(|mm| mm.to_string()).unwrap_or_default(),
                visit.danger_signs.join(";"),
                visit.vaccines.join(";"),
                referral
                    .map(|referral| referral.to.clone())
                    .unwrap_or_default(),
                referral
                    .map(|referral| referral.reason.clone())
                    .unwrap_or_default(),
                referral
                    .map(|referral| flag(referral.urgent).to_owned())
                    .unwrap_or_default(),
                visit.note.clone().unwrap_or_default(),
            ]);
            self.visits.write_record(&row)?;
            self.counts.visits += 1;
            for code in codes {
                self.vaccines
                    .write_record(common.iter().copied().chain([code]))?;
                self.counts.vaccines += 1;
            }
            if let Some(referral) = referral {
                let followed_up = is_followed_up(visit, &household.visits, Date::MAX);
                self.referrals.write_record(common.iter().copied().chain([
                    referral.to.as_str(),
                    &referral.reason,
                    flag(referral.urgent),
                    flag(followed_up),
                ]))?;
                self.counts.referrals += 1;
            }
        }
        Ok(())
    }

    /// Ends the tables: every output flushed and handed back, and the row counts.
    pub fn finish(self) -> io::Result<(Vec<(Table, W)>, TableCounts)> {
        let mut outputs = Vec::new();
        for (table, writer) in Table::ALL.into_iter().zip([
            self.households,
            self.people,
            self.visits,
            self.vaccines,
            self.referrals,
        ]) {
            let mut out = writer.into_inner().map_err(|error| error.into_error())?;
            out.flush()?;
            outputs.push((table, out));
        }
        Ok((outputs, self.counts))
    }
}

fn flag(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

fn date_cell(date: Option<Date>) -> String {
    date.map(|date| date.to_string()).unwrap_or_default()
}
