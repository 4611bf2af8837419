//! Rendering a `kafo-health` report: terminal text, CSV files and an offline HTML page.

mod charts;
pub mod csv;
pub mod html;
mod labels;
pub mod text;

pub use labels::Labels;

/// A date as text, or a dash when unknown.
pub fn date_or_dash(date: Option<jiff::civil::Date>) -> String {
    date.map_or_else(|| "-".to_owned(), |date| date.to_string())
}

/// A number with 2 decimals, or a dash when unknown.
pub fn z_or_dash(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}"))
}
