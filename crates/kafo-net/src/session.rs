//! Driving a [`kafo_proto::Session`] over any byte stream: a libp2p `/kafo/sync/1`
//! stream, a Bluetooth socket, a serial line, a pipe, stdin/stdout.
//!
//! The loop follows the protocol's rule, "after every input, drain the output":
//! received bytes, storage replies, timer expiries and the end of the stream go in;
//! bytes to write, storage requests, timers and events come out. Reads and writes
//! proceed concurrently, so two sides that both have a lot to send never wait on
//! each other; the bytes waiting to be written are bounded, and reading pauses while
//! they are above the bound.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use futures::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use kafo_model::Scope;
use kafo_proto::storage::{StorageReply, StorageRequest, SyncStorage, execute};
use kafo_proto::wire::DeviceId;
use kafo_proto::{Event, Input, Outcome, Output, PeerHello, Session, SessionError, SessionReport};
use libp2p::PeerId;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::time::Instant;
use tracing::{debug, error, trace, warn};

/// Bounds of the driver itself (the session has its own, in its `SessionConfig`).
#[derive(Debug, Clone)]
pub struct LinkLimits {
    /// The link is declared dead when bytes wait to be written and none is accepted
    /// for this long (the peer stopped reading). Silence on the read side is the
    /// session's own idle timeout.
    pub write_stall_timeout: Duration,
    /// Bytes waiting to be written above which reading pauses until they drain.
    /// Keep it above the session's receive window (`kafo_proto::Limits::window`,
    /// 4 MiB by default): two sides that both paused reading with full pipes would
    /// wait on each other until the stall timeout.
    pub max_pending_write: usize,
    /// Bytes read per read call (the one read buffer's size).
    pub read_chunk: usize,
    /// How long the last bytes and the close may take once the session finished.
    pub close_timeout: Duration,
}

impl Default for LinkLimits {
    fn default() -> Self {
        Self {
            write_stall_timeout: Duration::from_secs(30),
            max_pending_write: 8 * 1024 * 1024,
            read_chunk: 64 * 1024,
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// The driver's answer to the peer's hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Share the scopes both sides offer and accept ([`kafo_proto::default_share`]).
    DefaultShare,
    /// Share exactly these scopes.
    Share(Vec<Scope>),
    /// Share exactly these scopes, and disclose `disclose` to the peer's trust layer
    /// first ([`Input::AuthorizeWith`]: a `Disclose` frame ahead of anything about
    /// documents, when not empty and the peer speaks protocol version 2, which
    /// [`PeerHello::version`] tells).
    ShareWith {
        /// The scopes to share.
        share: Vec<Scope>,
        /// Opaque bytes for the peer (Kafo: the revocations this device knows).
        disclose: Vec<u8>,
    },
    /// Refuse the peer; the session ends without revealing any document.
    Refuse,
}

/// What a driven session asks its caller: whom to admit, and what to make of the peer's
/// disclosure.
///
/// Any `FnMut(&PeerHello) -> Admission` closure is a `SessionHooks` that ignores
/// disclosures; implement the trait on a type of your own to see them (one value for
/// both calls, so the disclosure can be checked against the hello's credentials).
pub trait SessionHooks {
    /// The peer's hello arrived (nothing about documents has crossed yet): what to
    /// share with it. The caller knows which peer its transport authenticated; compare
    /// it with [`PeerHello::device`] (see [`device_id_for`]) and the credentials.
    fn admit(&mut self, hello: &PeerHello) -> Admission;

    /// The peer disclosed `bytes` ([`kafo_proto::Event::PeerDisclosed`], protocol
    /// version 2): at most once per session, after [`SessionHooks::admit`] was asked
    /// and before anything from the peer is written. Return `false` to refuse the peer:
    /// the session closes with `Refused` and writes nothing more it sent. The default
    /// accepts (ignores) the disclosure.
    fn disclosed(&mut self, bytes: &[u8]) -> bool {
        let _ = bytes;
        true
    }
}

impl<F> SessionHooks for F
where
    F: FnMut(&PeerHello) -> Admission,
{
    fn admit(&mut self, hello: &PeerHello) -> Admission {
        self(hello)
    }
}

/// How a driven session ended.
#[derive(Debug)]
pub struct SessionEnd {
    /// The session's own report.
    pub report: SessionReport,
    /// Why the byte stream failed, if it did (a clean end of stream is no failure).
    pub link_error: Option<LinkError>,
}

/// A failure of the byte stream under a session.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// Reading failed (reset, connection lost).
    #[error("reading from the link failed")]
    Read(#[source] io::Error),
    /// Writing failed (reset, broken pipe).
    #[error("writing to the link failed")]
    Write(#[source] io::Error),
    /// Bytes waited to be written and the link took none for this long.
    #[error("the link accepted no bytes for {after:?}")]
    WriteStalled {
        /// How long.
        after: Duration,
    },
    /// The final bytes or the close did not complete in time after the session ended.
    #[error("closing the link took longer than {after:?}")]
    CloseTimedOut {
        /// How long we waited.
        after: Duration,
    },
}

/// The device id a peer must announce in its hello, given the peer id its transport
/// authenticated: the peer id's bytes. Compare it with [`PeerHello::device`] in the
/// admission to refuse a peer that claims another device's identity.
pub fn device_id_for(peer: &PeerId) -> Option<DeviceId> {
    DeviceId::new(peer.to_bytes())
}

/// Runs `session` over `stream` until it finishes, executing its storage requests on
/// `storage` and asking `hooks` about the peer once its hello arrived (and about its
/// disclosure, if it makes one). `hooks` is an admission closure
/// (`FnMut(&PeerHello) -> Admission`) or any [`SessionHooks`].
///
/// Never panics on peer input and never returns early: every way the link can end
/// (end of stream, error, stall) is fed to the session, whose report says how it
/// ended. Time comes from tokio's clock (so `tokio::time::pause` drives it in tests).
///
/// Storage calls run on this task: on a multi-threaded runtime inside
/// [`tokio::task::block_in_place`], so that a slow disk does not stall other tasks;
/// on a current-thread runtime inline.
pub async fn run_session<S, T, H>(
    stream: T,
    session: Session,
    storage: &mut S,
    hooks: H,
    limits: &LinkLimits,
) -> SessionEnd
where
    S: SyncStorage,
    T: AsyncRead + AsyncWrite + Unpin,
    H: SessionHooks,
{
    let (reader, writer) = stream.split();
    run_session_split(reader, writer, session, storage, hooks, limits).await
}

/// [`run_session`] over separate read and write halves (stdin and stdout, two ends of
/// a serial bridge).
pub async fn run_session_split<S, R, W, H>(
    reader: R,
    writer: W,
    session: Session,
    storage: &mut S,
    hooks: H,
    limits: &LinkLimits,
) -> SessionEnd
where
    S: SyncStorage,
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    H: SessionHooks,
{
    let mut driver = Driver {
        session,
        storage,
        hooks,
        limits,
        outbox: Outbox::default(),
        timer: None,
        report: None,
        link_error: None,
        link_closed: false,
        read_open: true,
    };
    driver.run(reader, writer).await
}

struct Driver<'a, S, H> {
    session: Session,
    storage: &'a mut S,
    hooks: H,
    limits: &'a LinkLimits,
    outbox: Outbox,
    timer: Option<Instant>,
    report: Option<SessionReport>,
    link_error: Option<LinkError>,
    /// The session was told the link closed.
    link_closed: bool,
    /// More bytes may come from the reader.
    read_open: bool,
}

impl<S, H> Driver<'_, S, H>
where
    S: SyncStorage,
    H: SessionHooks,
{
    async fn run<R, W>(&mut self, mut reader: R, mut writer: W) -> SessionEnd
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buffer = vec![0u8; self.limits.read_chunk.max(1)];
        let mut last_write_progress = Instant::now();
        // Bytes were written since the last flush.
        let mut unflushed = false;
        loop {
            self.drain();
            if self.report.is_some() {
                break;
            }
            if self.link_closed {
                // The session was told and still has not finished: nothing else can
                // happen on this link.
                error!("session did not finish after its link closed");
                break;
            }
            let can_read = self.read_open && self.outbox.len() <= self.limits.max_pending_write;
            let writing = (!self.outbox.is_empty() || unflushed) && self.link_error.is_none();
            if !writing {
                last_write_progress = Instant::now();
            }
            let stall_at = last_write_progress + self.limits.write_stall_timeout;
            let timer = self.timer;
            tokio::select! {
                read = reader.read(&mut buffer), if can_read => match read {
                    Ok(0) => {
                        debug!("link: end of stream");
                        self.read_open = false;
                        self.close_link();
                    }
                    Ok(n) => {
                        trace!(bytes = n, "link: received");
                        self.input(Input::Received(&buffer[..n]));
                    }
                    Err(error) => {
                        debug!(%error, "link: read failed");
                        self.read_open = false;
                        self.fail_link(LinkError::Read(error));
                    }
                },
                progress = write_or_flush(&mut writer, self.outbox.front()), if writing => match progress {
                    Ok(WriteProgress::Wrote(n)) => {
                        self.outbox.consume(n);
                        unflushed = true;
                        last_write_progress = Instant::now();
                    }
                    Ok(WriteProgress::Flushed) => unflushed = false,
                    Err(error) => self.fail_link(LinkError::Write(error)),
                },
                () = tokio::time::sleep_until(stall_at), if writing => {
                    warn!("link: write stalled");
                    let after = self.limits.write_stall_timeout;
                    self.fail_link(LinkError::WriteStalled { after });
                },
                () = sleep_until_opt(timer), if timer.is_some() => {
                    self.timer = None;
                    self.input(Input::Timeout);
                },
                // Nothing can make progress: the peer closed, we have nothing to
                // write, and the session waits for its own timer, which is unset.
                else => self.close_link(),
            }
        }
        if self.link_error.is_none() {
            self.finish_link(&mut writer).await;
        }
        let report = self.report.take().unwrap_or_else(fallback_report);
        SessionEnd {
            report,
            link_error: self.link_error.take(),
        }
    }

    /// Feeds one input, then drains the outputs.
    fn input(&mut self, input: Input<'_>) {
        self.session.handle_input(now(), input);
        self.drain();
    }

    /// Drains the session's outputs, running storage, admission and the disclosure
    /// hook as they come (each of which is an input, after which draining continues).
    fn drain(&mut self) {
        while let Some(output) = self.session.poll_output() {
            match output {
                Output::Transmit(bytes) => {
                    if self.link_error.is_none() {
                        self.outbox.push(bytes);
                    }
                }
                Output::Storage(request) => {
                    let reply = self.execute(request);
                    self.session.handle_input(now(), Input::Storage(reply));
                }
                Output::SetTimer(at) => {
                    self.timer = Some(from_std(at));
                }
                Output::Event(Event::PeerHello(hello)) => {
                    let input = match self.hooks.admit(&hello) {
                        Admission::DefaultShare => match self.session.default_share() {
                            Some(share) => Input::Authorize { share },
                            None => Input::Refuse,
                        },
                        Admission::Share(share) => Input::Authorize { share },
                        Admission::ShareWith { share, disclose } => {
                            Input::AuthorizeWith { share, disclose }
                        }
                        Admission::Refuse => Input::Refuse,
                    };
                    self.session.handle_input(now(), input);
                }
                Output::Event(Event::PeerDisclosed(bytes)) => {
                    if !self.hooks.disclosed(&bytes) {
                        debug!("refused the peer on its disclosure");
                        self.session.handle_input(now(), Input::Refuse);
                    }
                }
                Output::Event(Event::Finished(report)) => {
                    debug!(outcome = ?report.outcome, "session finished");
                    self.report = Some(report);
                }
            }
        }
    }

    fn execute(&mut self, request: StorageRequest) -> StorageReply {
        let multi_thread = Handle::try_current()
            .is_ok_and(|handle| handle.runtime_flavor() == RuntimeFlavor::MultiThread);
        if multi_thread {
            tokio::task::block_in_place(|| execute(request, self.storage))
        } else {
            execute(request, self.storage)
        }
    }

    /// Tells the session the link is gone (once).
    fn close_link(&mut self) {
        if !self.link_closed {
            self.link_closed = true;
            self.input(Input::Closed);
        }
    }

    fn fail_link(&mut self, error: LinkError) {
        if self.link_error.is_none() {
            self.link_error = Some(error);
        }
        self.outbox.clear();
        self.close_link();
    }

    /// Writes what the finished session still queued (its last frames) and closes our
    /// half of the stream, within the close timeout.
    async fn finish_link<W: AsyncWrite + Unpin>(&mut self, writer: &mut W) {
        let after = self.limits.close_timeout;
        let outbox = &mut self.outbox;
        let flushed = tokio::time::timeout(after, async {
            while !outbox.is_empty() {
                let n = writer.write(outbox.front()).await?;
                if n == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                outbox.consume(n);
            }
            writer.close().await
        })
        .await;
        match flushed {
            Ok(Ok(())) => {}
            // The peer may close first once it has what it needs: a reset while
            // closing after the session ended is not a failure of the session.
            Ok(Err(error)) => debug!(%error, "link: close failed"),
            Err(_) => self.link_error = Some(LinkError::CloseTimedOut { after }),
        }
    }
}

/// What one write step did.
enum WriteProgress {
    Wrote(usize),
    Flushed,
}

/// Writes from `pending` if there is anything, else flushes.
async fn write_or_flush<W: AsyncWrite + Unpin>(
    writer: &mut W,
    pending: &[u8],
) -> io::Result<WriteProgress> {
    if pending.is_empty() {
        writer.flush().await?;
        return Ok(WriteProgress::Flushed);
    }
    match writer.write(pending).await? {
        0 => Err(io::ErrorKind::WriteZero.into()),
        n => Ok(WriteProgress::Wrote(n)),
    }
}

/// Bytes waiting to be written, in order.
#[derive(Debug, Default)]
struct Outbox {
    chunks: VecDeque<Vec<u8>>,
    /// Bytes of the front chunk already written.
    offset: usize,
    len: usize,
}

impl Outbox {
    fn push(&mut self, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.len += bytes.len();
            self.chunks.push_back(bytes);
        }
    }

    fn front(&self) -> &[u8] {
        self.chunks
            .front()
            .map_or(&[][..], |chunk| &chunk[self.offset..])
    }

    fn consume(&mut self, n: usize) {
        self.len = self.len.saturating_sub(n);
        self.offset += n;
        if let Some(chunk) = self.chunks.front()
            && self.offset >= chunk.len()
        {
            self.chunks.pop_front();
            self.offset = 0;
        }
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.offset = 0;
        self.len = 0;
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

fn from_std(at: std::time::Instant) -> Instant {
    Instant::from_std(at)
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The report of a session that never finished (a protocol bug, logged as an error):
/// a lost connection with no statistics.
fn fallback_report() -> SessionReport {
    SessionReport {
        outcome: Outcome::Failed(SessionError::ConnectionLost),
        peer: None,
        docs_sent: 0,
        docs_received: 0,
        docs_skipped: 0,
        changes_sent: 0,
        changes_received: 0,
        bytes_sent: 0,
        bytes_received: 0,
        frames_sent: 0,
        frames_received: 0,
        round_trips: 0,
        duration: Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_hands_out_bytes_in_order_across_partial_writes() {
        let mut outbox = Outbox::default();
        outbox.push(b"hello".to_vec());
        outbox.push(Vec::new());
        outbox.push(b" world".to_vec());
        assert_eq!(outbox.len(), 11);
        let mut written = Vec::new();
        while !outbox.is_empty() {
            // Writes of three bytes at most, as a congested link would take them.
            let n = outbox.front().len().min(3);
            written.extend_from_slice(&outbox.front()[..n]);
            outbox.consume(n);
        }
        assert_eq!(written, b"hello world");
        assert_eq!(outbox.len(), 0);
        assert!(outbox.front().is_empty());
    }
}
