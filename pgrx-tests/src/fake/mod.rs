//! The fake monday server: real HTTP/1.1 on 127.0.0.1, every request validated against the official
//! schema (`shared/monday-api/schema.graphql`, API 2026-07) and answered in monday's shapes
//! (FACTS.md): double-encoded values, cursors that are snapshots and expire, `items(ids:)`'s default
//! `limit: 25`, complexity accounting, the daily call limit, and every fault a client must survive.
//!
//! Tests drive it in-process (`Fake::start`, then `fake.with(|s| …)` to change boards, queue faults
//! and read the request log); `pgrx-tests/run fake-monday` serves it on its own for the demo.
//!
//! ## Items pages by group, concurrency (`exec.rs`, FACTS.md §3.1, §3.2, §4.1)
//!
//! `Board.items_page(limit, query_params: {rules: [{column_id: "group", compare_value: [ids…],
//! operator: any_of}]})` snapshots that group's active items in board order; its cursor keeps the
//! filter for `next_items_page` (`query_params` with `cursor` stays an error). Other rules,
//! operators, `groups`, `ids`, `order_by` and `operator: or` answer `FAKE_NOT_IMPLEMENTED`.
//! `Group.items_page(limit, cursor)` walks one group the same way. Complexity is counted as for
//! the unfiltered page. `World::spread_groups(board, n)` (and `fake-monday --groups N`) splits a
//! board into n groups. `Shared::flight` counts API requests in flight (from arrival, through the
//! latency knob's sleep, until the answer is ready): `GET /_fake/stats` reports `peak_in_flight`,
//! `concurrency_refused` and `group_pages`; the `max_concurrency` knob (`fake-monday
//! --max-concurrency N`) answers HTTP 429 `maxConcurrencyExceeded`, `retry_in_seconds` 1, above it.
//!
//! ## Webhooks (`webhooks.rs`, FACTS.md §5)
//!
//! `create_webhook(board_id:, url:, event:, config:)`, `delete_webhook(id:)` and
//! `webhooks(board_id:)` work over GraphQL like every other request. `create_webhook` POSTs
//! `{"challenge": …}` to the URL first (without the fake's lock, `timeout` knob) and fails with
//! an `InvalidArgumentException` unless a 200 echoes it. URLs must be `http://` on loopback
//! (`127.0.0.1`, `localhost`, `[::1]`): the fake speaks no TLS and calls nothing else.
//! `World::add_webhook` subscribes without the challenge.
//!
//! Every change made through the world's methods (`set_cell`, `rename`, `move_to_group`,
//! `set_state`, `purge`, `add_item`, `add_subitem`, `move_subitem`, `add_column`) is delivered to
//! the subscriptions it matches in monday's shapes (§5.3, value dialects of §5.4), from 8
//! background threads, once the `with` call (or request) that made it returns. Knobs,
//! `knobs.webhooks` ([`webhooks::WebhookKnobs`]):
//!
//! | knob | default | effect |
//! |---|---|---|
//! | `delay` | 0 | before a delivery's first attempt |
//! | `jitter` | 0 | random extra delay in `[0, jitter]` per attempt: deliveries overtake each other |
//! | `duplicate` | 0.0 | probability that a delivery is sent twice (same `triggerUuid`) |
//! | `drop` | 0.0 | probability that an attempt is lost (not sent, or its answer ignored), then retried |
//! | `retry_interval` | 60 s | between attempts after a non-2xx answer, a refused connection, a timeout |
//! | `retry_for` | 30 min | no retry starts later than this after the first attempt |
//! | `timeout` | 5 s | per attempt (connect, send, answer), and for the challenge |
//! | `secret` | None | `Authorization: <HS256 JWT>` (no `Bearer`): `accountId, userId, aud` = URL, `iat, exp` = iat + 300 |
//! | `paused` | false | hold every attempt until set back to false |
//! | `new_uuid_on_retry` | false | retries get a fresh `triggerUuid` (monday's behaviour is unsourced) |
//! | `seed` | fixed | the PRNG behind jitter, duplicates, drops, uuids and challenges |
//!
//! `Fake::deliveries()` lists every attempt (subscription, URL, event type, item, `triggerUuid`,
//! attempt, `isRetry`, status or error, time, body); `Fake::wait_deliveries_idle(t)` waits until
//! all were accepted or given up; `Fake::delivery_stats()` counts accepted (2xx) deliveries.
//!
//! ## Item mutations (`mutations.rs`, `columns.rs`; FACTS.md §2)
//!
//! `change_column_value`, `change_simple_column_value`, `change_multiple_column_values`,
//! `create_item`, `create_subitem`, `archive_item`, `delete_item`, `move_item_to_group`, with
//! monday's arguments; each answers the `Item` after its change. Values are validated as monday
//! does (§2.2) and stored in the read shape (§1.3), so `items`/`items_page` return what monday
//! would. Each root field is atomic, aliases are independent (a failing alias is `null` with an
//! error whose `path` is its key) and run in document order. Every change goes through the
//! world's change functions: activity log and webhooks as for a user's change. Each item
//! mutation costs `mutations::MUTATION_COST` (30,000) plus its selection against the budget and
//! `MAX_QUERY_COMPLEXITY`. Knobs: `validation_rules` (DATA_VALIDATIONS_ERROR),
//! `idempotency_ttl`; `World::first_weekday`, `World::people`, `World::tags`.
//!
//! `Idempotency-Key` (§0), on mutations: the first executed answer is kept `idempotency_ttl`
//! (30 min) and replayed with `Idempotency-Replayed: true`, executing nothing; a duplicate while
//! the first is in flight (from arrival, through the `latency` knob's sleep, until its answer is
//! ready) gets HTTP 409, `Retry-After: 1`, code `IDEMPOTENCY_CONFLICT`. Requests refused before
//! execution (authentication, limits, faults, invalid documents) leave no record.
//! `Fault::ExecuteThenDrop` executes a request and closes the connection unanswered. The request
//! log records each request's root fields, `idempotency_key` and `replayed`.

pub mod columns;
pub mod exec;
#[cfg(test)]
mod mutation_tests;
pub mod mutations;
#[cfg(test)]
mod page_tests;
pub mod webhooks;
pub mod world;

use apollo_compiler::executable::OperationType;
use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use exec::{Ctx, Cursors};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
pub use webhooks::{Delivery, DeliveryStats, WebhookKnobs};
pub use world::World;

pub const API_VERSION: &str = "2026-07";

/// monday's single-query complexity limit (FACTS.md §4.1).
pub const MAX_QUERY_COMPLEXITY: i64 = 5_000_000;

/// One fault, served instead of (or around) the next request's normal answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// HTTP status with monday's JSON error body (500 → INTERNAL_SERVER_ERROR).
    Status(u16),
    /// A proxy's HTML error page (Cloudflare 502/504) with that status.
    Html(u16),
    /// The connection is closed without an answer.
    Drop,
    /// No answer for this long, then the connection is closed.
    Hang(Duration),
    /// COMPLEXITY_BUDGET_EXHAUSTED inside an HTTP 200 body, `retry_in_seconds` = n.
    Complexity200(u32),
    /// COMPLEXITY_BUDGET_EXHAUSTED as an HTTP 429, `retry_in_seconds` = n.
    Complexity429(u32),
    /// HTTP 429 "Minute limit rate exceeded" with `Retry-After: n`.
    RetryAfter(u32),
    /// COMPLEXITY_BUDGET_EXHAUSTED (HTTP 200) with an impossible `retry_in_seconds` (0, negative,
    /// absurdly large): a misbehaving or hostile endpoint.
    RetryIn(i64),
    /// HTTP 200 whose body never ends (no Content-Length; bytes until the client hangs up).
    Endless,
    /// The request is executed normally (changes, webhooks, the Idempotency-Key record), then
    /// the connection is closed without the answer: a lost answer to a mutation that happened.
    #[allow(dead_code)] // queued by tests
    ExecuteThenDrop,
}

/// A change to the world made just before a group's first filtered page (`Knobs::before_group_page`).
pub type BeforeGroupPage = (String, fn(&mut World));

pub struct Knobs {
    pub latency: Duration,
    pub faults: VecDeque<Fault>,
    /// Cursors die this long after the first page (monday: 60 minutes).
    pub cursor_ttl: Duration,
    /// The next `next_items_page` after this many cursor pages answers CursorExpiredError (once,
    /// for that cursor only: other walks' cursors live on).
    pub expire_cursor_after_pages: Option<u32>,
    /// Calls allowed "today" (monday: 1,000 / 10,000 / 25,000 by plan); None = unlimited.
    pub daily_limit: Option<u64>,
    pub token: String,
    /// Complexity per minute (personal token: 10,000,000).
    pub budget_per_minute: i64,
    /// The single-query complexity limit (monday: `MAX_QUERY_COMPLEXITY`); lower in tests that
    /// stand for queries costing more than the fake estimates.
    pub max_query_complexity: i64,
    /// The budget's window (monday: 60 s from the first call); shorter in tests.
    pub budget_window: Duration,
    /// Activity-log entries older than this are no longer served; None = kept forever.
    pub log_retention: Option<Duration>,
    /// Entries one activity_logs query can reach through pagination (monday: 10,000).
    pub log_reach: usize,
    /// Reported as `complexity.reset_in_x_seconds` instead of the real reset (an impossible value
    /// for the hardening tests); None = the truth.
    pub reset_override: Option<i64>,
    /// Rewrites each successful answer before it is sent (malformed items, NUL characters,
    /// duplicate column ids: what a broken monday could send). None = answers as they are.
    pub mangle: Option<fn(&mut Value)>,
    /// Webhook deliveries: delays, jitter, duplicates, lost attempts, retries, JWT, pause.
    pub webhooks: WebhookKnobs,
    /// monday's board validation rules (DATA_VALIDATIONS_ERROR, FACTS.md §2.1), as
    /// `(column id, substring)`: an item mutation whose value for that column (its JSON text; the
    /// plain string for change_simple_column_value) contains the substring fails that field with
    /// `DATA_VALIDATIONS_ERROR` (status_code 422) and changes nothing of it.
    pub validation_rules: Vec<(String, String)>,
    /// How long a mutation's answer is kept for its `Idempotency-Key` (monday: 30 minutes).
    pub idempotency_ttl: Duration,
    /// monday's concurrency limit (FACTS.md §4.1: Enterprise 250, Pro 100, other 40): a request
    /// arriving while this many are in flight answers HTTP 429 `maxConcurrencyExceeded` with
    /// `retry_in_seconds` (and `Retry-After`) 1. None = unlimited.
    pub max_concurrency: Option<usize>,
    /// Runs once on the world just before the first `items_page(query_params:)` request whose
    /// `$groups` variable names this group executes (before its snapshot): a change made while a
    /// parallel pull walks the board's other groups.
    pub before_group_page: Option<BeforeGroupPage>,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            latency: Duration::ZERO,
            faults: VecDeque::new(),
            cursor_ttl: Duration::from_secs(3600),
            expire_cursor_after_pages: None,
            daily_limit: None,
            token: "fake-token".into(),
            budget_per_minute: 10_000_000,
            max_query_complexity: MAX_QUERY_COMPLEXITY,
            budget_window: Duration::from_secs(60),
            log_retention: None,
            log_reach: 10_000,
            reset_override: None,
            mangle: None,
            webhooks: WebhookKnobs::default(),
            validation_rules: Vec::new(),
            idempotency_ttl: Duration::from_secs(30 * 60),
            max_concurrency: None,
            before_group_page: None,
        }
    }
}

#[derive(Clone, Debug)]
#[allow(dead_code)] // read by tests and when debugging
pub struct LogEntry {
    pub n: u64,
    pub status: u16,
    /// Root fields of the operation (`boards`, `next_items_page`, `items`, …); empty when rejected early.
    pub roots: Vec<String>,
    pub fault: Option<String>,
    pub complexity: i64,
    pub api_version: Option<String>,
    /// `errors[0].extensions.code` when the answer carried one.
    pub error_code: Option<String>,
    pub query: String,
    pub variables: Value,
    /// Time the fake spent answering (validation, execution, JSON), without the latency knob and
    /// without waits for its lock (a query's answer is serialised with the lock released).
    pub server_ms: f64,
    /// The request's `Idempotency-Key` (mutations only; ignored on queries).
    pub idempotency_key: Option<String>,
    /// Answered from the Idempotency-Key cache (`Idempotency-Replayed: true`): nothing executed.
    pub replayed: bool,
}

pub struct Shared {
    pub world: World,
    pub knobs: Knobs,
    pub log: Vec<LogEntry>,
    /// Bodies POSTed to /_fake/alert (monday_sync.alert_url in tests).
    pub alerts: Vec<Value>,
    pub cursors: Cursors,
    pub calls_today: u64,
    budget_window: Option<Instant>,
    budget_used: i64,
    knobs_hang: Option<Duration>,
    /// Idempotency-Key → the first request's state (FACTS.md §0).
    idempotency: HashMap<String, Idem>,
    /// The webhook delivery queue and threads.
    hooks: Arc<webhooks::Dispatcher>,
    /// API requests in flight now, and the most at once (`/_fake/stats`: `peak_in_flight`).
    pub flight: Arc<Flight>,
}

/// Requests to `/v2` in flight, counted from arrival (before the latency knob's sleep) until
/// their answer is ready: how a test proves that a client's requests overlapped.
#[derive(Default)]
pub struct Flight {
    pub now: std::sync::atomic::AtomicUsize,
    pub peak: std::sync::atomic::AtomicUsize,
    /// Requests refused with `maxConcurrencyExceeded`.
    pub refused: std::sync::atomic::AtomicUsize,
}

impl Flight {
    /// Counts a request in, unless `limit` are in flight already.
    fn enter(self: &Arc<Flight>, limit: Option<usize>) -> Option<InFlight> {
        use std::sync::atomic::Ordering::SeqCst;
        let n = self.now.fetch_add(1, SeqCst) + 1;
        if limit.is_some_and(|l| n > l) {
            self.now.fetch_sub(1, SeqCst);
            self.refused.fetch_add(1, SeqCst);
            return None;
        }
        self.peak.fetch_max(n, SeqCst);
        Some(InFlight(self.clone()))
    }

    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Starts a new peak measurement.
    pub fn reset_peak(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.peak.store(self.now.load(SeqCst), SeqCst);
    }
}

/// One request in flight: counted out when dropped.
struct InFlight(Arc<Flight>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub struct Fake {
    pub port: u16,
    shared: Arc<Mutex<Shared>>,
    hooks: Arc<webhooks::Dispatcher>,
}

/// A handle on a running fake for another thread: changes the world like `Fake::with`.
#[derive(Clone)]
pub struct FakeHandle {
    shared: Arc<Mutex<Shared>>,
}

impl FakeHandle {
    pub fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        let mut s = self.shared.lock().unwrap();
        let r = f(&mut s);
        s.flush_webhooks();
        r
    }
}

impl Drop for Fake {
    /// Stops the delivery threads (deliveries still queued are dropped).
    fn drop(&mut self) {
        self.hooks.shutdown();
    }
}

fn schema() -> &'static Valid<Schema> {
    static SCHEMA: OnceLock<Valid<Schema>> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // A copy of shared/monday-api/schema.graphql (provenance: fixtures/SCHEMA_SOURCE.md).
        let sdl = include_str!("../../fixtures/schema.graphql");
        load_schema(sdl)
    })
}

/// monday's SDL is printed from introspection: it re-declares the built-in scalars and the `__*`
/// introspection types, which a spec-compliant schema must omit. Drop those, validate the rest.
pub fn load_schema(sdl: &str) -> Valid<Schema> {
    use apollo_compiler::ast::{Definition, Document};
    let doc = Document::parse(sdl, "schema.graphql").expect("schema parses");
    let builtin = ["String", "Int", "Float", "Boolean", "ID"];
    let mut kept = Document::new();
    for d in doc.definitions {
        let name = d.name().map(|n| n.as_str().to_string()).unwrap_or_default();
        let drop = name.starts_with("__")
            || (matches!(d, Definition::ScalarTypeDefinition(_))
                && builtin.contains(&name.as_str()));
        if !drop {
            kept.definitions.push(d);
        }
    }
    kept.to_schema_validate().expect("monday schema validates")
}

/// Validates a document the way the fake does (for unit tests of the client's documents).
#[cfg(test)]
pub fn validate(query: &str) -> Result<(), String> {
    ExecutableDocument::parse_and_validate(schema(), query, "request.graphql")
        .map(|_| ())
        .map_err(|e| e.errors.to_string())
}

impl Shared {
    /// A new complexity budget, starting a fresh window (monday's budget does not change inside a
    /// window; usage under the old budget must not count against the new one).
    pub fn set_budget(&mut self, per_window: i64, window: Duration) {
        self.knobs.budget_per_minute = per_window;
        self.knobs.budget_window = window;
        self.budget_window = None;
        self.budget_used = 0;
    }

    /// Hands the world's pending webhook events, and the webhook knobs as they are now, to the
    /// delivery threads.
    fn flush_webhooks(&mut self) {
        let out = std::mem::take(&mut self.world.outbox);
        self.hooks.submit(out, &self.knobs.webhooks);
    }
}

impl Fake {
    pub fn start(world: World) -> std::io::Result<Fake> {
        Self::start_on(world, 0)
    }

    pub fn start_on(world: World, port: u16) -> std::io::Result<Fake> {
        let _ = schema();
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let port = listener.local_addr()?.port();
        let hooks = webhooks::Dispatcher::new();
        let shared = Arc::new(Mutex::new(Shared {
            world,
            knobs: Knobs::default(),
            log: Vec::new(),
            alerts: Vec::new(),
            cursors: Cursors::default(),
            calls_today: 0,
            budget_window: None,
            budget_used: 0,
            knobs_hang: None,
            idempotency: HashMap::new(),
            hooks: hooks.clone(),
            flight: Arc::default(),
        }));
        let s2 = shared.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let s3 = s2.clone();
                std::thread::spawn(move || serve_connection(conn, s3));
            }
        });
        // Changes made to the world before the start go out with the first `with`.
        Ok(Fake {
            port,
            shared,
            hooks,
        })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v2", self.port)
    }

    /// Runs `f` on the fake's state (world, knobs, log) under its lock; the webhook events of its
    /// changes (and its webhook knobs) go to the delivery threads when it returns.
    pub fn with<R>(&self, f: impl FnOnce(&mut Shared) -> R) -> R {
        let mut s = self.shared.lock().unwrap();
        let r = f(&mut s);
        s.flush_webhooks();
        r
    }

    #[allow(dead_code)]
    pub fn handle(&self) -> FakeHandle {
        FakeHandle {
            shared: self.shared.clone(),
        }
    }

    pub fn log(&self) -> Vec<LogEntry> {
        self.with(|s| s.log.clone())
    }

    pub fn clear_log(&self) {
        self.with(|s| s.log.clear())
    }

    pub fn fault(&self, f: Fault) {
        self.with(|s| s.knobs.faults.push_back(f))
    }

    /// Every webhook delivery attempt so far, in the order they were made.
    #[allow(dead_code)] // the API tests use
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.hooks.deliveries()
    }

    #[allow(dead_code)]
    pub fn clear_deliveries(&self) {
        self.hooks.clear_log()
    }

    /// Accepted (2xx) and given-up deliveries, attempts, and what is queued or in flight.
    #[allow(dead_code)]
    pub fn delivery_stats(&self) -> DeliveryStats {
        self.hooks.stats()
    }

    /// Waits until every queued webhook delivery was accepted or given up; false on timeout
    /// (also while the `paused` knob holds deliveries).
    #[allow(dead_code)]
    pub fn wait_deliveries_idle(&self, timeout: Duration) -> bool {
        self.hooks.wait_idle(timeout)
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    keep_alive: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one request (httparse for the head, Content-Length for the body). None at EOF.
fn read_request(r: &mut BufReader<TcpStream>, buf: &mut Vec<u8>) -> Option<Request> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or("").to_string();
                let path = req.path.unwrap_or("").to_string();
                let headers: Vec<(String, String)> = req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect();
                let version = req.version.unwrap_or(1);
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, v)| v.trim().parse().ok())
                    .unwrap_or(0);
                let close = headers.iter().any(|(k, v)| {
                    k.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
                });
                while buf.len() < head_len + len {
                    let mut chunk = [0u8; 65536];
                    let n = r.read(&mut chunk).ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + len].to_vec();
                buf.drain(..head_len + len);
                return Some(Request {
                    method,
                    path,
                    headers,
                    body,
                    keep_alive: version == 1 && !close,
                });
            }
            Ok(httparse::Status::Partial) => {
                let mut chunk = [0u8; 65536];
                let n = r.read(&mut chunk).ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(_) => return None,
        }
    }
}

/// What the fake remembers of an `Idempotency-Key`.
enum Idem {
    /// Its first request is being executed or answered: a duplicate gets 409.
    InFlight,
    /// Its first request's answer, replayed until `at + idempotency_ttl`.
    Done { at: Instant, answer: Response },
}

/// After an answer with an `Idempotency-Key` was written (or dropped): the key's record.
struct IdemFinish {
    key: String,
    /// The executed request's answer to replay; None: nothing was executed, the key is free.
    cache: Option<Response>,
}

#[derive(Clone)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    extra: Vec<(String, String)>,
    /// Send `{"data":` and then bytes forever (Fault::Endless).
    endless: bool,
}

fn json_response(status: u16, body: Value) -> Response {
    Response {
        status,
        content_type: "application/json; charset=utf-8",
        body: body.to_string().into_bytes(),
        extra: vec![],
        endless: false,
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

fn serve_connection(stream: TcpStream, shared: Arc<Mutex<Shared>>) {
    let _ = stream.set_nodelay(true);
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut reader, &mut buf) {
        let (outcome, finish) = handle(&req, &shared);
        // The key's record, just before its answer is written (or the connection closed): a
        // client that retries after a lost answer finds the answer, never the in-flight state.
        if let Some(f) = finish {
            record_idempotency(&shared, f);
        }
        let Some(resp) = outcome else {
            // Dropped connection (or a hang that ended): close without answering.
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        };
        if resp.endless {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{\"data\":{\"pad\":\"".to_string();
            let chunk = vec![b'x'; 64 * 1024];
            let _ = writer.write_all(head.as_bytes());
            // Until the client hangs up (or 4 GB, should it never).
            for _ in 0..65_536 {
                if writer.write_all(&chunk).is_err() {
                    break;
                }
            }
            return;
        }
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nApi-Version: {API_VERSION}\r\nX-Request-Id: {}\r\n",
            resp.status,
            reason(resp.status),
            resp.content_type,
            resp.body.len(),
            request_id()
        );
        for (k, v) in &resp.extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !req.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&resp.body))
            .is_err()
        {
            return;
        }
        if !req.keep_alive {
            return;
        }
    }
}

/// Records an Idempotency-Key's outcome: the executed request's answer to replay, or (nothing
/// executed) the key freed.
fn record_idempotency(shared: &Arc<Mutex<Shared>>, f: IdemFinish) {
    let mut s = shared.lock().unwrap();
    match f.cache {
        Some(answer) => {
            s.idempotency.insert(
                f.key,
                Idem::Done {
                    at: Instant::now(),
                    answer,
                },
            );
        }
        None => {
            s.idempotency.remove(&f.key);
        }
    }
}

/// Whether a body is a mutation, and its root fields (for the Idempotency-Key, which monday
/// honours on mutations only, and for the log of a replay).
fn mutation_roots(body: &[u8]) -> Option<Vec<String>> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let query = v.get("query")?.as_str()?;
    let doc = match ExecutableDocument::parse(schema(), query, "request.graphql") {
        Ok(d) => d,
        Err(e) => e.partial,
    };
    let op = doc
        .operations
        .get(v.get("operationName").and_then(Value::as_str))
        .ok()?;
    (op.operation_type == OperationType::Mutation).then(|| {
        op.selection_set
            .fields()
            .map(|f| f.name.to_string())
            .collect()
    })
}

fn request_id() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("6f1c2a9e-0000-4000-8000-{n:012x}")
}

fn error_body(message: &str, code: &str, status: u16, extra: Value) -> Value {
    let mut ext = json!({"code": code, "status_code": status});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            ext[k] = v;
        }
    }
    json!({"errors": [{"message": message, "extensions": ext}], "extensions": {"request_id": request_id()}})
}

/// Everything about one POST /v2, then the log line. None = drop the connection. The second
/// part: what to record for the request's Idempotency-Key once the answer is out.
fn handle(req: &Request, shared: &Arc<Mutex<Shared>>) -> (Option<Response>, Option<IdemFinish>) {
    let mut finish = None;
    let answer = handle_inner(req, shared, &mut finish);
    (answer, finish)
}

fn handle_inner(
    req: &Request,
    shared: &Arc<Mutex<Shared>>,
    finish: &mut Option<IdemFinish>,
) -> Option<Response> {
    if req.method == "GET" && req.path.starts_with("/v2/get_schema") {
        let sdl = schema().to_string();
        return Some(Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: sdl.into_bytes(),
            extra: vec![],
            endless: false,
        });
    }
    if req.method == "GET" && req.path == "/_fake/stats" {
        // For a fake run in another process (the benchmark): how many requests it answered.
        let s = shared.lock().unwrap();
        let body = json!({
            "requests": s.log.len(),
            "complexity": s.log.iter().map(|l| l.complexity).sum::<i64>(),
            "server_ms": s.log.iter().map(|l| l.server_ms).sum::<f64>(),
            // The most API requests in flight at once, and those refused over max_concurrency.
            "peak_in_flight": s.flight.peak(),
            "concurrency_refused": s.flight.refused.load(std::sync::atomic::Ordering::SeqCst),
            // First pages filtered by group (`items_page(query_params: {rules: [{column_id: "group"…`).
            "group_pages": s.log.iter().filter(|l| l.status == 200 && l.error_code.is_none() && l.query.contains("query_params")).count(),
        });
        return Some(json_response(200, body));
    }
    if req.method == "POST" && req.path == "/_fake/change" {
        // For a fake in another process (the refresh benchmark): `{"count": k, "tag": t}` sets the
        // notes of the board's first k active items to t, as k users would on monday.
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let k = body["count"].as_u64().unwrap_or(0) as usize;
        let tag = body["tag"].as_str().unwrap_or("changed").to_string();
        let mut s = shared.lock().unwrap();
        let ids: Vec<i64> = s
            .world
            .active_items(world::SAMPLE_BOARD)
            .into_iter()
            .take(k)
            .collect();
        for id in &ids {
            s.world
                .set_cell(*id, "text0", Some(Value::String(tag.clone())), Some(&tag));
        }
        s.flush_webhooks();
        return Some(json_response(200, json!({ "ids": ids })));
    }
    if req.method == "POST" && req.path == "/_fake/alert" {
        // Stands in for a Slack incoming webhook: keeps the JSON it was sent.
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        shared.lock().unwrap().alerts.push(body);
        return Some(Response {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: b"ok".to_vec(),
            extra: vec![],
            endless: false,
        });
    }
    if req.method != "POST" || req.path != "/v2" {
        return Some(json_response(
            404,
            json!({"errors": [{"message": "Not found", "extensions": {"code": "NOT_FOUND", "status_code": 404}}]}),
        ));
    }
    // Idempotency-Key (FACTS.md §0), on mutations with the right token: a key seen before is
    // answered from its record (replayed, or 409 while its first request is in flight, which
    // it is from arrival — before the latency knob's sleep — until its answer is ready to be written). The
    // request body is not compared with the first one's (monday's docs say nothing of it).
    let key = req
        .header("Idempotency-Key")
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty());
    let roots = key.as_ref().and_then(|_| mutation_roots(&req.body));
    let key = key.filter(|_| roots.is_some());
    if let Some(k) = &key {
        let mut s = shared.lock().unwrap();
        if authorized(req, &s) {
            let ttl = s.knobs.idempotency_ttl;
            s.idempotency
                .retain(|_, e| !matches!(e, Idem::Done { at, .. } if at.elapsed() >= ttl));
            let early = match s.idempotency.get(k) {
                Some(Idem::Done { answer, .. }) => {
                    let mut r = answer.clone();
                    r.extra.push(("Idempotency-Replayed".into(), "true".into()));
                    Some((r, None))
                }
                Some(Idem::InFlight) => {
                    let mut r = json_response(
                        409,
                        error_body(
                            "A request with this Idempotency-Key is still being processed; retry after it completes",
                            "IDEMPOTENCY_CONFLICT",
                            409,
                            json!({"retry_in_seconds": 1}),
                        ),
                    );
                    r.extra.push(("Retry-After".into(), "1".into()));
                    Some((r, Some("IdempotencyInFlight".to_string())))
                }
                None => {
                    s.idempotency.insert(k.clone(), Idem::InFlight);
                    *finish = Some(IdemFinish {
                        key: k.clone(),
                        cache: None,
                    });
                    None
                }
            };
            if let Some((r, fault)) = early {
                let n = s.log.len() as u64 + 1;
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                s.log.push(LogEntry {
                    n,
                    status: r.status,
                    roots: roots.clone().unwrap_or_default(),
                    fault,
                    complexity: 0,
                    api_version: req.header("API-Version").map(String::from),
                    error_code: serde_json::from_slice::<Value>(&r.body).ok().and_then(|v| {
                        v["errors"][0]["extensions"]["code"]
                            .as_str()
                            .map(String::from)
                    }),
                    query: body["query"].as_str().unwrap_or("").to_string(),
                    variables: body.get("variables").cloned().unwrap_or(Value::Null),
                    server_ms: 0.0,
                    idempotency_key: key.clone(),
                    replayed: r.status != 409,
                });
                return Some(r);
            }
        }
    }
    let (latency, flight, limit) = {
        let s = shared.lock().unwrap();
        (s.knobs.latency, s.flight.clone(), s.knobs.max_concurrency)
    };
    let Some(_in_flight) = flight.enter(limit) else {
        let mut r = json_response(
            429,
            error_body(
                "Concurrency limit exceeded",
                "maxConcurrencyExceeded",
                429,
                json!({"retry_in_seconds": 1}),
            ),
        );
        r.extra.push(("Retry-After".into(), "1".into()));
        let mut s = shared.lock().unwrap();
        let n = s.log.len() as u64 + 1;
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        s.log.push(LogEntry {
            n,
            status: 429,
            roots: vec![],
            fault: Some("Concurrency".into()),
            complexity: 0,
            api_version: req.header("API-Version").map(String::from),
            error_code: Some("maxConcurrencyExceeded".into()),
            query: body["query"].as_str().unwrap_or("").to_string(),
            variables: body.get("variables").cloned().unwrap_or(Value::Null),
            server_ms: 0.0,
            idempotency_key: key.clone(),
            replayed: false,
        });
        return Some(r);
    };
    if !latency.is_zero() {
        std::thread::sleep(latency);
    }
    let mut s = shared.lock().unwrap();
    // The fake's own time: from here (the lock held), less any wait to take it again in `run`.
    let t0 = Instant::now();
    let mut relocked = Duration::ZERO;
    let n = s.log.len() as u64 + 1;
    let parsed: Result<Value, _> = serde_json::from_slice(&req.body);
    let (query, variables) = match &parsed {
        Ok(v) => (
            v.get("query")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            v.get("variables").cloned().unwrap_or(Value::Null),
        ),
        Err(_) => (String::from_utf8_lossy(&req.body).into_owned(), Value::Null),
    };
    let mut entry = LogEntry {
        n,
        status: 0,
        roots: vec![],
        fault: None,
        complexity: 0,
        api_version: req.header("API-Version").map(String::from),
        error_code: None,
        query,
        variables,
        server_ms: 0.0,
        idempotency_key: key.clone(),
        replayed: false,
    };
    let resp = match prepare(req, &mut s, parsed, &mut entry) {
        Err(resp) => resp,
        Ok(p) => {
            let (guard, resp, waited) = run(shared, s, &p);
            s = guard;
            relocked = waited;
            // Executed: the key's answer is this one, whether or not it reaches the client.
            if let Some(f) = finish.as_mut() {
                f.cache = Some(resp.clone());
            }
            if p.drop_answer {
                if let Ok(v) = serde_json::from_slice::<Value>(&resp.body) {
                    entry.error_code = v["errors"][0]["extensions"]["code"]
                        .as_str()
                        .map(String::from);
                }
                None
            } else {
                Some(resp)
            }
        }
    };
    s.flush_webhooks();
    match &resp {
        Some(r) => {
            entry.status = r.status;
            if let Ok(v) = serde_json::from_slice::<Value>(&r.body) {
                entry.error_code = v["errors"][0]["extensions"]["code"]
                    .as_str()
                    .map(String::from);
            }
        }
        None => entry.status = 0,
    }
    let hang = match &entry.fault {
        Some(f) if f.starts_with("Hang") => s.knobs_hang.take(),
        _ => None,
    };
    entry.server_ms = t0.elapsed().saturating_sub(relocked).as_secs_f64() * 1000.0;
    // Numbered now: another request may have been logged while a challenge was under way.
    entry.n = s.log.len() as u64 + 1;
    s.log.push(entry);
    drop(s);
    if let Some(d) = hang {
        std::thread::sleep(d);
    }
    resp
}

/// The bare token (monday's SDK) or "Bearer <token>" (airbyte) both work.
fn authorized(req: &Request, s: &Shared) -> bool {
    let token = req
        .header("Authorization")
        .map(|t| t.trim().trim_start_matches("Bearer ").trim());
    token == Some(s.knobs.token.as_str())
}

/// Everything before execution: authentication, version, daily limit, faults, parsing,
/// validation, complexity. Err: the answer instead (None: close the connection unanswered).
fn prepare(
    req: &Request,
    s: &mut Shared,
    parsed: Result<Value, serde_json::Error>,
    entry: &mut LogEntry,
) -> Result<Prepared, Option<Response>> {
    if !authorized(req, s) {
        return Err(Some(json_response(
            401,
            json!({"errors": [{"message": "Not authenticated", "extensions": {"code": "NOT_AUTHENTICATED"}}]}),
        )));
    }
    if let Some(v) = req.header("API-Version") {
        let ok = v.len() == 7
            && v.as_bytes()[4] == b'-'
            && v[..4].bytes().all(|b| b.is_ascii_digit())
            && v[5..].bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(Some(json_response(
                400,
                error_body(
                    &format!("Invalid API version: {v}"),
                    "InvalidVersionException",
                    400,
                    json!({}),
                ),
            )));
        }
    }
    // The daily limit counts every call, rejected ones included (monday bills them 0.1).
    if let Some(limit) = s.knobs.daily_limit {
        if s.calls_today >= limit {
            let secs = 86400
                - (std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
                    % 86400);
            entry.fault = Some("DailyLimit".into());
            let mut r = json_response(
                429,
                error_body(
                    "Daily limit exceeded",
                    "DAILY_LIMIT_EXCEEDED",
                    429,
                    json!({"retry_in_seconds": secs}),
                ),
            );
            r.extra.push(("Retry-After".into(), secs.to_string()));
            return Err(Some(r));
        }
    }
    s.calls_today += 1;

    let mut drop_answer = false;
    if let Some(f) = s.knobs.faults.pop_front() {
        entry.fault = Some(format!("{f:?}"));
        match f {
            Fault::ExecuteThenDrop => drop_answer = true,
            Fault::Status(code) => {
                return Err(Some(json_response(
                    code,
                    error_body(
                        "Internal server error",
                        "INTERNAL_SERVER_ERROR",
                        code,
                        json!({}),
                    ),
                )));
            }
            Fault::Html(code) => {
                let html = format!("<html>\r\n<head><title>{code} {r}</title></head>\r\n<body>\r\n<center><h1>{code} {r}</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n", r = reason(code));
                return Err(Some(Response {
                    status: code,
                    content_type: "text/html",
                    body: html.into_bytes(),
                    extra: vec![],
                    endless: false,
                }));
            }
            Fault::Drop => return Err(None),
            Fault::Hang(d) => {
                s.knobs_hang = Some(d);
                return Err(None);
            }
            Fault::Complexity200(secs) | Fault::Complexity429(secs) => {
                let status = if matches!(f, Fault::Complexity200(_)) {
                    200
                } else {
                    429
                };
                let body = error_body(
                    "Complexity budget exhausted",
                    "COMPLEXITY_BUDGET_EXHAUSTED",
                    429,
                    json!({"complexity": 6182, "complexity_budget_left": 100, "complexity_budget_limit": s.knobs.budget_per_minute, "retry_in_seconds": secs}),
                );
                return Err(Some(json_response(status, body)));
            }
            Fault::RetryIn(secs) => {
                let body = error_body(
                    "Complexity budget exhausted",
                    "COMPLEXITY_BUDGET_EXHAUSTED",
                    429,
                    json!({"complexity": 6182, "complexity_budget_left": 100, "complexity_budget_limit": s.knobs.budget_per_minute, "retry_in_seconds": secs}),
                );
                return Err(Some(json_response(200, body)));
            }
            Fault::Endless => {
                return Err(Some(Response {
                    status: 200,
                    content_type: "application/json",
                    body: Vec::new(),
                    extra: vec![],
                    endless: true,
                }));
            }
            Fault::RetryAfter(secs) => {
                let mut r = json_response(
                    429,
                    error_body(
                        "Minute limit rate exceeded",
                        "RATE_LIMIT_EXCEEDED",
                        429,
                        json!({"retry_in_seconds": secs}),
                    ),
                );
                r.extra.push(("Retry-After".into(), secs.to_string()));
                return Err(Some(r));
            }
        }
    }

    let body = match parsed {
        Ok(b) => b,
        Err(e) => {
            return Err(Some(json_response(
                400,
                error_body(
                    &format!("Unexpected token in JSON: {e}"),
                    "JsonParseException",
                    400,
                    json!({}),
                ),
            )))
        }
    };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return Err(Some(json_response(
            400,
            error_body(
                "No query string was present",
                "JsonParseException",
                400,
                json!({}),
            ),
        )));
    };
    // Since 2025-04 `variables` must be a JSON object; a JSON-encoded string is rejected.
    let vars: JsonMap = match body.get("variables") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(Value::Object(m)) => match serde_json::from_value(Value::Object(m.clone())) {
            Ok(v) => v,
            Err(_) => JsonMap::new(),
        },
        Some(_) => {
            return Err(Some(json_response(
                400,
                error_body(
                    "variables must be a JSON object",
                    "InvalidArgumentException",
                    400,
                    json!({}),
                ),
            )));
        }
    };
    let doc = match ExecutableDocument::parse_and_validate(schema(), query, "request.graphql") {
        Ok(d) => d,
        Err(e) => {
            let errors: Vec<Value> = e
                .errors
                .iter()
                .map(|d| {
                    let json = d.unstable_to_json_compat();
                    let msg = json.message.clone();
                    let code = if msg.contains("does not have a field") || msg.contains("Cannot query field") {
                        "undefinedField"
                    } else if msg.contains("argument") && msg.contains("not") && msg.contains("defined") {
                        "argumentNotAccepted"
                    } else {
                        "GRAPHQL_VALIDATION_FAILED"
                    };
                    let locations: Vec<Value> = json.locations.iter().map(|l| json!({"line": l.line, "column": l.column})).collect();
                    json!({"message": msg, "locations": locations, "extensions": {"code": code, "status_code": 200}})
                })
                .collect();
            return Err(Some(json_response(
                200,
                json!({"errors": errors, "extensions": {"request_id": request_id()}}),
            )));
        }
    };
    let op_name = body.get("operationName").and_then(Value::as_str);
    let Ok(op) = doc.operations.get(op_name) else {
        return Err(Some(json_response(
            200,
            error_body(
                "Unknown operation",
                "GRAPHQL_VALIDATION_FAILED",
                200,
                json!({}),
            ),
        )));
    };
    entry.roots = op
        .selection_set
        .fields()
        .map(|f| f.name.to_string())
        .collect();
    let coerced = match coerce_variable_values(schema(), op, &vars) {
        Ok(v) => v,
        Err(e) => {
            return Err(Some(json_response(
                200,
                error_body(
                    &e.message().to_string(),
                    "argumentLiteralsIncompatible",
                    200,
                    json!({}),
                ),
            )));
        }
    };
    // Complexity: estimated before running (item mutations cost `mutations::MUTATION_COST`
    // each, plus their selection); charged against the per-minute budget.
    let cost = exec::estimate(&doc, &op.selection_set, &coerced);
    entry.complexity = cost;
    let max = s.knobs.max_query_complexity;
    if cost > max {
        // Too big to ever run: no retry_in_seconds, nothing charged (split the request).
        return Err(Some(json_response(
            200,
            error_body(
                &format!("Query has complexity of {cost}, which exceeds max complexity of {max}"),
                "ComplexityException",
                200,
                json!({"complexity": cost, "max_complexity": max}),
            ),
        )));
    }
    let now = Instant::now();
    let window = s.knobs.budget_window;
    if s.budget_window
        .is_none_or(|t| now.duration_since(t) >= window)
    {
        s.budget_window = Some(now);
        s.budget_used = 0;
    }
    // Rounded up: a client that waits this long finds the window reset.
    let reset = (window
        .saturating_sub(now.duration_since(s.budget_window.unwrap()))
        .as_millis() as i64
        + 999)
        / 1000;
    let before = s.knobs.budget_per_minute - s.budget_used;
    if cost > before {
        return Err(Some(json_response(
            200,
            error_body(
                "Complexity budget exhausted",
                "COMPLEXITY_BUDGET_EXHAUSTED",
                429,
                json!({"complexity": cost, "complexity_budget_left": before, "complexity_budget_limit": s.knobs.budget_per_minute, "retry_in_seconds": reset}),
            ),
        )));
    }
    s.budget_used += cost;
    Ok(Prepared {
        drop_answer,
        doc,
        op_name: op_name.map(String::from),
        coerced,
        complexity: [
            before,
            before - cost,
            cost,
            s.knobs.reset_override.unwrap_or(reset),
        ],
    })
}

/// Whether a document filters an items_page (`query_params`).
fn entry_has_filter(doc: &ExecutableDocument) -> bool {
    doc.to_string().contains("query_params")
}

/// A request that passed every check, ready to run.
struct Prepared {
    /// Fault::ExecuteThenDrop: execute, then close the connection unanswered.
    drop_answer: bool,
    doc: Valid<ExecutableDocument>,
    op_name: Option<String>,
    coerced: Valid<JsonMap>,
    /// `complexity { before after query reset_in_x_seconds }`.
    complexity: [i64; 4],
}

/// Runs a prepared request. A mutation's `create_webhook`s challenge their URLs first, with the
/// lock released (the receiver may well call the fake back); everything else runs under it, but
/// for a query's answer, turned into JSON text with the lock released (it owns its data), so
/// concurrent queries overlap there as on monday. Returns the time spent waiting to take the lock
/// again.
fn run<'a>(
    shared: &'a Arc<Mutex<Shared>>,
    mut s: std::sync::MutexGuard<'a, Shared>,
    p: &Prepared,
) -> (std::sync::MutexGuard<'a, Shared>, Response, Duration) {
    let Ok(op) = p.doc.operations.get(p.op_name.as_deref()) else {
        unreachable!("the operation was found before");
    };
    let mutation = op.operation_type == OperationType::Mutation;
    let plan = if mutation {
        let vars: serde_json::Map<String, Value> =
            serde_json::from_value(serde_json::to_value(&*p.coerced).unwrap_or_default())
                .unwrap_or_default();
        exec::plan_mutation(&p.doc, &op.selection_set, &vars)
    } else {
        Vec::new()
    };
    let challenges: Vec<(String, String)> = plan
        .iter()
        .filter_map(|f| exec::handshake_url(&s.world, f).map(|url| (f.key.clone(), url)))
        .collect();
    let mut handshakes = HashMap::new();
    if !challenges.is_empty() {
        let (hooks, knobs) = (s.hooks.clone(), s.knobs.webhooks.clone());
        drop(s);
        for (key, url) in challenges {
            handshakes.insert(key, hooks.handshake(&url, &knobs));
        }
        s = shared.lock().unwrap();
    }
    let (result, mangle) = {
        let Shared {
            world,
            cursors,
            knobs,
            ..
        } = &mut *s;
        if let Some((group, _)) = &knobs.before_group_page {
            let asks = p
                .coerced
                .get("groups")
                .and_then(|v| serde_json::to_value(v).ok())
                .is_some_and(|v| match v {
                    Value::Array(a) => a.iter().any(|x| x.as_str() == Some(group.as_str())),
                    Value::String(x) => x == *group,
                    _ => false,
                });
            if asks && entry_has_filter(&p.doc) {
                if let Some((_, f)) = knobs.before_group_page.take() {
                    f(world);
                }
            }
        }
        let outcomes: exec::Outcomes = plan
            .iter()
            .map(|f| {
                let r = exec::apply_mutation(world, f, &handshakes, &knobs.validation_rules)
                    .map_err(|e| e.message);
                (f.key.clone(), r)
            })
            .collect();
        let ctx = Ctx {
            world,
            cursors: std::cell::RefCell::new(cursors),
            cursor_ttl: knobs.cursor_ttl,
            expire_after_pages: knobs.expire_cursor_after_pages,
            log_retention: knobs.log_retention,
            log_reach: knobs.log_reach,
            complexity: p.complexity,
        };
        let root = exec::Obj {
            ctx: &ctx,
            node: if mutation {
                exec::Node::Mutation(&outcomes)
            } else {
                exec::Node::Query
            },
        };
        let result = Execution::new(schema(), &p.doc)
            .operation(op)
            .coerced_variable_values(&p.coerced)
            .execute_sync(&root);
        (result, knobs.mangle)
    };
    let mut waited = Duration::ZERO;
    if !mutation {
        drop(s);
        let out = answer(result, mangle);
        let t = Instant::now();
        let s = shared.lock().unwrap();
        waited = t.elapsed();
        return (s, out, waited);
    }
    let out = answer(result, mangle);
    (s, out, waited)
}

/// An execution's result as monday's answer: coded errors in monday's shape, the mangle knob, the
/// request id.
fn answer(
    result: Result<
        apollo_compiler::response::ExecutionResponse,
        apollo_compiler::request::RequestError,
    >,
    mangle: Option<fn(&mut Value)>,
) -> Response {
    let mut out = match result {
        Ok(r) => serde_json::to_value(&r).unwrap_or(Value::Null),
        Err(e) => json!({"errors": [{"message": e.message().to_string()}]}),
    };
    exec::fix_errors(&mut out);
    if let Some(mangle) = mangle {
        mangle(&mut out);
    }
    if let Value::Object(m) = &mut out {
        m.insert("extensions".into(), json!({"request_id": request_id()}));
    }
    json_response(200, out)
}

#[cfg(test)]
mod tests {
    /// Every document the extension sends validates against monday's 2026-07 schema.
    #[test]
    fn extension_documents_validate() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/api/graphql");
        let items = std::fs::read_to_string(format!("{dir}/item_fields.graphql")).unwrap();
        let board = std::fs::read_to_string(format!("{dir}/board_fields.graphql")).unwrap();
        let updates = std::fs::read_to_string(format!("{dir}/update_fields.graphql")).unwrap();
        let assets = std::fs::read_to_string(format!("{dir}/asset_fields.graphql")).unwrap();
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let t = text.trim_start();
            if !t.starts_with("query") && !t.starts_with("mutation") {
                continue;
            }
            let mut doc = text.clone();
            for (spread, fragment) in [
                ("...ItemFields", &items),
                ("...BoardFields", &board),
                ("...UpdateFields", &updates),
                ("...AssetFields", &assets),
            ] {
                if doc.contains(spread) {
                    doc.push_str(fragment);
                }
            }
            super::validate(&doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            n += 1;
        }
        assert_eq!(n, 18);
    }

    #[test]
    fn invalid_documents_are_rejected() {
        assert!(super::validate("{ boards { idx } }")
            .unwrap_err()
            .contains("idx"));
        assert!(super::validate("query { items(ids: [1]) { id } }").is_ok());
        assert!(
            super::validate("query { next_items_page { cursor } }").is_err(),
            "cursor is required"
        );
    }
}
