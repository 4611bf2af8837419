//! Danger signs recorded in the last [`DANGER_SIGN_WINDOW_DAYS`] days (`as_of − 6` to
//! `as_of`).

use jiff::civil::Date;
use kafo_model::Visit;

use crate::age::days_between;

/// The window, in days ending on `as_of`.
pub const DANGER_SIGN_WINDOW_DAYS: i64 = 7;

/// Whether `visit` recorded danger signs within the window ending on `as_of`.
pub fn is_recent_danger_sign(visit: &Visit, as_of: Date) -> bool {
    !visit.danger_signs.is_empty()
        && (0..DANGER_SIGN_WINDOW_DAYS).contains(&days_between(visit.date, as_of))
}
