//! Revocations: issuing, encoding, verification, frontiers and issuer scope.

mod common;

use common::{DAY, Device, Fixture, NOW, scopes};
use kafo_trust::{
    DecodeErrorKind, Frontier, IssueError, MAX_REASON_LEN, ProgramKey, Revocation, RevocationError,
    Role, Scopes,
};

fn frontier(entries: &[(&[u8], u64)]) -> Frontier {
    entries
        .iter()
        .map(|(actor, seq)| (actor.to_vec(), *seq))
        .collect()
}

#[test]
fn a_program_revocation_round_trips_and_verifies_with_every_scope() {
    let f = Fixture::new();
    let revocation = f
        .program
        .revoke(
            f.chw_device.key,
            "lost phone",
            NOW,
            frontier(&[(b"actor-a", 12), (b"actor-b", 3)]),
        )
        .expect("issued");
    let decoded = Revocation::decode(&revocation.encode()).expect("decodes");
    assert_eq!(decoded, revocation);
    assert_eq!(decoded.verify(&f.program.id()), Ok(Scopes::All));
    assert_eq!(decoded.issuer_device(), None);
    assert_eq!(decoded.reason, "lost phone");
    assert_eq!(decoded.device, f.chw_device.key);
}

#[test]
fn a_supervisor_revocation_verifies_with_its_scopes_even_after_its_certificate_expired() {
    let f = Fixture::new();
    let revocation = Revocation::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        f.chw_device.key,
        "stolen",
        NOW,
        Frontier::new(),
    )
    .expect("a supervisor may revoke");
    let decoded = Revocation::decode(&revocation.encode()).expect("decodes");
    assert_eq!(decoded.issuer_device(), Some(f.supervisor_device.key));
    assert_eq!(decoded.issuer_chain(), Some(f.supervisor.chain()));
    // Verified at issued_at: the supervisor's certificate may have lapsed since.
    assert_eq!(decoded.verify(&f.program.id()), Ok(scopes(&["sikoro"])));
    assert_eq!(
        decoded.verify_for(&f.program.id(), Some(f.chw.chain())),
        Ok(scopes(&["sikoro"]))
    );
}

#[test]
fn a_tampered_revocation_is_rejected() {
    let f = Fixture::new();
    let revocation = f
        .program
        .revoke(
            f.chw_device.key,
            "lost phone",
            NOW,
            frontier(&[(b"actor-a", 12)]),
        )
        .expect("issued");
    let bytes = revocation.encode();
    let reason_at = bytes
        .windows(4)
        .position(|w| w == b"lost")
        .expect("reason present");
    let mut reason = bytes.clone();
    reason[reason_at] = b'f';
    let tampered = Revocation::decode(&reason).expect("structure intact");
    assert_eq!(
        tampered.verify(&f.program.id()),
        Err(RevocationError::BadSignature)
    );
    let mut signature = bytes.clone();
    *signature.last_mut().expect("non-empty") ^= 1;
    let tampered = Revocation::decode(&signature).expect("structure intact");
    assert_eq!(
        tampered.verify(&f.program.id()),
        Err(RevocationError::BadSignature)
    );
    let mut wider = revocation.clone();
    wider.frontier.insert(b"actor-a".to_vec(), 99);
    assert_eq!(
        wider.verify(&f.program.id()),
        Err(RevocationError::BadSignature)
    );
    let other = ProgramKey::generate();
    assert!(matches!(
        revocation.verify(&other.id()),
        Err(RevocationError::WrongProgram { .. })
    ));
    let forged = other
        .revoke(f.chw_device.key, "x", NOW, Frontier::new())
        .expect("issued");
    let mut bytes = forged.encode();
    bytes[1..33].copy_from_slice(f.program.id().as_bytes());
    let forged = Revocation::decode(&bytes).expect("structure intact");
    assert_eq!(
        forged.verify(&f.program.id()),
        Err(RevocationError::BadSignature)
    );
}

#[test]
fn only_admins_and_supervisors_within_validity_may_revoke() {
    let f = Fixture::new();
    let target = Device::new().key;
    assert_eq!(
        Revocation::issue(
            &f.chw,
            &f.chw_device.keypair,
            target,
            "x",
            NOW,
            Frontier::new()
        ),
        Err(IssueError::CannotRevoke { role: Role::Chw })
    );
    assert_eq!(
        Revocation::issue(
            &f.supervisor,
            &f.chw_device.keypair,
            target,
            "x",
            NOW,
            Frontier::new()
        ),
        Err(IssueError::WrongKey)
    );
    assert_eq!(
        Revocation::issue(
            &f.supervisor,
            &f.supervisor_device.keypair,
            target,
            "x",
            NOW + 61 * DAY,
            Frontier::new()
        ),
        Err(IssueError::IssuerNotValid { at: NOW + 61 * DAY })
    );
    let long = "x".repeat(MAX_REASON_LEN + 1);
    assert_eq!(
        f.program.revoke(target, &long, NOW, Frontier::new()),
        Err(IssueError::ReasonTooLong {
            len: MAX_REASON_LEN + 1
        })
    );
    assert!(
        f.program
            .revoke(target, &"é".repeat(100), NOW, Frontier::new())
            .is_ok()
    );
    assert_eq!(
        f.program
            .revoke(target, "x", NOW, frontier(&[(&[7u8; 65], 1)])),
        Err(IssueError::FrontierTooLarge)
    );
    assert!(
        Revocation::issue(
            &f.admin,
            &f.admin_device.keypair,
            target,
            "x",
            NOW,
            Frontier::new()
        )
        .expect("an admin may revoke")
        .verify(&f.program.id())
        .is_ok()
    );
}

#[test]
fn a_forged_revocation_by_a_chw_chain_is_rejected() {
    let f = Fixture::new();
    // A relay enrolled by the supervisor cannot revoke: its revocation, however signed, fails.
    let relay = Device::new();
    let relay_enrolment = f
        .supervisor
        .enrol(
            &f.supervisor_device.keypair,
            relay.key,
            Role::Relay,
            scopes(&["sikoro"]),
            NOW,
            NOW + DAY,
        )
        .expect("enrolled")
        .verify(&f.program.id(), NOW)
        .expect("verifies");
    let as_supervisor = Revocation::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        f.chw_device.key,
        "x",
        NOW,
        Frontier::new(),
    )
    .expect("issued");
    // Swap the issuer chain for the relay's: the bytes decode, the verification refuses.
    let mut bytes = as_supervisor.encode();
    let old = f.supervisor.chain().encode();
    let new = relay_enrolment.chain().encode();
    let at = bytes
        .windows(old.len())
        .position(|w| w == old.as_slice())
        .expect("chain present");
    bytes.splice(at - 2..at + old.len(), {
        let mut prefixed = Vec::new();
        let len = new.len();
        prefixed.extend_from_slice(&[(len as u8) | 0x80, (len >> 7) as u8]);
        prefixed.extend_from_slice(&new);
        prefixed
    });
    let forged = Revocation::decode(&bytes).expect("structure intact");
    assert_eq!(
        forged.verify(&f.program.id()),
        Err(RevocationError::IssuerCannotRevoke { role: Role::Relay })
    );
}

#[test]
fn the_frontier_decides_which_changes_stay_accepted() {
    let f = Fixture::new();
    let revocation = f
        .program
        .revoke(
            f.chw_device.key,
            "lost",
            NOW,
            frontier(&[(b"actor-a", 12), (b"actor-b", 0)]),
        )
        .expect("issued");
    assert!(revocation.allows(b"actor-a", 1));
    assert!(revocation.allows(b"actor-a", 12));
    assert!(!revocation.allows(b"actor-a", 13));
    assert!(revocation.allows(b"actor-b", 0));
    assert!(!revocation.allows(b"actor-b", 1));
    assert!(!revocation.allows(b"actor-c", 1));
}

#[test]
fn a_supervisor_revocation_outside_its_scope_is_refused_when_the_device_is_known() {
    let f = Fixture::new();
    let banconi = Device::new();
    let banconi_chain = f
        .admin
        .enrol(
            &f.admin_device.keypair,
            banconi.key,
            Role::Chw,
            scopes(&["banconi/chw-01"]),
            NOW,
            NOW + DAY,
        )
        .expect("enrolled");
    let revocation = Revocation::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        banconi.key,
        "x",
        NOW,
        Frontier::new(),
    )
    .expect("issued: the supervisor does not know the device's scopes");
    assert_eq!(
        revocation.verify_for(&f.program.id(), Some(&banconi_chain)),
        Err(RevocationError::OutsideIssuerScope)
    );
    // Without the chain it verifies (the trust book re-checks when admitting).
    assert_eq!(
        revocation.verify_for(&f.program.id(), None),
        Ok(scopes(&["sikoro"]))
    );
}

#[test]
fn decoding_bounds_and_canonical_order_are_enforced() {
    let f = Fixture::new();
    let revocation = f
        .program
        .revoke(
            f.chw_device.key,
            "lost",
            NOW,
            frontier(&[(b"a", 1), (b"b", 2)]),
        )
        .expect("issued");
    let bytes = revocation.encode();
    // Swap the two actors: no longer sorted.
    let a_at = bytes
        .windows(2)
        .position(|w| w == [1, b'a'])
        .expect("actor a");
    let mut swapped = bytes.clone();
    swapped[a_at + 1] = b'c';
    let error = Revocation::decode(&swapped).expect_err("unsorted frontier");
    assert_eq!(error.field, "revocation.frontier.actor");
    assert_eq!(error.kind, DecodeErrorKind::NotCanonical);
    // A reason length above 200.
    let mut long = bytes.clone();
    long[65] = 201;
    let error = Revocation::decode(&long).expect_err("reason too long");
    assert_eq!(error.field, "revocation.reason");
    assert_eq!(error.offset, 65);
    for cut in 0..bytes.len() {
        assert!(Revocation::decode(&bytes[..cut]).is_err());
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert_eq!(
        Revocation::decode(&trailing).expect_err("trailing").kind,
        DecodeErrorKind::TrailingBytes(1)
    );
}
