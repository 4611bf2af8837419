//! WHO's LMS tables, parsed once from the files vendored in `data/who/` (see its
//! README for their origin, licence and checksums).

use std::sync::OnceLock;

use kafo_model::Sex;
use serde::Deserialize;

const WFA: &str = include_str!("../../data/who/day_wfa.json");
const LHFA: &str = include_str!("../../data/who/day_lhfa.json");
const WFL: &str = include_str!("../../data/who/day_wfl.json");
const WFH: &str = include_str!("../../data/who/day_wfh.json");

/// The Box-Cox power (L), median (M) and coefficient of variation (S) at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lms {
    /// Box-Cox power.
    pub l: f64,
    /// Median.
    pub m: f64,
    /// Coefficient of variation.
    pub s: f64,
}

/// One sex's table: a row per step of its index, from `first` on.
#[derive(Debug)]
pub struct Table {
    /// The index of the first row, in steps (days, or tenths of a centimetre).
    first: i64,
    rows: Vec<Lms>,
}

impl Table {
    /// The row at `step` (days, or tenths of a centimetre), if the table covers it.
    pub fn at(&self, step: i64) -> Option<Lms> {
        let offset = usize::try_from(step.checked_sub(self.first)?).ok()?;
        self.rows.get(offset).copied()
    }

    /// The first and last steps the table covers.
    pub fn range(&self) -> (i64, i64) {
        (self.first, self.first + self.rows.len() as i64 - 1)
    }
}

/// A table for each sex.
#[derive(Debug)]
pub struct SexTables {
    male: Table,
    female: Table,
}

impl SexTables {
    /// The table of `sex`.
    pub fn of(&self, sex: Sex) -> &Table {
        match sex {
            Sex::Male => &self.male,
            Sex::Female => &self.female,
        }
    }
}

/// The four tables the report uses.
#[derive(Debug)]
pub struct Tables {
    /// Weight-for-age, by day of age.
    pub wfa: SexTables,
    /// Length/height-for-age, by day of age.
    pub lhfa: SexTables,
    /// Weight-for-length, by tenth of a centimetre.
    pub wfl: SexTables,
    /// Weight-for-height, by tenth of a centimetre.
    pub wfh: SexTables,
}

/// The tables, parsed on first use.
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| {
        // The files are vendored, checksummed (tests/who_tables.rs) and parsed by the
        // tests, so a failure here is a broken build, not bad input.
        let parse = |name: &str, text: &str, scale: f64| {
            parse_file(text, scale).unwrap_or_else(|error| panic!("WHO table {name}: {error}"))
        };
        Tables {
            wfa: parse("day_wfa.json", WFA, 1.0),
            lhfa: parse("day_lhfa.json", LHFA, 1.0),
            wfl: parse("day_wfl.json", WFL, 10.0),
            wfh: parse("day_wfh.json", WFH, 10.0),
        }
    })
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "M")]
    male: RawColumns,
    #[serde(rename = "F")]
    female: RawColumns,
}

#[derive(Deserialize)]
struct RawColumns {
    i: Vec<f64>,
    l: Vec<f64>,
    m: Vec<f64>,
    s: Vec<f64>,
}

fn parse_file(text: &str, scale: f64) -> Result<SexTables, String> {
    let raw: RawFile = serde_json::from_str(text).map_err(|error| error.to_string())?;
    Ok(SexTables {
        male: to_table(raw.male, scale)?,
        female: to_table(raw.female, scale)?,
    })
}

/// Turns columns into rows, checking that the index has no gap.
fn to_table(columns: RawColumns, scale: f64) -> Result<Table, String> {
    let len = columns.i.len();
    if len == 0 || [columns.l.len(), columns.m.len(), columns.s.len()] != [len, len, len] {
        return Err("columns of different lengths".to_owned());
    }
    let step = |index: f64| (index * scale).round() as i64;
    let first = step(columns.i[0]);
    let mut rows = Vec::with_capacity(len);
    for (row, index) in columns.i.iter().enumerate() {
        if step(*index) != first + row as i64 {
            return Err(format!("index {index} breaks the sequence"));
        }
        rows.push(Lms {
            l: columns.l[row],
            m: columns.m[row],
            s: columns.s[row],
        });
    }
    Ok(Table { first, rows })
}
