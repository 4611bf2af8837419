//! How the trust commands show roles, scopes, dates and enrolments, as text and JSON.

use kafo::trust::{Enrolment, Scopes};
use serde::Serialize;

/// The scopes as JSON strings: `["*"]` for every scope, else `area` and `area/chw`.
pub fn scope_list(scopes: &Scopes) -> Vec<String> {
    match scopes {
        Scopes::All => vec!["*".to_owned()],
        Scopes::Only(scopes) => scopes.iter().map(ToString::to_string).collect(),
    }
}

/// The scopes on one line: `every scope`, or `sikoro/chw-01, sikoro/chw-02`.
pub fn scope_text(scopes: &Scopes) -> String {
    match scopes {
        Scopes::All => "every scope".to_owned(),
        Scopes::Only(scopes) if scopes.is_empty() => "none".to_owned(),
        Scopes::Only(scopes) => scopes
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// A Unix time as an RFC 3339 UTC timestamp (`2026-05-14T09:30:00Z`).
pub fn timestamp(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .map_or_else(|| format!("@{seconds}"), |at| at.to_string())
}

/// A Unix time as a UTC date (`2026-05-14`).
pub fn date(seconds: u64) -> String {
    i64::try_from(seconds)
        .ok()
        .and_then(|seconds| jiff::Timestamp::from_second(seconds).ok())
        .map_or_else(
            || format!("@{seconds}"),
            |at| at.to_zoned(jiff::tz::TimeZone::UTC).date().to_string(),
        )
}

/// An enrolment in JSON: stable field names.
#[derive(Debug, Serialize)]
pub struct EnrolmentJson {
    /// The program id (`KP...`).
    pub program: String,
    /// The enrolled device's id (its libp2p peer id).
    pub device: String,
    /// `chw`, `supervisor`, `relay` or `admin`.
    pub role: String,
    /// The scopes it may read (and write, unless a relay); `["*"]` for every scope.
    pub scopes: Vec<String>,
    /// The certificate's end of validity, Unix seconds.
    pub not_after: u64,
    /// The same as an RFC 3339 UTC timestamp.
    pub expires: String,
}

impl EnrolmentJson {
    pub fn new(enrolment: &Enrolment) -> Self {
        Self {
            program: enrolment.program.to_string(),
            device: enrolment.device.to_string(),
            role: enrolment.role.to_string(),
            scopes: scope_list(&enrolment.scopes),
            not_after: enrolment.not_after,
            expires: timestamp(enrolment.not_after),
        }
    }
}

/// An enrolment on one line: `chw for sikoro/chw-01 until 2026-05-14`.
pub fn enrolment_line(enrolment: &Enrolment) -> String {
    format!(
        "{} for {} until {}",
        enrolment.role,
        scope_text(&enrolment.scopes),
        date(enrolment.not_after)
    )
}
