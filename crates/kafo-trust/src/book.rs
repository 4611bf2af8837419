//! The trust book: what a device knows (pinned program, known chains,
//! revocations), with a deterministic encoding for persistence.

use std::collections::BTreeMap;

use crate::chain::Chain;
use crate::revocation::Revocation;
use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_bytes, put_varint};
use crate::{AdmitError, DeviceKey, Enrolment, ProgramId, RevocationError, UnixTime};

const BOOK_VERSION: u8 = 1;
/// At most this many known devices or revocations in a decoded book.
const MAX_BOOK_ENTRIES: usize = 1 << 20;
/// The longest encoded chain or revocation in a book.
const MAX_ENTRY_LEN: usize = 256 * 1024;

/// What this device knows: the pinned program, known chains (by device) and revocations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustBook {
    program: ProgramId,
    devices: BTreeMap<DeviceKey, Chain>,
    revocations: BTreeMap<DeviceKey, Revocation>,
}

impl TrustBook {
    /// An empty book pinned to `program`.
    pub fn new(program: ProgramId) -> Self {
        Self {
            program,
            devices: BTreeMap::new(),
            revocations: BTreeMap::new(),
        }
    }

    /// The pinned program.
    pub fn program(&self) -> ProgramId {
        self.program
    }

    /// Verifies a chain at `now` and remembers it, keeping per device the chain
    /// with the latest `not_after`. Revocations are not checked here (a revoked
    /// device's chain is still worth knowing: it bounds the scope of a
    /// supervisor's revocation and attributes its older changes); use
    /// [`TrustBook::admit`] to decide whether to talk to a device.
    pub fn learn_chain(&mut self, chain: &Chain, now: UnixTime) -> Result<Enrolment, AdmitError> {
        if chain.program() != self.program {
            return Err(AdmitError::WrongProgram);
        }
        let enrolment = chain.verify(&self.program, now)?;
        let keep_old = self
            .devices
            .get(&enrolment.device)
            .is_some_and(|old| old.leaf().not_after >= chain.leaf().not_after);
        if !keep_old {
            self.devices.insert(enrolment.device, chain.clone());
        }
        Ok(enrolment)
    }

    /// Verifies and remembers a revocation; `Ok(true)` if it was new. A
    /// revocation by a device of a device outside its scopes is refused
    /// ([`RevocationError::OutsideIssuerScope`]) when the revoked device's chain is known.
    /// One revocation is kept per device: the program key's before a device's,
    /// then the earliest issued (the smallest frontier, presumably).
    pub fn learn_revocation(&mut self, revocation: Revocation) -> Result<bool, RevocationError> {
        revocation.verify_for(&self.program, self.devices.get(&revocation.device))?;
        let replace = match self.revocations.get(&revocation.device) {
            None => true,
            // One learnt while the device's chain was unknown may turn out to be
            // outside its issuer's scopes: it never keeps an effective one out.
            Some(old) => {
                preference(&revocation) < preference(old)
                    || !self.covers_known_chain(old, &revocation.device)
            }
        };
        if replace {
            self.revocations.insert(revocation.device, revocation);
        }
        Ok(replace)
    }

    /// The handshake check: the chain verifies against the pinned program at
    /// `now`, and neither its subject nor any device that issued one of its
    /// certificates is revoked (by a revocation whose issuer's scopes cover
    /// that device's certificate in this chain).
    pub fn admit(&self, chain: &Chain, now: UnixTime) -> Result<Enrolment, AdmitError> {
        if chain.program() != self.program {
            return Err(AdmitError::WrongProgram);
        }
        let enrolment = chain.verify(&self.program, now)?;
        for certificate in chain.certificates() {
            if let Some(revocation) = self.revocations.get(&certificate.subject)
                && revocation
                    .claimed_issuer_scopes()
                    .covers_all(&certificate.scopes)
            {
                return Err(AdmitError::Revoked {
                    reason: revocation.reason.clone(),
                });
            }
        }
        Ok(enrolment)
    }

    /// The revocation of `device` that takes effect: one whose issuer's scopes cover
    /// the device's known certificate (any, while its chain is unknown here).
    /// Every check of a device (live sessions, changes, `devices`) goes through this,
    /// so an out-of-scope revocation learnt before the chain revokes nothing.
    pub fn revocation(&self, device: &DeviceKey) -> Option<&Revocation> {
        self.revocations
            .get(device)
            .filter(|revocation| self.covers_known_chain(revocation, device))
    }

    /// Whether `revocation`'s issuer covers `device`'s known certificate (true when
    /// its chain is unknown).
    fn covers_known_chain(&self, revocation: &Revocation, device: &DeviceKey) -> bool {
        self.devices.get(device).is_none_or(|chain| {
            revocation
                .claimed_issuer_scopes()
                .covers_all(&chain.leaf().scopes)
        })
    }

    /// Every known revocation, by revoked device.
    pub fn revocations(&self) -> impl Iterator<Item = &Revocation> {
        self.revocations.values()
    }

    /// Every known device and its chain.
    pub fn devices(&self) -> impl Iterator<Item = (&DeviceKey, &Chain)> {
        self.devices.iter()
    }

    /// The known chain of `device`.
    pub fn chain(&self, device: &DeviceKey) -> Option<&Chain> {
        self.devices.get(device)
    }

    /// The enrolment of a known device, its chain verified at `now` (`None` if
    /// unknown, invalid or not valid at `now`). Revocations are not considered:
    /// check them with [`Revocation::allows`] per change.
    pub fn enrolment(&self, device: &DeviceKey, now: UnixTime) -> Option<Enrolment> {
        self.devices.get(device)?.verify(&self.program, now).ok()
    }

    /// Like [`TrustBook::enrolment`] but ignoring the validity period (for
    /// changes authored while a now-expired certificate was valid).
    pub fn enrolment_any_time(&self, device: &DeviceKey) -> Option<Enrolment> {
        self.devices
            .get(device)?
            .verify_ignoring_time(&self.program)
            .ok()
    }

    /// Deterministic binary form: version, program, chains by device, revocations by device.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![BOOK_VERSION];
        out.extend_from_slice(self.program.as_bytes());
        put_varint(&mut out, self.devices.len() as u64);
        for chain in self.devices.values() {
            put_bytes(&mut out, &chain.encode());
        }
        put_varint(&mut out, self.revocations.len() as u64);
        for revocation in self.revocations.values() {
            put_bytes(&mut out, &revocation.encode());
        }
        out
    }

    /// Decodes the binary form. Structure only: the book is this device's own
    /// record, whose entries were verified when learnt.
    pub fn decode(bytes: &[u8]) -> Result<TrustBook, DecodeError> {
        let mut reader = Reader::new(bytes);
        reader.version("book.version", BOOK_VERSION)?;
        let program = ProgramId::from_bytes(reader.array("book.program")?);
        let mut book = TrustBook::new(program);
        let count = reader.count("book.devices", MAX_BOOK_ENTRIES, 1)?;
        for _ in 0..count {
            let at = reader.offset();
            let entry = reader.bytes("book.devices.chain", MAX_ENTRY_LEN)?;
            let base = reader.offset() - entry.len();
            let chain = Chain::decode(entry).map_err(|e| e.shifted(base))?;
            check_entry(
                &book.devices,
                &chain.subject(),
                chain.program() == program,
                "book.devices.chain",
                at,
            )?;
            book.devices.insert(chain.subject(), chain);
        }
        let count = reader.count("book.revocations", MAX_BOOK_ENTRIES, 1)?;
        for _ in 0..count {
            let at = reader.offset();
            let entry = reader.bytes("book.revocations.revocation", MAX_ENTRY_LEN)?;
            let base = reader.offset() - entry.len();
            let revocation = Revocation::decode(entry).map_err(|e| e.shifted(base))?;
            check_entry(
                &book.revocations,
                &revocation.device,
                revocation.program == program,
                "book.revocations.revocation",
                at,
            )?;
            book.revocations.insert(revocation.device, revocation);
        }
        reader.finish("book")?;
        Ok(book)
    }
}

/// Entries must be of the book's program and in strictly increasing device order.
fn check_entry<T>(
    map: &BTreeMap<DeviceKey, T>,
    device: &DeviceKey,
    same_program: bool,
    field: &'static str,
    at: usize,
) -> Result<(), DecodeError> {
    if !same_program {
        return Err(DecodeError::new(
            field,
            at,
            DecodeErrorKind::Invalid("an entry of another program".into()),
        ));
    }
    if map.keys().next_back().is_some_and(|last| last >= device) {
        return Err(DecodeError::new(field, at, DecodeErrorKind::NotCanonical));
    }
    Ok(())
}

/// Sort key of competing revocations of one device: smaller is preferred.
fn preference(revocation: &Revocation) -> (bool, u64, Vec<u8>) {
    (
        revocation.issuer_device().is_some(),
        revocation.issued_at,
        revocation.encode(),
    )
}
