//! Noise over any byte stream, with no roles configured: for `kafo sync --stdio`, a
//! serial line, a Bluetooth bridge, any pipe whose two ends both just start.
//!
//! libp2p's Noise XX handshake needs an initiator and a responder. Both ends first send
//! a 32-byte random nonce and read the other's; the larger nonce initiates. Equal
//! nonces mean the stream loops back to this very device (it read its own nonce). Both
//! nonces go into the Noise prologue, so a nonce altered on the way makes the handshake
//! fail instead of going unnoticed. Noise then authenticates the remote device's
//! libp2p identity (its [`PeerId`]) and encrypts everything after.
//!
//! Bounding the time it takes is the caller's job (`tokio::time::timeout`): a peer may
//! stay silent forever.

use std::cmp::Ordering;
use std::fmt;
use std::io;

use futures::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use libp2p::PeerId;
use libp2p::core::upgrade::{InboundConnectionUpgrade, OutboundConnectionUpgrade};
use libp2p::identity::Keypair;
use libp2p::noise;
use rand::RngCore as _;
use tracing::debug;

/// The bytes of each end's role nonce.
pub const SECURE_NONCE_LEN: usize = 32;

/// Domain separation of the Noise prologue (followed by the larger nonce, then the
/// smaller).
const PROLOGUE: &[u8] = b"kafo/secure-stream/v1";

/// The encrypted, authenticated stream: futures `AsyncRead + AsyncWrite` (writes are
/// framed and sent on `flush`, as with any buffered writer).
pub type SecureStream<S> = noise::Output<S>;

/// Which side of the Noise handshake this end took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoiseRole {
    /// Its nonce was the larger: it sent the first handshake message.
    Initiator,
    /// Its nonce was the smaller.
    Responder,
}

impl fmt::Display for NoiseRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initiator => "initiator",
            Self::Responder => "responder",
        })
    }
}

/// Why a byte stream could not be secured.
#[derive(Debug, thiserror::Error)]
pub enum SecureStreamError {
    /// Sending our nonce or reading the peer's failed (the stream closed or broke).
    #[error("exchanging role nonces failed")]
    Nonce(#[source] io::Error),
    /// The peer's nonce is ours: the stream loops back to this device.
    #[error("the other end sent back our own nonce: the stream loops back to this device")]
    SameNonce,
    /// This device's key cannot be used for Noise.
    #[error("this device's key cannot be used for Noise")]
    Key(#[source] noise::Error),
    /// The Noise handshake failed: the stream broke, bytes were altered, or the peer's
    /// identity does not verify.
    #[error("the Noise handshake failed (as {role})")]
    Handshake {
        /// The role this end had.
        role: NoiseRole,
        /// What failed.
        #[source]
        source: noise::Error,
    },
}

/// Secures `io` with Noise XX under `keypair`, the device's libp2p identity. Both ends
/// call this at the same time, without roles: see the module docs. Returns the
/// authenticated remote peer and the encrypted stream.
///
/// Never panics on what the peer sends; every failure is a [`SecureStreamError`].
pub async fn secure_stream<S>(
    mut io: S,
    keypair: &Keypair,
) -> Result<(PeerId, SecureStream<S>), SecureStreamError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = noise::Config::new(keypair).map_err(SecureStreamError::Key)?;
    let mut ours = [0u8; SECURE_NONCE_LEN];
    rand::rng().fill_bytes(&mut ours);
    // 32 bytes fit any transport's buffer, so both ends may write before reading.
    io.write_all(&ours)
        .await
        .map_err(SecureStreamError::Nonce)?;
    io.flush().await.map_err(SecureStreamError::Nonce)?;
    let mut theirs = [0u8; SECURE_NONCE_LEN];
    io.read_exact(&mut theirs)
        .await
        .map_err(SecureStreamError::Nonce)?;
    let (role, high, low) = match ours.cmp(&theirs) {
        Ordering::Greater => (NoiseRole::Initiator, ours, theirs),
        Ordering::Less => (NoiseRole::Responder, theirs, ours),
        Ordering::Equal => return Err(SecureStreamError::SameNonce),
    };
    debug!(%role, "secure stream: noise handshake");
    let mut prologue = Vec::with_capacity(PROLOGUE.len() + 2 * SECURE_NONCE_LEN);
    prologue.extend_from_slice(PROLOGUE);
    prologue.extend_from_slice(&high);
    prologue.extend_from_slice(&low);
    let config = config.with_prologue(prologue);
    let result = match role {
        NoiseRole::Initiator => config.upgrade_outbound(io, "/noise").await,
        NoiseRole::Responder => config.upgrade_inbound(io, "/noise").await,
    };
    result.map_err(|source| SecureStreamError::Handshake { role, source })
}
