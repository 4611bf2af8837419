//! Encrypted stores (`kafo_store::sealing`): what opens them, what is refused, and
//! that a refused opening changes nothing.

mod support;

use std::path::Path;

use kafo_store::{OpenStoreError, Store, StoreKey, Unlock};

const KEY: [u8; 32] = [42; 32];

fn fill(store: &Store, households: usize) {
    for n in 0..households {
        let name = format!("h{n}");
        store
            .update(&support::id(&name), |doc| {
                support::put_household(doc, &name, "sikoro", "chw-01", "Famille Sangaré")
            })
            .expect("writes");
    }
}

/// Every record of the store, read with sled directly (sealed values as they are
/// on disk), to show a refused opening wrote nothing. `None` on the redb engine.
fn raw_records(dir: &Path) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    if kafo_store::engine_name() != "sled" {
        return None;
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let db = sled::Config::new()
        .path(dir)
        .use_compression(true)
        .compression_factor(1)
        .open()
        .expect("sled opens the store");
    let records = db
        .iter()
        .map(|record| {
            record
                .map(|(k, v)| (k.to_vec(), v.to_vec()))
                .expect("reads")
        })
        .collect();
    drop(db);
    std::thread::sleep(std::time::Duration::from_millis(200));
    Some(records)
}

fn reopen(dir: &Path, unlock: Unlock<'_>) -> Result<Store, OpenStoreError> {
    // sled releases a dropped store's lock from its own threads: retry briefly.
    std::thread::sleep(std::time::Duration::from_millis(50));
    Store::open_unlocking(dir, unlock)
}

#[test]
fn an_encrypted_store_reopens_with_its_key_and_keeps_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_encrypted(dir.path(), StoreKey::from_bytes(KEY)).expect("creates");
    assert!(store.is_encrypted());
    fill(&store, 12);
    store
        .put_meta("device-key", b"secret key bytes")
        .expect("writes");
    drop(store);

    let store = reopen(dir.path(), Unlock::Key(StoreKey::from_bytes(KEY))).expect("reopens");
    assert_eq!(store.len().expect("reads"), 12);
    assert_eq!(
        store.meta("device-key").expect("reads").as_deref(),
        Some(&b"secret key bytes"[..])
    );
    let check = store.check().expect("checks");
    assert!(check.is_healthy(), "{check:?}");
    drop(store);

    let ask = || Ok(StoreKey::from_bytes(KEY));
    let store = reopen(dir.path(), Unlock::AskIfEncrypted(&ask)).expect("asks and opens");
    assert_eq!(store.len().expect("reads"), 12);
}

#[test]
fn a_missing_or_wrong_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open_encrypted(dir.path(), StoreKey::passphrase("ka kɛnɛ")).expect("creates");
    fill(&store, 5);
    drop(store);
    let before = raw_records(dir.path());

    let plain = reopen(dir.path(), Unlock::Plain).expect_err("needs its key");
    assert!(
        matches!(plain, OpenStoreError::NeedsKey { .. }),
        "{plain:?}"
    );
    let wrong = reopen(dir.path(), Unlock::Key(StoreKey::passphrase("ka kɛnɛ!")))
        .expect_err("wrong passphrase");
    assert!(
        matches!(wrong, OpenStoreError::WrongKey { .. }),
        "{wrong:?}"
    );
    let app_key = reopen(dir.path(), Unlock::Key(StoreKey::from_bytes(KEY)))
        .expect_err("an app key for a passphrase store");
    assert!(
        matches!(app_key, OpenStoreError::WrongKey { .. }),
        "{app_key:?}"
    );
    let ask = || Err("no passphrase given".to_owned());
    let unavailable = reopen(dir.path(), Unlock::AskIfEncrypted(&ask)).expect_err("no key");
    assert!(
        matches!(unavailable, OpenStoreError::KeyUnavailable { ref reason, .. } if reason == "no passphrase given"),
        "{unavailable:?}"
    );
    assert!(
        raw_records(dir.path()) == before,
        "refused openings wrote nothing"
    );

    let store = reopen(dir.path(), Unlock::Key(StoreKey::passphrase("ka kɛnɛ"))).expect("opens");
    assert_eq!(store.len().expect("reads"), 5);
}

#[test]
fn a_plain_store_with_data_is_not_encrypted_in_place() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("creates");
    fill(&store, 3);
    assert!(!store.is_encrypted());
    drop(store);
    let err = reopen(dir.path(), Unlock::Key(StoreKey::from_bytes(KEY))).expect_err("plain");
    assert!(
        matches!(err, OpenStoreError::NotEncrypted { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("export"), "{err}");
    let ask = || -> Result<StoreKey, String> { panic!("a plain store needs no key") };
    let store = reopen(dir.path(), Unlock::AskIfEncrypted(&ask)).expect("opens plain");
    assert_eq!(store.len().expect("reads"), 3);
}

#[test]
fn a_store_made_alike_is_sealed_with_the_same_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store =
        Store::open_encrypted(&dir.path().join("a"), StoreKey::from_bytes(KEY)).expect("creates");
    let alike = store
        .open_alike(&dir.path().join("b"))
        .expect("creates alike");
    assert!(alike.is_encrypted());
    fill(&alike, 2);
    drop((store, alike));
    let b = reopen(
        &dir.path().join("b"),
        Unlock::Key(StoreKey::from_bytes(KEY)),
    )
    .expect("opens");
    assert_eq!(b.len().expect("reads"), 2);
}
