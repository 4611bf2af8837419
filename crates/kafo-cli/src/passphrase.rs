//! The passphrase of an encrypted store: read from `KAFO_PASSPHRASE`, or asked for
//! on the terminal, and only when the store turns out to be encrypted.

use std::cell::OnceCell;
use std::io::IsTerminal;
use std::path::Path;

use kafo::{Node, StoreKey, Unlock};

use crate::failure::Failure;

/// The environment variable that holds an encrypted store's passphrase.
pub const PASSPHRASE_ENV: &str = "KAFO_PASSPHRASE";

/// Opens the device's store, asking for the passphrase only if it is encrypted.
pub fn open_node(data_dir: &Path) -> Result<Node, Failure> {
    let passphrase = Passphrase::default();
    let ask = || passphrase.get();
    Ok(Node::open_unlocking(
        data_dir,
        Unlock::AskIfEncrypted(&ask),
    )?)
}

/// The passphrase of one command: asked for at most once, however often the store
/// is opened (`doctor --salvage` opens it twice).
#[derive(Debug, Default)]
pub struct Passphrase(OnceCell<Result<StoreKey, String>>);

impl Passphrase {
    /// The store key from `KAFO_PASSPHRASE`, or from the terminal.
    pub fn get(&self) -> Result<StoreKey, String> {
        self.0
            .get_or_init(|| existing_passphrase().map(StoreKey::passphrase))
            .clone()
    }
}

/// The passphrase of an existing store.
fn existing_passphrase() -> Result<String, String> {
    if let Ok(passphrase) = std::env::var(PASSPHRASE_ENV) {
        return Ok(passphrase);
    }
    if !std::io::stdin().is_terminal() {
        return Err(format!(
            "set {PASSPHRASE_ENV}, or run kafo on a terminal to be asked for the passphrase"
        ));
    }
    rpassword::prompt_password("passphrase of the encrypted store: ")
        .map_err(|error| format!("reading the passphrase: {error}"))
}

/// The passphrase for a new encrypted store: `KAFO_PASSPHRASE`, or asked twice on
/// the terminal. An empty passphrase is refused.
pub fn new_passphrase() -> Result<StoreKey, Failure> {
    let passphrase = match std::env::var(PASSPHRASE_ENV) {
        Ok(passphrase) => passphrase,
        Err(_) if !std::io::stdin().is_terminal() => {
            return Err(Failure::Passphrase(format!(
                "kafo init --encrypt needs a passphrase: set {PASSPHRASE_ENV}, or run it on a terminal"
            )));
        }
        Err(_) => {
            let read = |prompt: &str| {
                rpassword::prompt_password(prompt).map_err(|error| {
                    Failure::Passphrase(format!("reading the passphrase: {error}"))
                })
            };
            let first = read("passphrase for the new encrypted store: ")?;
            if read("the same passphrase again: ")? != first {
                return Err(Failure::Passphrase(
                    "the two passphrases differ; nothing was created".to_owned(),
                ));
            }
            first
        }
    };
    if passphrase.is_empty() {
        return Err(Failure::Passphrase(
            "the passphrase is empty; nothing was created".to_owned(),
        ));
    }
    Ok(StoreKey::passphrase(passphrase))
}
