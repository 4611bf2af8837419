//! Free space: the reserve that lets a store open on a full disk, and the guard that
//! stops writes before the disk fills.
//!
//! A phone's disk fills up: photos, other apps, or Kafo's own import. Two things
//! must still hold then:
//! - **Reading works.** sled writes a snapshot of its page table when it opens a
//!   store that changed since the last one, so opening needs some free space. The
//!   store keeps a *reserve*, a file of [`RESERVE_BYTES`] beside its data, created
//!   while space is plentiful. When an open fails for want of space, the reserve is
//!   released and the open tried again. Opening gives back the space it took
//!   (sled replaces its previous snapshot), so the reserve is put back as soon as
//!   it fits, before any write may use that space: while it is missing, writes
//!   must leave room for it too. So another app filling the disk again never
//!   leaves the store without its reserve.
//! - **sled never meets a full disk mid-write.** Before every write the store
//!   checks the free space and refuses the write, with [`WriteError::DiskFull`] and
//!   nothing written, when less than the guard's margin is left. Should the disk
//!   fill anyway (another app racing), the write fails atomically and the store
//!   reopens with everything acknowledged before it.
//!
//! [`WriteError::DiskFull`]: crate::WriteError::DiskFull

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use tracing::{debug, warn};

/// The file that holds the reserve, in the store directory.
pub const RESERVE_FILE: &str = "kafo-reserve";

/// Bytes the reserve holds: room for sled's snapshot at open (tens of KiB for a
/// supervisor's caseload) and for the store's own records, many times over.
pub const RESERVE_BYTES: u64 = 2 * 1024 * 1024;

/// The least free space a write leaves: writes stop below it. A tenth of the
/// filesystem, but at least 512 KiB and at most 16 MiB.
const GUARD_FRACTION: u64 = 10;
const GUARD_MIN: u64 = 512 * 1024;
const GUARD_MAX: u64 = 16 * 1024 * 1024;

/// Free space the reserve's restoration leaves beside it (sled's next snapshot).
const RESTORE_SLACK: u64 = 128 * 1024;

/// Below this much free space, [`Store::space`](crate::Store::space) reports
/// the disk as running low, so that the user frees space before writes stop.
pub const LOW_SPACE_BYTES: u64 = 64 * 1024 * 1024;

/// The free space of the filesystem a store lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes available to the store's process.
    pub free: u64,
    /// The filesystem's size.
    pub total: u64,
    /// Writes stop when less than this would be left.
    pub write_margin: u64,
    /// Whether the reserve that lets the store open on a full disk is in place.
    pub reserve_in_place: bool,
}

impl Space {
    /// Whether free space is low enough to warn the user.
    pub fn is_low(&self) -> bool {
        self.free < LOW_SPACE_BYTES.max(self.write_margin.saturating_mul(2))
    }
}

/// Reads the free space of the filesystem holding `dir`.
pub(crate) fn filesystem_space(dir: &Path) -> io::Result<(u64, u64)> {
    let stats = nix::sys::statvfs::statvfs(dir).map_err(io::Error::from)?;
    let unit = stats.fragment_size().max(1);
    let free = (stats.blocks_available() as u64).saturating_mul(unit);
    let total = (stats.blocks() as u64).saturating_mul(unit);
    Ok((free, total))
}

/// The margin a write must leave on a filesystem of `total` bytes.
fn write_margin(total: u64) -> u64 {
    (total / GUARD_FRACTION).clamp(GUARD_MIN, GUARD_MAX)
}

/// Checks free space before writes. Cheap: one `statvfs` per write.
#[derive(Debug)]
pub(crate) struct SpaceGuard {
    dir: PathBuf,
}

impl SpaceGuard {
    pub(crate) fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
        }
    }

    /// The space of the store's filesystem now.
    pub(crate) fn space(&self) -> io::Result<Space> {
        let (free, total) = filesystem_space(&self.dir)?;
        Ok(Space {
            free,
            total,
            write_margin: write_margin(total),
            reserve_in_place: reserve_in_place(&self.dir),
        })
    }

    /// `Err((free, margin))` when a write now would leave less than the margin.
    /// When free space cannot be read, the write goes ahead (sled reports a
    /// full disk itself, atomically).
    pub(crate) fn check(&self) -> Result<(), (u64, u64)> {
        if !reserve_in_place(&self.dir) {
            restore_reserve(&self.dir);
        }
        match filesystem_space(&self.dir) {
            Ok((free, total)) => {
                // Until the reserve is back, writes leave room for it as well.
                let missing_reserve = if reserve_in_place(&self.dir) {
                    0
                } else {
                    RESERVE_BYTES
                };
                let margin = write_margin(total) + missing_reserve;
                if free < margin {
                    warn!(free, margin, "disk nearly full: write refused");
                    Err((free, margin))
                } else {
                    Ok(())
                }
            }
            Err(error) => {
                debug!(%error, "free space unknown");
                Ok(())
            }
        }
    }
}

/// Whether an I/O error means the disk (or the user's quota) is full.
pub fn is_disk_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded
    ) || error.raw_os_error() == Some(nix::libc::ENOSPC)
}

fn reserve_in_place(dir: &Path) -> bool {
    fs::metadata(dir.join(RESERVE_FILE)).is_ok_and(|meta| meta.len() >= RESERVE_BYTES)
}

/// Releases the reserve, so that an open can use its space. Returns whether
/// there was one.
pub(crate) fn release_reserve(dir: &Path) -> bool {
    match fs::remove_file(dir.join(RESERVE_FILE)) {
        Ok(()) => {
            warn!("disk full: released the store's reserve to open it");
            true
        }
        Err(_) => false,
    }
}

/// Puts the reserve in place if it is missing and the disk has room for it: it
/// comes before any write (the write guard keeps its room free while it is
/// missing). Best effort: a store without its reserve still works, it only loses
/// the guarantee of opening on a full disk.
pub(crate) fn restore_reserve(dir: &Path) {
    if reserve_in_place(dir) {
        return;
    }
    let Ok((free, _)) = filesystem_space(dir) else {
        return;
    };
    if free < RESERVE_BYTES + RESTORE_SLACK {
        debug!(free, "no room for the store's reserve yet");
        return;
    }
    let path = dir.join(RESERVE_FILE);
    if let Err(error) = write_reserve(&path) {
        debug!(%error, "could not write the store's reserve");
        let _ = fs::remove_file(&path);
    }
}

/// Writes real blocks (not a sparse file, which would reserve nothing), syncs
/// them, and only then gives the file its name.
fn write_reserve(path: &Path) -> io::Result<()> {
    let partial = path.with_extension("partial");
    let mut file: File = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&partial)?;
    // Non-zero bytes: a compressing filesystem would store zeros in nothing.
    let chunk: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8 + 1).collect();
    let mut written = 0;
    while written < RESERVE_BYTES {
        file.write_all(&chunk)?;
        written += chunk.len() as u64;
    }
    file.sync_all()?;
    fs::rename(&partial, path)
}

/// Removes a reserve that was being written when the process stopped.
pub(crate) fn remove_partial_reserve(dir: &Path) {
    let _ = fs::remove_file(dir.join(RESERVE_FILE).with_extension("partial"));
}
