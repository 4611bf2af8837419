//! The HTML report's charts, as SVG text from plotters' SVG backend (no fonts needed).

use kafo::health::growth::weight_for_age_curve;
use kafo::health::{Report, WeightHistory};
use plotters::prelude::*;

use super::Labels;
use crate::failure::Failure;

const WIDE: (u32, u32) = (900, 360);
const SMALL: (u32, u32) = (420, 300);
/// Days in a month, WHO's convention (365.25 / 12).
const DAYS_PER_MONTH: f64 = 30.4375;

fn failed<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> Failure {
    move |error| Failure::Chart {
        chart,
        message: error.to_string(),
    }
}

/// Visits in the period per CHW, one line per CHW over the weeks of the period.
pub fn visits_per_week(report: &Report, labels: &Labels) -> Result<String, Failure> {
    const NAME: &str = "visits per week";
    let weeks: Vec<jiff::civil::Date> = report
        .charts
        .visits_per_week
        .values()
        .flat_map(|weeks| weeks.keys().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let top = report
        .charts
        .visits_per_week
        .values()
        .flat_map(|weeks| weeks.values().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(failed(NAME))?;
        let last = weeks.len().max(1) as f64 - 1.0;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(-0.5f64..last + 0.5, 0f64..top as f64 * 1.15)
            .map_err(failed(NAME))?;
        chart
            .configure_mesh()
            .x_labels(weeks.len().max(1))
            .x_label_formatter(&|x| {
                let index = x.round();
                if index < 0.0 {
                    return String::new();
                }
                weeks
                    .get(index as usize)
                    .map(|week| week.to_string())
                    .unwrap_or_default()
            })
            .x_desc(labels.week)
            .y_desc(labels.visits)
            .draw()
            .map_err(failed(NAME))?;
        for (index, (_, per_week)) in report.charts.visits_per_week.iter().enumerate() {
            let color = Palette99::pick(index).to_rgba();
            let points: Vec<(f64, f64)> = weeks
                .iter()
                .enumerate()
                .map(|(x, week)| (x as f64, per_week.get(week).copied().unwrap_or(0) as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(failed(NAME))?;
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|point| Circle::new(point, 3, color.filled())),
                )
                .map_err(failed(NAME))?;
        }
        root.present().map_err(failed(NAME))?;
    }
    Ok(svg)
}

/// Coverage of each dose among the children it is due for, as bars (percent).
pub fn coverage(report: &Report, labels: &Labels) -> Result<String, Failure> {
    const NAME: &str = "EPI coverage";
    let rows = &report.epi_coverage;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, WIDE).into_drawing_area();
        root.fill(&WHITE).map_err(failed(NAME))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..rows.len().max(1) as f64, 0f64..100f64)
            .map_err(failed(NAME))?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(rows.len().max(1) * 2)
            .x_label_formatter(&|x| {
                let index = x.floor();
                let centred = (x - index - 0.5).abs() < 0.26;
                match rows.get(index as usize) {
                    Some(row) if centred && index >= 0.0 => row.antigen.clone(),
                    _ => String::new(),
                }
            })
            .y_desc(labels.coverage_percent)
            .draw()
            .map_err(failed(NAME))?;
        chart
            .draw_series(rows.iter().enumerate().map(|(index, row)| {
                let percent = if row.due == 0 {
                    0.0
                } else {
                    100.0 * row.given as f64 / row.due as f64
                };
                let x = index as f64;
                Rectangle::new(
                    [(x + 0.15, 0.0), (x + 0.85, percent)],
                    RGBColor(46, 125, 50).filled(),
                )
            }))
            .map_err(failed(NAME))?;
        root.present().map_err(failed(NAME))?;
    }
    Ok(svg)
}

/// A child's weights against WHO's weight-for-age curves at −3, −2, 0, +2 and +3 SD.
pub fn weight_for_age(history: &WeightHistory, labels: &Labels) -> Result<String, Failure> {
    const NAME: &str = "weight-for-age";
    let first = history.points.first().map_or(0, |(age, _)| *age);
    let last = history.points.last().map_or(0, |(age, _)| *age);
    let from = (first - 60).max(0);
    let to = (last + 60).min(1826).max(from + 30);
    let curves: Vec<(f64, Vec<(f64, f64)>)> = [-3.0, -2.0, 0.0, 2.0, 3.0]
        .into_iter()
        .map(|z| {
            let points = (from..=to)
                .step_by(7)
                .filter_map(|day| {
                    Some((
                        day as f64 / DAYS_PER_MONTH,
                        weight_for_age_curve(history.sex, day, z)?,
                    ))
                })
                .collect();
            (z, points)
        })
        .collect();
    let top = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, kg)| *kg))
        .chain(history.points.iter().map(|(_, kg)| *kg))
        .fold(1.0_f64, f64::max);
    let bottom = curves
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, kg)| *kg))
        .chain(history.points.iter().map(|(_, kg)| *kg))
        .fold(top, f64::min);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SMALL).into_drawing_area();
        root.fill(&WHITE).map_err(failed(NAME))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(32)
            .y_label_area_size(40)
            .build_cartesian_2d(
                from as f64 / DAYS_PER_MONTH..to as f64 / DAYS_PER_MONTH,
                (bottom * 0.9).max(0.0)..top * 1.05,
            )
            .map_err(failed(NAME))?;
        chart
            .configure_mesh()
            .x_desc(labels.age_months)
            .y_desc(labels.weight_kg)
            .draw()
            .map_err(failed(NAME))?;
        for (z, points) in curves {
            let color = match z.abs() as i32 {
                3 => RGBColor(198, 40, 40),
                2 => RGBColor(239, 108, 0),
                _ => RGBColor(46, 125, 50),
            };
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(1)))
                .map_err(failed(NAME))?;
        }
        let child: Vec<(f64, f64)> = history
            .points
            .iter()
            .map(|(age, kg)| (*age as f64 / DAYS_PER_MONTH, *kg))
            .collect();
        chart
            .draw_series(LineSeries::new(child.clone(), BLACK.stroke_width(2)))
            .map_err(failed(NAME))?;
        chart
            .draw_series(
                child
                    .into_iter()
                    .map(|point| Circle::new(point, 3, BLACK.filled())),
            )
            .map_err(failed(NAME))?;
        root.present().map_err(failed(NAME))?;
    }
    Ok(svg)
}
