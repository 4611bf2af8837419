//! `--html FILE`: the report as one self-contained page that opens offline: inline CSS,
//! no script, charts as inline SVG drawn with plotters' SVG backend.

use std::fmt::Write as _;
use std::path::Path;

use kafo::health::Report;

use super::charts;
use super::{Labels, date_or_dash, z_or_dash};
use crate::failure::Failure;

/// The most malnourished children given a weight-for-age chart each (most urgent first).
pub const MAX_WEIGHT_CHARTS: usize = 40;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .5em;text-align:left}\
th{background:#f3f3f3}.severe{color:#b00020;font-weight:bold}figure{margin:1em 0}\
figcaption{font-weight:bold;margin-bottom:.3em}.charts{display:flex;flex-wrap:wrap;gap:1em}";

/// Writes the page to `path` (beside it first, then renamed).
pub fn write_file(path: &Path, report: &Report, labels: &Labels) -> Result<(), Failure> {
    let page = render(report, labels)?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, page)
        .and_then(|()| std::fs::rename(&partial, path))
        .map_err(|source| Failure::WriteFile {
            path: path.to_path_buf(),
            source,
        })
}

/// The page.
pub fn render(report: &Report, labels: &Labels) -> Result<String, Failure> {
    let mut page = String::new();
    let title = format!("{} {} {}", labels.title, labels.as_of, report.as_of);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<p>{} {} · {} {}</p>\n",
        if labels.title.starts_with("Rapport") {
            "fr"
        } else {
            "en"
        },
        escape(&title),
        escape(&title),
        labels.period,
        report.period,
        labels.schedule,
        escape(&report.schedule),
    );
    let _ = write!(
        page,
        "<h2>{}</h2>\n<figure id=\"chart-visits\">{}</figure>\n",
        labels.chart_visits,
        charts::visits_per_week(report, labels)?
    );
    let _ = write!(
        page,
        "<h2>{}</h2>\n<figure id=\"chart-coverage\">{}</figure>\n",
        labels.chart_coverage,
        charts::coverage(report, labels)?
    );
    let _ = write!(
        page,
        "<h2>{}</h2>\n<div class=\"charts\" id=\"chart-weights\">\n",
        labels.chart_weight
    );
    for history in report
        .charts
        .weight_histories
        .iter()
        .take(MAX_WEIGHT_CHARTS)
    {
        let _ = writeln!(
            page,
            "<figure class=\"weight-chart\"><figcaption>{} ({})</figcaption>{}</figure>",
            escape(&history.name),
            escape(history.person_id.as_str()),
            charts::weight_for_age(history, labels)?
        );
    }
    let more = report
        .charts
        .weight_histories
        .len()
        .saturating_sub(MAX_WEIGHT_CHARTS);
    if more > 0 {
        let _ = writeln!(page, "<p>+{more} {}</p>", labels.more_children);
    }
    page.push_str("</div>\n");

    let subject = |row: &kafo::health::Subject| {
        vec![
            row.name.clone(),
            row.household_id.to_string(),
            format!("{}/{}", row.area, row.chw),
        ]
    };
    let who = ["nom / name", labels.household, "aire/ASC · area/CHW"];
    table(
        &mut page,
        labels.danger_signs,
        labels,
        &[&who[..], &["date", "signes / signs"]].concat(),
        report.danger_signs.iter().map(|row| {
            [
                subject(&row.subject),
                vec![row.date.to_string(), row.signs.join(", ")],
            ]
            .concat()
        }),
    );
    table(
        &mut page,
        labels.open_referrals,
        labels,
        &[&who[..], &["date", "→", "motif / reason", labels.days_open]].concat(),
        report.open_referrals.iter().map(|row| {
            [
                subject(&row.subject),
                vec![
                    row.date.to_string(),
                    row.to.clone(),
                    row.reason.clone(),
                    row.days_open.to_string(),
                ],
            ]
            .concat()
        }),
    );
    table(
        &mut page,
        labels.malnutrition,
        labels,
        &[
            &who[..],
            &["date", "MUAC (mm)", "MUAC", "WHZ", labels.severe],
        ]
        .concat(),
        report.malnutrition.iter().map(|row| {
            [
                subject(&row.subject),
                vec![
                    row.date.to_string(),
                    row.muac_mm
                        .map_or_else(|| "-".to_owned(), |mm| mm.to_string()),
                    row.muac_class
                        .map_or("-", |class| class.as_str())
                        .to_owned(),
                    z_or_dash(row.whz),
                    if row.severe {
                        labels.severe.to_owned()
                    } else {
                        labels.moderate.to_owned()
                    },
                ],
            ]
            .concat()
        }),
    );
    table(
        &mut page,
        labels.overdue_vaccines,
        labels,
        &[&who[..], &["antigène / antigen", labels.due, labels.days]].concat(),
        report.overdue_vaccines.iter().map(|row| {
            [
                subject(&row.subject),
                vec![
                    row.antigen.clone(),
                    row.due_date.to_string(),
                    row.days_overdue.to_string(),
                ],
            ]
            .concat()
        }),
    );
    table(
        &mut page,
        labels.pregnancies,
        labels,
        &[
            &who[..],
            &[
                labels.weeks,
                "EDD",
                labels.anc_contacts,
                labels.next_anc,
                labels.anc_overdue,
                labels.no_postnatal,
            ],
        ]
        .concat(),
        report.pregnancies.iter().map(|row| {
            [
                subject(&row.subject),
                vec![
                    row.gestational_weeks
                        .map_or_else(|| "-".to_owned(), |weeks| weeks.to_string()),
                    date_or_dash(row.edd),
                    row.anc_contacts.to_string(),
                    date_or_dash(row.next_anc_due),
                    yes(row.overdue),
                    yes(row.edd_passed_no_postnatal),
                ],
            ]
            .concat()
        }),
    );
    table(
        &mut page,
        labels.birth_date_unknown,
        labels,
        &[&who[..], &["date"]].concat(),
        report
            .birth_date_unknown
            .iter()
            .map(|row| [subject(&row.subject), vec![row.birth_date.to_string()]].concat()),
    );
    table(
        &mut page,
        labels.chws,
        labels,
        &[
            "aire/ASC · area/CHW",
            labels.households,
            labels.visits_in_period,
            labels.not_visited_30d,
            labels.not_visited_60d,
            labels.last_visit,
            labels.last_sync,
        ],
        report.chws.iter().map(|row| {
            vec![
                format!("{}/{}", row.area, row.chw),
                row.households.to_string(),
                row.visits_in_period.to_string(),
                row.not_visited_30d.to_string(),
                row.not_visited_60d.to_string(),
                date_or_dash(row.last_visit),
                row.last_sync
                    .map_or_else(|| "-".to_owned(), |at| at.to_string()),
            ]
        }),
    );
    table(
        &mut page,
        labels.growth,
        labels,
        &[
            &who[..],
            &["date", "age (j/d)", "kg", "cm", "MUAC", "WAZ", "HAZ", "WHZ"],
        ]
        .concat(),
        report.growth.iter().map(|row| {
            [
                subject(&row.subject),
                vec![
                    row.date.to_string(),
                    row.age_days.to_string(),
                    row.weight_kg
                        .map_or_else(|| "-".to_owned(), |kg| kg.to_string()),
                    row.height_cm
                        .map_or_else(|| "-".to_owned(), |cm| cm.to_string()),
                    row.muac_mm
                        .map_or_else(|| "-".to_owned(), |mm| mm.to_string()),
                    z_or_dash(row.waz),
                    z_or_dash(row.haz),
                    z_or_dash(row.whz),
                ],
            ]
            .concat()
        }),
    );
    page.push_str("</body></html>\n");
    Ok(page)
}

fn yes(flag: bool) -> String {
    if flag {
        "✔".to_owned()
    } else {
        String::new()
    }
}

fn table(
    page: &mut String,
    title: &str,
    labels: &Labels,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let rows: Vec<Vec<String>> = rows.collect();
    let _ = writeln!(page, "<h2>{} ({})</h2>", escape(title), rows.len());
    if rows.is_empty() {
        let _ = writeln!(page, "<p>{}</p>", labels.none);
        return;
    }
    page.push_str("<table><thead><tr>");
    for cell in header {
        let _ = write!(page, "<th>{}</th>", escape(cell));
    }
    page.push_str("</tr></thead><tbody>\n");
    for row in rows {
        page.push_str("<tr>");
        for cell in row {
            let _ = write!(page, "<td>{}</td>", escape(&cell));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</tbody></table>\n");
}

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
