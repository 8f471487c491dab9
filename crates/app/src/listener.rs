//! Accepting connections within bounds, before anyone is authenticated: at
//! most so many open at once (the next gets 503 and is closed), and a
//! connection whose request headers do not arrive in time is dropped, so
//! idle or trickling sockets cannot pile up.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// What one peer may hold before it has proven anything.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections served at once.
    pub connections: usize,
    /// How long a request's headers may take to arrive, also between
    /// requests on a kept-alive connection.
    pub header_timeout: Duration,
}

impl Default for Limits {
    /// Enough for GitHub's bursts and thousands of idle peers (a few KiB
    /// each); headers within 10 s, as GitHub sends them at once.
    fn default() -> Self {
        Self {
            connections: 4096,
            header_timeout: Duration::from_secs(10),
        }
    }
}

const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 5\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// Serves `router` on `listener` until `stop` turns true; then open
/// connections finish their request in hand and close, and this returns.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
) {
    let open = Arc::new(Semaphore::new(limits.connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait a moment rather than spin.
                tracing::warn!(error = %e, "could not accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        match open.clone().try_acquire_owned() {
            Ok(permit) => {
                let conn = connection(stream, router.clone(), stop.clone(), limits, permit);
                tokio::spawn(conn);
            }
            Err(_) => {
                tokio::spawn(turn_away(stream));
            }
        }
    }
    // Every connection holds a permit until it closes.
    let _ = open
        .acquire_many(u32::try_from(limits.connections).unwrap_or(u32::MAX))
        .await;
}

async fn connection(
    stream: TcpStream,
    router: axum::Router,
    mut stop: watch::Receiver<bool>,
    limits: Limits,
    _open: OwnedSemaphorePermit,
) {
    let service = TowerToHyperService::new(router);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut stopping = false;
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = stop.wait_for(|s| *s), if !stopping => {
                conn.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
}

/// Over the cap: a short 503, then the socket closed. What the peer sent
/// is read and dropped for a moment (at most 64 KiB), so the close is clean
/// rather than a reset that could eat the 503.
async fn turn_away(mut stream: TcpStream) {
    let answer = async {
        stream.write_all(BUSY).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        let mut read = 0;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
}
