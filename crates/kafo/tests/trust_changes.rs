//! Attributable changes on real stores: every change received is checked before
//! anything is written. A CHW's change to another CHW's household is rejected whole
//! (over a real session and through the storage directly), so are a tampered
//! signature, a certificate of another program and an unknown signer; a
//! supervisor's reassignment within her area passes; changes held before joining
//! are signed; the history shows who changed what and when.

mod common;

use automerge::transaction::Transactable as _;
use automerge::{ActorId, AutoCommit, ROOT};
use kafo::model::{HouseholdId, Visit};
use kafo::sync::TrustedStorage;
use kafo::trust::{Attestation, ProgramKey, Role, Scopes, SignedEnvelope};
use kafo_gen::GeneratorConfig;
use kafo_model::Scope;
use kafo_proto::storage::{ApplyOutcome, ApplyPayload, SyncStorage as _};

use common::trust::{admin, enrol, ids, sync_pair};
use common::{Device, import_caseloads};

fn program() -> GeneratorConfig {
    GeneratorConfig {
        seed: 9,
        areas: GeneratorConfig::bamako_areas(1),
        chws: 3,
        households_per_chw: 5,
        visits_per_chw: 10,
        ..GeneratorConfig::default()
    }
}

fn household(text: &str) -> HouseholdId {
    text.parse().expect("a valid household id")
}

fn area() -> Vec<Scope> {
    vec!["sikoro".parse().expect("valid scope")]
}

/// The store's heads of a household (`None` if absent).
fn heads(device: &Device, id: &HouseholdId) -> Option<Vec<automerge::ChangeHash>> {
    device.node.store().heads(id).expect("the store reads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chw_moving_another_chws_household_into_her_caseload_is_rejected_and_nothing_written() {
    let program = program();
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    // The malicious CHW got hold of CHW 1's caseload before she joined (her copy is
    // signed with her key when she joins).
    let thief = Device::new();
    import_caseloads(&thief.node, &program, &[1]);
    enrol(&supervisor.node, &thief, Role::Chw, &["sikoro/chw-02"]);
    // She moves one household into her own caseload, where sessions would share it.
    let stolen = household("sikoro-chw-01-h0001");
    thief
        .node
        .store()
        .update(&stolen, |doc| doc.put(ROOT, "chw", "chw-02"))
        .expect("her own store takes it");

    let (at_supervisor, at_thief) = sync_pair(&supervisor.node, &thief.node).await;
    assert!(
        at_supervisor.outcome.is_peer_fault(),
        "the supervisor rejects the peer: {}",
        at_supervisor.outcome
    );
    let reason = at_supervisor.outcome.to_string();
    assert!(reason.contains("outside its scopes"), "{reason}");
    assert!(!at_thief.is_in_sync());
    assert_eq!(supervisor.len(), 0, "nothing of it was written");
    assert_eq!(heads(&supervisor, &stolen), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tampered_and_foreign_payloads_are_rejected_whole() {
    let program = program();
    let admin = admin();
    import_caseloads(&admin.node, &program, &[1, 2]);
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    let chw2 = Device::new();
    enrol(&supervisor.node, &chw2, Role::Chw, &["sikoro/chw-02"]);
    let admin_key = admin.node.device_id().key().expect("ed25519");
    let supervisor_key = supervisor.node.device_id().key().expect("ed25519");
    let id = household("sikoro-chw-01-h0002");

    let mut sender = TrustedStorage::new(&admin.node, supervisor_key).expect("enrolled");
    let mut receiver = TrustedStorage::new(&supervisor.node, admin_key).expect("enrolled");
    let sealed = sender
        .whole_document(&id)
        .expect("reads")
        .expect("the admin holds it");
    let envelope = SignedEnvelope::decode(&sealed).expect("an envelope");
    assert!(!envelope.signatures.is_empty());
    assert_eq!(envelope.chains.len(), 1, "the admin's chain");

    // A tampered signature.
    let mut tampered = envelope.clone();
    tampered.signatures[0].1.signature[5] ^= 0x40;
    let outcome = receiver
        .apply(&id, ApplyPayload::Document(tampered.encode()), &area())
        .expect("storage works");
    assert!(matches!(outcome, ApplyOutcome::Rejected(_)), "{outcome:?}");

    // The author's certificate from another program (same device, same role).
    let mut foreign = envelope.clone();
    foreign.chains = vec![
        ProgramKey::generate()
            .enrol(admin_key, Role::Admin, Scopes::All, 0, u64::MAX / 2)
            .expect("issued"),
    ];
    let outcome = receiver
        .apply(&id, ApplyPayload::Document(foreign.encode()), &area())
        .expect("storage works");
    assert!(matches!(outcome, ApplyOutcome::Rejected(_)), "{outcome:?}");

    // Signed by a device nobody enrolled.
    let mut unknown = envelope.clone();
    let stranger = libp2p_identity::ed25519::Keypair::generate();
    for (hash, attestation) in &mut unknown.signatures {
        *attestation = Attestation::sign(&stranger, hash);
    }
    unknown.chains.clear();
    let outcome = receiver
        .apply(&id, ApplyPayload::Document(unknown.encode()), &area())
        .expect("storage works");
    assert!(matches!(outcome, ApplyOutcome::Rejected(_)), "{outcome:?}");

    // Not an envelope at all.
    let outcome = receiver
        .apply(&id, ApplyPayload::Document(envelope.body.clone()), &area())
        .expect("storage works");
    assert!(matches!(outcome, ApplyOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(supervisor.len(), 0, "nothing was written");

    // The genuine one applies, with its signatures stored.
    let outcome = receiver
        .apply(&id, ApplyPayload::Document(sealed), &area())
        .expect("storage works");
    assert!(
        matches!(outcome, ApplyOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert_eq!(heads(&supervisor, &id), heads(&admin, &id));
    let unattested = supervisor
        .node
        .store()
        .unattested_changes(&id)
        .expect("reads");
    assert_eq!(
        unattested.len(),
        1,
        "only the shared first change is unsigned"
    );

    // CHW 2 edits CHW 1's household (a change of her own, validly signed by her).
    let mut doc: AutoCommit = supervisor
        .node
        .store()
        .document(&id)
        .expect("reads")
        .expect("held");
    doc.set_actor(ActorId::random());
    doc.put(ROOT, "status", "moved").expect("writes");
    doc.commit();
    let change = doc.get_last_local_change().expect("a change").clone();
    let hash = change.hash();
    let chw2_key = chw2.node.identity().ed25519().expect("ed25519");
    let chw2_chain = chw2
        .node
        .whoami()
        .enrolment
        .expect("enrolled")
        .chain()
        .clone();
    let forged = SignedEnvelope {
        body: change.raw_bytes().to_vec(),
        chains: vec![chw2_chain],
        signatures: vec![(hash.0, Attestation::sign(&chw2_key, &hash.0))],
    };
    let before = heads(&supervisor, &id);
    let outcome = receiver
        .apply(&id, ApplyPayload::Changes(forged.encode()), &area())
        .expect("storage works");
    assert!(matches!(outcome, ApplyOutcome::Rejected(_)), "{outcome:?}");
    assert_eq!(heads(&supervisor, &id), before, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reassignment_by_the_supervisor_and_the_old_chws_concurrent_visit_both_pass() {
    let program = program();
    let admin = admin();
    import_caseloads(&admin.node, &program, &[1, 2]);
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    let chw1 = Device::new();
    enrol(&supervisor.node, &chw1, Role::Chw, &["sikoro/chw-01"]);
    let (a, b) = sync_pair(&admin.node, &supervisor.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    let (a, b) = sync_pair(&supervisor.node, &chw1.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());

    let id = household("sikoro-chw-01-h0003");
    // The supervisor hands the household to CHW 2 while CHW 1, offline, records a visit.
    supervisor
        .node
        .store()
        .update(&id, |doc| doc.put(ROOT, "chw", "chw-02"))
        .expect("written");
    let visit = visit_for(&chw1, &id, "sikoro-chw-01-h0003.v90001");
    chw1.node.add_visit(&id, &visit).expect("recorded");
    let (a, b) = sync_pair(&chw1.node, &admin.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    let (a, b) = sync_pair(&supervisor.node, &admin.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    let view = admin.node.household(&id).expect("reads").expect("held");
    assert_eq!(view.household.chw.as_str(), "chw-02");
    assert!(view.household.visits.iter().any(|v| v.id == visit.id));
    // The history names who did each.
    let history = admin.node.household_history(&id).expect("reads");
    let reassignment = history
        .iter()
        .find(|entry| entry.author == Some(supervisor.node.device_id()))
        .expect("the supervisor's change");
    assert_eq!(reassignment.message, "set chw");
    assert_eq!(reassignment.role, Some(Role::Supervisor));
    let recorded = history
        .iter()
        .find(|entry| entry.author == Some(chw1.node.device_id()))
        .expect("the CHW's change");
    assert_eq!(recorded.message, format!("visit {} recorded", visit.id));
    assert!(history.iter().all(|entry| entry.verified));
}

fn visit_for(device: &Device, id: &HouseholdId, visit_id: &str) -> Visit {
    let view = device.node.household(id).expect("reads").expect("held");
    let person = view.household.members[0].id.clone();
    serde_json::from_value(serde_json::json!({
        "id": visit_id,
        "person_id": person.as_str(),
        "date": "2026-01-05",
        "chw": view.household.chw.as_str(),
        "kind": "routine",
    }))
    .expect("a valid visit")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_held_before_joining_are_signed_and_the_history_shows_authors() {
    let program = program();
    let admin = admin();
    let supervisor = Device::new();
    enrol(&admin.node, &supervisor, Role::Supervisor, &["sikoro"]);
    // A CHW's phone used before enrolment holds her caseload, unsigned.
    let chw = Device::with_caseloads(&program, &[1]);
    let id = household("sikoro-chw-01-h0004");
    assert!(
        chw.node
            .store()
            .unattested_changes(&id)
            .expect("reads")
            .len()
            >= 2
    );
    enrol(&supervisor.node, &chw, Role::Chw, &["sikoro/chw-01"]);
    for held in ids(&chw) {
        let unattested = chw
            .node
            .store()
            .unattested_changes(&held.parse().expect("valid"))
            .expect("reads");
        assert_eq!(
            unattested.len(),
            1,
            "only the shared first change of {held}"
        );
    }
    let visit = visit_for(&chw, &id, "sikoro-chw-01-h0004.v90002");
    chw.node.add_visit(&id, &visit).expect("recorded");
    let (a, b) = sync_pair(&chw.node, &supervisor.node).await;
    assert!(
        a.is_in_sync() && b.is_in_sync(),
        "{} / {}",
        a.outcome,
        b.outcome
    );
    assert_eq!(supervisor.len(), 5);

    let history = supervisor.node.household_history(&id).expect("reads");
    assert!(history.len() >= 3, "{history:?}");
    let first = &history[0];
    assert!(first.author.is_none() && first.verified, "{first:?}");
    let chw_id = chw.node.device_id();
    assert!(
        history[1..]
            .iter()
            .all(|entry| entry.verified && entry.author == Some(chw_id))
    );
    assert!(
        history[1..]
            .iter()
            .all(|entry| entry.role == Some(Role::Chw))
    );
    let last = history.last().expect("entries");
    assert_eq!(last.message, format!("visit {} recorded", visit.id));
    let time = last.time.expect("local changes carry their time");
    let age = jiff::Timestamp::now().duration_since(time);
    assert!(
        age.as_secs() < 600,
        "the visit's change time is now: {time}"
    );
    assert!(
        history.iter().all(|entry| !entry.message.contains("Traor")),
        "no names in the history"
    );

    // Relayed onwards, the history keeps the author.
    let (a, b) = sync_pair(&supervisor.node, &admin.node).await;
    assert!(a.is_in_sync() && b.is_in_sync());
    let relayed = admin.node.household_history(&id).expect("reads");
    assert_eq!(relayed, history);
}
