//! A small filesystem the suite mounts (tmpfs; the suite runs as root, as CI does),
//! and a filler file that takes the space another app would.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// A tmpfs mounted on a directory of its own, unmounted when dropped.
#[derive(Debug)]
pub struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes` on `path` (created if needed).
    pub fn mount(path: &Path, megabytes: u64) -> anyhow::Result<Self> {
        fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(path)
            .status()
            .context("running mount")?;
        if !status.success() {
            bail!(
                "mounting a tmpfs on {} failed: it needs root",
                path.display()
            );
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Removes everything on the disk (between trials).
    pub fn wipe(&self) -> anyhow::Result<()> {
        for entry in fs::read_dir(&self.path)? {
            let path = entry?.path();
            if path.is_dir() {
                fs::remove_dir_all(&path)?;
            } else {
                fs::remove_file(&path)?;
            }
        }
        Ok(())
    }

    /// Bytes free on the disk.
    pub fn free(&self) -> anyhow::Result<u64> {
        let stat = nix::sys::statvfs::statvfs(&self.path).context("statvfs")?;
        Ok(stat.blocks_available() * stat.fragment_size())
    }

    /// Writes a filler file so that about `leave` bytes stay free (none if the disk
    /// has less). Returns the filler's path; remove it to free the space.
    pub fn fill_leaving(&self, leave: u64) -> anyhow::Result<PathBuf> {
        let filler = self.path.join("filler.bin");
        let mut file = fs::File::create(&filler)?;
        let block = vec![0x5a_u8; 64 * 1024];
        loop {
            let free = self.free()?;
            if free <= leave {
                break;
            }
            let chunk = usize::try_from((free - leave).min(block.len() as u64))?;
            match file.write_all(&block[..chunk]) {
                Ok(()) => {}
                Err(error) if error.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                Err(error) => return Err(error.into()),
            }
            if chunk < block.len() {
                break;
            }
        }
        file.sync_all()?;
        Ok(filler)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}
