//! The listener without Postgres: real HTTP over loopback, a thread standing in for the worker's
//! main thread. Every limit is exercised and answered with its status.

use super::*;
use crate::webhook::auth::{path_secret_digest, AuthConfig, PathSecret};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::time::Instant;

const SECRET: &str = "s3cr3t-path-segment-0123456789abcdef";

fn auth() -> AuthConfig {
    AuthConfig {
        signing_secret: None,
        public_url: Some("https://db.example.com".into()),
        path_secrets: vec![PathSecret {
            digest: path_secret_digest(SECRET),
            board_id: 7,
        }],
        allow_unauthenticated: false,
    }
}

fn limits() -> Limits {
    Limits {
        max_body: 4096,
        header_timeout: Duration::from_millis(500),
        body_timeout: Duration::from_millis(500),
        max_connections: 8,
        queue: 16,
        commit_timeout: Duration::from_secs(2),
    }
}

/// Mode of the stand-in main thread.
#[derive(Clone, Copy, PartialEq)]
enum Main {
    /// Answers 200 at once (as after a commit).
    Answer,
    /// Never takes anything from the queue.
    Stalled,
    /// Takes requests but never answers.
    Silent,
    /// Answers as a failed check or commit would: 401 for item 1, 503 for the others.
    Refuse,
}

struct Running {
    addr: SocketAddr,
    received: mpsc::Receiver<(String, Option<i64>)>,
    stop: mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
    counters: mpsc::Receiver<Vec<(&'static str, u64)>>,
}

impl Running {
    /// Stops the listener; its counters at the end.
    fn counters(mut self) -> std::collections::HashMap<&'static str, u64> {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.counters.recv().unwrap().into_iter().collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start(limits: Limits, tls: Option<Arc<rustls::ServerConfig>>, main: Main) -> Running {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (rx_tx, received) = mpsc::channel();
    let (stop, stop_rx) = mpsc::channel::<()>();
    let (counters_tx, counters) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let l = Listener::start(Config {
            addr: "127.0.0.1:0".parse().unwrap(),
            tls,
            limits,
            auth: auth(),
        })
        .unwrap();
        addr_tx.send(l.addr).unwrap();
        let mut held = Vec::new();
        loop {
            if stop_rx.try_recv().is_ok() {
                break;
            }
            // Wait on the wake pipe as the worker does (poll instead of WaitLatchOrSocket).
            let mut p = libc::pollfd {
                fd: l.wake_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            unsafe { libc::poll(&mut p, 1, 20) };
            if main == Main::Stalled {
                continue;
            }
            l.clear_wake();
            while let Some(i) = l.try_recv() {
                let _ = rx_tx.send((i.event.event_type.clone(), i.event.item_id));
                match main {
                    Main::Answer => i.answer(200, "{\"stored\":true}"),
                    Main::Refuse if i.event.item_id == Some(1) => i.answer(401, "{}"),
                    Main::Refuse => i.answer(503, "{}"),
                    _ => held.push(i),
                }
            }
        }
        let _ = counters_tx.send(l.counters.snapshot());
        l.stop();
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(5)).unwrap();
    Running {
        addr,
        received,
        stop,
        thread: Some(thread),
        counters,
    }
}

/// Sends raw bytes, returns (status, headers+body text) or None when the server closed without
/// answering.
fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    read_answer(&mut s)
}

fn read_answer(s: &mut impl Read) -> Option<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(h) = text.find("\r\n\r\n") {
                    let len = text[..h]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= h + 4 + len {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    Some((status, text))
}

fn post(addr: SocketAddr, path: &str, body: &str, extra: &str) -> Option<(u16, String)> {
    raw(
        addr,
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn event(item: i64) -> String {
    format!(
        r#"{{"event":{{"app":"monday","type":"update_name","triggerTime":"2026-11-30T10:00:00.000Z","subscriptionId":1,"userId":2,"originalTriggerUuid":null,"boardId":7,"groupId":"topics","pulseId":{item},"value":{{"name":"n{item}"}},"previousValue":{{"name":"o"}},"triggerUuid":"u{item}"}}}}"#
    )
}

#[test]
fn challenge_is_echoed_at_once_without_auth_or_storage() {
    let r = start(limits(), None, Main::Stalled);
    let (st, text) = post(
        r.addr,
        "/webhook/anything-goes-here-123456",
        r#"{"challenge":"abc123"}"#,
        "",
    )
    .unwrap();
    assert_eq!(st, 200, "{text}");
    assert!(text.ends_with(r#"{"challenge":"abc123"}"#), "{text}");
    assert!(r.received.try_recv().is_err());
}

#[test]
fn routes_and_methods() {
    let r = start(limits(), None, Main::Answer);
    assert_eq!(post(r.addr, "/nope", "{}", "").unwrap().0, 404);
    assert_eq!(post(r.addr, "/webhook/a/b", "{}", "").unwrap().0, 404);
    let get = |p: &str| {
        raw(
            r.addr,
            format!("GET {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .unwrap()
        .0
    };
    assert_eq!(get("/webhook"), 405);
    assert_eq!(get("/health"), 200);
}

#[test]
fn secret_path_accepts_and_waits_for_the_commit() {
    let r = start(limits(), None, Main::Answer);
    let (st, text) = post(r.addr, &format!("/webhook/{SECRET}"), &event(11), "").unwrap();
    assert_eq!(st, 200, "{text}");
    assert!(text.ends_with(r#"{"stored":true}"#));
    assert_eq!(
        r.received.recv_timeout(Duration::from_secs(1)).unwrap(),
        ("update_name".into(), Some(11))
    );
}

#[test]
fn unauthenticated_posts_are_refused_and_not_handed_over() {
    let r = start(limits(), None, Main::Answer);
    assert_eq!(post(r.addr, "/webhook", &event(1), "").unwrap().0, 401);
    assert_eq!(
        post(
            r.addr,
            "/webhook/wrong-secret-0123456789abcdef",
            &event(1),
            ""
        )
        .unwrap()
        .0,
        401
    );
    // A JWT when no signing secret is configured proves nothing.
    assert_eq!(
        post(
            r.addr,
            "/webhook",
            &event(1),
            "Authorization: eyJhbGciOiJIUzI1NiJ9.e30.x\r\n"
        )
        .unwrap()
        .0,
        401
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(r.received.try_recv().is_err());
}

#[test]
fn malformed_bodies_get_400() {
    let r = start(limits(), None, Main::Answer);
    let p = format!("/webhook/{SECRET}");
    for body in [
        "",
        "{",
        "[]",
        "{\"event\":1}",
        "{\"nothing\":true}",
        "\u{0}\u{1}",
    ] {
        let (st, text) = post(r.addr, &p, body, "").unwrap();
        assert_eq!(st, 400, "{body:?}: {text}");
    }
}

#[test]
fn large_bodies_get_413_whether_announced_or_chunked() {
    let r = start(limits(), None, Main::Answer);
    let big = "x".repeat(5000);
    assert_eq!(
        post(r.addr, &format!("/webhook/{SECRET}"), &big, "")
            .unwrap()
            .0,
        413
    );
    let mut chunked = format!(
        "POST /webhook/{SECRET} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    for _ in 0..5 {
        chunked.push_str(&format!("{:x}\r\n{}\r\n", 1000, "y".repeat(1000)));
    }
    chunked.push_str("0\r\n\r\n");
    assert_eq!(raw(r.addr, chunked.as_bytes()).unwrap().0, 413);
}

#[test]
fn a_slow_body_gets_408_and_a_slow_head_is_cut_off() {
    let r = start(limits(), None, Main::Answer);
    let t = Instant::now();
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        format!("POST /webhook/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"ev")
            .as_bytes(),
    )
    .unwrap();
    let (st, _) = read_answer(&mut s).unwrap();
    assert_eq!(st, 408);
    assert!(t.elapsed() < Duration::from_secs(3));
    // Half a head, then nothing: the connection is closed after the header timeout.
    let t = Instant::now();
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut b = [0u8; 64];
    let n = s.read(&mut b).unwrap_or(0);
    let got = String::from_utf8_lossy(&b[..n]).to_string();
    assert!(n == 0 || got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let mut l = limits();
    l.queue = 2;
    l.commit_timeout = Duration::from_secs(3);
    let r = start(l, None, Main::Stalled);
    let addr = r.addr;
    // Two requests fill the queue (nobody drains it); they wait for a commit that never comes.
    let waiting: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || post(addr, &format!("/webhook/{SECRET}"), &event(i), ""))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let (st, text) = post(addr, &format!("/webhook/{SECRET}"), &event(9), "").unwrap();
    assert_eq!(st, 503, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    // Not committed in time: 503 as well (monday retries; the retry is stored once).
    for w in waiting {
        assert_eq!(w.join().unwrap().unwrap().0, 503);
    }
}

#[test]
fn an_unanswered_event_gets_503_after_the_commit_timeout() {
    let mut l = limits();
    l.commit_timeout = Duration::from_millis(300);
    let r = start(l, None, Main::Silent);
    let (st, _) = post(r.addr, &format!("/webhook/{SECRET}"), &event(3), "").unwrap();
    assert_eq!(st, 503);
}

#[test]
fn connections_over_the_cap_get_503() {
    let mut l = limits();
    l.max_connections = 2;
    l.header_timeout = Duration::from_secs(5);
    let r = start(l, None, Main::Answer);
    let idle: Vec<TcpStream> = (0..2)
        .map(|_| TcpStream::connect(r.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (st, text) = post(r.addr, &format!("/webhook/{SECRET}"), &event(1), "").unwrap();
    assert_eq!(st, 503, "{text}");
    drop(idle);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        post(r.addr, &format!("/webhook/{SECRET}"), &event(1), "")
            .unwrap()
            .0,
        200
    );
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let r = start(limits(), None, Main::Answer);
    let mut s = TcpStream::connect(r.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    for i in 0..20 {
        let body = event(100 + i);
        s.write_all(
            format!(
                "POST /webhook/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
        assert_eq!(read_answer(&mut s).unwrap().0, 200);
    }
}

#[test]
fn tls_serves_with_the_configured_certificate() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/pgrx-tests/fixtures/tls");
    let cfg = tls_config(&format!("{dir}/cert.pem"), &format!("{dir}/key.pem")).unwrap();
    let r = start(limits(), Some(cfg), Main::Answer);
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(format!("{dir}/ca.pem")).unwrap();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn =
        rustls::ClientConnection::new(Arc::new(client), "127.0.0.1".try_into().unwrap()).unwrap();
    let sock = TcpStream::connect(r.addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, sock);
    let body = event(5);
    tls.write_all(
        format!("POST /webhook/{SECRET} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            .as_bytes(),
    )
    .unwrap();
    assert_eq!(read_answer(&mut tls).unwrap().0, 200);
    // Plain HTTP on the TLS port is no request.
    let plain = raw(r.addr, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(plain.is_none() || plain.unwrap().0 != 200);
    // Wrong files are a clear error.
    let e = tls_config("/nonexistent/cert.pem", "/nonexistent/key.pem").unwrap_err();
    assert!(e.contains("webhook_tls_cert"), "{e}");
}

#[test]
fn the_port_in_use_is_reported_at_start() {
    let r = start(limits(), None, Main::Answer);
    let e = Listener::start(Config {
        addr: r.addr,
        tls: None,
        limits: limits(),
        auth: auth(),
    })
    .err()
    .unwrap();
    assert!(e.contains("could not listen"), "{e}");
}

#[test]
fn answers_of_the_main_thread_are_counted() {
    let r = start(limits(), None, Main::Refuse);
    let path = format!("/webhook/{SECRET}");
    assert_eq!(post(r.addr, &path, &event(1), "").unwrap().0, 401);
    assert_eq!(post(r.addr, &path, &event(2), "").unwrap().0, 503);
    let c = r.counters();
    assert_eq!(
        (c["unauthorized"], c["busy"], c["accepted"]),
        (1, 1, 0),
        "{c:?}"
    );
}
