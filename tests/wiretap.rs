//! What crossed the wire: a byte stream that records what is read and written through
//! it, and a scripted peer that taps a real node's session *inside* the Noise channel.
//!
//! [`kafo::Node::sync_over`] secures every byte stream with Noise (`kafo_net::secure_stream`),
//! so the raw bytes between two nodes are ciphertext and say nothing about frames. The
//! tap therefore plays the other end itself: it runs the same `secure_stream` handshake
//! with its own device key, wraps the decrypted stream in a [`Recording`], and drives a
//! real `kafo_proto` session over it (on its own real store, with whatever credentials
//! and scopes it claims). The recorded bytes are then exactly the plaintext frames the
//! node sent to it, which [`kafo_proto::wire::FrameDecoder`] parses.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use futures::io::{AsyncRead, AsyncWrite};
use kafo::net::{SyncOptions, SyncReport};
use kafo::sync::StoreStorage;
use kafo_model::Scope;
use kafo_net::{Admission, LinkLimits, SessionEnd, device_id_for, run_session, secure_stream};
use kafo_proto::wire::{Frame, FrameDecoder};
use kafo_proto::{Limits, PeerHello, Reveal, Session, SessionConfig};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};

use crate::device::Device;

/// A shared, growing log of bytes.
pub type ByteLog = Arc<Mutex<Vec<u8>>>;

/// A stream that records every byte read from it and written to it.
#[derive(Debug)]
pub struct Recording<S> {
    inner: S,
    read: ByteLog,
    written: ByteLog,
}

impl<S> Recording<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            read: ByteLog::default(),
            written: ByteLog::default(),
        }
    }

    /// The bytes read so far (and from now on).
    pub fn read_log(&self) -> ByteLog {
        Arc::clone(&self.read)
    }

    /// The bytes written so far (and from now on).
    pub fn written_log(&self) -> ByteLog {
        Arc::clone(&self.written)
    }
}

/// A copy of a log's bytes.
pub fn snapshot(log: &ByteLog) -> Vec<u8> {
    log.lock().unwrap_or_else(PoisonError::into_inner).clone()
}

fn append(log: &ByteLog, bytes: &[u8]) {
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .extend_from_slice(bytes);
}

impl<S: AsyncRead + Unpin> AsyncRead for Recording<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            append(&this.read, buf.get(..*n).unwrap_or_default());
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Recording<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &poll {
            append(&this.written, buf.get(..*n).unwrap_or_default());
        }
        poll
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

/// What the tapping peer claims: the scopes it offers, accepts and authorizes (it
/// authorizes the node for all of them at once, greedily), and its Hello credentials.
#[derive(Debug, Clone)]
pub struct Claim {
    /// Scopes it offers, accepts and shares.
    pub scopes: Vec<Scope>,
    /// The opaque Hello credentials (an encoded `kafo_trust::Credentials`, or anything).
    pub credentials: Vec<u8>,
}

/// What a tapped session showed.
#[derive(Debug)]
pub struct Tapped {
    /// The plaintext bytes the node sent to the tap (inside Noise).
    pub received: Vec<u8>,
    /// Those bytes as frames, in order (a trailing partial frame is left out).
    pub frames: Vec<Frame>,
    /// The bytes that crossed the raw stream towards the tap (Noise ciphertext).
    pub raw_received: Vec<u8>,
    /// The tap's own session, as it ended.
    pub tap: SessionEnd,
    /// The node's report.
    pub node: SyncReport,
}

impl Tapped {
    /// The names of the frames the node sent (`hello`, `close`, `begin`, ...).
    pub fn frame_names(&self) -> Vec<&'static str> {
        self.frames.iter().map(Frame::name).collect()
    }

    /// Whether `needle` occurs in the plaintext the node sent.
    pub fn received_contains(&self, needle: &[u8]) -> bool {
        !needle.is_empty()
            && self
                .received
                .windows(needle.len())
                .any(|window| window == needle)
    }
}

/// Decodes every whole frame in `bytes`; bytes that are not frames fail the test (a
/// tap that stopped reading at them would check nothing after them).
pub fn frames(bytes: &[u8]) -> Vec<Frame> {
    let mut decoder = FrameDecoder::new();
    let mut input = bytes;
    let mut frames = Vec::new();
    loop {
        match decoder.decode(&mut input) {
            Ok(Some(frame)) => frames.push(frame),
            Ok(None) => return frames,
            Err(error) => panic!("the node sent bytes that are not frames: {error:?}"),
        }
    }
}

/// Runs one session between `node` (a real [`kafo::Node::sync_over`]) and a tap: the
/// device `tap`'s key and store, claiming `claim`. Returns what the node sent.
pub async fn tap_session(node: &Device, tap: &Device, claim: Claim) -> anyhow::Result<Tapped> {
    let (node_end, tap_end) = tokio::io::duplex(64 * 1024);
    let (node_read, node_write) = tokio::io::split(node_end);
    let options = SyncOptions::default();
    let node_run = node
        .node
        .sync_over(node_read.compat(), node_write.compat_write(), &options);
    let raw = Recording::new(tap_end.compat());
    let raw_log = raw.read_log();
    let keypair = tap.node.identity().keypair().clone();
    let tap_run = async {
        let (_node_peer, secured) = secure_stream(raw, &keypair)
            .await
            .context("the Noise handshake with the node")?;
        let recording = Recording::new(secured);
        let received = recording.read_log();
        let device =
            device_id_for(&keypair.public().to_peer_id()).context("the tap's key fits a hello")?;
        let config = SessionConfig {
            device,
            offers: claim.scopes.clone(),
            accepts: claim.scopes.clone(),
            credentials: claim.credentials.clone(),
            reveal: Reveal::default(),
            limits: Limits {
                idle_timeout: Duration::from_secs(5),
                ..Limits::default()
            },
        };
        let session = Session::new(config, Instant::now(), &mut ChaCha8Rng::seed_from_u64(7));
        let mut storage = StoreStorage::new(tap.node.store());
        let share = claim.scopes.clone();
        let end = run_session(
            recording,
            session,
            &mut storage,
            move |_: &PeerHello| Admission::Share(share.clone()),
            &LinkLimits::default(),
        )
        .await;
        Ok::<_, anyhow::Error>((end, received))
    };
    let (node_report, tapped) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(node_run, tap_run)
    })
    .await
    .context("the tapped session overran its deadline")?;
    let (tap_end, received) = tapped?;
    let received = snapshot(&received);
    Ok(Tapped {
        frames: frames(&received),
        received,
        raw_received: snapshot(&raw_log),
        tap: tap_end,
        node: node_report?,
    })
}
