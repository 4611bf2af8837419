//! The trust book: admission, learning, persistence.

mod common;

use common::{DAY, Device, Fixture, NOW, scopes};
use kafo_trust::{
    AdmitError, ChainError, Frontier, ProgramKey, Revocation, RevocationError, Role, TrustBook,
};

#[test]
fn admit_accepts_valid_chains_and_refuses_expired_or_foreign_ones() {
    let f = Fixture::new();
    let book = TrustBook::new(f.program.id());
    assert_eq!(
        book.admit(f.chw.chain(), NOW).expect("admitted").device,
        f.chw_device.key
    );
    assert_eq!(
        book.admit(f.chw.chain(), NOW + 31 * DAY),
        Err(AdmitError::Expired {
            not_after: NOW + 30 * DAY
        })
    );
    assert_eq!(
        book.admit(f.chw.chain(), NOW - 2 * DAY),
        Err(AdmitError::NotYetValid {
            not_before: NOW - DAY
        })
    );
    let other = TrustBook::new(ProgramKey::generate().id());
    assert_eq!(
        other.admit(f.chw.chain(), NOW),
        Err(AdmitError::WrongProgram)
    );
    let mut bytes = f.chw.chain().encode();
    *bytes.last_mut().expect("non-empty") ^= 1;
    let tampered = kafo_trust::Chain::decode(&bytes).expect("structure intact");
    assert_eq!(
        book.admit(&tampered, NOW),
        Err(AdmitError::Chain(ChainError::BadSignature { index: 2 }))
    );
}

#[test]
fn a_revoked_device_and_the_devices_its_chain_enrolled_are_refused() {
    let f = Fixture::new();
    let mut book = TrustBook::new(f.program.id());
    let revocation = f
        .program
        .revoke(
            f.supervisor_device.key,
            "laptop stolen",
            NOW,
            Frontier::new(),
        )
        .expect("issued");
    assert_eq!(book.learn_revocation(revocation.clone()), Ok(true));
    assert_eq!(book.learn_revocation(revocation), Ok(false));
    assert_eq!(
        book.admit(f.supervisor.chain(), NOW),
        Err(AdmitError::Revoked {
            reason: "laptop stolen".into()
        })
    );
    // The CHW's chain passes through the revoked supervisor.
    assert_eq!(
        book.admit(f.chw.chain(), NOW),
        Err(AdmitError::Revoked {
            reason: "laptop stolen".into()
        })
    );
    assert!(book.admit(f.admin.chain(), NOW).is_ok());
    // Re-enrolled directly by the admin, the CHW is admitted again.
    let renewed = f
        .admin
        .enrol(
            &f.admin_device.keypair,
            f.chw_device.key,
            Role::Chw,
            scopes(&["sikoro/chw-01"]),
            NOW,
            NOW + DAY,
        )
        .expect("enrolled");
    assert!(book.admit(&renewed, NOW).is_ok());
    assert_eq!(
        book.revocation(&f.supervisor_device.key)
            .map(|r| r.issued_at),
        Some(NOW)
    );
    assert_eq!(book.revocations().count(), 1);
}

#[test]
fn a_supervisor_revocation_outside_its_scope_does_not_refuse_the_device() {
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
        "spite",
        NOW,
        Frontier::new(),
    )
    .expect("issued");
    // Chain unknown: the revocation is remembered, but admit re-checks its scope.
    let mut book = TrustBook::new(f.program.id());
    assert_eq!(book.learn_revocation(revocation.clone()), Ok(true));
    assert!(book.admit(&banconi_chain, NOW).is_ok());
    // Chain known: the revocation is refused outright.
    let mut book = TrustBook::new(f.program.id());
    book.learn_chain(&banconi_chain, NOW).expect("valid chain");
    assert_eq!(
        book.learn_revocation(revocation),
        Err(RevocationError::OutsideIssuerScope)
    );
    // Within scope, the supervisor's revocation takes effect.
    let revocation = Revocation::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        f.chw_device.key,
        "lost",
        NOW,
        Frontier::new(),
    )
    .expect("issued");
    book.learn_chain(f.chw.chain(), NOW).expect("valid chain");
    assert_eq!(book.learn_revocation(revocation), Ok(true));
    assert!(matches!(
        book.admit(f.chw.chain(), NOW),
        Err(AdmitError::Revoked { .. })
    ));
}

#[test]
fn learn_chain_keeps_the_latest_expiry_and_enrolment_checks_time() {
    let f = Fixture::new();
    let mut book = TrustBook::new(f.program.id());
    book.learn_chain(f.chw.chain(), NOW).expect("valid");
    let shorter = f
        .supervisor
        .enrol(
            &f.supervisor_device.keypair,
            f.chw_device.key,
            Role::Chw,
            scopes(&["sikoro/chw-01"]),
            NOW,
            NOW + DAY,
        )
        .expect("enrolled");
    book.learn_chain(&shorter, NOW).expect("valid");
    assert_eq!(book.chain(&f.chw_device.key), Some(f.chw.chain()));
    assert_eq!(book.devices().count(), 1);
    assert_eq!(
        book.enrolment(&f.chw_device.key, NOW).map(|e| e.role),
        Some(Role::Chw)
    );
    assert_eq!(book.enrolment(&f.chw_device.key, NOW + 31 * DAY), None);
    assert!(book.enrolment_any_time(&f.chw_device.key).is_some());
    assert_eq!(book.enrolment(&Device::new().key, NOW), None);
    let foreign = ProgramKey::generate();
    let chain = foreign
        .enrol(
            Device::new().key,
            Role::Admin,
            kafo_trust::Scopes::All,
            NOW,
            NOW + DAY,
        )
        .expect("enrolled");
    assert_eq!(book.learn_chain(&chain, NOW), Err(AdmitError::WrongProgram));
    assert!(matches!(
        book.learn_chain(f.chw.chain(), NOW + 31 * DAY),
        Err(AdmitError::Expired { .. })
    ));
}

#[test]
fn the_book_persists_deterministically() {
    let f = Fixture::new();
    let revocations = [
        f.program
            .revoke(f.chw_device.key, "lost", NOW, Frontier::new())
            .expect("issued"),
        Revocation::issue(
            &f.admin,
            &f.admin_device.keypair,
            Device::new().key,
            "left",
            NOW,
            Frontier::new(),
        )
        .expect("issued"),
    ];
    let mut a = TrustBook::new(f.program.id());
    let mut b = TrustBook::new(f.program.id());
    for chain in [f.admin.chain(), f.supervisor.chain(), f.chw.chain()] {
        a.learn_chain(chain, NOW).expect("valid");
    }
    for chain in [f.chw.chain(), f.admin.chain(), f.supervisor.chain()] {
        b.learn_chain(chain, NOW).expect("valid");
    }
    for r in &revocations {
        a.learn_revocation(r.clone()).expect("valid");
    }
    for r in revocations.iter().rev() {
        b.learn_revocation(r.clone()).expect("valid");
    }
    assert_eq!(a.encode(), b.encode());
    let decoded = TrustBook::decode(&a.encode()).expect("decodes");
    assert_eq!(decoded, a);
    assert_eq!(decoded.program(), f.program.id());
    assert_eq!(decoded.devices().count(), 3);
    assert!(matches!(
        decoded.admit(f.chw.chain(), NOW),
        Err(AdmitError::Revoked { .. })
    ));
    let bytes = a.encode();
    for cut in 0..bytes.len() {
        let error = TrustBook::decode(&bytes[..cut]).expect_err("truncated");
        assert!(error.offset <= cut, "{error} beyond {cut}");
    }
    assert_eq!(
        TrustBook::decode(&[2]).expect_err("version").field,
        "book.version"
    );
}

#[test]
fn an_out_of_scope_revocation_learnt_before_the_chain_revokes_nothing_and_yields_to_a_real_one() {
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
    // The sikoro supervisor, backdating, revokes a banconi CHW before the book knows her.
    let spite = Revocation::issue(
        &f.supervisor,
        &f.supervisor_device.keypair,
        banconi.key,
        "spite",
        NOW - DAY,
        Frontier::new(),
    )
    .expect("issued");
    let mut book = TrustBook::new(f.program.id());
    assert_eq!(book.learn_revocation(spite), Ok(true));
    assert!(
        book.revocation(&banconi.key).is_some(),
        "chain still unknown"
    );
    book.learn_chain(&banconi_chain, NOW).expect("valid chain");
    assert!(
        book.revocation(&banconi.key).is_none(),
        "out of its issuer's scopes: no effect once the chain is known"
    );
    // A real revocation (by an admin covering her) replaces it, though issued later.
    let real = Revocation::issue(
        &f.admin,
        &f.admin_device.keypair,
        banconi.key,
        "lost",
        NOW,
        Frontier::new(),
    )
    .expect("issued");
    assert_eq!(book.learn_revocation(real), Ok(true));
    assert_eq!(
        book.revocation(&banconi.key).map(|r| r.reason.as_str()),
        Some("lost")
    );
    assert!(matches!(
        book.admit(&banconi_chain, NOW),
        Err(AdmitError::Revoked { .. })
    ));
}
