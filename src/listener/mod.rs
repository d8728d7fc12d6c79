//! The webhook listener's network side: an HTTP/1.1 server (hyper 1, optionally behind rustls) on
//! a single-threaded tokio runtime in one helper thread. No Postgres here: this module never logs
//! through Postgres, never pallocs, never sets a latch.
//!
//! What the helper thread decides alone, before anything is stored: the route (404), the method
//! (405), the limits (413 body size, 408 slow body, header timeout and connection cap, 503 when the
//! hand-over queue is full), the body (400 malformed; a URL-verification challenge is answered at
//! once) and who may post (401, `webhook::auth`). An accepted event goes over a bounded channel to
//! the worker's main thread, which stores a batch of them in one transaction, commits, and only
//! then answers each request: a 200 means the event is durable (group commit). The main thread is
//! woken through a pipe it waits on with its latch (`WaitLatchOrSocket`).
//!
//! Helper threads are started with every signal blocked, so Postgres' handlers only ever run on
//! the main thread.

use crate::webhook::auth::{authorize, route, AuthConfig, Authorized, Route};
use crate::webhook::{parse_body, Body, Event};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming as HyperBody};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{oneshot, Semaphore};

#[cfg(test)]
mod tests;

/// The listener's hard limits (each a `monday_sync.webhook_*` setting).
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest accepted body; larger → 413 (announced by Content-Length or found while reading).
    pub max_body: usize,
    /// Time to send the request head; a slower client's connection is closed.
    pub header_timeout: Duration,
    /// Time to send the body once the head is in; slower → 408.
    pub body_timeout: Duration,
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Accepted events waiting for the main thread; a full queue → 503 with Retry-After.
    pub queue: usize,
    /// How long a request waits for its event to be committed before it gets 503 (it is retried
    /// by monday; if the commit did happen meanwhile, the retry is a duplicate and stored once).
    pub commit_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 256,
            queue: 4096,
            commit_timeout: Duration::from_secs(10),
        }
    }
}

pub struct Config {
    pub addr: SocketAddr,
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub limits: Limits,
    pub auth: AuthConfig,
}

/// Counters the main thread publishes (relaxed atomics, written by the helper thread).
#[derive(Default, Debug)]
pub struct Counters {
    pub requests: AtomicU64,
    pub accepted: AtomicU64,
    pub challenges: AtomicU64,
    pub unauthorized: AtomicU64,
    pub malformed: AtomicU64,
    pub too_large: AtomicU64,
    pub slow: AtomicU64,
    pub busy: AtomicU64,
    pub not_found: AtomicU64,
    pub refused_connections: AtomicU64,
    pub tls_failures: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        vec![
            ("requests", g(&self.requests)),
            ("accepted", g(&self.accepted)),
            ("challenges", g(&self.challenges)),
            ("unauthorized", g(&self.unauthorized)),
            ("malformed", g(&self.malformed)),
            ("too_large", g(&self.too_large)),
            ("slow", g(&self.slow)),
            ("busy", g(&self.busy)),
            ("not_found", g(&self.not_found)),
            ("refused_connections", g(&self.refused_connections)),
            ("tls_failures", g(&self.tls_failures)),
        ]
    }
}

/// An authenticated, well-formed event waiting to be stored.
pub struct Incoming {
    pub event: Event,
    pub authorized: Authorized,
    /// When the helper thread had the whole body (epoch ms).
    pub received_ms: i64,
    reply: oneshot::Sender<Answer>,
}

/// What the main thread answers for a stored (or refused) event.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Incoming {
    /// Answers the request (after the commit). A client that went away is no error.
    pub fn answer(self, status: u16, body: impl Into<String>) {
        let _ = self.reply.send(Answer {
            status,
            body: body.into(),
        });
    }
}

/// The running listener, owned by the worker's main thread.
pub struct Listener {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    rx: Receiver<Incoming>,
    wake_read: OwnedFd,
    pub counters: Arc<Counters>,
    auth: Arc<RwLock<AuthConfig>>,
    pub addr: SocketAddr,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // Both ends non-blocking: the helper never waits on a full pipe (one byte already wakes), the
    // main thread drains it without blocking.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

impl Listener {
    /// Binds at once (so a bad address or a port in use is reported to the caller), then serves on
    /// a helper thread.
    pub fn start(cfg: Config) -> Result<Listener, String> {
        let std_listener = std::net::TcpListener::bind(cfg.addr)
            .map_err(|e| format!("could not listen on {}: {e}", cfg.addr))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| format!("could not listen on {}: {e}", cfg.addr))?;
        let addr = std_listener.local_addr().map_err(|e| e.to_string())?;
        let (wake_read, wake_write) = pipe().map_err(|e| format!("pipe: {e}"))?;
        let (tx, rx) = sync_channel(cfg.limits.queue.max(1));
        let (stop_tx, stop_rx) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let auth = Arc::new(RwLock::new(cfg.auth));
        let shared = Arc::new(Shared {
            tx,
            wake: wake_write,
            limits: cfg.limits,
            auth: auth.clone(),
            counters: counters.clone(),
        });
        let tls = cfg.tls.map(tokio_rustls::TlsAcceptor::from);
        let thread = crate::thread::spawn_blocked("monday_sync webhook listener", move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
            {
                Ok(rt) => rt,
                Err(_) => return,
            };
            rt.block_on(serve(std_listener, tls, shared, stop_rx));
        })
        .map_err(|e| format!("could not start the listener thread: {e}"))?;
        Ok(Listener {
            thread: Some(thread),
            stop: Some(stop_tx),
            rx,
            wake_read,
            counters,
            auth,
            addr,
        })
    }

    /// The descriptor that becomes readable when events are waiting.
    pub fn wake_fd(&self) -> RawFd {
        self.wake_read.as_raw_fd()
    }

    /// Empties the wake pipe (call before draining the queue, so no wake-up is lost).
    pub fn clear_wake(&self) {
        let mut buf = [0u8; 256];
        loop {
            let n = unsafe {
                libc::read(
                    self.wake_read.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                )
            };
            if n <= 0 {
                break;
            }
        }
    }

    /// The next waiting event, if any.
    pub fn try_recv(&self) -> Option<Incoming> {
        self.rx.try_recv().ok()
    }

    /// New secrets (after `set_signing_secret`, a new subscription, a reload).
    pub fn set_auth(&self, auth: AuthConfig) {
        if let Ok(mut a) = self.auth.write() {
            *a = auth;
        }
    }

    /// Stops serving: open connections are dropped, waiting requests get no answer (their events
    /// were not committed, so monday retries them).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        // Answer nothing to what is still queued: dropping the senders ends those requests.
        while self.rx.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Shared {
    tx: SyncSender<Incoming>,
    wake: OwnedFd,
    limits: Limits,
    auth: Arc<RwLock<AuthConfig>>,
    counters: Arc<Counters>,
}

impl Shared {
    fn wake(&self) {
        let b = [1u8];
        unsafe { libc::write(self.wake.as_raw_fd(), b.as_ptr() as *const libc::c_void, 1) };
    }
}

async fn serve(
    std_listener: std::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match tokio::net::TcpListener::from_std(std_listener) {
        Ok(l) => l,
        Err(_) => return,
    };
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
    // Connections over the cap get a 503 from a small overflow pool, then are closed; beyond that
    // they are closed at once.
    let overflow = Arc::new(Semaphore::new(64));
    loop {
        let (stream, _peer) = tokio::select! {
            _ = &mut stop => return,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(_) => {
                    // EMFILE and the like: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let permit = match slots.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => {
                shared
                    .counters
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        let over = if permit.is_none() {
            match overflow.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => continue, // dropped: closed at once
            }
        } else {
            None
        };
        let shared = shared.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _over = over;
            let full = _permit.is_none();
            match tls {
                Some(acceptor) => {
                    let hs =
                        tokio::time::timeout(shared.limits.header_timeout, acceptor.accept(stream))
                            .await;
                    match hs {
                        Ok(Ok(s)) => connection(TokioIo::new(s), shared, full).await,
                        _ => {
                            shared.counters.tls_failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                None => connection(TokioIo::new(stream), shared, full).await,
            }
        });
    }
}

async fn connection<I>(io: I, shared: Arc<Shared>, full: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(shared.limits.header_timeout)
        .max_buf_size(64 * 1024)
        .keep_alive(!full);
    let svc = {
        let shared = shared.clone();
        service_fn(move |req| {
            let shared = shared.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(req, &shared, full).await) }
        })
    };
    let _ = b.serve_connection(io, svc).await;
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    reply(status, serde_json::json!({ "error": message }).to_string())
}

fn busy(message: &str) -> Response<Full<Bytes>> {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut().insert(
        hyper::header::RETRY_AFTER,
        hyper::header::HeaderValue::from_static("1"),
    );
    r
}

async fn handle(req: Request<HyperBody>, shared: &Shared, full: bool) -> Response<Full<Bytes>> {
    let c = &shared.counters;
    c.requests.fetch_add(1, Ordering::Relaxed);
    if full {
        c.busy.fetch_add(1, Ordering::Relaxed);
        let mut r = busy("too many connections");
        r.headers_mut().insert(
            hyper::header::CONNECTION,
            hyper::header::HeaderValue::from_static("close"),
        );
        return r;
    }
    let path = req.uri().path().to_string();
    match route(&path) {
        Route::NotFound => {
            c.not_found.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::NOT_FOUND, "not found");
        }
        Route::Health => {
            return if req.method() == Method::GET || req.method() == Method::HEAD {
                reply(StatusCode::OK, "{\"status\":\"ok\"}")
            } else {
                error(StatusCode::METHOD_NOT_ALLOWED, "use GET")
            };
        }
        Route::Webhook { .. } => {}
    }
    if req.method() != Method::POST {
        return error(StatusCode::METHOD_NOT_ALLOWED, "use POST");
    }
    let limits = &shared.limits;
    let announced = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body as u64) {
        c.too_large.fetch_add(1, Ordering::Relaxed);
        return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    }
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = http_body_util::Limited::new(req.into_body(), limits.max_body);
    let bytes = match tokio::time::timeout(limits.body_timeout, body.collect()).await {
        Err(_) => {
            c.slow.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::REQUEST_TIMEOUT, "body not received in time");
        }
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                c.too_large.fetch_add(1, Ordering::Relaxed);
                return error(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
            }
            c.malformed.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, "body could not be read");
        }
        Ok(Ok(b)) => b.to_bytes(),
    };
    let parsed = match parse_body(&bytes) {
        Ok(b) => b,
        Err(e) => {
            c.malformed.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::BAD_REQUEST, &e.message);
        }
    };
    let event = match parsed {
        // URL verification: answered at once, nothing stored (the subscription's secret is not
        // committed yet when monday sends it).
        Body::Challenge(ch) => {
            c.challenges.fetch_add(1, Ordering::Relaxed);
            return reply(
                StatusCode::OK,
                serde_json::json!({ "challenge": ch }).to_string(),
            );
        }
        Body::Event(ev) => ev,
    };
    let now_s = now_ms() / 1000;
    let authorized = {
        let auth = match shared.auth.read() {
            Ok(a) => a,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "listener state lost"),
        };
        authorize(&auth, &path, authorization.as_deref(), now_s)
    };
    let authorized = match authorized {
        Ok(a) => a,
        Err(_) => {
            c.unauthorized.fetch_add(1, Ordering::Relaxed);
            return error(StatusCode::UNAUTHORIZED, "not authorized");
        }
    };
    let (tx, rx) = oneshot::channel();
    let incoming = Incoming {
        event,
        authorized,
        received_ms: now_ms(),
        reply: tx,
    };
    match shared.tx.try_send(incoming) {
        Ok(()) => shared.wake(),
        Err(TrySendError::Full(_)) => {
            c.busy.fetch_add(1, Ordering::Relaxed);
            return busy("queue full");
        }
        Err(TrySendError::Disconnected(_)) => {
            c.busy.fetch_add(1, Ordering::Relaxed);
            return busy("listener stopping");
        }
    }
    match tokio::time::timeout(limits.commit_timeout, rx).await {
        Ok(Ok(a)) => {
            // The main thread's answers count like the listener's own.
            match a.status {
                200 => c.accepted.fetch_add(1, Ordering::Relaxed),
                401 => c.unauthorized.fetch_add(1, Ordering::Relaxed),
                503 => c.busy.fetch_add(1, Ordering::Relaxed),
                _ => 0,
            };
            let status =
                StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut r = reply(status, a.body);
            if status == StatusCode::SERVICE_UNAVAILABLE {
                r.headers_mut().insert(
                    hyper::header::RETRY_AFTER,
                    hyper::header::HeaderValue::from_static("1"),
                );
            }
            r
        }
        // Not committed in time, or the main thread dropped it (stopping, a failed transaction).
        _ => {
            c.busy.fetch_add(1, Ordering::Relaxed);
            busy("not stored; retry")
        }
    }
}

/// Reads a PEM certificate chain and private key into a rustls server configuration.
pub fn tls_config(cert_file: &str, key_file: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    use std::io::BufReader;
    let certs = {
        let f = std::fs::File::open(cert_file)
            .map_err(|e| format!("could not open webhook_tls_cert \"{cert_file}\": {e}"))?;
        rustls_pemfile::certs(&mut BufReader::new(f))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("could not read webhook_tls_cert \"{cert_file}\": {e}"))?
    };
    if certs.is_empty() {
        return Err(format!(
            "webhook_tls_cert \"{cert_file}\" holds no certificate"
        ));
    }
    let key = {
        let f = std::fs::File::open(key_file)
            .map_err(|e| format!("could not open webhook_tls_key \"{key_file}\": {e}"))?;
        rustls_pemfile::private_key(&mut BufReader::new(f))
            .map_err(|e| format!("could not read webhook_tls_key \"{key_file}\": {e}"))?
            .ok_or_else(|| format!("webhook_tls_key \"{key_file}\" holds no private key"))?
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("webhook_tls_cert / webhook_tls_key do not match: {e}"))?;
    let mut cfg = cfg;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
