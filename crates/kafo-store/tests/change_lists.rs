//! The change list kept with each document (every change but the shared first one),
//! and writing many households' attestation records in one batch.

mod support;

use automerge::transaction::Transactable;
use automerge::{ActorId, ChangeHash, ROOT};
use kafo_model::document::GENESIS_ACTOR;
use kafo_store::{Attachments, Store, WriteEffect};
use support::{add_visit, id, put_household};

/// The document's changes except those of the genesis actor, in the order listed.
fn authored_in_document(store: &Store, name: &str) -> Vec<ChangeHash> {
    let mut doc = store.document(&id(name)).expect("reads").expect("exists");
    doc.get_changes_meta(&[])
        .into_iter()
        .filter(|meta| meta.actor.to_bytes() != GENESIS_ACTOR)
        .map(|meta| meta.hash)
        .collect()
}

fn listed(store: &Store, name: &str) -> Vec<ChangeHash> {
    store
        .authored_changes(&id(name))
        .expect("reads")
        .expect("the document has a list")
}

/// Creates a household whose first change is by the shared genesis actor.
fn create_with_genesis(store: &Store, name: &str) {
    store
        .update(&id(name), |doc| {
            let own = doc.get_actor().clone();
            doc.set_actor(ActorId::from(GENESIS_ACTOR));
            doc.put(ROOT, "layout", 1u64)?;
            doc.commit();
            doc.set_actor(own);
            put_household(doc, name, "sikoro", "chw-01", "Famille Test")
        })
        .expect("writes");
}

fn add(store: &Store, name: &str, visit: &str) -> WriteEffect {
    store
        .update(&id(name), |doc| {
            add_visit(doc, &format!("{name}.{visit}"), "p")
        })
        .expect("writes")
        .1
        .effect
}

#[test]
fn the_list_follows_every_write_and_compaction_without_the_genesis_change() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("opens");
    assert_eq!(store.authored_changes(&id("h1")).expect("reads"), None);
    create_with_genesis(&store, "h1");
    let first = listed(&store, "h1");
    assert_eq!(first.len(), 1, "the genesis change is not listed");
    assert_eq!(first, authored_in_document(&store, "h1"));

    let mut chunked = 0;
    let mut compacted = 0;
    for visit in 0..20 {
        match add(&store, "h1", &format!("v{visit}")) {
            WriteEffect::Extended { compacted: true } => compacted += 1,
            WriteEffect::Extended { compacted: false } => chunked += 1,
            other => panic!("a visit extends the document: {other:?}"),
        }
        assert_eq!(listed(&store, "h1"), authored_in_document(&store, "h1"));
    }
    assert!(
        chunked > 0 && compacted > 0,
        "both kinds of write are covered"
    );
    assert_eq!(listed(&store, "h1").len(), 21);

    // Changes received from a peer are listed too.
    let mut peer = store.document(&id("h1")).expect("reads").expect("exists");
    peer.set_actor(ActorId::random());
    let before = peer.get_heads();
    add_visit(&mut peer, "h1.remote", "p").expect("edits");
    peer.commit();
    let changes = peer.save_after(&before);
    store.apply_changes(&id("h1"), &changes).expect("applies");
    assert_eq!(listed(&store, "h1"), authored_in_document(&store, "h1"));
    assert_eq!(listed(&store, "h1").len(), 22);

    // The list survives reopening.
    drop(store);
    let store = Store::open(dir.path()).expect("reopens");
    assert_eq!(listed(&store, "h1"), authored_in_document(&store, "h1"));
}

#[test]
fn bulk_commits_and_whole_documents_are_listed() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("opens");
    let mut pending = Vec::new();
    for name in ["h1", "h2", "h3"] {
        let mut document = store.load_for_update(&id(name)).expect("loads");
        put_household(document.doc_mut(), name, "sikoro", "chw-01", "Famille").expect("edits");
        document.prepare().expect("valid");
        pending.push(document);
    }
    store.commit(pending).expect("commits");
    for name in ["h1", "h2", "h3"] {
        assert_eq!(listed(&store, name), authored_in_document(&store, name));
        assert!(!listed(&store, name).is_empty());
    }

    let other_dir = tempfile::tempdir().expect("dir");
    let other = Store::open(other_dir.path()).expect("opens");
    let bytes = store
        .compacted_bytes(&id("h2"))
        .expect("reads")
        .expect("exists");
    other.apply_document(&id("h2"), &bytes).expect("applies");
    assert_eq!(listed(&other, "h2"), listed(&store, "h2"));
}

#[test]
fn attach_many_writes_the_records_of_many_households_at_once() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(dir.path()).expect("opens");
    let names = ["h1", "h2", "h3"];
    for name in names {
        create_with_genesis(&store, name);
        add(&store, name, "v1");
    }
    let record = |hash: &ChangeHash, tag: &str| {
        let mut bytes = tag.as_bytes().to_vec();
        bytes.extend_from_slice(&hash.0);
        bytes
    };
    let mut batch: Vec<(kafo_model::HouseholdId, Attachments)> = names
        .iter()
        .map(|name| {
            let attestations = listed(&store, name)
                .iter()
                .map(|hash| (*hash, record(hash, "first")))
                .collect();
            (
                id(name),
                Attachments {
                    attestations,
                    actor_owners: vec![(b"actor-1".to_vec(), b"device-a".to_vec())],
                },
            )
        })
        .collect();
    // Records for a household the store does not hold are dropped.
    let stray = ChangeHash([7; 32]);
    batch.push((
        id("absent"),
        Attachments {
            attestations: vec![(stray, b"stray".to_vec())],
            actor_owners: vec![(b"actor-2".to_vec(), b"device-b".to_vec())],
        },
    ));
    store.attach_many(batch).expect("writes");
    store
        .attach_many(Vec::new())
        .expect("an empty batch writes nothing");

    for name in names {
        for hash in listed(&store, name) {
            assert_eq!(
                store.attestation(&hash).expect("reads"),
                Some(record(&hash, "first"))
            );
        }
    }
    assert_eq!(store.attestation(&stray).expect("reads"), None);
    assert_eq!(store.actor_owner(b"actor-2").expect("reads"), None);
    assert_eq!(
        store.actor_owner(b"actor-1").expect("reads").as_deref(),
        Some(&b"device-a"[..])
    );

    // Write-once: a second batch keeps the first records; and they are durable.
    let again = names
        .iter()
        .map(|name| {
            let attestations = listed(&store, name)
                .iter()
                .map(|hash| (*hash, record(hash, "second")))
                .collect();
            (
                id(name),
                Attachments {
                    attestations,
                    actor_owners: vec![(b"actor-1".to_vec(), b"device-z".to_vec())],
                },
            )
        })
        .collect();
    store.attach_many(again).expect("writes");
    drop(store);
    let store = Store::open(dir.path()).expect("reopens");
    for name in names {
        for hash in listed(&store, name) {
            assert_eq!(
                store.attestation(&hash).expect("reads"),
                Some(record(&hash, "first"))
            );
        }
    }
    assert_eq!(
        store.actor_owner(b"actor-1").expect("reads").as_deref(),
        Some(&b"device-a"[..])
    );
}
