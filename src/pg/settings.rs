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
pub static NAPTIME: GucSetting<i32> = GucSetting::<i32>::new(1_000);
pub static DAILY_CALL_LIMIT: GucSetting<i32> = GucSetting::<i32>::new(10_000);
pub static COMPLEXITY_PER_MINUTE: GucSetting<i32> = GucSetting::<i32>::new(10_000_000);
pub static WORKER_BUDGET_SHARE: GucSetting<f64> = GucSetting::<f64>::new(0.5);
pub static LOG_RETENTION: GucSetting<i32> = GucSetting::<i32>::new(7 * 86_400);
pub static MAX_ATTEMPTS: GucSetting<i32> = GucSetting::<i32>::new(3);
pub static ALERT_URL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);
pub static WORKER_STEP_TIMEOUT: GucSetting<i32> = GucSetting::<i32>::new(600_000);
pub static MAX_RESPONSE_SIZE: GucSetting<i32> = GucSetting::<i32>::new(64 * 1024);
pub static TOKEN_FILE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

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
    }
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
    GucRegistry::define_string_guc(
        c"monday_sync.token_file",
        c"File the monday API token is read from (instead of monday_sync.set_token).",
        c"Read by the server whenever the token is needed; the token never passes through SQL text. Server configuration only.",
        &TOKEN_FILE,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    GucRegistry::define_string_guc(
        c"monday_sync.alert_url",
        c"URL that receives a JSON POST when a queued job fails for good.",
        c"The body has a \"text\" field, so a Slack incoming webhook works as is. Empty = no alerts.",
        &ALERT_URL,
        GucContext::Sighup,
        GucFlags::default(),
    );
}

pub fn database() -> String {
    string(&DATABASE, "postgres")
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
