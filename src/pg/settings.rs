//! `monday_sync.*` settings. The URL and the API version are superuser-only (PGC_SUSET): a role that
//! could point `api_url` at its own server would receive the token.

use crate::api::Config;
use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use std::ffi::CString;
use std::time::Duration;

pub static API_URL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"https://api.monday.com/v2"));
pub static API_VERSION: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"2026-07"));
pub static CONNECT_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static REQUEST_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(120_000);
pub static MAX_RETRIES: GucSetting<i32> = GucSetting::<i32>::new(5);
pub static MAX_WAIT: GucSetting<i32> = GucSetting::<i32>::new(300);
pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// The databases the launcher serves (`crate::multidb`): empty = `DATABASE` alone, `*` = all.
pub static DATABASES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static NAPTIME: GucSetting<i32> = GucSetting::<i32>::new(1_000);
pub static WRITE_DELAY: GucSetting<i32> = GucSetting::<i32>::new(200);
pub static DAILY_CALL_LIMIT: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static COMPLEXITY_PER_MINUTE: GucSetting<i32> = GucSetting::<i32>::new(10_000_000);
pub static WORKER_BUDGET_SHARE: GucSetting<f64> = GucSetting::<f64>::new(0.5);
pub static LOG_RETENTION: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);
pub static MAX_ATTEMPTS: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static ALERT_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WORKER_STEP_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(600_000);
pub static MAX_RESPONSE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024);
pub static TOKEN_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_LISTEN: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_PUBLIC_URL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_TLS_CERT: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_TLS_KEY: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WEBHOOK_ALLOW_UNAUTHENTICATED: GucSetting<bool> = GucSetting::<bool>::new(false);
pub static WEBHOOK_MAX_BODY: GucSetting<i32> = GucSetting::<i32>::new(1024);
pub static WEBHOOK_HEADER_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static WEBHOOK_BODY_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static WEBHOOK_MAX_CONNECTIONS: GucSetting<i32> = GucSetting::<i32>::new(256);
pub static WEBHOOK_QUEUE: GucSetting<i32> = GucSetting::<i32>::new(4096);
pub static WEBHOOK_SETTLE: GucSetting<i32> = GucSetting::<i32>::new(2_000);
pub static WEBHOOK_RETENTION: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);
pub static WEBHOOK_SILENCE: GucSetting<i32> = GucSetting::<i32>::new(3_600);
pub static ACCOUNT_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Job workers (server start): they claim jobs in parallel, never two of one board.
pub static MAX_WORKERS: GucSetting<i32> = GucSetting::<i32>::new(1);
/// Boards (with their subitems boards) one refresh round's probe asks about in one call; 1 turns
/// rounds off (every refresh makes its own first call).
pub static REFRESH_ROUND_SIZE: GucSetting<i32> = GucSetting::<i32>::new(500);
/// Seconds between the worker's looks for new boards in tracked workspaces (0: never by itself).
pub static WORKSPACE_INTERVAL: GucSetting<i32> = GucSetting::<i32>::new(300);
/// A board with at least this many items (and two groups or more) is pulled by several group
/// walks at once.
pub static PARALLEL_PULL_THRESHOLD: GucSetting<i32> = GucSetting::<i32>::new(20_000);
/// Group walks of one parallel pull with a request in flight at once (1: never parallel).
pub static PARALLEL_PULL_WALKS: GucSetting<i32> = GucSetting::<i32>::new(4);

pub fn init() {
    GucRegistry::define_string_guc(
        c"monday_sync.api_url",
        c"URL of monday's GraphQL API.",
        c"Default https://api.monday.com/v2. Superuser only: the API token is sent to this URL.",
        &API_URL,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"monday_sync.api_version",
        c"monday API version sent as the API-Version header (YYYY-MM).",
        c"The GraphQL documents are validated against this version's schema (2026-07).",
        &API_VERSION,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.connect_timeout",
        c"Time allowed to connect to monday's API.",
        c"",
        &CONNECT_TIMEOUT,
        100,
        600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.request_timeout",
        c"Time allowed for one API request, from connecting to the last byte of the answer.",
        c"A timed-out request is retried (monday_sync.max_retries).",
        &REQUEST_TIMEOUT,
        100,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.max_retries",
        c"Retries of one API call after 5xx answers, HTML error pages, dropped connections or timeouts.",
        c"Backoff between retries: 0.25 s, 0.5 s, 1 s, … up to 8 s.",
        &MAX_RETRIES,
        0,
        20,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.max_wait",
        c"Longest total wait on monday's rate limits within one API call.",
        c"monday says how long to wait (retry_in_seconds, Retry-After); a call that would wait longer fails.",
        &MAX_WAIT,
        0,
        86_400,
        GucContext::Userset,
        GucFlags::UNIT_S,
    );
    // A server-start setting can only be defined while shared_preload_libraries is processed;
    // without the preload there is no worker to configure.
    if unsafe { pgrx::pg_sys::process_shared_preload_libraries_in_progress } {
        GucRegistry::define_string_guc(
            c"monday_sync.database",
            c"Database the monday_sync background worker connects to.",
            c"The worker waits quietly until this database and CREATE EXTENSION monday_sync exist.",
            &DATABASE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
        GucRegistry::define_string_guc(
            c"monday_sync.databases",
            c"Databases the monday_sync launcher serves, each with its own workers: a comma-separated list, or * for every database.",
            c"Empty (the default) = monday_sync.database alone. With *, a database without the extension costs one short check a minute; CREATE EXTENSION there is picked up within a minute, at once when a job is queued. At most 16 databases; a change takes effect on reload.",
            &DATABASES,
            GucContext::Sighup,
            GucFlags::default(),
        );
        GucRegistry::define_int_guc(
            c"monday_sync.max_workers",
            c"Job workers the launcher starts: they claim jobs in parallel, never two jobs of one board at once.",
            c"1 to 8; each takes a background worker slot (max_worker_processes).",
            &MAX_WORKERS,
            1,
            8,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
    GucRegistry::define_int_guc(
        c"monday_sync.write_delay",
        c"How long write-back gathers changes before it sends them.",
        c"The first change of a batch waits this long: changes made meanwhile share its requests (several items per call).",
        &WRITE_DELAY,
        0,
        60_000,
        GucContext::Suset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.naptime",
        c"How often the background worker looks for queued jobs and due schedules.",
        c"request_refresh and request_pull also wake it at once.",
        &NAPTIME,
        100,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.daily_call_limit",
        c"API calls per UTC day this server may make (monday: 1,000 Free/Standard/Basic, 10,000 Pro, 25,000 Enterprise).",
        c"Counted in shared memory across the worker and every session; 0 = no limit.",
        &DAILY_CALL_LIMIT,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.complexity_per_minute",
        c"monday's complexity budget per minute for the token (10,000,000 personal; 5,000,000 app reads).",
        c"The worker paces itself below monday_sync.worker_budget_share of it.",
        &COMPLEXITY_PER_MINUTE,
        1_000,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"monday_sync.worker_budget_share",
        c"Share of the per-minute complexity budget the background worker may use.",
        c"The rest is left to sessions and other integrations using the same account.",
        &WORKER_BUDGET_SHARE,
        0.01,
        1.0,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.activity_log_retention",
        c"How far back monday's activity log can be read for this account.",
        c"A refresh whose watermark is older falls back to a full reconcile.",
        &LOG_RETENTION,
        1,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_S,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.max_attempts",
        c"Attempts of one queued job before it fails for good.",
        c"A failed attempt is retried after 30 s, 60 s, 120 s, …",
        &MAX_ATTEMPTS,
        1,
        100,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.worker_step_timeout",
        c"Longest time one step of the background worker (writing a page, a batch) may take.",
        c"A step past it fails and its job is retried later: a slow trigger on a synced table cannot hold the worker. 0 = no limit.",
        &WORKER_STEP_TIMEOUT,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.max_response_size",
        c"Largest answer from monday's API read into memory.",
        c"A longer body is cut there and fails the call (a page of 500 items is a few MB).",
        &MAX_RESPONSE_SIZE,
        1024,
        1024 * 1024,
        GucContext::Userset,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"monday_sync.parallel_pull_threshold",
        c"Items from which a full pull walks the board's groups in parallel (monday_sync.parallel_pull_walks at once).",
        c"Decided from the board's items_count as last seen (track_board, the last pull); boards with one group are walked by one cursor.",
        &PARALLEL_PULL_THRESHOLD,
        0,
        i32::MAX,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"monday_sync.parallel_pull_walks",
        c"Group walks of a parallel pull with a request in flight at once (1 turns parallel pulls off).",
        c"Each is one of monday's concurrent requests (its limit: 40, Pro 100, Enterprise 250, for the whole account).",
        &PARALLEL_PULL_WALKS,
        1,
        10,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"monday_sync.token_file",
        c"File the monday API token is read from (instead of monday_sync.set_token).",
        c"Read by the server whenever the token is needed; the token never passes through SQL text. Server configuration only.",
        &TOKEN_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    define_webhook_settings();
    GucRegistry::define_string_guc(
        c"monday_sync.alert_url",
        c"URL that receives a JSON POST when a queued job fails for good.",
        c"The body has a \"text\" field, so a Slack incoming webhook works as is. Empty = no alerts.",
        &ALERT_URL,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

fn define_webhook_settings() {
    // Where the listener serves and what it trusts: server configuration (SIGHUP), superuser only.
    let server = |name: &'static std::ffi::CStr,
                  short: &'static std::ffi::CStr,
                  long: &'static std::ffi::CStr,
                  s: &'static GucSetting<Option<CString>>| {
        GucRegistry::define_string_guc(
            name,
            short,
            long,
            s,
            GucContext::Sighup,
            GucFlags::default(),
        );
    };
    server(
        c"monday_sync.webhook_listen",
        c"Address the webhook listener serves HTTP on, as host:port (e.g. 127.0.0.1:8787).",
        c"Empty (the default) = no listener. With several databases (monday_sync.databases), a plain address serves the first; give each its own as db=host:port, db2=host:port. Needs monday_sync in shared_preload_libraries; a change takes effect on reload.",
        &WEBHOOK_LISTEN,
    );
    server(
        c"monday_sync.webhook_public_url",
        c"The public URL that reaches the listener's root (https://host/prefix).",
        c"subscribe_board builds subscription URLs from it; a webhook JWT's aud must equal it plus the request path. With several databases: db=url entries, a plain URL for the first.",
        &WEBHOOK_PUBLIC_URL,
    );
    server(
        c"monday_sync.webhook_tls_cert",
        c"PEM certificate chain for the listener's HTTPS (with webhook_tls_key).",
        c"Empty = plain HTTP (put a TLS-terminating reverse proxy in front).",
        &WEBHOOK_TLS_CERT,
    );
    GucRegistry::define_string_guc(
        c"monday_sync.webhook_tls_key",
        c"PEM private key for the listener's HTTPS.",
        c"Read by the server only.",
        &WEBHOOK_TLS_KEY,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_bool_guc(
        c"monday_sync.webhook_allow_unauthenticated",
        c"Accept webhook posts that carry neither a valid JWT nor a subscription's secret path.",
        c"For local testing only: anyone who reaches the listener can then write events.",
        &WEBHOOK_ALLOW_UNAUTHENTICATED,
        GucContext::Sighup,
        GucFlags::default(),
    );
    let int = |name: &'static std::ffi::CStr,
               short: &'static std::ffi::CStr,
               s: &'static GucSetting<i32>,
               min: i32,
               max: i32,
               flags: GucFlags| {
        GucRegistry::define_int_guc(name, short, c"", s, min, max, GucContext::Sighup, flags);
    };
    int(
        c"monday_sync.webhook_max_body",
        c"Largest webhook body the listener accepts (413 above).",
        &WEBHOOK_MAX_BODY,
        1,
        64 * 1024,
        GucFlags::UNIT_KB,
    );
    int(
        c"monday_sync.webhook_header_timeout",
        c"Time a client has to send a request head (and a TLS handshake); slower connections are closed.",
        &WEBHOOK_HEADER_TIMEOUT,
        100,
        300_000,
        GucFlags::UNIT_MS,
    );
    int(
        c"monday_sync.webhook_body_timeout",
        c"Time a client has to send a request body once its head is in (408 when slower).",
        &WEBHOOK_BODY_TIMEOUT,
        100,
        300_000,
        GucFlags::UNIT_MS,
    );
    int(
        c"monday_sync.webhook_max_connections",
        c"Connections the listener serves at once; more are answered 503 and closed.",
        &WEBHOOK_MAX_CONNECTIONS,
        1,
        65_536,
        GucFlags::default(),
    );
    int(
        c"monday_sync.webhook_queue",
        c"Received events waiting to be committed; a full queue answers 503 with Retry-After.",
        &WEBHOOK_QUEUE,
        1,
        1_000_000,
        GucFlags::default(),
    );
    int(
        c"monday_sync.webhook_settle",
        c"Time an item changed by a webhook waits before its confirming fetch (more changes join the same batched call).",
        &WEBHOOK_SETTLE,
        0,
        3_600_000,
        GucFlags::UNIT_MS,
    );
    int(
        c"monday_sync.webhook_retention",
        c"Applied and ignored webhook events older than this are deleted from monday_sync.webhook_events.",
        &WEBHOOK_RETENTION,
        60,
        i32::MAX,
        GucFlags::UNIT_S,
    );
    int(
        c"monday_sync.account_interval",
        c"How often the worker pulls the account's users, teams and tags (0: never by itself).",
        &ACCOUNT_INTERVAL,
        0,
        i32::MAX,
        GucFlags::UNIT_S,
    );
    int(
        c"monday_sync.refresh_round_size",
        c"Boards one call of a refresh round asks about (the worker refreshes due boards together; 1: each on its own).",
        &REFRESH_ROUND_SIZE,
        1,
        1000,
        GucFlags::default(),
    );
    int(
        c"monday_sync.workspace_interval",
        c"How often the worker looks for boards created in tracked workspaces (track_workspace; 0: never by itself).",
        &WORKSPACE_INTERVAL,
        0,
        i32::MAX,
        GucFlags::UNIT_S,
    );
    int(
        c"monday_sync.webhook_silence",
        c"A subscribed board with no event for this long gets a safety-net activity-log refresh.",
        &WEBHOOK_SILENCE,
        10,
        i32::MAX,
        GucFlags::UNIT_S,
    );
}

pub fn optional(s: &GucSetting<Option<CString>>) -> Option<String> {
    s.get()
        .and_then(|c| c.into_string().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

pub fn database() -> String {
    string(&DATABASE, "postgres")
}

/// The databases the launcher serves now (`monday_sync.databases`, else `monday_sync.database`).
pub fn served() -> crate::multidb::Served {
    crate::multidb::served(optional(&DATABASES).as_deref(), &database())
}

/// A per-database setting's value for database `db` (`db=value` entries, or the plain value for
/// the first database served: see `crate::multidb::for_database`).
pub fn for_database(s: &GucSetting<Option<CString>>, db: &str) -> Option<String> {
    let v = optional(s)?;
    let default = database();
    let is_first = served().first(&default) == db;
    crate::multidb::for_database(&v, db, is_first)
}

pub fn alert_url() -> Option<String> {
    ALERT_URL
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|v| !v.trim().is_empty())
}

fn string(s: &GucSetting<Option<CString>>, default: &str) -> String {
    s.get()
        .and_then(|c| c.into_string().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The client configuration from the current settings (read on the backend thread).
pub fn api_config(token: String) -> Config {
    Config {
        url: string(&API_URL, "https://api.monday.com/v2"),
        version: string(&API_VERSION, "2026-07"),
        token,
        connect_timeout: Duration::from_millis(CONNECT_TIMEOUT.get().max(1) as u64),
        request_timeout: Duration::from_millis(REQUEST_TIMEOUT.get().max(1) as u64),
        max_retries: MAX_RETRIES.get().max(0) as u32,
        max_wait: Duration::from_secs(MAX_WAIT.get().max(0) as u64),
        max_response_bytes: MAX_RESPONSE_SIZE.get().max(1024) as u64 * 1024,
    }
}

pub fn token_file() -> Option<String> {
    TOKEN_FILE
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|v| !v.trim().is_empty())
}
