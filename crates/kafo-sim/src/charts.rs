//! Pictures of a run, as SVG (plotters' SVG backend, no fonts needed).
//!
//! - `latency.svg`: visits by hours from recording to reaching the supervisor;
//! - `freshness.svg`: share of households fresh at their supervisor, hour by hour;
//! - `traffic.svg`: bytes sent per device, devices sorted by role and volume;
//! - `sessions.svg`: sessions opened per hour, in sync and failed.

use std::path::Path;

use plotters::prelude::*;

use crate::collect::Collector;
use crate::time::HOUR;
use crate::world::{Role, World};

const SIZE: (u32, u32) = (900, 480);

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw {chart}: {source}")]
pub struct ChartError {
    /// The chart's file name.
    pub chart: &'static str,
    /// What plotters said.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    chart: &'static str,
) -> impl FnOnce(E) -> ChartError {
    move |error| ChartError {
        chart,
        source: Box::new(error),
    }
}

/// Draws every chart into `dir`.
pub(crate) fn draw_all(
    dir: &Path,
    title: &str,
    world: &World,
    collector: &Collector,
) -> Result<(), ChartError> {
    latency(&dir.join("latency.svg"), title, collector)?;
    freshness(&dir.join("freshness.svg"), title, world, collector)?;
    traffic(&dir.join("traffic.svg"), title, world, collector)?;
    sessions(&dir.join("sessions.svg"), title, collector)
}

fn latency(path: &Path, title: &str, collector: &Collector) -> Result<(), ChartError> {
    const NAME: &str = "latency.svg";
    let hours: Vec<u64> = collector
        .recorded
        .iter()
        .zip(&collector.reached)
        .filter_map(|(recorded, reached)| Some(reached.as_ref()?.since(*recorded.as_ref()?) / HOUR))
        .collect();
    let max = hours.iter().copied().max().unwrap_or(0);
    let width = (max / 100).max(1);
    let bins = (max / width + 1) as u32;
    let mut counts = vec![0u32; bins as usize];
    for hour in &hours {
        counts[(hour / width) as usize] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(failed(NAME))?;
    let x_end = (u64::from(bins) * width) as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: hours from a visit to its supervisor"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..x_end, 0f64..f64::from(top) * 1.1)
        .map_err(failed(NAME))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc(format!("hours (bins of {width})"))
        .y_desc("visits")
        .draw()
        .map_err(failed(NAME))?;
    let style = BLUE.mix(0.6).filled();
    chart
        .draw_series(bars(&counts, width as f64, None, style))
        .map_err(failed(NAME))?;
    root.present().map_err(failed(NAME))
}

/// Bars in bin order (plotters' `Histogram` accumulates in a hash map, which would
/// make the SVG differ from run to run).
fn bars(
    counts: &[u32],
    width: f64,
    below: Option<&[u32]>,
    style: ShapeStyle,
) -> Vec<Rectangle<(f64, f64)>> {
    counts
        .iter()
        .enumerate()
        .filter(|(_, count)| **count > 0)
        .map(|(bin, count)| {
            let base = below.and_then(|below| below.get(bin)).copied().unwrap_or(0);
            let x = bin as f64 * width;
            let top = f64::from(base + count);
            Rectangle::new([(x, f64::from(base)), (x + width, top)], style)
        })
        .collect()
}

fn freshness(
    path: &Path,
    title: &str,
    world: &World,
    collector: &Collector,
) -> Result<(), ChartError> {
    const NAME: &str = "freshness.svg";
    let end = collector
        .freshness
        .last()
        .map_or(1.0, |(at, _)| at.as_hours_f64())
        .max(1.0);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(failed(NAME))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: households fresh at their supervisor"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end, 0f64..1.02)
        .map_err(failed(NAME))?;
    chart
        .configure_mesh()
        .x_desc("hours since the start")
        .y_desc("share fresh")
        .draw()
        .map_err(failed(NAME))?;
    let areas = world.areas.len();
    for (index, area) in world.areas.iter().enumerate().take(12) {
        let color = Palette99::pick(index).to_rgba();
        let points = collector
            .freshness
            .iter()
            .map(|(at, shares)| (at.as_hours_f64(), shares.get(index).copied().unwrap_or(1.0)));
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(failed(NAME))?
            .label(area.id.to_string())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    if areas > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(failed(NAME))?;
    }
    root.present().map_err(failed(NAME))
}

fn traffic(
    path: &Path,
    title: &str,
    world: &World,
    collector: &Collector,
) -> Result<(), ChartError> {
    const NAME: &str = "traffic.svg";
    let mut series = Vec::new();
    let mut rank = 0usize;
    for role in [Role::Supervisor, Role::District, Role::Relay, Role::Chw] {
        let mut kilobytes: Vec<f64> = world
            .devices
            .iter()
            .zip(&collector.devices)
            .filter(|(device, _)| device.role == role)
            .map(|(_, stats)| stats.bytes_sent as f64 / 1000.0)
            .collect();
        if kilobytes.is_empty() {
            continue;
        }
        kilobytes.sort_by(|a, b| b.total_cmp(a));
        let points: Vec<(f64, f64)> = kilobytes
            .into_iter()
            .enumerate()
            .map(|(offset, kb)| ((rank + offset) as f64, kb))
            .collect();
        rank += points.len();
        series.push((role, points));
    }
    let top = series
        .iter()
        .flat_map(|(_, points)| points.iter().map(|(_, kb)| *kb))
        .fold(1.0f64, f64::max);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(failed(NAME))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: kilobytes sent per device"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..rank.max(1) as f64, 0f64..top * 1.1)
        .map_err(failed(NAME))?;
    chart
        .configure_mesh()
        .x_desc("devices, by role then volume")
        .y_desc("KB sent")
        .draw()
        .map_err(failed(NAME))?;
    for (index, (role, points)) in series.into_iter().enumerate() {
        let color = Palette99::pick(index).to_rgba();
        let single = points.len() == 1;
        let points = if single {
            let (x, y) = points[0];
            vec![(x, y), (x + 0.9, y)]
        } else {
            points
        };
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(3)))
            .map_err(failed(NAME))?
            .label(role.name())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(failed(NAME))?;
    root.present().map_err(failed(NAME))
}

fn sessions(path: &Path, title: &str, collector: &Collector) -> Result<(), ChartError> {
    const NAME: &str = "sessions.svg";
    let hours = collector
        .freshness
        .last()
        .map_or(1, |(at, _)| (at.0 / HOUR) as u32 + 1)
        .max(1);
    let mut in_sync = vec![0u32; hours as usize + 1];
    let mut failed_counts = vec![0u32; hours as usize + 1];
    for session in &collector.sessions {
        let hour = ((session.opened.0 / HOUR) as usize).min(hours as usize);
        if session.in_sync() {
            in_sync[hour] += 1;
        } else {
            failed_counts[hour] += 1;
        }
    }
    let top = in_sync
        .iter()
        .zip(&failed_counts)
        .map(|(a, b)| a + b)
        .max()
        .unwrap_or(0)
        .max(1);
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(failed(NAME))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{title}: sessions opened per hour"),
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..f64::from(hours + 1), 0f64..f64::from(top) * 1.1)
        .map_err(failed(NAME))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("hours since the start")
        .y_desc("sessions")
        .draw()
        .map_err(failed(NAME))?;
    let green = GREEN.mix(0.7).filled();
    let red = RED.mix(0.8).filled();
    chart
        .draw_series(bars(&in_sync, 1.0, None, green))
        .map_err(failed(NAME))?
        .label("in sync")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], green));
    chart
        .draw_series(bars(&failed_counts, 1.0, Some(&in_sync), red))
        .map_err(failed(NAME))?
        .label("failed")
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], red));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(failed(NAME))?;
    root.present().map_err(failed(NAME))
}
