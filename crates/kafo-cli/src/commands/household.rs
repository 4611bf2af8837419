//! `kafo household list`, `show` and `settle`.

use std::fmt::Write as _;
use std::path::Path;

use kafo::model::{AreaId, ChwId, HouseholdId};

use crate::failure::Failure;
use crate::output::{print_json, print_text};

pub fn list(
    data_dir: &Path,
    json: bool,
    area: Option<&str>,
    chw: Option<&str>,
) -> Result<(), Failure> {
    let area = area
        .map(|a| parse_flag::<AreaId>("--area", a))
        .transpose()?;
    let chw = chw.map(|c| parse_flag::<ChwId>("--chw", c)).transpose()?;
    let node = crate::passphrase::open_node(data_dir)?;
    let households = node.households(area.as_ref(), chw.as_ref())?;
    if json {
        #[derive(serde::Serialize)]
        struct List<'a> {
            households: &'a [kafo::HouseholdListing],
        }
        return print_json(&List {
            households: &households,
        });
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<28} {:<12} {:<8} {:>7} {:>6}  name",
        "id", "area", "chw", "members", "visits"
    );
    for h in &households {
        let _ = writeln!(
            out,
            "{:<28} {:<12} {:<8} {:>7} {:>6}  {}",
            h.id, h.area, h.chw, h.members, h.visits, h.name
        );
    }
    let _ = writeln!(out, "{} households", households.len());
    print_text(&out)
}

/// Signs a settlement of a household held back here.
pub fn settle(data_dir: &Path, json: bool, id: &str) -> Result<(), Failure> {
    let id = parse_flag::<HouseholdId>("ID", id)?;
    let node = crate::passphrase::open_node(data_dir)?;
    let settlement = node.settle_household(&id)?;
    if json {
        #[derive(serde::Serialize)]
        struct Settled<'a> {
            settled: &'a HouseholdId,
            changes: usize,
        }
        return print_json(&Settled {
            settled: &id,
            changes: settlement.changes.len(),
        });
    }
    print_text(&format!(
        "settled {id}: {} change(s) of a revoked device accepted; the household is taken at the next sync with a device that holds it\n",
        settlement.changes.len()
    ))
}

pub fn show(data_dir: &Path, json: bool, id: &str) -> Result<(), Failure> {
    let id = parse_flag::<HouseholdId>("ID", id)?;
    let node = crate::passphrase::open_node(data_dir)?;
    let Some(view) = node.household(&id)? else {
        return Err(Failure::NoSuchHousehold(id.to_string()));
    };
    if json {
        return print_json(&view);
    }
    let h = &view.household;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "household {}  ({}/{})  {}",
        h.id, h.area, h.chw, h.name
    );
    if let Some(location) = h.location {
        let _ = writeln!(out, "location  {}, {}", location.lat, location.lon);
    }
    let _ = writeln!(out, "status    {}", json_name(&h.status));
    let _ = writeln!(out, "\nmembers ({})", h.members.len());
    for p in &h.members {
        let _ = writeln!(
            out,
            "  {:<28} {:<24} {:<7} born {}{} {}{}",
            p.id,
            format!("{} {}", p.given_name, p.family_name),
            json_name(&p.sex),
            p.birth_date,
            if p.birth_date_estimated {
                " (est.)"
            } else {
                ""
            },
            json_name(&p.relationship),
            if p.pregnancy.is_some() {
                ", pregnant"
            } else {
                ""
            },
        );
    }
    let mut visits: Vec<_> = h.visits.iter().collect();
    visits.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    let _ = writeln!(out, "\nvisits ({})", visits.len());
    for v in visits {
        let mut line = format!(
            "  {} {:<30} {:<10} {}",
            v.date,
            v.id,
            json_name(&v.kind),
            v.person_id
        );
        if let Some(w) = v.weight_kg {
            let _ = write!(line, "  {w} kg");
        }
        if let Some(hc) = v.height_cm {
            let _ = write!(line, "  {hc} cm");
        }
        if let Some(m) = v.muac_mm {
            let _ = write!(line, "  MUAC {m} mm");
        }
        if !v.vaccines.is_empty() {
            let _ = write!(line, "  vaccines {}", v.vaccines.join(","));
        }
        if !v.danger_signs.is_empty() {
            let _ = write!(line, "  DANGER {}", v.danger_signs.join(","));
        }
        if let Some(r) = &v.referral {
            let _ = write!(
                line,
                "  -> {}{}",
                r.to,
                if r.urgent { " (urgent)" } else { "" }
            );
        }
        let _ = writeln!(out, "{line}");
    }
    if !view.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "\nconflicting edits ({}), winner first",
            view.conflicts.len()
        );
        for c in &view.conflicts {
            let values: Vec<String> = c.values.iter().map(ToString::to_string).collect();
            let _ = writeln!(out, "  {}: {}", c.path, values.join(" | "));
        }
    }
    print_text(&out)
}

/// The format v1 spelling of an enum value (`"female"`, `"head"`, `"active"`).
fn json_name(value: &impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// Parses a flag value, naming the flag when it is bad (exit 65).
pub fn parse_flag<T>(flag: &str, value: &str) -> Result<T, Failure>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|error| Failure::BadValue(format!("{flag}: {error}")))
}
