//! `Link`: one sync session over a transport the host app drives (see `kafo::link`).

use kafo::LinkError;
use kafo::net::SyncReport as KafoSyncReport;

use crate::error::KafoError;
use crate::runtime::guard;

/// What a sync session did.
#[derive(Debug, Clone, uniffi::Record)]
pub struct SyncReport {
    /// Both sides hold the same documents in the scopes they share.
    pub in_sync: bool,
    pub documents_sent: u64,
    pub documents_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Why the session did not end in sync, `None` when it did.
    pub error: Option<String>,
    /// Households this side held back: offered with changes a revoked device made
    /// after its revocation, not taken until a supervisor settles them.
    pub held_back: Vec<String>,
}

impl From<&KafoSyncReport> for SyncReport {
    fn from(report: &KafoSyncReport) -> Self {
        let error = match (&report.outcome, &report.link_error) {
            (outcome, _) if outcome.is_in_sync() => None,
            (outcome, Some(link)) => Some(format!("{outcome} ({link})")),
            (outcome, None) => Some(outcome.to_string()),
        };
        Self {
            in_sync: report.is_in_sync(),
            documents_sent: report.docs_sent,
            documents_received: report.docs_received,
            bytes_sent: report.bytes_sent,
            bytes_received: report.bytes_received,
            error,
            held_back: report.held_back.iter().map(ToString::to_string).collect(),
        }
    }
}

impl SyncReport {
    fn failed(error: &LinkError) -> Self {
        Self {
            in_sync: false,
            documents_sent: 0,
            documents_received: 0,
            bytes_sent: 0,
            bytes_received: 0,
            error: Some(error.to_string()),
            held_back: Vec::new(),
        }
    }
}

/// One sync session over a transport the app owns. The app passes whatever arrived
/// to `receive`, sends what `poll_transmit` returns, and calls `poll_transmit` at
/// least every 100 ms until `is_finished`. Safe to use from any thread; no call
/// blocks for long.
#[derive(Debug, uniffi::Object)]
pub struct Link {
    inner: kafo::Link,
}

impl Link {
    pub(crate) fn new(inner: kafo::Link) -> Self {
        Self { inner }
    }
}

#[uniffi::export]
impl Link {
    /// Takes bytes that arrived from the other end, in any chunking.
    pub fn receive(&self, data: Vec<u8>) -> Result<(), KafoError> {
        guard(|| {
            self.inner.receive(&data);
            Ok(())
        })
    }

    /// The next bytes to send, at most `max_len`; empty when nothing is pending now.
    pub fn poll_transmit(&self, max_len: u64) -> Result<Vec<u8>, KafoError> {
        guard(|| {
            let max_len = usize::try_from(max_len).unwrap_or(usize::MAX);
            Ok(self.inner.poll_transmit(max_len))
        })
    }

    /// Whether the session is over and every byte it wrote was taken.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }

    /// How the session ended; while it runs, a report with `error` "running".
    pub fn report(&self) -> SyncReport {
        match self.inner.report() {
            Some(Ok(report)) => SyncReport::from(&report),
            Some(Err(error)) => SyncReport::failed(&error),
            None => SyncReport {
                in_sync: false,
                documents_sent: 0,
                documents_received: 0,
                bytes_sent: 0,
                bytes_received: 0,
                error: Some("running".to_owned()),
                held_back: Vec::new(),
            },
        }
    }

    /// The app's transport broke: the session ends and nothing more is sent.
    pub fn close(&self) {
        self.inner.close();
    }
}
