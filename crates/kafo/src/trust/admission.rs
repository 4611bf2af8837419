//! The trust side of a session's handshake: what this device presents and offers,
//! whom it admits and what it shares with them, and what it makes of the
//! revocations a peer discloses.
//!
//! An enrolled device admits a peer only if the peer presents a chain of the same
//! program, valid now, not revoked, naming the device its transport authenticated;
//! it then shares the intersection of both sides' read scopes (two devices that may
//! read everything share the union of what each offers, i.e. holds) and discloses
//! every revocation it knows, ahead of any data. An unenrolled device admits only
//! unenrolled peers, and shares as it always did.

use kafo_model::Scope;
use kafo_net::{Admission, SessionHooks};
use kafo_proto::PeerHello;
use kafo_proto::tree::{intersect, normalize};
use kafo_proto::wire::DeviceId as WireDeviceId;
use kafo_store::{ReadError, Store};
use kafo_trust::{Chain, Credentials, DeviceKey, Disclosure, Enrolment, Scopes};
use tracing::{info, warn};

use crate::net::Scopes as ShareScopes;
use crate::net::scopes as held;
use crate::net::session::blocking;
use crate::node::Node;
use crate::trust::unix_now;

/// The most revocations one disclosure carries (the decoder's bound).
const MAX_DISCLOSED: usize = kafo_trust::MAX_DISCLOSED_REVOCATIONS;

/// What this device offers and accepts in its hello: its read scopes (for a device
/// that may read everything, what the options name, by default the caseloads it
/// holds), within the options' scopes when they name some.
pub(crate) fn enrolled_offers(
    mine: &Enrolment,
    options: &ShareScopes,
    store: &Store,
) -> Result<Vec<Scope>, ReadError> {
    Ok(match (&mine.scopes, options) {
        (Scopes::All, options) => held::resolve(options, store)?,
        (Scopes::Only(list), ShareScopes::Held) => normalize(list),
        (Scopes::Only(list), ShareScopes::Only(wanted)) => intersect(list, &normalize(wanted)),
    })
}

/// What two admitted devices share: the intersection of their read scopes; when both
/// may read everything, the union of what each offered. Within `restriction` (the
/// options' scopes) when it is set.
pub(crate) fn share(
    mine: &Scopes,
    my_offers: &[Scope],
    theirs: &Scopes,
    their_offers: &[Scope],
    restriction: Option<&[Scope]>,
) -> Vec<Scope> {
    let shared = match mine.intersect(theirs) {
        Scopes::All => normalize(&[my_offers, their_offers].concat()),
        Scopes::Only(list) => normalize(&list),
    };
    match restriction {
        Some(restriction) => intersect(&shared, &normalize(restriction)),
        None => shared,
    }
}

/// Admission and disclosure for one session on `node`.
#[derive(Debug)]
pub(crate) struct TrustHooks<'a> {
    node: &'a Node,
    /// This device's enrolment for the whole session.
    mine: Option<Enrolment>,
    /// The device the transport authenticated.
    authenticated: Option<DeviceKey>,
    /// Its device id as a hello must name it.
    expected_device: Option<WireDeviceId>,
    /// What this side offered.
    my_offers: Vec<Scope>,
    /// The options' scopes, when they name some.
    restriction: Option<Vec<Scope>>,
    /// The admitted peer's chain (enrolled sessions).
    admitted: Option<Chain>,
}

impl<'a> TrustHooks<'a> {
    /// `mine` is this device's enrolment as the session was set up with it (the same
    /// one that chose its storage), so a `join` during the handshake cannot admit a
    /// peer into a session whose storage does not check changes.
    pub(crate) fn new(
        node: &'a Node,
        mine: Option<Enrolment>,
        authenticated: Option<kafo_net::PeerId>,
        my_offers: Vec<Scope>,
        options: &ShareScopes,
    ) -> Self {
        Self {
            node,
            mine,
            authenticated: authenticated.as_ref().and_then(DeviceKey::from_peer_id),
            expected_device: authenticated.as_ref().and_then(kafo_net::device_id_for),
            my_offers,
            restriction: match options {
                ShareScopes::Held => None,
                ShareScopes::Only(scopes) => Some(scopes.clone()),
            },
            admitted: None,
        }
    }

    fn admit_enrolled(
        &mut self,
        mine: &Enrolment,
        hello: &PeerHello,
        chain: Option<Chain>,
    ) -> Admission {
        let Some(chain) = chain else {
            info!("the peer is not enrolled in any program: refused");
            return Admission::Refuse;
        };
        let Some(peer) = self.authenticated else {
            warn!("no transport authenticated the peer: an enrolled device cannot admit it");
            return Admission::Refuse;
        };
        if chain.subject() != peer {
            warn!("the peer's certificate names another device than the one it authenticated as");
            return Admission::Refuse;
        }
        let now = unix_now();
        let (theirs, disclose) = {
            let known = self.node.trust.read();
            let Some(book) = known.book.as_ref() else {
                return Admission::Refuse;
            };
            let theirs = match book.admit(&chain, now) {
                Ok(enrolment) => enrolment,
                Err(error) => {
                    info!(peer = %peer.redacted(), %error, "peer refused");
                    return Admission::Refuse;
                }
            };
            let revocations = book.revocations().take(MAX_DISCLOSED).cloned().collect();
            let mut settlements = known.settlements.all();
            settlements.truncate(MAX_DISCLOSED);
            (
                theirs,
                Disclosure {
                    revocations,
                    settlements,
                }
                .encode(),
            )
        };
        let share = share(
            &mine.scopes,
            &self.my_offers,
            &theirs.scopes,
            &hello.offers,
            self.restriction.as_deref(),
        );
        info!(
            peer = %peer.redacted(),
            role = %theirs.role,
            scopes = share.len(),
            "enrolled peer admitted"
        );
        let node = self.node;
        if let Err(error) = blocking(|| node.trust.learn_chains(node.store(), [&chain], now)) {
            warn!(%error, "could not save the peer's certificate");
        }
        self.admitted = Some(chain);
        Admission::ShareWith { share, disclose }
    }
}

impl SessionHooks for TrustHooks<'_> {
    fn admit(&mut self, hello: &PeerHello) -> Admission {
        if let Some(expected) = &self.expected_device
            && *expected != hello.device
        {
            warn!("peer announced another device id than the one it authenticated as");
            return Admission::Refuse;
        }
        let credentials = match Credentials::decode(&hello.credentials) {
            Ok(credentials) => credentials,
            Err(error) => {
                warn!(%error, "the peer's credentials do not decode: refused");
                return Admission::Refuse;
            }
        };
        match self.mine.clone() {
            Some(mine) => self.admit_enrolled(&mine, hello, credentials.chain),
            None if credentials.chain.is_some() => {
                info!("the peer is enrolled in a program and this device is not: refused");
                Admission::Refuse
            }
            None => Admission::DefaultShare,
        }
    }

    fn disclosed(&mut self, bytes: &[u8]) -> bool {
        let Some(chain) = self.admitted.clone() else {
            // An unenrolled pair discloses nothing; whatever this is, it is ignored.
            return true;
        };
        let disclosure = match Disclosure::decode(bytes) {
            Ok(disclosure) => disclosure,
            Err(error) => {
                warn!(%error, "the peer's disclosure does not decode: refused");
                return false;
            }
        };
        let node = self.node;
        if let Err(error) = blocking(|| {
            node.trust
                .learn_revocations(node.store(), disclosure.revocations)
        }) {
            warn!(%error, "could not save the revocations the peer disclosed");
        }
        if let Err(error) = blocking(|| {
            node.trust
                .learn_settlements(node.store(), disclosure.settlements)
        }) {
            warn!(%error, "could not save the settlements the peer disclosed");
        }
        let still_admitted = node
            .trust
            .read()
            .book
            .as_ref()
            .is_some_and(|book| book.admit(&chain, unix_now()).is_ok());
        if !still_admitted {
            info!("the peer's own disclosure revokes it: refused");
        }
        still_admitted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<Scope> {
        list.iter()
            .map(|s| s.parse().expect("valid scope"))
            .collect()
    }

    #[test]
    fn shares_are_the_intersection_or_the_union_of_offers_between_two_all_devices() {
        let chw = Scopes::only(scopes(&["sikoro/chw-01"]));
        let supervisor = Scopes::only(scopes(&["sikoro"]));
        assert_eq!(
            share(&supervisor, &[], &chw, &[], None),
            scopes(&["sikoro/chw-01"])
        );
        assert_eq!(
            share(
                &Scopes::All,
                &scopes(&["banconi/chw-09"]),
                &supervisor,
                &[],
                None
            ),
            scopes(&["sikoro"])
        );
        assert_eq!(
            share(
                &Scopes::All,
                &scopes(&["banconi/chw-09"]),
                &Scopes::All,
                &scopes(&["sikoro/chw-01"]),
                None
            ),
            scopes(&["banconi/chw-09", "sikoro/chw-01"])
        );
        assert!(
            share(
                &chw,
                &[],
                &Scopes::only(scopes(&["sikoro/chw-02"])),
                &[],
                None
            )
            .is_empty()
        );
        assert_eq!(
            share(
                &Scopes::All,
                &[],
                &supervisor,
                &[],
                Some(&scopes(&["sikoro/chw-03"]))
            ),
            scopes(&["sikoro/chw-03"])
        );
    }
}
