//! The `Node` object: one device's Kafo, as the host app sees it.

use std::sync::Arc;
use std::time::Duration;

use kafo::model::{AreaId, ChwId, HouseholdId, Scope, Visit};
use kafo::net::{Multiaddr, Scopes as ShareScopes, SyncOptions};
use kafo::trust::{Role, Scopes};
use kafo::{DeviceId, ImportOptions, ReportOptions};

use crate::error::KafoError;
use crate::link::{Link, SyncReport};
use crate::records::{
    Conflict, Device, Enrolment, HouseholdListing, ImportSummary, Status, WhoAmI,
};
use crate::runtime::{guard, runtime};
use crate::server::{ServeOptions, Server};
use crate::subscription::{NodeListener, Subscription};

/// One device's Kafo: its durable store of household documents and its identity.
/// Every method blocks on the store (or the network): call them off the UI thread.
#[derive(Debug, uniffi::Object)]
pub struct Node {
    pub(crate) inner: Arc<kafo::Node>,
}

#[uniffi::export]
impl Node {
    /// Opens the device's store in `data_dir` (the app's private files directory),
    /// creating it and the device identity if needed.
    #[uniffi::constructor]
    pub fn open(data_dir: String) -> Result<Arc<Self>, KafoError> {
        guard(|| {
            let inner = kafo::Node::open(&data_dir)?;
            Ok(Arc::new(Self {
                inner: Arc::new(inner),
            }))
        })
    }

    /// Opens the device's encrypted store in `data_dir` with its 32-byte `key`, or
    /// creates a new encrypted store there. Every value is sealed with
    /// XChaCha20-Poly1305, the device and program keys included. Keep the key in
    /// the platform's keystore (Android Keystore, iOS Keychain) and pass the same one
    /// every time. A wrong key raises `WrongKey` and changes nothing; a key for a
    /// plain store that holds data raises `InvalidArgument`.
    #[uniffi::constructor]
    pub fn open_encrypted(data_dir: String, key: Vec<u8>) -> Result<Arc<Self>, KafoError> {
        guard(|| {
            let key: [u8; 32] = key.as_slice().try_into().map_err(|_| {
                KafoError::invalid_argument(format!(
                    "the store key must be 32 bytes, not {}",
                    key.len()
                ))
            })?;
            let inner = kafo::Node::open_encrypted(&data_dir, kafo::StoreKey::from_bytes(key))?;
            Ok(Arc::new(Self {
                inner: Arc::new(inner),
            }))
        })
    }

    /// This device's id (its libp2p peer id, `12D3KooW...`).
    pub fn device_id(&self) -> String {
        self.inner.device_id().to_string()
    }

    /// What the store holds, and this device's enrolment.
    pub fn status(&self) -> Result<Status, KafoError> {
        guard(|| {
            let status = self.inner.status()?;
            Ok(Status {
                device_id: status.device_id,
                households: status.households,
                people: status.people,
                visits: status.visits,
                size_on_disk: status.size_on_disk,
                encrypted: status.encrypted,
                held_back: self
                    .inner
                    .held_back()
                    .into_iter()
                    .map(|held| held.id.to_string())
                    .collect(),
                enrolment: self.inner.whoami().enrolment.as_ref().map(Enrolment::from),
            })
        })
    }

    /// Imports a caseload in format v1 (one household per line): all or nothing, like
    /// `kafo import`. A bad line raises `InvalidRecord` with its line and field.
    pub fn import_jsonl(&self, text: String) -> Result<ImportSummary, KafoError> {
        guard(|| {
            let summary =
                self.inner
                    .import(text.as_bytes(), &ImportOptions::default(), |_event| {})?;
            Ok(summary.into())
        })
    }

    /// Every household in canonical format v1, byte-identical to `kafo export`.
    pub fn export_jsonl(&self) -> Result<String, KafoError> {
        guard(|| {
            let mut bytes = Vec::new();
            self.inner.export(&mut bytes)?;
            String::from_utf8(bytes).map_err(|error| KafoError::Internal {
                message: format!("export is not UTF-8: {error}"),
            })
        })
    }

    /// Households of one area and/or CHW (both `None`: all), in key order.
    pub fn households(
        &self,
        area: Option<String>,
        chw: Option<String>,
    ) -> Result<Vec<HouseholdListing>, KafoError> {
        guard(|| {
            let area = area
                .map(|area| parse::<AreaId>("area", &area))
                .transpose()?;
            let chw = chw.map(|chw| parse::<ChwId>("chw", &chw)).transpose()?;
            let listings = self.inner.households(area.as_ref(), chw.as_ref())?;
            Ok(listings.into_iter().map(HouseholdListing::from).collect())
        })
    }

    /// One household as a canonical format v1 line, `None` if it is not stored.
    pub fn household_json(&self, id: String) -> Result<Option<String>, KafoError> {
        guard(|| {
            let id = parse::<HouseholdId>("household id", &id)?;
            match self.inner.household(&id)? {
                Some(view) => Ok(Some(
                    kafo::model::canonical::to_line(&view.household).map_err(|error| {
                        KafoError::Internal {
                            message: format!("writing the household: {error}"),
                        }
                    })?,
                )),
                None => Ok(None),
            }
        })
    }

    /// The supervisor's report as of `as_of` (`YYYY-MM-DD`; today when `None`) over one
    /// area and/or CHW (both `None`: the whole store), counting the calendar month of
    /// `as_of`, with Mali's EPI schedule: the JSON document that `kafo --json report`
    /// prints, without its `schema_version` member. It reads every household of the
    /// scope: call it off the UI thread.
    pub fn report(
        &self,
        as_of: Option<String>,
        area: Option<String>,
        chw: Option<String>,
    ) -> Result<String, KafoError> {
        guard(|| {
            let as_of = match as_of {
                Some(text) => parse::<jiff::civil::Date>("as_of", &text)?,
                None => jiff::Zoned::now().date(),
            };
            let mut options = ReportOptions::new(as_of);
            options.area = area
                .map(|area| parse::<AreaId>("area", &area))
                .transpose()?;
            options.chw = chw.map(|chw| parse::<ChwId>("chw", &chw)).transpose()?;
            let report = self.inner.report(&options)?;
            serde_json::to_string(&report).map_err(|error| KafoError::Internal {
                message: format!("writing the report: {error}"),
            })
        })
    }

    /// The household's fields edited concurrently on several devices (empty when it
    /// has none or is not stored).
    pub fn conflicts(&self, id: String) -> Result<Vec<Conflict>, KafoError> {
        guard(|| {
            let id = parse::<HouseholdId>("household id", &id)?;
            Ok(match self.inner.household(&id)? {
                Some(view) => view.conflicts.into_iter().map(Conflict::from).collect(),
                None => Vec::new(),
            })
        })
    }

    /// Records one visit (a Visit object of format v1), checked like an import;
    /// durable on return.
    pub fn add_visit(&self, household_id: String, visit_json: String) -> Result<(), KafoError> {
        guard(|| {
            let id = parse::<HouseholdId>("household id", &household_id)?;
            let visit: Visit =
                serde_json::from_str(&visit_json).map_err(|error| KafoError::InvalidRecord {
                    line: 1,
                    field: String::new(),
                    message: format!("not a format v1 visit: {error}"),
                })?;
            self.inner.add_visit(&id, &visit)?;
            Ok(())
        })
    }

    /// The household's automerge document in `save()` form, `None` if not stored.
    pub fn document_bytes(&self, household_id: String) -> Result<Option<Vec<u8>>, KafoError> {
        guard(|| {
            let id = parse::<HouseholdId>("household id", &household_id)?;
            Ok(self.inner.document_bytes(&id)?)
        })
    }

    /// This device's id and enrolment.
    pub fn whoami(&self) -> WhoAmI {
        self.inner.whoami().into()
    }

    /// Creates a health program with this device as its administrator; returns the
    /// program id.
    pub fn create_program(&self, name: String) -> Result<String, KafoError> {
        guard(|| {
            let info = self
                .inner
                .create_program(&name, kafo::trust::DEFAULT_VALIDITY_DAYS)?;
            Ok(info.program.to_string())
        })
    }

    /// Enrols a device (`chw`, `supervisor` or `admin`) for `scopes` (`*`, `area`,
    /// `area/chw`); returns the certificate as `KAFO1:` text for `join` on the device.
    pub fn enroll(
        &self,
        device_id: String,
        role: String,
        scopes: Vec<String>,
        valid_days: u64,
    ) -> Result<String, KafoError> {
        guard(|| {
            let device = parse::<DeviceId>("device id", &device_id)?;
            let role = parse::<Role>("role", &role)?;
            let scopes = scopes.join(",");
            let scopes = parse::<Scopes>("scopes", &scopes)?;
            let chain = self.inner.enrol(device, role, scopes, valid_days)?;
            Ok(chain.to_text())
        })
    }

    /// Joins a program with the certificate `enroll` printed for this device.
    pub fn join(&self, cert: String) -> Result<Enrolment, KafoError> {
        guard(|| Ok(Enrolment::from(&self.inner.join(&cert)?)))
    }

    /// Revokes a device: its certificates stop counting everywhere this revocation
    /// reaches.
    pub fn revoke(&self, device_id: String, reason: String) -> Result<(), KafoError> {
        guard(|| {
            let device = parse::<DeviceId>("device id", &device_id)?;
            self.inner.revoke(device, &reason)?;
            Ok(())
        })
    }

    /// The devices this one knows in its program.
    pub fn devices(&self) -> Result<Vec<Device>, KafoError> {
        guard(|| {
            Ok(self
                .inner
                .devices()?
                .into_iter()
                .map(Device::from)
                .collect())
        })
    }

    /// Calls `listener.on_households_changed(ids)` after every durable write (local or
    /// received) and `listener.on_sync_event(event)` while serving, on a thread of its
    /// own, until the subscription is closed.
    pub fn subscribe(&self, listener: Arc<dyn NodeListener>) -> Arc<Subscription> {
        Subscription::start(self.inner.subscribe(), listener)
    }

    /// Serves: listens, finds peers (mDNS) and syncs with them until `server.stop()`.
    pub fn serve(&self, options: ServeOptions) -> Result<Arc<Server>, KafoError> {
        guard(|| Server::start(Arc::clone(&self.inner), options))
    }

    /// Runs one session with the peer at `address` (a multiaddr such as
    /// `/ip4/192.168.1.5/tcp/4001/p2p/12D3KooW...`), sharing `scopes` (empty: the
    /// caseloads held), within `timeout_s` seconds.
    pub fn sync_with(
        &self,
        address: String,
        scopes: Vec<String>,
        timeout_s: f64,
    ) -> Result<SyncReport, KafoError> {
        guard(|| {
            let addr = parse::<Multiaddr>("address", &address)?;
            let options = sync_options(&scopes, timeout_s)?;
            let node = Arc::clone(&self.inner);
            let report =
                runtime()?.block_on(async move { node.sync_with(addr, &options).await })?;
            Ok(SyncReport::from(&report))
        })
    }

    /// One sync session over a transport the app drives (a Bluetooth socket, BLE
    /// writes): feed it with `receive`, send what `poll_transmit` returns.
    #[uniffi::method(default(timeout_s = 20.0))]
    pub fn open_link(&self, scopes: Vec<String>, timeout_s: f64) -> Result<Arc<Link>, KafoError> {
        guard(|| {
            let options = sync_options(&scopes, 600.0)?;
            let timeout = seconds(timeout_s)?;
            Ok(Arc::new(Link::new(kafo::Link::open(
                Arc::clone(&self.inner),
                options,
                timeout,
                runtime()?.handle(),
            ))))
        })
    }
}

/// Session options sharing `scopes` (empty: the caseloads held).
pub(crate) fn sync_options(scopes: &[String], timeout_s: f64) -> Result<SyncOptions, KafoError> {
    let scopes = if scopes.is_empty() {
        ShareScopes::Held
    } else {
        ShareScopes::Only(
            scopes
                .iter()
                .map(|scope| parse::<Scope>("scope", scope))
                .collect::<Result<_, _>>()?,
        )
    };
    Ok(SyncOptions {
        scopes,
        session_timeout: seconds(timeout_s)?,
        ..SyncOptions::default()
    })
}

/// A positive, finite number of seconds.
pub(crate) fn seconds(value: f64) -> Result<Duration, KafoError> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            KafoError::invalid_argument(format!("{value} is not a positive number of seconds"))
        })
}

/// Parses an argument, naming it in the error.
pub(crate) fn parse<T>(what: &str, text: &str) -> Result<T, KafoError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|error| KafoError::invalid_argument(format!("{what} {text:?}: {error}")))
}
