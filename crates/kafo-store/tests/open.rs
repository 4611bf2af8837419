//! Opening a store: creation, the lock, damage, newer schemas, IO failures.

mod support;

use std::path::Path;

use kafo_store::{OpenStoreError, SCHEMA_VERSION, Store, engine_name};

/// The engine's files that hold the records, and its other files (sled's log and
/// config; redb's single file).
fn data_files() -> (&'static str, &'static [&'static str]) {
    match engine_name() {
        "redb" => ("kafo.redb", &[]),
        _ => ("db", &["conf"]),
    }
}

fn store_with_data(dir: &Path) {
    let store = Store::open(dir).expect("creates");
    for n in 0..20 {
        let name = format!("h{n}");
        store
            .update(&support::id(&name), |doc| {
                support::put_household(doc, &name, "sikoro", "chw-01", "Famille Test")
            })
            .expect("writes");
    }
}

/// Overwrites the named files of a store with deterministic garbage of the same size.
fn damage(dir: &Path, names: &[&str]) {
    for name in names {
        let path = dir.join(name);
        let len = std::fs::metadata(&path).expect("the file exists").len() as usize;
        let garbage: Vec<u8> = (0..len.max(64))
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(7))
            .collect();
        std::fs::write(&path, garbage).expect("overwrites");
    }
}

#[test]
fn open_creates_a_store_that_reopens_with_its_data() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested").join("store");
    store_with_data(&path);
    let store = Store::open(&path).expect("reopens");
    assert_eq!(store.len().expect("reads"), 20);
}

#[test]
fn a_second_open_of_a_held_store_is_locked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path()).expect("first open");
    let err = Store::open(dir.path()).expect_err("the store is held");
    assert!(matches!(err, OpenStoreError::Locked { .. }), "{err:?}");
    drop(store);
    Store::open(dir.path()).expect("opens once released");
}

#[test]
fn a_reopen_right_after_a_drop_is_never_locked() {
    // sled releases its lock from its own threads, some time after the drop: the
    // open waits for it (for up to a second) instead of reporting Locked.
    let dir = tempfile::tempdir().expect("temp dir");
    store_with_data(dir.path());
    for round in 0..50 {
        let store = match Store::open(dir.path()) {
            Ok(store) => store,
            Err(err) => panic!("reopen {round} right after a drop: {err:?}"),
        };
        store
            .put_meta("round", format!("{round}").as_bytes())
            .expect("writes");
        drop(store);
    }
    let store = Store::open(dir.path()).expect("opens");
    assert_eq!(
        store.meta("round").expect("reads").as_deref(),
        Some(&b"49"[..])
    );
    assert_eq!(store.len().expect("reads"), 20);
}

#[test]
fn a_store_with_a_garbage_log_is_corrupt_not_new() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_with_data(dir.path());
    damage(dir.path(), &[data_files().0]);
    let err = Store::open(dir.path()).expect_err("the log is garbage");
    assert!(matches!(err, OpenStoreError::Corrupt { .. }), "{err:?}");
    // And it stays refused: the damage is not papered over by the failed open.
    let err = Store::open(dir.path()).expect_err("still garbage");
    assert!(matches!(err, OpenStoreError::Corrupt { .. }), "{err:?}");
}

#[test]
fn a_store_with_garbage_files_is_corrupt_not_a_panic() {
    let (data, others) = data_files();
    let mut all = others.to_vec();
    all.push(data);
    for names in [others, &all[..]] {
        if names.is_empty() {
            continue;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        store_with_data(dir.path());
        damage(dir.path(), names);
        match Store::open(dir.path()) {
            Err(OpenStoreError::Corrupt { .. } | OpenStoreError::Io { .. }) => {}
            other => panic!("damaged {names:?}: expected Corrupt or Io, got {other:?}"),
        }
    }
}

#[test]
fn a_store_from_a_newer_kafo_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    store_with_data(dir.path());
    // What a future version would have written: a higher schema version.
    write_raw(
        dir.path(),
        b"s/version",
        &(SCHEMA_VERSION + 1).to_be_bytes(),
    );
    let err = Store::open(dir.path()).expect_err("newer schema");
    assert!(
        matches!(
            err,
            OpenStoreError::UnsupportedVersion { found, supported }
                if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION
        ),
        "{err:?}"
    );
}

#[test]
fn a_path_that_is_a_file_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"hello").expect("writes");
    let err = Store::open(&file).expect_err("a file is not a store directory");
    assert!(matches!(err, OpenStoreError::Io { .. }), "{err:?}");
}

#[test]
fn every_opening_has_a_fresh_actor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Store::open(dir.path()).expect("opens").actor();
    let second = Store::open(dir.path()).expect("reopens").actor();
    assert_ne!(first, second);

    // A copied store (a restore from backup) gets its own actor too.
    let copy = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(dir.path()).expect("lists") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_file() {
            std::fs::copy(entry.path(), copy.path().join(entry.file_name())).expect("copies");
        }
    }
    let copied = Store::open(copy.path()).expect("the copy opens");
    assert_ne!(copied.actor(), first);
    assert_ne!(copied.actor(), second);
}

/// Writes one record straight into the store's sled database.
#[cfg(not(feature = "engine-redb"))]
fn write_raw(dir: &Path, key: &[u8], value: &[u8]) {
    // sled releases the dropped store's lock asynchronously: retry a while.
    let config = sled::Config::new().path(dir).use_compression(true);
    let mut attempt = 0;
    let db = loop {
        match config.open() {
            Ok(db) => break db,
            Err(_) if attempt < 100 => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(err) => panic!("raw sled opens with the store's settings: {err:?}"),
        }
    };
    db.insert(key, value).expect("writes");
    db.flush().expect("flushes");
}

/// Writes one record straight into the store's redb database.
#[cfg(feature = "engine-redb")]
fn write_raw(dir: &Path, key: &[u8], value: &[u8]) {
    const RECORDS: redb::TableDefinition<'static, &'static [u8], &'static [u8]> =
        redb::TableDefinition::new("records");
    let db = redb::Database::create(dir.join("kafo.redb")).expect("raw redb opens");
    let write = db.begin_write().expect("writes");
    write
        .open_table(RECORDS)
        .expect("the table exists")
        .insert(key, value)
        .expect("writes");
    write.commit().expect("commits");
}
