//! Certificates and chains: their compact binary and text forms, and
//! verification (signatures and the narrowing rules).

use std::fmt;

use data_encoding::BASE32_NOPAD;
use libp2p_identity::ed25519::PublicKey;

use crate::wire::{DecodeError, DecodeErrorKind, Reader, put_varint};
use crate::{ChainError, DeviceKey, Enrolment, ProgramId, Role, Scopes, UnixTime};

/// At most this many certificates in a chain.
pub const MAX_CHAIN_LEN: usize = 8;
/// The version byte of the binary chain form.
const CHAIN_VERSION: u8 = 1;
/// Domain separation of certificate signatures.
const CERT_TAG: &[u8] = b"kafo/cert/v1";
/// Prefix of the text form.
pub const TEXT_PREFIX: &str = "KAFO1:";
/// The smallest encoded certificate: key, role, scopes tag, two 1-byte varints, signature.
const MIN_CERT_LEN: usize = 32 + 1 + 1 + 1 + 1 + 64;
/// The largest text form accepted (a chain of 8 certificates with 64 long scopes each fits).
const MAX_TEXT_LEN: usize = 256 * 1024;

/// One certificate: binds `subject` to a role, scopes and validity period,
/// signed by its issuer (the program key for the first certificate of a
/// chain, else the subject of the previous one).
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    /// The program.
    pub program: ProgramId,
    /// The enrolled device.
    pub subject: DeviceKey,
    /// Its role.
    pub role: Role,
    /// What it may read (and write if the role writes).
    pub scopes: Scopes,
    /// Start of validity (unix seconds, inclusive).
    pub not_before: UnixTime,
    /// End of validity (unix seconds, inclusive).
    pub not_after: UnixTime,
    pub(crate) signature: [u8; 64],
}

impl Certificate {
    /// The issuer's signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// Whether `now` is within the validity period.
    pub fn valid_at(&self, now: UnixTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// The fields after the program: subject, role, scopes, not_before, not_after.
    fn encode_fields(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.subject.as_bytes());
        out.push(self.role.to_byte());
        self.scopes.encode_into(out);
        put_varint(out, self.not_before);
        put_varint(out, self.not_after);
    }

    /// What the issuer signs: tag, program, issuer key, every field.
    pub(crate) fn signed_message(&self, issuer: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(160);
        out.extend_from_slice(CERT_TAG);
        out.extend_from_slice(self.program.as_bytes());
        out.extend_from_slice(issuer);
        self.encode_fields(&mut out);
        out
    }

    fn decode_from(
        reader: &mut Reader<'_>,
        program: ProgramId,
    ) -> Result<Certificate, DecodeError> {
        let at = reader.offset();
        let subject = DeviceKey::from_bytes(reader.array("cert.subject")?)
            .map_err(|_| DecodeError::new("cert.subject", at, DecodeErrorKind::BadKey))?;
        let at = reader.offset();
        let byte = reader.u8("cert.role")?;
        let role = Role::from_byte(byte).ok_or(DecodeError::new(
            "cert.role",
            at,
            DecodeErrorKind::UnknownTag(byte),
        ))?;
        let scopes = Scopes::decode_from(reader)?;
        let not_before = reader.varint("cert.not_before")?;
        let not_after = reader.varint("cert.not_after")?;
        let signature = reader.array("cert.signature")?;
        Ok(Certificate {
            program,
            subject,
            role,
            scopes,
            not_before,
            not_after,
            signature,
        })
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("program", &self.program)
            .field("subject", &self.subject)
            .field("role", &self.role)
            .field("scopes", &self.scopes)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .finish_non_exhaustive()
    }
}

/// A device's certificate chain, root first: certificate 0 is signed by the
/// program key, certificate `i` by the subject of certificate `i - 1`.
/// Non-empty, at most [`MAX_CHAIN_LEN`] certificates, all of one program.
#[derive(Clone, PartialEq, Eq)]
pub struct Chain {
    certificates: Vec<Certificate>,
}

impl Chain {
    /// Assembles a chain from certificates (structure only: non-empty, at most
    /// [`MAX_CHAIN_LEN`], one program). Signatures are checked by [`Chain::verify`].
    pub fn from_certificates(certificates: Vec<Certificate>) -> Option<Chain> {
        let program = certificates.first()?.program;
        (certificates.len() <= MAX_CHAIN_LEN && certificates.iter().all(|c| c.program == program))
            .then_some(Chain { certificates })
    }

    /// The certificates, root first.
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The last certificate (the subject's own).
    pub fn leaf(&self) -> &Certificate {
        // Never empty: every constructor refuses an empty list.
        &self.certificates[self.certificates.len() - 1]
    }

    /// The program.
    pub fn program(&self) -> ProgramId {
        self.leaf().program
    }

    /// The enrolled device (the leaf's subject).
    pub fn subject(&self) -> DeviceKey {
        self.leaf().subject
    }

    /// The chain extended by one more certificate (unchecked).
    pub(crate) fn extended(&self, certificate: Certificate) -> Chain {
        let mut certificates = self.certificates.clone();
        certificates.push(certificate);
        Chain { certificates }
    }

    pub(crate) fn single(certificate: Certificate) -> Chain {
        Chain {
            certificates: vec![certificate],
        }
    }

    /// The compact binary form: version, program, count, then per certificate
    /// subject, role, scopes, not_before, not_after, signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(34 + self.certificates.len() * 128);
        out.push(CHAIN_VERSION);
        out.extend_from_slice(self.program().as_bytes());
        put_varint(&mut out, self.certificates.len() as u64);
        for certificate in &self.certificates {
            certificate.encode_fields(&mut out);
            out.extend_from_slice(&certificate.signature);
        }
        out
    }

    /// Decodes the binary form (structure only: no signature is checked).
    pub fn decode(bytes: &[u8]) -> Result<Chain, DecodeError> {
        let mut reader = Reader::new(bytes);
        let chain = Self::decode_from(&mut reader)?;
        reader.finish("chain")?;
        Ok(chain)
    }

    pub(crate) fn decode_from(reader: &mut Reader<'_>) -> Result<Chain, DecodeError> {
        reader.version("chain.version", CHAIN_VERSION)?;
        let program = ProgramId::from_bytes(reader.array("chain.program")?);
        let at = reader.offset();
        let count = reader.count("chain.count", MAX_CHAIN_LEN, MIN_CERT_LEN)?;
        if count == 0 {
            return Err(DecodeError::new(
                "chain.count",
                at,
                DecodeErrorKind::Invalid("a chain has at least one certificate".into()),
            ));
        }
        let mut certificates = Vec::with_capacity(count);
        for _ in 0..count {
            certificates.push(Certificate::decode_from(reader, program)?);
        }
        Ok(Chain { certificates })
    }

    /// The text form: `KAFO1:` and the base32 (uppercase, no padding) of the binary form.
    pub fn to_text(&self) -> String {
        format!("{TEXT_PREFIX}{}", BASE32_NOPAD.encode(&self.encode()))
    }

    /// Parses the text form; case-insensitive, whitespace anywhere ignored.
    pub fn from_text(text: &str) -> Result<Chain, DecodeError> {
        if text.len() > MAX_TEXT_LEN {
            return Err(DecodeError::new(
                "text",
                0,
                DecodeErrorKind::TooLarge {
                    found: text.len() as u64,
                    max: MAX_TEXT_LEN as u64,
                },
            ));
        }
        let compact: String = text
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let body = compact.strip_prefix(TEXT_PREFIX).ok_or_else(|| {
            DecodeError::new(
                "text.prefix",
                0,
                DecodeErrorKind::Invalid(format!("a chain's text starts with {TEXT_PREFIX}")),
            )
        })?;
        let bytes = BASE32_NOPAD.decode(body.as_bytes()).map_err(|e| {
            DecodeError::new(
                "text.base32",
                TEXT_PREFIX.len() + e.position,
                DecodeErrorKind::Invalid(format!("not base32: {}", e.kind)),
            )
        })?;
        Chain::decode(&bytes)
    }

    /// Checks every signature, the narrowing rules, that certificate 0 is
    /// signed by `program`, and validity at `now`.
    pub fn verify(&self, program: &ProgramId, now: UnixTime) -> Result<Enrolment, ChainError> {
        let enrolment = self.verify_structure(program)?;
        let leaf = self.leaf();
        if now < leaf.not_before {
            return Err(ChainError::NotYetValid {
                not_before: leaf.not_before,
            });
        }
        if now > leaf.not_after {
            return Err(ChainError::Expired {
                not_after: leaf.not_after,
            });
        }
        Ok(enrolment)
    }

    /// Everything [`Chain::verify`] checks except the time of validity.
    pub fn verify_ignoring_time(&self, program: &ProgramId) -> Result<Enrolment, ChainError> {
        self.verify_structure(program)
    }

    fn verify_structure(&self, program: &ProgramId) -> Result<Enrolment, ChainError> {
        if self.program() != *program {
            return Err(ChainError::WrongProgram {
                expected: *program,
                found: self.program(),
            });
        }
        let mut issuer_key: PublicKey = program.public_key().ok_or(ChainError::BadProgramKey)?;
        let mut issuer: Option<&Certificate> = None;
        for (index, certificate) in self.certificates.iter().enumerate() {
            if certificate.program != *program {
                return Err(ChainError::WrongProgram {
                    expected: *program,
                    found: certificate.program,
                });
            }
            if certificate.not_before > certificate.not_after {
                return Err(ChainError::InvalidValidity { index });
            }
            if !certificate.scopes.is_normalized() || certificate.scopes.len() > crate::MAX_SCOPES {
                return Err(ChainError::ScopesWiden { index });
            }
            if let Some(parent) = issuer {
                if !parent.role.can_enrol(certificate.role) {
                    return Err(ChainError::RoleNotAllowed {
                        index,
                        issuer: parent.role,
                        role: certificate.role,
                    });
                }
                if !parent.scopes.covers_all(&certificate.scopes) {
                    return Err(ChainError::ScopesWiden { index });
                }
                if certificate.not_before < parent.not_before
                    || certificate.not_after > parent.not_after
                {
                    return Err(ChainError::ValidityWidens { index });
                }
            }
            let message = certificate.signed_message(&issuer_key.to_bytes());
            if !issuer_key.verify(&message, &certificate.signature) {
                return Err(ChainError::BadSignature { index });
            }
            issuer_key = certificate.subject.public_key();
            issuer = Some(certificate);
        }
        let leaf = self.leaf();
        Ok(Enrolment {
            program: *program,
            device: leaf.subject,
            role: leaf.role,
            scopes: leaf.scopes.clone(),
            not_before: leaf.not_before,
            not_after: leaf.not_after,
            chain: self.clone(),
        })
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.certificates).finish()
    }
}
