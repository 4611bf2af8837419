//! The store's schema version and the migrations that bring an older store up to date.
//!
//! The version is stored from the first release (`s/version`). On open, a store
//! older than this code is migrated one version at a time: each migration writes its
//! changes and the new version number in one atomic batch, then flushes, so a
//! crash leaves the store at the last version that completed. A store newer than
//! this code is refused rather than misread.

use std::path::Path;

use tracing::info;

use crate::engine::{Batch, Db};
use crate::error::{MigrationError, OpenStoreError, ReadError, WriteError};
use crate::keys;
use crate::records::decode_u64;

/// The schema version this code writes and reads.
///
/// - 1: the first release.
/// - 2: adds the attestation (`c/`) and actor-owner (`o/`) key spaces. Additive: a
///   version 1 store is a valid version 2 store without them. The bump keeps an
///   older Kafo, which would write this device's changes without attestations, from
///   opening a store that has them.
/// - 3: adds the change lists (`l/`): the hashes of each document's authored
///   changes, kept in step with its snapshot and chunks. The migration lists every
///   stored document (loading each once). The bump keeps an older Kafo, which would
///   extend documents without extending their lists, from opening a store that has
///   them.
/// - 4: adds the household views (`v/`): each document's household record, read
///   once when the document is written ([`crate::view`]). The migration writes the
///   view of every stored document (loading each once). Readers check a view
///   against the document's heads, so an older Kafo that wrote a document without
///   its view would only slow reads down; the bump is for the migration.
pub const SCHEMA_VERSION: u64 = 4;

/// One step of the migration chain: from schema version `from` to `from + 1`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    /// The version this migration upgrades from.
    pub(crate) from: u64,
    /// Adds the migration's writes to the batch, reading the store as it is.
    pub(crate) run: fn(&Db, &mut Batch) -> Result<(), WriteError>,
}

/// The migrations of this code, in order; the runner is also exercised by the tests
/// below with their own table.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        from: 1,
        run: add_attestation_key_spaces,
    },
    Migration {
        from: 2,
        run: add_change_lists,
    },
    Migration {
        from: 3,
        run: add_household_views,
    },
];

/// 1 -> 2: the new key spaces start empty; only the version is recorded.
fn add_attestation_key_spaces(_: &Db, _: &mut Batch) -> Result<(), WriteError> {
    Ok(())
}

/// 2 -> 3: lists the changes of every stored document (see `crate::changes`).
fn add_change_lists(db: &Db, batch: &mut Batch) -> Result<(), WriteError> {
    Ok(crate::changes::fill_lists(db, batch)?)
}

/// 3 -> 4: writes the household view of every stored document (see `crate::view`).
fn add_household_views(db: &Db, batch: &mut Batch) -> Result<(), WriteError> {
    crate::view::fill_views(db, batch)
}

/// Brings the store at `path` to schema version `supported`: initialises a new
/// store, runs the migrations an older one needs, refuses a newer one. `existed`
/// says whether the store had been initialised before (its marker file exists).
pub(crate) fn bring_up_to_date(
    db: &Db,
    path: &Path,
    migrations: &[Migration],
    supported: u64,
    existed: bool,
) -> Result<(), OpenStoreError> {
    let corrupt = |source: ReadError| match source {
        ReadError::Storage(error) => match error.into_io() {
            Ok(source) => OpenStoreError::Io {
                path: path.to_path_buf(),
                source,
            },
            Err(error) => OpenStoreError::Corrupt {
                path: path.to_path_buf(),
                source: ReadError::Storage(error),
            },
        },
        source => OpenStoreError::Corrupt {
            path: path.to_path_buf(),
            source,
        },
    };
    let stored = db
        .get(keys::SCHEMA_VERSION)
        .map_err(|e| corrupt(e.into()))?;
    let mut version = match stored {
        Some(bytes) => decode_u64(keys::SCHEMA_VERSION, &bytes).map_err(corrupt)?,
        None => {
            if existed || !db.is_empty().map_err(|e| corrupt(e.into()))? {
                // A store that was initialised but lost its records (sled reads a
                // damaged log as empty), or data without a version: not a store
                // this code can open.
                return Err(corrupt(ReadError::corrupt_record(
                    keys::SCHEMA_VERSION,
                    "missing",
                )));
            }
            initialise(db, supported).map_err(|source| OpenStoreError::Migration {
                path: path.to_path_buf(),
                from: 0,
                source: source.into(),
            })?;
            info!(version = supported, "store created");
            return Ok(());
        }
    };
    if version > supported {
        return Err(OpenStoreError::UnsupportedVersion {
            found: version,
            supported,
        });
    }
    while version < supported {
        let failed = |source: MigrationError| OpenStoreError::Migration {
            path: path.to_path_buf(),
            from: version,
            source,
        };
        let migration = migrations
            .iter()
            .find(|migration| migration.from == version)
            .ok_or(failed(MigrationError::Missing { from: version }))?;
        let mut batch = Batch::default();
        (migration.run)(db, &mut batch).map_err(|e| failed(e.into()))?;
        batch.insert(keys::SCHEMA_VERSION, (version + 1).to_be_bytes());
        db.apply(batch).map_err(|e| failed(e.into()))?;
        info!(from = version, to = version + 1, "store migrated");
        version += 1;
    }
    Ok(())
}

/// Writes the records of an empty store at schema version `version`.
fn initialise(db: &Db, version: u64) -> Result<(), WriteError> {
    let mut batch = Batch::default();
    batch.insert(keys::SCHEMA_VERSION, version.to_be_bytes());
    batch.insert(
        keys::TOTALS,
        crate::records::encode_totals(&crate::Totals::default()),
    );
    db.apply(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    /// The store's engine database, opened directly with the store's format settings
    /// (waiting, as the store does, for a just-dropped store to release its lock).
    fn raw_engine(dir: &Path) -> Db {
        Db::open(dir).expect("test store opens")
    }

    fn stored_version(dir: &Path) -> u64 {
        let db = raw_engine(dir);
        let bytes = db
            .get(keys::SCHEMA_VERSION)
            .expect("readable")
            .expect("version is stored");
        decode_u64(keys::SCHEMA_VERSION, &bytes).expect("decodes")
    }

    fn add_marker(db: &Db, batch: &mut Batch) -> Result<(), WriteError> {
        // A migration that reads the store and rewrites what it finds.
        let device = db
            .get(keys::meta("device"))
            .map_err(ReadError::from)?
            .unwrap_or_default();
        let mut upgraded = device.to_vec();
        upgraded.extend_from_slice(b"+v2");
        batch.insert(keys::meta("device"), upgraded);
        Ok(())
    }

    fn fail_halfway(_: &Db, batch: &mut Batch) -> Result<(), WriteError> {
        batch.insert(keys::meta("half-done"), b"yes");
        Err(ReadError::corrupt_record(b"u/device", "test failure").into())
    }

    const TEST_MIGRATIONS: &[Migration] = &[
        Migration {
            from: 1,
            run: add_marker,
        },
        Migration {
            from: 2,
            run: fail_halfway,
        },
    ];

    #[test]
    fn a_new_store_starts_at_the_current_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(Store::open(dir.path()).expect("opens"));
        assert_eq!(stored_version(dir.path()), SCHEMA_VERSION);
        assert_eq!(MIGRATIONS.len() as u64, SCHEMA_VERSION - 1);
    }

    #[test]
    fn a_version_1_store_opens_and_is_migrated_to_the_current_version() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with(dir.path(), crate::Unlock::Plain, &[], 1)
            .expect("creates at version 1");
        store.put_meta("device", b"alice").expect("writes");
        drop(store);
        assert_eq!(stored_version(dir.path()), 1);

        let store = Store::open(dir.path()).expect("migrates");
        assert_eq!(
            store.meta("device").expect("reads").as_deref(),
            Some(&b"alice"[..])
        );
        assert_eq!(store.totals().expect("reads"), crate::Totals::default());
        drop(store);
        assert_eq!(stored_version(dir.path()), SCHEMA_VERSION);
    }

    #[test]
    fn an_older_store_is_migrated_atomically_one_version_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open_with(dir.path(), crate::Unlock::Plain, &[], 1)
            .expect("creates at version 1");
        store.put_meta("device", b"alice").expect("writes");
        drop(store);

        let store = Store::open_with(dir.path(), crate::Unlock::Plain, TEST_MIGRATIONS, 2)
            .expect("migrates to 2");
        assert_eq!(
            store.meta("device").expect("reads").as_deref(),
            Some(&b"alice+v2"[..])
        );
        drop(store);
        assert_eq!(stored_version(dir.path()), 2);

        // Opening again at version 2 runs nothing twice.
        let store = Store::open_with(dir.path(), crate::Unlock::Plain, TEST_MIGRATIONS, 2)
            .expect("opens at 2");
        assert_eq!(
            store.meta("device").expect("reads").as_deref(),
            Some(&b"alice+v2"[..])
        );
        drop(store);

        // A failing migration writes nothing and leaves the version where it was.
        let err = Store::open_with(dir.path(), crate::Unlock::Plain, TEST_MIGRATIONS, 3)
            .expect_err("2 -> 3 fails");
        assert!(
            matches!(err, OpenStoreError::Migration { from: 2, .. }),
            "{err:?}"
        );
        assert_eq!(stored_version(dir.path()), 2);
        let store = Store::open_with(dir.path(), crate::Unlock::Plain, TEST_MIGRATIONS, 2)
            .expect("still opens at 2");
        assert_eq!(store.meta("half-done").expect("reads"), None);
        drop(store);

        // A missing step is reported, not skipped.
        let err = Store::open_with(dir.path(), crate::Unlock::Plain, TEST_MIGRATIONS, 4)
            .expect_err("no 3 -> 4");
        assert!(
            matches!(err, OpenStoreError::Migration { from: 2, .. }),
            "{err:?}"
        );
        let err = Store::open_with(dir.path(), crate::Unlock::Plain, &TEST_MIGRATIONS[..1], 3)
            .expect_err("no 2 -> 3");
        assert!(
            matches!(
                err,
                OpenStoreError::Migration {
                    from: 2,
                    source: MigrationError::Missing { from: 2 },
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_newer_store_is_refused_not_misread() {
        let dir = tempfile::tempdir().expect("temp dir");
        let newer = SCHEMA_VERSION + 1;
        drop(
            Store::open_with(dir.path(), crate::Unlock::Plain, &[], newer)
                .expect("creates at a newer version"),
        );
        let err = Store::open(dir.path()).expect_err("newer than this code");
        assert!(
            matches!(
                err,
                OpenStoreError::UnsupportedVersion {
                    found,
                    supported: SCHEMA_VERSION
                } if found == newer
            ),
            "{err:?}"
        );
    }

    #[test]
    fn data_without_a_version_is_not_a_store() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let db = raw_engine(dir.path());
            let mut batch = Batch::default();
            batch.insert(b"something", b"else");
            db.apply(batch).expect("writes");
        }
        let err = Store::open(dir.path()).expect_err("no version");
        assert!(
            matches!(
                &err,
                OpenStoreError::Corrupt {
                    source: ReadError::CorruptRecord { .. },
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
