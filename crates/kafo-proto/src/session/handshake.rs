//! Hello, authorization and Begin.
//!
//! Nothing about documents crosses the wire before this side's driver authorized the
//! peer; with [`Reveal::AfterBothAuthorized`], not before the peer's driver authorized
//! this side either (it announces that with an `Authorized` frame, or with its `Begin`).
//!
//! Protocol version 2 adds `Disclose`: sent by a side right after its driver authorized
//! the peer, before its `Authorized`/`Begin`, so the peer's driver learns it (e.g.
//! revocations) ahead of anything about documents.

use kafo_model::Scope;
use tracing::{debug, info};

use super::reconcile::Reconciler;
use super::{Event, MIN_WINDOW, Output, PeerHello, Purpose, Session};
use crate::report::{PeerFault, SessionError};
use crate::storage::{RequestId, StorageAnswer, StorageWork};
use crate::tree::{Salt, intersect, normalize};
use crate::wire::{Begin, DISCLOSE_VERSION, Frame, Hello, MAX_DISCLOSURE};

/// The scopes to share with a peer when no trust layer decides: what this side offers
/// and the peer accepts, intersected with what the peer offers and this side accepts.
pub fn default_share(
    my_offers: &[Scope],
    my_accepts: &[Scope],
    their_offers: &[Scope],
    their_accepts: &[Scope],
) -> Vec<Scope> {
    intersect(
        &intersect(my_offers, their_accepts),
        &intersect(their_offers, my_accepts),
    )
}

/// Where the handshake stands.
#[derive(Debug, Default)]
pub(crate) struct Handshake {
    pub(crate) peer: Option<PeerInfo>,
    authorized: bool,
    /// The peer's driver authorized us (`Authorized` or `Begin` received).
    peer_authorized: bool,
    /// Our summaries were requested (our `Begin` follows).
    revealing: bool,
    /// The peer's `Begin`, when it authorized us before our driver authorized it.
    early_begin: Option<Begin>,
    /// The peer's `Disclose` arrived (at most one per session).
    peer_disclosed: bool,
}

/// When a side first reveals anything about its documents (its `Begin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reveal {
    /// As soon as this side's driver authorized the peer: the peer learns only what that
    /// authorization covers (count and salted tag of the shared scopes), even if the
    /// peer's driver then refuses. "Nothing changed" takes one round trip.
    #[default]
    AfterOwnAuthorization,
    /// Only once both drivers authorized: costs half a round trip more.
    AfterBothAuthorized,
}

#[derive(Debug)]
pub(crate) struct PeerInfo {
    pub(crate) hello: Hello,
    /// The version negotiated.
    pub(crate) version: u16,
}

impl Handshake {
    pub(crate) fn state_name(&self) -> &'static str {
        match (&self.peer, self.authorized) {
            (None, _) => "awaiting hello",
            (Some(_), false) if self.peer_authorized => "awaiting authorization, peer authorized",
            (Some(_), false) => "awaiting authorization",
            (Some(_), true) if self.peer_authorized => "authorized both ways",
            (Some(_), true) => "awaiting begin",
        }
    }
}

impl Session {
    pub(super) fn send_hello(&mut self) {
        let hello = Hello {
            versions: self.versions,
            device: self.config.device.clone(),
            nonce: self.nonce,
            window: self.config.limits.window.max(MIN_WINDOW),
            offers: normalize(&self.config.offers),
            accepts: normalize(&self.config.accepts),
            credentials: self.config.credentials.clone(),
        };
        self.queue_frame(&Frame::Hello(hello));
    }

    pub(super) fn on_hello(&mut self, hello: Hello) -> Result<(), SessionError> {
        if self.handshake.peer.is_some() {
            return Err(PeerFault::UnexpectedFrame {
                frame: "hello",
                state: self.handshake.state_name(),
            }
            .into());
        }
        let ours = self.versions;
        let Some(version) = ours.negotiate(hello.versions) else {
            return Err(SessionError::IncompatibleVersion {
                ours,
                theirs: hello.versions,
            });
        };
        if hello.nonce == self.nonce {
            return Err(PeerFault::SameNonce.into());
        }
        if hello.window < MIN_WINDOW {
            return Err(PeerFault::WindowTooSmall {
                window: hello.window,
                min: MIN_WINDOW,
            }
            .into());
        }
        info!(version, "peer hello");
        debug!(peer = %hello.device, "peer device");
        let event = PeerHello {
            device: hello.device.clone(),
            version,
            offers: hello.offers.clone(),
            accepts: hello.accepts.clone(),
            credentials: hello.credentials.clone(),
        };
        self.handshake.peer = Some(PeerInfo { hello, version });
        self.outputs
            .push_back(Output::Event(Event::PeerHello(event)));
        Ok(())
    }

    pub(super) fn authorize(
        &mut self,
        share: Vec<Scope>,
        disclose: Vec<u8>,
    ) -> Result<(), SessionError> {
        let Some(peer) = self.handshake.peer.as_ref() else {
            return Err(SessionError::UnexpectedInput {
                input: "authorize",
                state: self.handshake.state_name(),
            });
        };
        if self.handshake.authorized {
            return Err(SessionError::UnexpectedInput {
                input: "authorize",
                state: "authorized",
            });
        }
        if disclose.len() > MAX_DISCLOSURE {
            return Err(SessionError::DisclosureTooLarge {
                len: disclose.len(),
                max: MAX_DISCLOSURE,
            });
        }
        let disclose =
            (!disclose.is_empty() && peer.version >= DISCLOSE_VERSION).then_some(disclose);
        self.handshake.authorized = true;
        let share = normalize(&share);
        debug!(scopes = share.len(), "authorized");
        let salt = Salt::new(&self.nonce.0, &peer.hello.nonce.0);
        let window = peer.hello.window;
        self.exchange.set_peer_window(window);
        let mut recon = Reconciler::new(share, salt, self.config.limits.max_open_ranges);
        if let Some(begin) = self.handshake.early_begin.take() {
            recon.set_peer_begin(begin)?;
        }
        self.recon = Some(recon);
        if let Some(bytes) = disclose {
            debug!(bytes = bytes.len(), "disclosing");
            // Queued before `Authorized` and before the `Begin` that follows our
            // summaries: the peer reads it ahead of anything about our documents.
            self.queue_frame(&Frame::Disclose(bytes));
        }
        if self.config.reveal == Reveal::AfterBothAuthorized {
            self.queue_frame(&Frame::Authorized);
        }
        self.maybe_reveal();
        Ok(())
    }

    /// Requests our summaries (for our `Begin`) once the reveal policy allows.
    fn maybe_reveal(&mut self) {
        let allowed = match self.config.reveal {
            Reveal::AfterOwnAuthorization => true,
            Reveal::AfterBothAuthorized => self.handshake.peer_authorized,
        };
        if !allowed || self.handshake.revealing {
            return;
        }
        let Some(share) = self.recon.as_ref().map(|recon| recon.share().to_vec()) else {
            return;
        };
        self.handshake.revealing = true;
        self.request(StorageWork::Summarize { scopes: share }, Purpose::MyRoot);
    }

    pub(super) fn on_authorized(&mut self) -> Result<(), SessionError> {
        if self.handshake.peer.is_none() || self.handshake.peer_authorized {
            return Err(PeerFault::UnexpectedFrame {
                frame: "authorized",
                state: self.handshake.state_name(),
            }
            .into());
        }
        self.handshake.peer_authorized = true;
        self.maybe_reveal();
        Ok(())
    }

    /// The peer's disclosure: once, under version 2, after its hello and before its
    /// `Authorized` or `Begin`. The event is queued now, so the driver sees it before
    /// any storage request that the peer's later frames cause.
    pub(super) fn on_disclose(&mut self, bytes: Vec<u8>) -> Result<(), SessionError> {
        let refused = match &self.handshake.peer {
            None => Some(self.handshake.state_name()),
            Some(peer) if peer.version < DISCLOSE_VERSION => Some("speaking version 1"),
            Some(_) if self.handshake.peer_disclosed => Some("after the peer's disclosure"),
            Some(_) if self.handshake.peer_authorized => Some(self.handshake.state_name()),
            Some(_) => None,
        };
        if let Some(state) = refused {
            return Err(PeerFault::UnexpectedFrame {
                frame: "disclose",
                state,
            }
            .into());
        }
        self.handshake.peer_disclosed = true;
        debug!(bytes = bytes.len(), "peer disclosed");
        self.outputs
            .push_back(Output::Event(Event::PeerDisclosed(bytes)));
        Ok(())
    }

    pub(super) fn on_begin(&mut self, begin: Begin) -> Result<(), SessionError> {
        self.handshake.peer_authorized = true;
        if let Some(recon) = self.recon.as_mut() {
            recon.set_peer_begin(begin)?;
            self.maybe_reveal();
            return Ok(());
        }
        if self.handshake.peer.is_some() && self.handshake.early_begin.is_none() {
            // The peer's driver was faster than ours: keep it until we authorize.
            self.handshake.early_begin = Some(begin);
            return Ok(());
        }
        Err(PeerFault::UnexpectedFrame {
            frame: "begin",
            state: self.handshake.state_name(),
        }
        .into())
    }

    pub(super) fn on_my_root(
        &mut self,
        id: RequestId,
        answer: StorageAnswer,
    ) -> Result<(), SessionError> {
        let StorageAnswer::Summaries(summaries) = answer else {
            return Err(SessionError::UnexpectedStorageReply { id });
        };
        let recon = self
            .recon
            .as_mut()
            .ok_or(SessionError::UnexpectedStorageReply { id })?;
        let begin = recon.set_my_root(id, summaries)?;
        self.queue_frame(&Frame::Begin(begin));
        Ok(())
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
    fn the_default_share_is_what_both_offer_and_accept() {
        let chw = scopes(&["sikoro/chw-01"]);
        let supervisor = scopes(&["sikoro"]);
        assert_eq!(default_share(&supervisor, &supervisor, &chw, &chw), chw);
        assert_eq!(default_share(&chw, &chw, &supervisor, &supervisor), chw);
        // a device that accepts but offers nothing gets nothing in this symmetric default
        assert!(default_share(&[], &supervisor, &supervisor, &supervisor).is_empty());
    }
}
