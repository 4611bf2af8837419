//! Referrals: a referral is open until a visit to the same person dated strictly after
//! it (and on or before `as_of`). An urgent one open for [`URGENT_LISTED_AFTER_DAYS`]
//! days or more (`days_open = as_of − date`) is listed; non-urgent ones are not.

use jiff::civil::Date;
use kafo_model::{Referral, Visit};

use crate::age::days_between;

/// An urgent referral is listed once open this many days.
pub const URGENT_LISTED_AFTER_DAYS: i64 = 3;

/// A referral still open on `as_of`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenReferral<'v> {
    /// The visit that made it.
    pub visit: &'v Visit,
    /// The referral.
    pub referral: &'v Referral,
    /// `as_of − date`.
    pub days_open: i64,
}

impl OpenReferral<'_> {
    /// Whether the report lists it: urgent and open long enough.
    pub fn is_listed(&self) -> bool {
        self.referral.urgent && self.days_open >= URGENT_LISTED_AFTER_DAYS
    }
}

/// The referrals among `visits` (one household's) still open on `as_of`.
pub fn open_referrals<'v>(
    visits: &'v [Visit],
    as_of: Date,
) -> impl Iterator<Item = OpenReferral<'v>> {
    visits.iter().filter_map(move |visit| {
        let referral = visit.referral.as_ref()?;
        if visit.date > as_of {
            return None;
        }
        (!is_followed_up(visit, visits, as_of)).then(|| OpenReferral {
            visit,
            referral,
            days_open: days_between(visit.date, as_of),
        })
    })
}

/// Whether a visit to the same person as `visit`, dated strictly after it and on or
/// before `as_of`, is among `visits` (one household's): what closes a referral.
pub fn is_followed_up(visit: &Visit, visits: &[Visit], as_of: Date) -> bool {
    visits.iter().any(|later| {
        later.person_id == visit.person_id && later.date > visit.date && later.date <= as_of
    })
}
