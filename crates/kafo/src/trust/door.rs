//! Scope at the door: an enrolled device writes only households inside its own write
//! scopes. A household it could not share would sit on the device and never sync,
//! so the CHW's visits to it would be silently lost to her supervisor; instead the
//! import or the visit is refused before anything is written.
//!
//! An unenrolled device (development use) writes anything, as before trust existed.

use kafo_model::{HouseholdId, HouseholdScope};

use crate::Node;

/// A household outside this device's write scopes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "household {household} is in {scope}, outside this device's write scopes ({held}); nothing was written"
)]
pub struct OutsideScope {
    /// The household.
    pub household: HouseholdId,
    /// Its scope (`area/chw`).
    pub scope: HouseholdScope,
    /// What this device may write, in words (its scopes, or why it may write none).
    pub held: String,
}

impl Node {
    /// Refuses a write to `household` in `scope` when this device is enrolled and
    /// its enrolment does not let it author changes there.
    pub(crate) fn check_write_scope(
        &self,
        household: &HouseholdId,
        scope: &HouseholdScope,
    ) -> Result<(), OutsideScope> {
        let known = self.trust.read();
        let Some(enrolment) = known.enrolment() else {
            return Ok(());
        };
        if enrolment.may_write(scope) {
            return Ok(());
        }
        let held = if enrolment.role.can_write() {
            enrolment.scopes.to_string()
        } else {
            format!("none: a {} does not author changes", enrolment.role)
        };
        Err(OutsideScope {
            household: household.clone(),
            scope: scope.clone(),
            held,
        })
    }
}
