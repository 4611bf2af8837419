//! An outsider on the hotspot gets nothing: asserted on what crossed the wire.
//!
//! Where the assertion is made: `Node::sync_over` encrypts every session with Noise, so
//! the raw bytes are ciphertext. The outsider here is a tap (`kafo_tests::wiretap`): it
//! completes the Noise handshake with its own real key, records the *decrypted* bytes
//! the enrolled node sent it, and runs a real protocol session on a real store over
//! them. Those bytes are decoded frame by frame: the node sent its `Hello` and a
//! `Close`, and nothing else: no `Disclose`, `Begin`, `Reconcile` or `Payload`, and no
//! household id anywhere in them (nor in the ciphertext). The tap's store stays empty.
//! A positive control (a legitimately enrolled device through the same tap) shows that
//! the tap does see `Begin` and what follows when the node admits its peer, so the
//! negative results are not an artefact of the tap.

use std::collections::BTreeSet;

use anyhow::Context as _;
use kafo::trust::{Credentials, Role, Scopes};
use kafo_model::{HouseholdId, Scope};
use kafo_tests::caseload::{of_chw, program};
use kafo_tests::device::Device;
use kafo_tests::program::{create_program, enrol};
use kafo_tests::wiretap::{Claim, Tapped, tap_session};
use kafo_trust::{DeviceKey, ProgramKey};

/// The admin's laptop, holding two CHWs' caseloads.
fn laptop() -> anyhow::Result<(Device, BTreeSet<HouseholdId>)> {
    let laptop = Device::new("laptop", &["sikoro"])?;
    create_program(&laptop)?;
    let config = program(11, 2, 6);
    laptop.import(&of_chw(&config, "chw-01")?)?;
    laptop.import(&of_chw(&config, "chw-02")?)?;
    let ids = laptop.ids()?;
    assert_eq!(ids.len(), 12);
    Ok((laptop, ids))
}

/// Everything a greedy outsider asks for.
fn greedy() -> anyhow::Result<Vec<Scope>> {
    Ok(vec!["sikoro".parse()?, "sirakoro".parse()?])
}

fn claim(chain: Option<kafo::trust::Chain>) -> anyhow::Result<Claim> {
    Ok(Claim {
        scopes: greedy()?,
        credentials: Credentials { chain }.encode(),
    })
}

/// The node sent at most its hello and a close, nothing about any document; the
/// outsider's store is empty and the node says it refused.
fn assert_nothing_leaked(
    what: &str,
    tapped: &Tapped,
    ids: &BTreeSet<HouseholdId>,
    outsider: &Device,
) -> anyhow::Result<()> {
    let names = tapped.frame_names();
    // A peer already known as revoked is cut before even the Hello goes out.
    assert!(
        names.is_empty() || names.first() == Some(&"hello"),
        "{what}: {names:?}"
    );
    assert!(
        names.iter().all(|name| matches!(*name, "hello" | "close")),
        "{what}: the node sent {names:?}"
    );
    for id in ids {
        assert!(
            !tapped.received_contains(id.as_str().as_bytes()),
            "{what}: household id {id} crossed in plaintext"
        );
        let raw = &tapped.raw_received;
        assert!(
            !raw.windows(id.as_str().len())
                .any(|window| window == id.as_str().as_bytes()),
            "{what}: household id {id} crossed in the raw stream"
        );
    }
    assert_eq!(
        tapped.node.outcome.kind(),
        "refused by us",
        "{what}: {}",
        tapped.node.outcome
    );
    assert_eq!(tapped.node.docs_sent, 0, "{what}");
    assert_eq!(tapped.tap.report.docs_received, 0, "{what}");
    assert_eq!(
        outsider.node.store().len()?,
        0,
        "{what}: the outsider stored something"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_receives_no_record_and_no_document_id() -> anyhow::Result<()> {
    let (laptop, ids) = laptop()?;

    // An unenrolled device claiming every scope.
    let stranger = Device::new("stranger", &[])?;
    let tapped = tap_session(&laptop, &stranger, claim(None)?).await?;
    assert_nothing_leaked("unenrolled", &tapped, &ids, &stranger)?;
    // The tap did read the laptop's plaintext: its Hello, then its refusal.
    assert_eq!(tapped.frame_names(), ["hello", "close"]);

    // A device enrolled, as an admin with every scope, in another program.
    let other = Device::new("other-program", &[])?;
    let info = create_program(&other)?;
    let tapped = tap_session(&laptop, &other, claim(Some(info.admin.chain().clone()))?).await?;
    assert_nothing_leaked("another program", &tapped, &ids, &other)?;
    assert_eq!(tapped.frame_names(), ["hello", "close"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stolen_expired_and_revoked_credentials_get_nothing() -> anyhow::Result<()> {
    let (laptop, ids) = laptop()?;

    // A thief presents a real CHW's chain, but holds its own key, not the CHW's.
    let chw = Device::new("chw", &[])?;
    let enrolment = enrol(&laptop, &chw, Role::Chw, &["sikoro/chw-01"])?;
    let thief = Device::new("thief", &[])?;
    let tapped = tap_session(&laptop, &thief, claim(Some(enrolment.chain().clone()))?).await?;
    assert_nothing_leaked("copied chain", &tapped, &ids, &thief)?;

    // An expired certificate, properly signed by the program key, for the device's own key.
    let secret: [u8; 32] = laptop
        .node
        .store()
        .meta("trust.program-key")?
        .context("the admin's store holds the program key")?
        .try_into()
        .map_err(|_| anyhow::anyhow!("a 32-byte program key"))?;
    let key = ProgramKey::from_secret_bytes(secret);
    let lapsed = Device::new("lapsed", &[])?;
    let lapsed_key =
        DeviceKey::from_peer_id(&lapsed.node.device_id().peer_id()).context("an ed25519 device")?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let expired = key.enrol(
        lapsed_key,
        Role::Chw,
        Scopes::only(["sikoro/chw-01".parse::<Scope>()?]),
        now - 100 * 86_400,
        now - 10 * 86_400,
    )?;
    let tapped = tap_session(&laptop, &lapsed, claim(Some(expired))?).await?;
    assert_nothing_leaked("expired", &tapped, &ids, &lapsed)?;

    // A revoked device, with its own key and its own valid chain.
    let lost = Device::new("lost", &[])?;
    let lost_enrolment = enrol(&laptop, &lost, Role::Chw, &["sikoro/chw-02"])?;
    laptop
        .node
        .revoke(lost.node.device_id(), "lost at the market")?;
    let tapped = tap_session(&laptop, &lost, claim(Some(lost_enrolment.chain().clone()))?).await?;
    assert_nothing_leaked("revoked", &tapped, &ids, &lost)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tap_sees_the_session_of_an_admitted_device() -> anyhow::Result<()> {
    // Positive control: the same tap, as a device the laptop admits, sees the laptop's
    // Disclose (the revocation of a device that left) and Begin in plaintext.
    let (laptop, _) = laptop()?;
    let gone = Device::new("gone", &[])?;
    enrol(&laptop, &gone, Role::Chw, &["sikoro/chw-02"])?;
    laptop
        .node
        .revoke(gone.node.device_id(), "left the program")?;
    let chw = Device::new("chw", &[])?;
    let enrolment = enrol(&laptop, &chw, Role::Chw, &["sikoro/chw-01"])?;
    let tapped = tap_session(
        &laptop,
        &chw,
        Claim {
            scopes: vec!["sikoro/chw-01".parse()?],
            credentials: Credentials {
                chain: Some(enrolment.chain().clone()),
            }
            .encode(),
        },
    )
    .await?;
    let names = tapped.frame_names();
    let begin = names.iter().position(|name| *name == "begin");
    let disclose = names.iter().position(|name| *name == "disclose");
    // The revocation the laptop knows travels ahead of anything about documents.
    match (disclose, begin) {
        (Some(disclose), Some(begin)) => assert!(disclose < begin, "{names:?}"),
        _ => panic!("expected a disclose, then a begin: {names:?}"),
    }
    assert_ne!(tapped.node.outcome.kind(), "refused by us");
    Ok(())
}
