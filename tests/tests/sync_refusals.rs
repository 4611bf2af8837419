//! A peer sends a document outside the scopes the receiving device accepts: the session
//! refuses it with a typed reason, tells the peer why, and the real store is untouched.

use std::time::Instant;

use automerge::AutoCommit;
use kafo::store::SetFingerprint;
use kafo_model::document::apply_household;
use kafo_model::{Fingerprint, Household, HouseholdId, Scope};
use kafo_proto::docops::RejectReason;
use kafo_proto::tree::{Salt, Summary};
use kafo_proto::wire::{
    Begin, CloseReason, DeviceId, EntryKind, Frame, FrameDecoder, Hello, Nonce, Payload,
    PayloadEntry, VersionRange, compress, encode_entries,
};
use kafo_proto::{Event, Input, Outcome, Output, PeerFault, Session, SessionError, SessionReport};
use kafo_tests::caseload::{of_chw, program};
use kafo_tests::device::Device;
use kafo_tests::pair::{Link, sync_devices};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

const MALLORY_NONCE: Nonce = Nonce([9; 16]);

/// A session of `device` driven by hand against a scripted peer.
struct Victim<'d> {
    device: &'d Device,
    session: Session,
    now: Instant,
    sent: Vec<u8>,
    report: Option<SessionReport>,
}

impl<'d> Victim<'d> {
    fn new(device: &'d Device, seed: u64) -> Self {
        let now = Instant::now();
        let session = Session::new(device.config(), now, &mut ChaCha8Rng::seed_from_u64(seed));
        let mut victim = Self {
            device,
            session,
            now,
            sent: Vec::new(),
            report: None,
        };
        victim.drain();
        victim
    }

    fn receive(&mut self, frame: &Frame) {
        self.session
            .handle_input(self.now, Input::Received(&frame.to_bytes()));
        self.drain();
    }

    /// Executes storage on the real store, authorizes with the default share.
    fn drain(&mut self) {
        let mut storage = self.device.storage();
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Transmit(bytes) => self.sent.extend_from_slice(&bytes),
                Output::Storage(request) => {
                    let reply = kafo_proto::storage::execute(request, &mut storage);
                    self.session.handle_input(self.now, Input::Storage(reply));
                }
                Output::SetTimer(_) => {}
                // Revocations disclosed by a trusted peer: nothing to learn here.
                Output::Event(Event::PeerDisclosed(_)) => {}
                Output::Event(Event::PeerHello(_)) => {
                    let share = self.session.default_share().unwrap_or_default();
                    self.session
                        .handle_input(self.now, Input::Authorize { share });
                }
                Output::Event(Event::Finished(report)) => self.report = Some(report),
            }
        }
    }

    fn take_frames(&mut self) -> Vec<Frame> {
        let bytes = std::mem::take(&mut self.sent);
        let mut decoder = FrameDecoder::new();
        let mut input = bytes.as_slice();
        let mut frames = Vec::new();
        while let Ok(Some(frame)) = decoder.decode(&mut input) {
            frames.push(frame);
        }
        frames
    }

    fn fault(&self) -> Option<&PeerFault> {
        match self.report.as_ref().map(|report| &report.outcome) {
            Some(Outcome::Failed(SessionError::PeerMisbehaved(fault))) => Some(fault),
            _ => None,
        }
    }
}

/// What the store holds, to compare before and after.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    export: String,
    area: SetFingerprint,
    len: u64,
}

fn snapshot(device: &Device) -> anyhow::Result<Snapshot> {
    let store = device.node.store();
    Ok(Snapshot {
        export: device.export()?,
        area: store.scope_fingerprint(&"sikoro".parse::<Scope>()?)?,
        len: store.len()?,
    })
}

/// Mallory introduces itself as a `sikoro/chw-01` device and claims one household.
fn mallory_opens(victim: &mut Victim<'_>) -> anyhow::Result<()> {
    let frames = victim.take_frames();
    let Some(Frame::Hello(theirs)) = frames.first() else {
        anyhow::bail!("a session opens with its hello, got {frames:?}");
    };
    let salt = Salt::new(&theirs.nonce.0, &MALLORY_NONCE.0);
    let scopes: Vec<Scope> = vec!["sikoro/chw-01".parse()?];
    victim.receive(&Frame::Hello(Hello {
        versions: VersionRange { min: 1, max: 1 },
        device: DeviceId::new(b"mallory".to_vec()).ok_or_else(|| anyhow::anyhow!("id"))?,
        nonce: MALLORY_NONCE,
        window: 4 * 1024 * 1024,
        offers: scopes.clone(),
        accepts: scopes.clone(),
        credentials: Vec::new(),
    }));
    victim.receive(&Frame::Begin(Begin {
        share: scopes,
        summary: Summary {
            count: 1,
            tag: salt.tag(&Fingerprint([7; 32])),
        },
    }));
    Ok(())
}

fn payload(entry: PayloadEntry) -> Frame {
    let raw = encode_entries(&[entry]);
    Frame::Payload(Payload {
        batch: 0,
        raw_len: raw.len() as u64,
        compressed: compress(&raw),
    })
}

fn document(household: &Household) -> anyhow::Result<AutoCommit> {
    let mut doc = AutoCommit::new();
    apply_household(&mut doc, household)?;
    Ok(doc)
}

/// Sends `entry` after the opening; checks the refusal, the close and the untouched store.
fn refused(device: &Device, entry: PayloadEntry, seed: u64) -> anyhow::Result<()> {
    let before = snapshot(device)?;
    let mut victim = Victim::new(device, seed);
    mallory_opens(&mut victim)?;
    assert!(victim.report.is_none(), "the opening is valid");
    victim.receive(&payload(entry));
    assert!(
        matches!(
            victim.fault(),
            Some(PeerFault::Rejected {
                reason: RejectReason::OutOfScope { .. },
                ..
            })
        ),
        "{:?}",
        victim.report
    );
    let frames = victim.take_frames();
    assert_eq!(
        frames.last(),
        Some(&Frame::Close {
            reason: CloseReason::ProtocolViolation
        })
    );
    assert!(victim.session.is_finished());
    assert_eq!(snapshot(device)?, before, "nothing was written");
    Ok(())
}

#[test]
fn documents_outside_the_accepted_scope_are_refused_and_nothing_is_written() -> anyhow::Result<()> {
    let config = program(6, 2, 10);
    let chw1 = Device::new("chw-01", &["sikoro/chw-01"])?;
    chw1.import(&of_chw(&config, "chw-01")?)?;
    let foreign = of_chw(&config, "chw-02")?;

    // A whole document of another CHW's caseload.
    let mut stranger = document(&foreign[0])?;
    refused(
        &chw1,
        PayloadEntry {
            id: foreign[0].id.clone(),
            kind: EntryKind::Document,
            data: stranger.save(),
        },
        1,
    )?;

    // The same, as raw changes that would create the document.
    let changes: Vec<u8> = stranger
        .get_changes(&[])
        .iter()
        .flat_map(|change| change.raw_bytes().to_vec())
        .collect();
    refused(
        &chw1,
        PayloadEntry {
            id: foreign[0].id.clone(),
            kind: EntryKind::Changes,
            data: changes,
        },
        2,
    )?;

    // A document that claims one of chw-01's households for chw-02: the held household
    // is neither replaced nor merged with it.
    let held: HouseholdId = "sikoro-chw-01-h0003".parse()?;
    let mut takeover = foreign[2].clone();
    takeover.id = held.clone();
    refused(
        &chw1,
        PayloadEntry {
            id: held.clone(),
            kind: EntryKind::Document,
            data: document(&takeover)?.save(),
        },
        3,
    )?;
    assert_eq!(
        chw1.node
            .household(&held)?
            .map(|view| view.household.chw.to_string()),
        Some("chw-01".to_string())
    );

    // The device still syncs with an honest peer afterwards.
    let honest = Device::new("honest", &["sikoro/chw-01"])?;
    let run = sync_devices(&chw1, &honest, &Link::default(), 4)?;
    assert!(run.in_sync());
    assert_eq!(honest.export()?, chw1.export()?);
    Ok(())
}
