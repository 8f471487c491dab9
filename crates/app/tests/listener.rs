//! Bounds before authentication, over real sockets on loopback: a cap on
//! open connections (503 beyond it), a header read timeout, and a cap on
//! body bytes held at once (503 beyond it), while honest requests go on.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use paved_app::listener::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn start(limits: Limits) -> (std::net::SocketAddr, tokio::sync::watch::Sender<bool>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, router, stopped, limits));
    (addr, stop)
}

/// What the server sends on `stream` until it closes it (bounded).
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

async fn health(addr: std::net::SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    read_to_close(&mut s).await
}

#[tokio::test]
async fn connections_over_the_cap_get_503_and_headers_must_arrive_in_time() {
    let limits = Limits {
        connections: 4,
        header_timeout: Duration::from_millis(300),
    };
    let (addr, _stop) = start(limits).await;
    assert!(health(addr).await.ends_with("ok"));

    // Four peers hold every slot with a request line and nothing more.
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    let started = Instant::now();
    let refused = health(addr).await;
    assert!(
        refused.starts_with("HTTP/1.1 503") && refused.contains("retry-after: 5"),
        "{refused}"
    );
    // The header timeout closes the idle ones (hyper answers 408 or just closes).
    for s in &mut idle {
        let said = read_to_close(s).await;
        assert!(
            said.is_empty() || said.starts_with("HTTP/1.1 408"),
            "{said}"
        );
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    // With the slots free again, honest requests are served.
    assert!(health(addr).await.ends_with("ok"));
}

#[tokio::test]
async fn bodies_held_at_once_are_bounded_and_honest_deliveries_go_through() {
    let config = common::config(&[]);
    let metrics = std::sync::Arc::new(paved_app::metrics::Metrics::new());
    let app = paved_app::server::app(&config, metrics);
    let _queue = app.jobs;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (_stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(serve(listener, app.router, stopped, Limits::default()));

    // Two unsigned senders declare 20 MB each and then stall: both cannot
    // fit in the 32 MB budget, so one is turned away before it sends more.
    let start_big = |delivery: &'static str| async move {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /webhook HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             x-github-event: issues\r\nx-github-delivery: {delivery}\r\n\
             x-hub-signature-256: sha256=00\r\ncontent-length: 20000000\r\n\r\n{{"
        );
        s.write_all(head.as_bytes()).await.unwrap();
        let mut answer = [0u8; 64];
        let n = s.read(&mut answer).await.unwrap_or(0);
        (s, String::from_utf8_lossy(&answer[..n]).into_owned())
    };
    let (a, b) = (
        tokio::spawn(start_big("big-1")),
        tokio::spawn(start_big("big-2")),
    );
    let first = tokio::time::timeout(Duration::from_secs(5), async {
        tokio::select! {
            r = a => r.unwrap().1,
            r = b => r.unwrap().1,
        }
    })
    .await
    .expect("one of them is answered at once");
    assert!(first.starts_with("HTTP/1.1 503"), "{first}");

    // A signed delivery still fits and is taken.
    let body = common::fixture("issues.opened.json");
    let url = format!("http://{addr}/webhook");
    let client = reqwest::Client::new();
    let answer = common::deliver(&client, &url, "issues", "honest-1", body, common::SECRET).await;
    assert_eq!(answer.status(), 202);
}
