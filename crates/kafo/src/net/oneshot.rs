//! One session on request, without a running node: with a peer at a libp2p address
//! ([`Node::sync_with`]), or over any byte stream ([`Node::sync_over`]).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::io::{AsyncRead, AsyncReadExt as _, AsyncWrite};
use kafo_net::{Multiaddr, Network, NetworkConfig, PeerId, secure_stream};
use tracing::{debug, info};

use crate::net::config::SyncOptions;
use crate::net::error::{PeerRecordError, SessionSetupError, SyncWithError};
use crate::net::report::{Direction, SyncReport};
use crate::net::session::{blocking, drive};
use crate::node::Node;

/// Why [`Node::sync_over`] failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncOverError {
    /// The session could not start.
    #[error(transparent)]
    Setup(#[from] SessionSetupError),
    /// The session ran (its report is here) but the peer's record could not be saved.
    #[error("the session ran but {source}")]
    PeerRecord {
        /// What the session did.
        report: Box<SyncReport>,
        /// Why the record was not saved.
        source: PeerRecordError,
    },
}

impl Node {
    /// Runs one session with the peer at the other end of a byte stream: a Bluetooth
    /// socket, a serial line, a pipe, stdin and stdout (`kafo sync --stdio`). Both ends
    /// may call this at once: the protocol has no roles. Takes futures-io halves (tokio
    /// types through `tokio_util::compat`).
    ///
    /// Both ends first secure the stream with Noise ([`kafo_net::secure_stream`]),
    /// which authenticates the peer's device id and encrypts the session; then they
    /// share what their enrolments (or, between unenrolled devices, both sides'
    /// [`SyncOptions::scopes`]) allow. The peer is remembered ([`Node::peers`])
    /// without an address.
    pub async fn sync_over<R, W>(
        &self,
        reader: R,
        writer: W,
        options: &SyncOptions,
    ) -> Result<SyncReport, SyncOverError>
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let joined = Joined { reader, writer };
        let secured = tokio::time::timeout(
            SECURE_TIMEOUT,
            secure_stream(joined, self.identity().keypair()),
        )
        .await
        .map_err(|_| SessionSetupError::SecureTimedOut {
            after: SECURE_TIMEOUT,
        })?;
        let (peer, stream) = secured.map_err(SessionSetupError::Secure)?;
        debug!(peer = %crate::DeviceId::from(peer).redacted(), "byte stream secured");
        let (reader, writer) = stream.split();
        let driven = drive(self, reader, writer, Some(peer), options, |_| {}).await?;
        let report = driven.report;
        if let Some(peer) = report.peer
            && let Err(source) =
                blocking(|| self.record_session(peer, Vec::new(), Direction::Outbound, &report))
        {
            return Err(SyncOverError::PeerRecord {
                report: Box::new(report),
                source,
            });
        }
        Ok(report)
    }

    /// Connects to the peer at `addr` (TCP or QUIC, optionally ending in
    /// `/p2p/<peer id>`, which the connection then checks), runs one session, and
    /// disconnects. No listener and no mDNS: sessions the peer opens towards this side
    /// meanwhile are not answered.
    pub async fn sync_with(
        &self,
        addr: Multiaddr,
        options: &SyncOptions,
    ) -> Result<SyncReport, SyncWithError> {
        self.sync_with_network(addr, options, NetworkConfig::loopback_only(Vec::new()))
            .await
    }

    /// [`Node::sync_with`] with a network configuration (its timeouts and limits; its
    /// listen addresses and mDNS are used as given).
    pub async fn sync_with_network(
        &self,
        addr: Multiaddr,
        options: &SyncOptions,
        network: NetworkConfig,
    ) -> Result<SyncReport, SyncWithError> {
        let network = Network::start(self.identity().keypair().clone(), network).await?;
        let (handle, incoming) = network.into_parts();
        drop(incoming);
        let result = async {
            let peer = handle
                .dial(addr.clone())
                .await
                .map_err(|source| SyncWithError::Unreachable { addr, source })?;
            info!("connected, opening a sync session");
            let stream = handle
                .open_sync_stream(peer)
                .await
                .map_err(|source| SyncWithError::OpenStream { peer, source })?;
            let (reader, writer) = stream.split();
            let driven = drive(self, reader, writer, Some(peer), options, |_| {}).await?;
            Ok::<(PeerId, SyncReport), SyncWithError>((peer, driven.report))
        }
        .await;
        let addrs = match &result {
            Ok((peer, _)) => handle
                .peers()
                .into_iter()
                .find(|known| known.peer == *peer)
                .map(|known| known.addrs)
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        handle.shutdown().await;
        let (peer, report) = result?;
        blocking(|| self.record_session(peer, addrs, Direction::Outbound, &report)).map_err(
            |source| SyncWithError::PeerRecord {
                report: Box::new(report.clone()),
                source,
            },
        )?;
        Ok(report)
    }
}

/// How long securing a byte stream may take (the peer must start its side meanwhile).
const SECURE_TIMEOUT: Duration = Duration::from_secs(60);

/// A reader and a writer as one byte stream.
#[derive(Debug)]
struct Joined<R, W> {
    reader: R,
    writer: W,
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for Joined<R, W> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Joined<R, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().writer).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().writer).poll_close(cx)
    }
}
