//! [`Node::report`]: the supervisor's report over the households in the store,
//! computed by `kafo-health`'s rules one household at a time (memory holds the rows of
//! the lists, never the caseload). Households are read from the store's views
//! ([`kafo_store::Store::household`]), not decoded from their automerge documents.

use std::collections::BTreeMap;
use std::sync::mpsc;

use jiff::Timestamp;
use jiff::civil::Date;
use kafo_health::{Period, Report, ReportParams, Reporter, Schedule};
use kafo_model::document::DocumentError;
use kafo_model::{AreaId, ChwId, HouseholdId, HouseholdScope};
use kafo_store::{HouseholdReadError, ListFilter, ReadError};
use kafo_trust::{Role, Scopes};
use tracing::debug;

use crate::net::PeerRecordError;
use crate::node::Node;
use crate::trust::TrustError;

/// Households that [`Node::report`]'s reader thread hands to the rules at a time
/// (one hand-over per household made the two threads switch more than they worked).
const HOUSEHOLDS_PER_BATCH: usize = 32;
/// Batches read ahead of the rules.
const BATCHES_IN_FLIGHT: usize = 2;

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// The date the report is as of (visits after it are ignored).
    pub as_of: Date,
    /// The month counted per CHW.
    pub period: Period,
    /// Only this area.
    pub area: Option<AreaId>,
    /// Only this CHW's caseload.
    pub chw: Option<ChwId>,
    /// The immunisation schedule.
    pub schedule: Schedule,
}

impl ReportOptions {
    /// The whole store as of `as_of`, for the calendar month of `as_of`, with Mali's
    /// EPI schedule.
    pub fn new(as_of: Date) -> Self {
        Self {
            as_of,
            period: Period::of(as_of),
            area: None,
            chw: None,
            schedule: Schedule::mali_epi().clone(),
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The store could not be read.
    #[error("reading the store: {0}")]
    Read(#[from] ReadError),
    /// A stored document is not a valid household.
    #[error("household {id}: {source}")]
    Document {
        /// The household.
        id: HouseholdId,
        /// What is wrong with its document.
        source: DocumentError,
    },
    /// The peer records could not be read.
    #[error(transparent)]
    Peers(#[from] PeerRecordError),
    /// The known devices could not be read.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

impl From<HouseholdReadError> for ReportError {
    fn from(error: HouseholdReadError) -> Self {
        match error {
            HouseholdReadError::Read(error) => Self::Read(error),
            HouseholdReadError::Document { id, source } => Self::Document { id, source },
        }
    }
}

impl Node {
    /// The supervisor's report over the households of `options`' scope.
    ///
    /// Households are read from the store's views on a reader thread while this
    /// thread applies the rules, with at most [`BATCHES_IN_FLIGHT`] batches of
    /// [`HOUSEHOLDS_PER_BATCH`] between them
    /// (memory holds the lists' rows, never the caseload). A CHW's `last_sync` is the
    /// last successful sync with a device enrolled as a CHW for that caseload (from
    /// the peer records and the known certificates); `None` when no such device is
    /// known.
    pub fn report(&self, options: &ReportOptions) -> Result<Report, ReportError> {
        let params = ReportParams::new(options.as_of, options.period, options.schedule.clone());
        let mut reporter = Reporter::new(params);
        let filter = ListFilter {
            area: options.area.clone(),
            chw: options.chw.clone(),
        };
        let mut households = 0_u64;
        std::thread::scope(|scope| -> Result<(), ReportError> {
            let (sender, receiver) = mpsc::sync_channel(BATCHES_IN_FLIGHT);
            let store = &self.store;
            scope.spawn(move || {
                let mut batch = Vec::with_capacity(HOUSEHOLDS_PER_BATCH);
                for item in store.list(&filter) {
                    let read = item
                        .map_err(ReportError::from)
                        .and_then(|item| Ok(store.household(&item.id)?));
                    let stop = read.is_err();
                    batch.push(read);
                    if stop || batch.len() == HOUSEHOLDS_PER_BATCH {
                        let full =
                            std::mem::replace(&mut batch, Vec::with_capacity(HOUSEHOLDS_PER_BATCH));
                        // A closed channel means the reporter stopped on an error.
                        if sender.send(full).is_err() || stop {
                            return;
                        }
                    }
                }
                let _ = sender.send(batch);
            });
            for batch in receiver {
                for read in batch {
                    if let Some(household) = read? {
                        reporter.add(&household);
                        households += 1;
                    }
                }
            }
            Ok(())
        })?;
        let syncs = self.caseload_syncs()?;
        debug!(households, "report computed");
        Ok(reporter.finish(|scope| last_sync(&syncs, scope)))
    }

    /// For each device enrolled as a CHW: its scopes, and its last successful sync.
    fn caseload_syncs(&self) -> Result<Vec<(Scopes, Timestamp)>, ReportError> {
        let successes: BTreeMap<String, Timestamp> = self
            .peers()?
            .into_iter()
            .filter_map(|record| Some((record.peer.to_string(), record.last_success?)))
            .collect();
        Ok(self
            .devices()?
            .into_iter()
            .filter(|device| device.role == Role::Chw && !device.this_device)
            .filter_map(|device| {
                let at = successes.get(&device.device.to_string())?;
                Some((device.scopes, *at))
            })
            .collect())
    }
}

fn last_sync(syncs: &[(Scopes, Timestamp)], scope: &HouseholdScope) -> Option<Timestamp> {
    syncs
        .iter()
        .filter(|(scopes, _)| scopes.covers_household(scope))
        .map(|(_, at)| *at)
        .max()
}
