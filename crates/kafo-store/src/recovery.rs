//! The store directory before sled opens it: Kafo's own lock, and the partial
//! files that an interrupted sled leaves behind.
//!
//! sled writes a snapshot of its page table to `snap.<lsn>.generating`, syncs it
//! and renames it to `snap.<lsn>`. A kill, a power cut or a full disk between
//! the create and the rename leaves the `.generating` file empty or partial; at
//! the next open sled picks the newest snapshot file by name, which is that
//! garbage, and fails with "Read corrupted data" although every record is intact
//! in its log. By sled's own design a `.generating` file is never a snapshot to
//! read (only a renamed one is), so it is removed before sled opens the store.
//! The reserve's partial file ([`crate::space`]) is removed likewise. Under the
//! `engine-redb` feature there are no sled snapshots: redb repairs a file that was
//! not closed cleanly itself, as it opens it, so only the lock and the reserve apply.
//!
//! Removing files is safe only when no other process uses the store, so Kafo
//! takes its own lock (`kafo.lock`, an exclusive `flock`) first and holds it as
//! long as the [`Store`](crate::Store) lives.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tracing::warn;

use crate::error::OpenStoreError;
use crate::store::{LOCK_POLL, LOCK_WAIT};

/// Kafo's lock file in the store directory.
pub const LOCK_FILE: &str = "kafo.lock";

/// Kafo's exclusive lock on a store directory, released when dropped.
#[derive(Debug)]
pub(crate) struct DirLock {
    _lock: Flock<File>,
}

impl DirLock {
    /// Takes the lock, waiting up to [`LOCK_WAIT`] for another holder to let go.
    pub(crate) fn acquire(dir: &Path) -> Result<Self, OpenStoreError> {
        let io_error = |source| OpenStoreError::Io {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_error)?;
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(dir.join(LOCK_FILE))
                .map_err(io_error)?;
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok(Self { _lock: lock }),
                Err((_, Errno::EWOULDBLOCK)) if Instant::now() < deadline => {
                    std::thread::sleep(LOCK_POLL);
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(OpenStoreError::Locked {
                        path: dir.to_path_buf(),
                    });
                }
                Err((_, errno)) => return Err(io_error(io::Error::from(errno))),
            }
        }
    }
}

/// Removes what interrupted writers left in the store directory; returns the
/// files removed. Call only while holding the [`DirLock`].
pub(crate) fn remove_interrupted_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        // Only sled leaves snapshots: under redb a file of that name is not ours to remove.
        if cfg!(not(feature = "engine-redb")) && is_interrupted_snapshot(name) {
            fs::remove_file(&path)?;
            warn!(file = name, "removed an interrupted sled snapshot");
            removed.push(path);
        }
    }
    crate::space::remove_partial_reserve(dir);
    if !removed.is_empty() {
        File::open(dir)?.sync_all()?;
    }
    Ok(removed)
}

/// `snap.<hex lsn>.generating`: a snapshot sled did not finish.
fn is_interrupted_snapshot(name: &str) -> bool {
    name.strip_prefix("snap.")
        .and_then(|rest| rest.strip_suffix(".generating"))
        .is_some_and(|lsn| !lsn.is_empty() && lsn.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sleds_unfinished_snapshots_are_interrupted() {
        assert!(is_interrupted_snapshot("snap.00000000000A1B2C.generating"));
        assert!(!is_interrupted_snapshot("snap.00000000000A1B2C"));
        assert!(!is_interrupted_snapshot("snap..generating"));
        assert!(!is_interrupted_snapshot("snap.xyz.generating"));
        assert!(!is_interrupted_snapshot("db"));
        assert!(!is_interrupted_snapshot("conf"));
    }
}
