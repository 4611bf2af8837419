//! The trust actions of [`Node`]: creating a program, enrolling and revoking devices,
//! joining with a certificate, and listing what this device knows.

use kafo_trust::{
    Chain, DeviceKey, Enrolment, ProgramKey, Revocation, Role, Scopes, TrustBook, UnixTime,
};
use tracing::info;

use crate::identity::DeviceId;
use crate::node::Node;
use crate::trust::state::{META_BOOK, META_CHAIN, META_PROGRAM_KEY, META_PROGRAM_NAME};
use crate::trust::{KnownDevice, ProgramInfo, RevokedInfo, TrustError, WhoAmI, unix_now};

/// Seconds in a day.
const DAY: u64 = 86_400;
/// The longest validity a certificate may be given.
pub const MAX_VALID_DAYS: u64 = 3650;
/// The longest program name, in bytes.
pub const MAX_PROGRAM_NAME: usize = 100;

/// The end of a validity of `days` from `now`.
fn validity_end(now: UnixTime, days: u64) -> Result<UnixTime, TrustError> {
    if days == 0 || days > MAX_VALID_DAYS {
        return Err(TrustError::BadValidity {
            days,
            max: MAX_VALID_DAYS,
        });
    }
    Ok(now.saturating_add(days.saturating_mul(DAY)))
}

impl Node {
    /// Creates a health program on this device: a new program key, kept in this
    /// device's store; this device pins the program and becomes its first admin, for
    /// every scope, valid `valid_days`. Every change already in the store is signed
    /// by this device. Fails if this device already belongs to a program.
    pub fn create_program(&self, name: &str, valid_days: u64) -> Result<ProgramInfo, TrustError> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_PROGRAM_NAME {
            return Err(TrustError::BadProgramName {
                len: name.len(),
                max: MAX_PROGRAM_NAME,
            });
        }
        let now = unix_now();
        let not_after = validity_end(now, valid_days)?;
        let device = self.trust.device_key().ok_or(TrustError::CannotSign)?;
        let admin = {
            let mut known = self.trust.write();
            if let Some(enrolment) = known.enrolment() {
                return Err(TrustError::AlreadyEnrolled {
                    program: enrolment.program,
                });
            }
            let key = ProgramKey::generate();
            let program = key.id();
            let chain = key.enrol(device, Role::Admin, Scopes::All, now, not_after)?;
            let admin = chain.verify(&program, now)?;
            let mut book = TrustBook::new(program);
            book.learn_chain(&chain, now)?;
            // The chain last: its presence is what makes this device enrolled.
            self.store
                .put_meta(META_PROGRAM_KEY, &key.to_secret_bytes())?;
            self.store.put_meta(META_PROGRAM_NAME, name.as_bytes())?;
            self.store.put_meta(META_BOOK, &book.encode())?;
            self.store.put_meta(META_CHAIN, &chain.encode())?;
            known.book = Some(book);
            known.own = Some((chain, admin.clone()));
            known.program_key = Some(key);
            known.program_name = Some(name.to_owned());
            admin
        };
        info!(program = %admin.program.redacted(), "program created");
        self.trust.start_signing(&self.store)?;
        self.adopt_unsigned()?;
        Ok(ProgramInfo {
            program: admin.program,
            name: name.to_owned(),
            admin,
        })
    }

    /// Enrols `device` with `role` for `scopes`, valid `valid_days` (at most as long
    /// as this device's own certificate, unless it holds the program key). Signed by
    /// the program key if this device holds it, else by this device's own enrolment,
    /// which must allow it (a supervisor enrols CHWs, relays and supervisors within
    /// her scopes). Returns the device's chain: give it `chain.to_text()`.
    pub fn enrol(
        &self,
        device: DeviceId,
        role: Role,
        scopes: Scopes,
        valid_days: u64,
    ) -> Result<Chain, TrustError> {
        let subject = device.key().ok_or(TrustError::NotADeviceKey { device })?;
        let now = unix_now();
        let not_after = validity_end(now, valid_days)?;
        let chain = {
            let known = self.trust.read();
            let own = known.enrolment().ok_or(TrustError::NotEnrolled)?;
            match &known.program_key {
                Some(key) if key.id() == own.program => {
                    key.enrol(subject, role, scopes, now, not_after)?
                }
                _ => {
                    let signing = self.trust.signing_key().ok_or(TrustError::CannotSign)?;
                    own.enrol(
                        signing,
                        subject,
                        role,
                        scopes,
                        now,
                        not_after.min(own.not_after),
                    )?
                }
            }
        };
        self.trust.learn_chains(&self.store, [&chain], now)?;
        info!(device = %device.redacted(), %role, "device enrolled");
        Ok(chain)
    }

    /// Joins a program with the certificate chain issued for this device (its text
    /// form, `KAFO1:...`): checks it names this device and is valid now, pins its
    /// program (an error if this device belongs to another one; the same program's
    /// new certificate renews the enrolment), then signs every change already in the
    /// store, in durable batches.
    pub fn join(&self, chain_text: &str) -> Result<Enrolment, TrustError> {
        let chain = Chain::from_text(chain_text).map_err(TrustError::BadCertificate)?;
        let this = self.trust.device_key().ok_or(TrustError::CannotSign)?;
        if chain.subject() != this {
            return Err(TrustError::NotThisDevice {
                subject: DeviceId::from(chain.subject()),
            });
        }
        let now = unix_now();
        let program = chain.program();
        let enrolment = {
            let mut known = self.trust.write();
            let mut book = match &known.book {
                Some(book) if book.program() != program => {
                    return Err(TrustError::OtherProgram {
                        pinned: book.program(),
                        found: program,
                    });
                }
                Some(book) => book.clone(),
                None => TrustBook::new(program),
            };
            let enrolment = book.admit(&chain, now)?;
            book.learn_chain(&chain, now)?;
            self.store.put_meta(META_BOOK, &book.encode())?;
            self.store.put_meta(META_CHAIN, &chain.encode())?;
            known.book = Some(book);
            known.own = Some((chain, enrolment.clone()));
            enrolment
        };
        info!(role = %enrolment.role, "joined the program");
        self.trust.start_signing(&self.store)?;
        self.adopt_unsigned()?;
        Ok(enrolment)
    }

    /// Revokes `device`: signs a revocation (with the program key if this device
    /// holds it, else as this admin or supervisor, for a device within its scopes)
    /// whose frontier is the last change of each of the device's actors stored here,
    /// so that its later changes are refused everywhere. The revocation spreads in
    /// every later session, ahead of any data; live sessions with the device are cut.
    pub fn revoke(&self, device: DeviceId, reason: &str) -> Result<Revocation, TrustError> {
        let target = device.key().ok_or(TrustError::NotADeviceKey { device })?;
        if Some(target) == self.trust.device_key() {
            return Err(TrustError::RevokeSelf);
        }
        if !self.trust.is_enrolled() {
            return Err(TrustError::NotEnrolled);
        }
        let frontier = self.frontier_of(&target)?;
        let now = unix_now();
        let revocation = {
            let known = self.trust.read();
            let own = known.enrolment().ok_or(TrustError::NotEnrolled)?;
            match &known.program_key {
                Some(key) if key.id() == own.program => {
                    key.revoke(target, reason, now, frontier)?
                }
                _ => {
                    let signing = self.trust.signing_key().ok_or(TrustError::CannotSign)?;
                    Revocation::issue(own, signing, target, reason, now, frontier)?
                }
            }
        };
        self.trust
            .record_revocation(&self.store, revocation.clone())?;
        info!(device = %device.redacted(), "device revoked");
        Ok(revocation)
    }

    /// Every device this device knows a certificate of, in device order.
    pub fn devices(&self) -> Result<Vec<KnownDevice>, TrustError> {
        let known = self.trust.read();
        let Some(book) = known.book.as_ref() else {
            return Ok(Vec::new());
        };
        let this = self.trust.device_key();
        Ok(book
            .devices()
            .map(|(key, chain)| {
                let leaf = chain.leaf();
                KnownDevice {
                    device: DeviceId::from(*key),
                    role: leaf.role,
                    scopes: leaf.scopes.clone(),
                    not_after: leaf.not_after,
                    revoked: book.revocation(key).map(|revocation| RevokedInfo {
                        reason: revocation.reason.clone(),
                        issued_at: revocation.issued_at,
                    }),
                    this_device: Some(*key) == this,
                }
            })
            .collect())
    }

    /// This device's id and, when enrolled, its program and enrolment.
    pub fn whoami(&self) -> WhoAmI {
        let known = self.trust.read();
        WhoAmI {
            device: self.device_id(),
            program: known.book.as_ref().map(TrustBook::program),
            program_name: known.program_name.clone(),
            enrolment: known.enrolment().cloned(),
        }
    }

    /// Whether `device` is known to be revoked here.
    pub fn is_revoked(&self, device: &DeviceId) -> bool {
        device
            .key()
            .is_some_and(|key: DeviceKey| self.trust.is_revoked(&key))
    }
}
