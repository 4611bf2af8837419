//! Links the host owns: one sync session over a transport that the embedding app
//! drives chunk by chunk (a Bluetooth RFCOMM or L2CAP socket, BLE GATT writes of 20
//! to 512 bytes, a serial line), when Kafo cannot own the socket itself.
//!
//! The host feeds whatever arrived to [`Link::receive`], sends what
//! [`Link::poll_transmit`] returns, and calls it at least every 100 ms (which is also
//! when the link notices time passing) until [`Link::is_finished`]. Inside, the link
//! runs [`Node::sync_over`] on the given tokio runtime: the same Noise handshake and
//! trust checks as `kafo sync --stdio`, so either end may be a link, a pipe or a
//! socket.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::debug;

use crate::net::{SyncOptions, SyncOverError, SyncReport};
use crate::node::Node;

/// Bytes the session may queue for the host before its writes wait for
/// [`Link::poll_transmit`].
const OUTBOUND_CAPACITY: usize = 256 * 1024;

/// The default idle timeout of a link: finished with [`LinkError::TimedOut`] when
/// nothing arrives for this long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a link finished without a session report.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LinkError {
    /// Nothing arrived for the idle timeout.
    #[error("nothing received for {after:?}")]
    TimedOut {
        /// The idle timeout.
        after: Duration,
    },
    /// The session could not start (the handshake failed: the other end is not a Kafo
    /// device, or the bytes were damaged), or its peer record could not be saved.
    #[error(transparent)]
    Session(Arc<SyncOverError>),
    /// The session's task ended without an outcome (it panicked).
    #[error("the sync session stopped unexpectedly")]
    Aborted,
}

/// One sync session over a transport the host drives. Safe to use from any thread.
#[derive(Debug)]
pub struct Link {
    inbound: Mutex<Option<mpsc::UnboundedSender<Vec<u8>>>>,
    outbound: Arc<Outbound>,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
    idle_timeout: Duration,
}

#[derive(Debug)]
struct State {
    last_received: Instant,
    result: Option<Result<SyncReport, LinkError>>,
}

impl Link {
    /// Starts a session with whatever is at the other end of the host's transport,
    /// sharing what `options` (and the enrolments) allow. The link finishes with
    /// [`LinkError::TimedOut`] when nothing arrives for `idle_timeout`.
    pub fn open(
        node: Arc<Node>,
        options: SyncOptions,
        idle_timeout: Duration,
        runtime: &Handle,
    ) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let outbound = Arc::new(Outbound::default());
        let state = Arc::new(Mutex::new(State {
            last_received: Instant::now(),
            result: None,
        }));
        let reader = LinkReader {
            receiver,
            chunk: Vec::new(),
            offset: 0,
        };
        let writer = LinkWriter {
            outbound: Arc::clone(&outbound),
        };
        let finished = Arc::clone(&state);
        let task = runtime.spawn(async move {
            let result = node
                .sync_over(reader, writer, &options)
                .await
                .map_err(|error| LinkError::Session(Arc::new(error)));
            debug!(ok = result.is_ok(), "link session ended");
            let mut state = lock(&finished);
            if state.result.is_none() {
                state.result = Some(result);
            }
        });
        Self {
            inbound: Mutex::new(Some(sender)),
            outbound,
            state,
            task,
            idle_timeout,
        }
    }

    /// Takes bytes that arrived from the other end, in any chunking. Ignored once
    /// the link is finished or closed.
    pub fn receive(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        lock(&self.state).last_received = Instant::now();
        if let Some(sender) = lock(&self.inbound).as_ref() {
            // A session that has ended no longer reads: its bytes are dropped.
            let _ = sender.send(data.to_vec());
        }
    }

    /// The next bytes to send, at most `max_len`; empty when nothing is pending now.
    pub fn poll_transmit(&self, max_len: usize) -> Vec<u8> {
        self.check_idle();
        self.outbound.take(max_len)
    }

    /// Whether the session is over and everything it wrote has been taken by
    /// [`Link::poll_transmit`] (or the host closed the link).
    pub fn is_finished(&self) -> bool {
        self.check_idle();
        lock(&self.state).result.is_some() && self.outbound.is_drained()
    }

    /// How the session ended: `None` while it runs.
    pub fn report(&self) -> Option<Result<SyncReport, LinkError>> {
        self.check_idle();
        lock(&self.state).result.clone()
    }

    /// The host's transport broke: the session ends (with a link error) as soon as it
    /// notices, and nothing more is sent.
    pub fn close(&self) {
        lock(&self.inbound).take();
        self.outbound.close();
    }

    /// Ends the session with a timeout when nothing arrived for the idle timeout.
    fn check_idle(&self) {
        let mut state = lock(&self.state);
        if state.result.is_some() {
            return;
        }
        if self.task.is_finished() {
            state.result = Some(Err(LinkError::Aborted));
            return;
        }
        if state.last_received.elapsed() >= self.idle_timeout {
            debug!(after = ?self.idle_timeout, "link idle, ending the session");
            self.task.abort();
            state.result = Some(Err(LinkError::TimedOut {
                after: self.idle_timeout,
            }));
            drop(state);
            self.close();
        }
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The guarded values stay consistent whatever a panicking holder left behind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Bytes the session wrote, waiting for the host.
#[derive(Debug, Default)]
struct Outbound {
    inner: Mutex<OutboundState>,
}

#[derive(Debug, Default)]
struct OutboundState {
    bytes: VecDeque<u8>,
    writer: Option<Waker>,
    closed: bool,
}

impl Outbound {
    fn take(&self, max_len: usize) -> Vec<u8> {
        let mut state = lock(&self.inner);
        let len = max_len.min(state.bytes.len());
        let taken: Vec<u8> = state.bytes.drain(..len).collect();
        if len > 0
            && let Some(waker) = state.writer.take()
        {
            waker.wake();
        }
        taken
    }

    fn is_drained(&self) -> bool {
        let state = lock(&self.inner);
        state.closed || state.bytes.is_empty()
    }

    fn close(&self) {
        let mut state = lock(&self.inner);
        state.closed = true;
        state.bytes.clear();
        if let Some(waker) = state.writer.take() {
            waker.wake();
        }
    }
}

/// The session's end of the inbound bytes.
#[derive(Debug)]
struct LinkReader {
    receiver: mpsc::UnboundedReceiver<Vec<u8>>,
    chunk: Vec<u8>,
    offset: usize,
}

impl AsyncRead for LinkReader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        while this.offset >= this.chunk.len() {
            match this.receiver.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => {
                    this.chunk = chunk;
                    this.offset = 0;
                }
                // The host closed the link: end of stream.
                Poll::Ready(None) => return Poll::Ready(Ok(0)),
                Poll::Pending => return Poll::Pending,
            }
        }
        let available = &this.chunk[this.offset..];
        let len = available.len().min(buf.len());
        buf[..len].copy_from_slice(&available[..len]);
        this.offset += len;
        Poll::Ready(Ok(len))
    }
}

/// The session's end of the outbound bytes.
#[derive(Debug)]
struct LinkWriter {
    outbound: Arc<Outbound>,
}

impl AsyncWrite for LinkWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut state = lock(&self.outbound.inner);
        if state.closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = OUTBOUND_CAPACITY.saturating_sub(state.bytes.len());
        if room == 0 {
            state.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let len = room.min(buf.len());
        state.bytes.extend(&buf[..len]);
        Poll::Ready(Ok(len))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Bytes handed to the host's queue are as sent as this side can make them.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
