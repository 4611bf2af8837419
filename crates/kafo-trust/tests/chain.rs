//! Chains: binary and text forms, signatures, narrowing and validity.

mod common;

use common::{DAY, Device, Fixture, NOW, household, scopes};
use kafo_trust::{
    AdmitError, Certificate, Chain, ChainError, DecodeErrorKind, DeviceKey, IssueError, KeyError,
    ProgramId, ProgramKey, Role, Scopes,
};

fn position(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn a_three_certificate_chain_round_trips_and_its_text_is_qr_sized() {
    let f = Fixture::new();
    let chain = f.chw.chain();
    assert_eq!(chain.certificates().len(), 3);
    assert_eq!(Chain::decode(&chain.encode()).expect("decodes"), *chain);
    let text = chain.to_text();
    println!(
        "3-certificate chain: {} bytes binary, {} characters text",
        chain.encode().len(),
        text.len()
    );
    assert!(text.starts_with("KAFO1:"));
    assert!(text.len() < 1000, "text form is {} characters", text.len());
    assert!(
        text.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ':')
    );
    assert_eq!(Chain::from_text(&text).expect("parses"), *chain);
    assert_eq!(chain.subject(), f.chw_device.key);
    assert_eq!(chain.program(), f.program.id());
    assert_eq!(chain.leaf().role, Role::Chw);
}

#[test]
fn the_text_form_ignores_case_and_whitespace() {
    let f = Fixture::new();
    let text = f.supervisor.chain().to_text();
    let mangled: String = format!("  {}\n", text.to_ascii_lowercase())
        .chars()
        .enumerate()
        .flat_map(|(i, c)| if i % 40 == 39 { vec![c, '\n'] } else { vec![c] })
        .collect();
    assert_eq!(
        Chain::from_text(&mangled).expect("parses"),
        *f.supervisor.chain()
    );
    let error = Chain::from_text("KAFO2:AAAA").expect_err("wrong prefix");
    assert_eq!(error.field, "text.prefix");
    let error = Chain::from_text("KAFO1:A1!").expect_err("not base32");
    assert_eq!(error.field, "text.base32");
}

#[test]
fn verification_yields_the_leaf_enrolment() {
    let f = Fixture::new();
    let enrolment = f
        .chw
        .chain()
        .verify(&f.program.id(), NOW)
        .expect("verifies");
    assert_eq!(enrolment.device, f.chw_device.key);
    assert_eq!(enrolment.role, Role::Chw);
    assert_eq!(enrolment.scopes, scopes(&["sikoro/chw-01"]));
    assert_eq!(enrolment.not_after, NOW + 30 * DAY);
    assert!(enrolment.may_read(&household("sikoro", "chw-01")));
    assert!(enrolment.may_write(&household("sikoro", "chw-01")));
    assert!(!enrolment.may_read(&household("sikoro", "chw-02")));
    assert!(!enrolment.may_read(&household("banconi", "chw-01")));
}

#[test]
fn a_tampered_signature_is_rejected_at_its_certificate() {
    let f = Fixture::new();
    let bytes = f.chw.chain().encode();
    let mut last = bytes.clone();
    *last.last_mut().expect("non-empty") ^= 1;
    let chain = Chain::decode(&last).expect("structure is intact");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 2 })
    );
    // The root certificate's signature: just before the supervisor's subject key.
    let at = position(&bytes, f.supervisor_device.key.as_bytes()) - 1;
    let mut root = bytes.clone();
    root[at] ^= 0x80;
    let chain = Chain::decode(&root).expect("structure is intact");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 0 })
    );
}

#[test]
fn a_tampered_field_is_rejected() {
    let f = Fixture::new();
    let bytes = f.chw.chain().encode();
    let role_at = position(&bytes, f.chw_device.key.as_bytes()) + 32;
    let mut relay = bytes.clone();
    relay[role_at] = 3;
    let chain = Chain::decode(&relay).expect("a relay role decodes");
    assert_eq!(chain.leaf().role, Role::Relay);
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 2 })
    );
    let mut admin = bytes.clone();
    admin[role_at] = 4;
    let chain = Chain::decode(&admin).expect("an admin role decodes");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::RoleNotAllowed {
            index: 2,
            issuer: Role::Supervisor,
            role: Role::Admin
        })
    );
    // Narrower validity, different subject: still not what was signed.
    let mut certificates = f.chw.chain().certificates().to_vec();
    certificates[2].not_after -= 1;
    let chain = Chain::from_certificates(certificates).expect("well-formed");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 2 })
    );
    let mut certificates = f.chw.chain().certificates().to_vec();
    certificates[2].subject = Device::new().key;
    let chain = Chain::from_certificates(certificates).expect("well-formed");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 2 })
    );
    let mut certificates = f.chw.chain().certificates().to_vec();
    certificates[1].scopes = scopes(&["banconi"]);
    let chain = Chain::from_certificates(certificates).expect("well-formed");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 1 })
    );
}

#[test]
fn a_bad_role_byte_is_a_decode_error_naming_field_and_offset() {
    let f = Fixture::new();
    let mut bytes = f.chw.chain().encode();
    let role_at = position(&bytes, f.chw_device.key.as_bytes()) + 32;
    bytes[role_at] = 9;
    let error = Chain::decode(&bytes).expect_err("unknown role");
    assert_eq!(error.field, "cert.role");
    assert_eq!(error.offset, role_at);
    assert_eq!(error.kind, DecodeErrorKind::UnknownTag(9));
    assert!(error.to_string().contains(&format!("byte {role_at}")));
}

#[test]
fn expired_and_not_yet_valid_chains_are_refused() {
    let f = Fixture::new();
    let chain = f.chw.chain();
    assert!(chain.verify(&f.program.id(), NOW + 30 * DAY).is_ok());
    assert_eq!(
        chain.verify(&f.program.id(), NOW + 30 * DAY + 1),
        Err(ChainError::Expired {
            not_after: NOW + 30 * DAY
        })
    );
    assert_eq!(
        chain.verify(&f.program.id(), NOW - DAY - 1),
        Err(ChainError::NotYetValid {
            not_before: NOW - DAY
        })
    );
    assert!(chain.verify_ignoring_time(&f.program.id()).is_ok());
    assert_eq!(
        AdmitError::from(ChainError::Expired { not_after: 5 }),
        AdmitError::Expired { not_after: 5 }
    );
}

#[test]
fn a_chain_of_another_program_is_refused() {
    let f = Fixture::new();
    let other = ProgramKey::generate();
    assert!(matches!(
        f.chw.chain().verify(&other.id(), NOW),
        Err(ChainError::WrongProgram { .. })
    ));
    // Certificates signed by another program key but claiming this program's id.
    let device = Device::new();
    let forged = Certificate::sign(
        &Device::new().keypair,
        f.program.id(),
        device.key,
        Role::Admin,
        Scopes::All,
        NOW - DAY,
        NOW + DAY,
    );
    let chain = Chain::from_certificates(vec![forged]).expect("well-formed");
    assert_eq!(
        chain.verify(&f.program.id(), NOW),
        Err(ChainError::BadSignature { index: 0 })
    );
}

#[test]
fn a_supervisor_cannot_enrol_outside_its_scope_grant_admin_or_exceed_its_validity() {
    let f = Fixture::new();
    let subject = Device::new().key;
    let key = &f.supervisor_device.keypair;
    let enrol = |role, s: Scopes, nb, na| f.supervisor.enrol(key, subject, role, s, nb, na);
    assert!(matches!(
        enrol(Role::Chw, scopes(&["banconi/chw-01"]), NOW, NOW + DAY),
        Err(IssueError::ScopesWiden { .. })
    ));
    assert!(matches!(
        enrol(
            Role::Chw,
            scopes(&["sikoro/chw-02", "banconi"]),
            NOW,
            NOW + DAY
        ),
        Err(IssueError::ScopesWiden { .. })
    ));
    assert!(matches!(
        enrol(Role::Chw, Scopes::All, NOW, NOW + DAY),
        Err(IssueError::ScopesWiden { .. })
    ));
    assert_eq!(
        enrol(Role::Admin, scopes(&["sikoro"]), NOW, NOW + DAY),
        Err(IssueError::RoleNotAllowed {
            issuer: Role::Supervisor,
            role: Role::Admin
        })
    );
    assert!(matches!(
        enrol(Role::Chw, scopes(&["sikoro"]), NOW, NOW + 61 * DAY),
        Err(IssueError::ValidityWidens { .. })
    ));
    assert!(matches!(
        enrol(Role::Chw, scopes(&["sikoro"]), NOW - 2 * DAY, NOW),
        Err(IssueError::ValidityWidens { .. })
    ));
    assert!(matches!(
        enrol(Role::Chw, scopes(&["sikoro"]), NOW + 1, NOW),
        Err(IssueError::InvalidValidity { .. })
    ));
    for role in [Role::Chw, Role::Relay, Role::Supervisor] {
        let chain = enrol(role, scopes(&["sikoro/chw-02"]), NOW, NOW + DAY).expect("allowed");
        assert_eq!(
            chain.verify(&f.program.id(), NOW).expect("verifies").role,
            role
        );
    }
    // The signing key must be the supervisor's own.
    assert_eq!(
        f.supervisor.enrol(
            &f.chw_device.keypair,
            subject,
            Role::Chw,
            scopes(&["sikoro"]),
            NOW,
            NOW + DAY
        ),
        Err(IssueError::WrongKey)
    );
    // A chw and a relay may enrol nobody.
    assert!(matches!(
        f.chw.enrol(
            &f.chw_device.keypair,
            subject,
            Role::Chw,
            scopes(&["sikoro/chw-01"]),
            NOW,
            NOW + DAY
        ),
        Err(IssueError::RoleNotAllowed { .. })
    ));
}

#[test]
fn a_forged_widening_certificate_fails_verification() {
    let f = Fixture::new();
    let subject = Device::new().key;
    // The supervisor signs outside the rules: a banconi scope, an admin role, a longer validity.
    for (role, s, na, expected) in [
        (
            Role::Chw,
            scopes(&["banconi"]),
            NOW + DAY,
            ChainError::ScopesWiden { index: 2 },
        ),
        (
            Role::Admin,
            scopes(&["sikoro"]),
            NOW + DAY,
            ChainError::RoleNotAllowed {
                index: 2,
                issuer: Role::Supervisor,
                role: Role::Admin,
            },
        ),
        (
            Role::Chw,
            scopes(&["sikoro"]),
            NOW + 365 * DAY,
            ChainError::ValidityWidens { index: 2 },
        ),
    ] {
        let forged = Certificate::sign(
            &f.supervisor_device.keypair,
            f.program.id(),
            subject,
            role,
            s,
            NOW,
            na,
        );
        let mut certificates = f.supervisor.chain().certificates().to_vec();
        certificates.push(forged);
        let chain = Chain::from_certificates(certificates).expect("well-formed");
        let chain = Chain::decode(&chain.encode()).expect("round trips");
        assert_eq!(chain.verify(&f.program.id(), NOW), Err(expected));
    }
}

#[test]
fn chains_are_bounded_to_eight_certificates() {
    let program = ProgramKey::generate();
    let mut device = Device::new();
    let mut enrolment = program
        .enrol(
            device.key,
            Role::Supervisor,
            scopes(&["sikoro"]),
            NOW,
            NOW + DAY,
        )
        .expect("root")
        .verify(&program.id(), NOW)
        .expect("verifies");
    for _ in 1..8 {
        let next = Device::new();
        enrolment = enrolment
            .enrol(
                &device.keypair,
                next.key,
                Role::Supervisor,
                scopes(&["sikoro"]),
                NOW,
                NOW + DAY,
            )
            .expect("within bound")
            .verify(&program.id(), NOW)
            .expect("verifies");
        device = next;
    }
    assert_eq!(enrolment.chain().certificates().len(), 8);
    assert_eq!(
        enrolment.enrol(
            &device.keypair,
            Device::new().key,
            Role::Chw,
            scopes(&["sikoro"]),
            NOW,
            NOW + DAY
        ),
        Err(IssueError::ChainTooLong)
    );
    let mut certificates = enrolment.chain().certificates().to_vec();
    certificates.push(certificates[7].clone());
    assert!(Chain::from_certificates(certificates).is_none());
    let mut bytes = enrolment.chain().encode();
    bytes[33] = 9;
    assert_eq!(
        Chain::decode(&bytes).expect_err("too many").field,
        "chain.count"
    );
    assert!(Chain::from_certificates(Vec::new()).is_none());
}

#[test]
fn keys_display_parse_and_validate() {
    let program = ProgramKey::generate();
    let id = program.id();
    let text = id.to_string();
    assert!(text.starts_with("KP") && text.len() == 54);
    assert_eq!(text.parse::<ProgramId>(), Ok(id));
    assert_eq!(text.to_ascii_lowercase().parse::<ProgramId>(), Ok(id));
    assert_eq!("KPXYZ".parse::<ProgramId>(), Err(KeyError::NotAProgramId));
    assert!(!format!("{id:?}").contains(&text));
    let restored = ProgramKey::from_secret_bytes(program.to_secret_bytes());
    assert_eq!(restored.id(), id);

    let device = Device::new();
    let peer = device.key.peer_id();
    assert_eq!(DeviceKey::from_peer_id(&peer), Some(device.key));
    assert_eq!(device.key.to_string(), peer.to_string());
    assert_eq!(peer.to_string().parse::<DeviceKey>(), Ok(device.key));
    assert_eq!(
        device.key.redacted(),
        format!("…{}", &peer.to_string()[peer.to_string().len() - 6..])
    );
    assert!(!format!("{:?}", device.key).contains(&peer.to_string()));
    // Not every 32 bytes are a point: y = 2 is not on the curve.
    let mut bad = [0u8; 32];
    bad[0] = 2;
    assert_eq!(DeviceKey::from_bytes(bad), Err(KeyError::InvalidPoint));
    let secp = libp2p_identity::PeerId::random();
    assert_eq!(DeviceKey::from_peer_id(&secp), None);
}

#[test]
fn roles_parse_and_grant_as_specified() {
    for role in Role::ALL {
        assert_eq!(role.to_string().parse::<Role>(), Ok(role));
    }
    assert!("nurse".parse::<Role>().is_err());
    assert!(!Role::Relay.can_write());
    assert!(Role::Chw.can_write() && Role::Supervisor.can_write() && Role::Admin.can_write());
    assert!(Role::ALL.iter().all(|r| Role::Admin.can_enrol(*r)));
    assert!(!Role::Supervisor.can_enrol(Role::Admin));
    assert!(
        Role::ALL
            .iter()
            .all(|r| !Role::Chw.can_enrol(*r) && !Role::Relay.can_enrol(*r))
    );
    assert!(Role::Supervisor.can_revoke() && Role::Admin.can_revoke());
    assert!(!Role::Chw.can_revoke() && !Role::Relay.can_revoke());
}
