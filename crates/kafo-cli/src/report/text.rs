//! The terminal report: the lists a supervisor acts on, most urgent first.

use std::fmt::Write as _;

use kafo::health::Report;

use super::{Labels, date_or_dash, z_or_dash};

/// The report as text.
pub fn render(report: &Report, labels: &Labels) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} {} ({} {}, {} {})",
        labels.title,
        labels.as_of,
        report.as_of,
        labels.period,
        report.period,
        labels.schedule,
        report.schedule
    );
    section(
        &mut out,
        labels.danger_signs,
        labels,
        report.danger_signs.iter().map(|row| {
            format!(
                "{}  {} ({} {}, {}/{})  {}",
                row.date,
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                row.signs.join(", ")
            )
        }),
    );
    section(
        &mut out,
        labels.open_referrals,
        labels,
        report.open_referrals.iter().map(|row| {
            format!(
                "{} {}  {} ({} {}, {}/{})  {} → {}: {}",
                row.days_open,
                labels.days_open,
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                row.date,
                row.to,
                row.reason
            )
        }),
    );
    section(
        &mut out,
        labels.malnutrition,
        labels,
        report.malnutrition.iter().map(|row| {
            let severity = if row.severe {
                labels.severe
            } else {
                labels.moderate
            };
            let muac = row
                .muac_mm
                .map_or_else(|| "-".to_owned(), |mm| format!("{mm} mm"));
            let class = row.muac_class.map_or("-", |class| class.as_str());
            format!(
                "{}  {} ({} {}, {}/{})  MUAC {} ({}), WHZ {}  {}",
                severity.to_uppercase(),
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                muac,
                class,
                z_or_dash(row.whz),
                row.date
            )
        }),
    );
    section(
        &mut out,
        labels.overdue_vaccines,
        labels,
        report.overdue_vaccines.iter().map(|row| {
            format!(
                "{:<7} {} {}  {} ({} {}, {}/{})  {} {}",
                row.antigen,
                row.days_overdue,
                labels.days,
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                labels.due,
                row.due_date
            )
        }),
    );
    let needing_action = report
        .pregnancies
        .iter()
        .filter(|row| row.overdue || row.edd_passed_no_postnatal);
    section(
        &mut out,
        labels.pregnancies,
        labels,
        needing_action.map(|row| {
            let mut flags = Vec::new();
            if row.edd_passed_no_postnatal {
                flags.push(labels.no_postnatal);
            }
            if row.overdue {
                flags.push(labels.anc_overdue);
            }
            let weeks = row
                .gestational_weeks
                .map_or_else(|| "-".to_owned(), |weeks| weeks.to_string());
            format!(
                "{}  {} ({} {}, {}/{})  {} {}, {} {}, {} {}, EDD {}",
                flags.join("; "),
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                weeks,
                labels.weeks,
                row.anc_contacts,
                labels.anc_contacts,
                labels.next_anc,
                date_or_dash(row.next_anc_due),
                date_or_dash(row.edd)
            )
        }),
    );
    section(
        &mut out,
        labels.birth_date_unknown,
        labels,
        report.birth_date_unknown.iter().map(|row| {
            format!(
                "{} ({} {}, {}/{})  {}",
                row.subject.name,
                labels.household,
                row.subject.household_id,
                row.subject.area,
                row.subject.chw,
                row.birth_date
            )
        }),
    );
    section(
        &mut out,
        labels.chws,
        labels,
        report.chws.iter().map(|row| {
            format!(
                "{}/{}  {} {}, {} {}, {} {}, {} {}, {} {}, {} {}",
                row.area,
                row.chw,
                row.households,
                labels.households,
                row.visits_in_period,
                labels.visits_in_period,
                row.not_visited_30d,
                labels.not_visited_30d,
                row.not_visited_60d,
                labels.not_visited_60d,
                labels.last_visit,
                date_or_dash(row.last_visit),
                labels.last_sync,
                row.last_sync
                    .map_or_else(|| "-".to_owned(), |at| at.to_string())
            )
        }),
    );
    out
}

fn section(out: &mut String, title: &str, labels: &Labels, rows: impl Iterator<Item = String>) {
    let rows: Vec<String> = rows.collect();
    let _ = writeln!(out, "\n== {title} ({})", rows.len());
    if rows.is_empty() {
        let _ = writeln!(out, "  {}", labels.none);
    }
    for row in rows {
        let _ = writeln!(out, "  {row}");
    }
}
