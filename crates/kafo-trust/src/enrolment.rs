//! Verified enrolments and issuing certificates (by the program key or by an
//! enrolled device), refusing anything wider than the issuer holds.

use kafo_model::HouseholdScope;
use libp2p_identity::ed25519::Keypair;

use crate::chain::{Certificate, Chain, MAX_CHAIN_LEN};
use crate::keys::{is_key_of, sign64};
use crate::{DeviceKey, IssueError, MAX_SCOPES, ProgramId, ProgramKey, Role, Scopes, UnixTime};

/// A verified enrolment: what a chain proves about its subject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrolment {
    /// The program.
    pub program: ProgramId,
    /// The enrolled device.
    pub device: DeviceKey,
    /// Its role.
    pub role: Role,
    /// Its scopes.
    pub scopes: Scopes,
    /// Start of validity (unix seconds).
    pub not_before: UnixTime,
    /// End of validity (unix seconds).
    pub not_after: UnixTime,
    pub(crate) chain: Chain,
}

impl Enrolment {
    /// The chain that proves it.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// Whether the device may read households of `scope`.
    pub fn may_read(&self, scope: &HouseholdScope) -> bool {
        self.scopes.covers_household(scope)
    }

    /// Whether the device may author changes to households of `scope`.
    pub fn may_write(&self, scope: &HouseholdScope) -> bool {
        self.role.can_write() && self.scopes.covers_household(scope)
    }

    /// Issues a certificate for `subject` signed by `device_key` (this
    /// enrolment's device key pair), returning the subject's full chain.
    /// Refuses anything wider than this enrolment (scopes, role, time).
    pub fn enrol(
        &self,
        device_key: &Keypair,
        subject: DeviceKey,
        role: Role,
        scopes: Scopes,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<Chain, IssueError> {
        if !is_key_of(device_key, &self.device) {
            return Err(IssueError::WrongKey);
        }
        if !self.role.can_enrol(role) {
            return Err(IssueError::RoleNotAllowed {
                issuer: self.role,
                role,
            });
        }
        let scopes = check_request(&scopes, not_before, not_after)?;
        if !self.scopes.covers_all(&scopes) {
            return Err(IssueError::ScopesWiden {
                asked: scopes.to_string(),
                held: self.scopes.to_string(),
            });
        }
        if not_before < self.not_before || not_after > self.not_after {
            return Err(IssueError::ValidityWidens {
                not_before,
                not_after,
                held_not_before: self.not_before,
                held_not_after: self.not_after,
            });
        }
        if self.chain.certificates().len() >= MAX_CHAIN_LEN {
            return Err(IssueError::ChainTooLong);
        }
        let certificate = sign_certificate(
            device_key,
            Certificate {
                program: self.program,
                subject,
                role,
                scopes,
                not_before,
                not_after,
                signature: [0; 64],
            },
        );
        Ok(self.chain.extended(certificate))
    }
}

/// Checks a request's validity period and scope count; returns the normalized scopes.
fn check_request(
    scopes: &Scopes,
    not_before: UnixTime,
    not_after: UnixTime,
) -> Result<Scopes, IssueError> {
    if not_before > not_after {
        return Err(IssueError::InvalidValidity {
            not_before,
            not_after,
        });
    }
    let scopes = scopes.normalized();
    if scopes.len() > MAX_SCOPES {
        return Err(IssueError::TooManyScopes {
            count: scopes.len(),
        });
    }
    Ok(scopes)
}

impl Certificate {
    /// Signs a certificate with `issuer` exactly as given (scopes normalized),
    /// without the narrowing checks of [`Enrolment::enrol`]: [`Chain::verify`]
    /// enforces them anyway. For tools and tests (forged chains must fail).
    pub fn sign(
        issuer: &Keypair,
        program: ProgramId,
        subject: DeviceKey,
        role: Role,
        scopes: Scopes,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Certificate {
        sign_certificate(
            issuer,
            Certificate {
                program,
                subject,
                role,
                scopes: scopes.normalized(),
                not_before,
                not_after,
                signature: [0; 64],
            },
        )
    }
}

fn sign_certificate(issuer: &Keypair, mut certificate: Certificate) -> Certificate {
    let message = certificate.signed_message(&issuer.public().to_bytes());
    certificate.signature = sign64(issuer, &message);
    certificate
}

impl ProgramKey {
    /// A root certificate signed as given, without checks (see [`Certificate::sign`]).
    pub fn sign_certificate(
        &self,
        subject: DeviceKey,
        role: Role,
        scopes: Scopes,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Certificate {
        Certificate::sign(
            &self.keypair,
            self.id(),
            subject,
            role,
            scopes,
            not_before,
            not_after,
        )
    }

    /// The root certificate (a chain of one) for `subject`; any role and scopes.
    pub fn enrol(
        &self,
        subject: DeviceKey,
        role: Role,
        scopes: Scopes,
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<Chain, IssueError> {
        let scopes = check_request(&scopes, not_before, not_after)?;
        let certificate = sign_certificate(
            &self.keypair,
            Certificate {
                program: self.id(),
                subject,
                role,
                scopes,
                not_before,
                not_after,
                signature: [0; 64],
            },
        );
        Ok(Chain::single(certificate))
    }
}
