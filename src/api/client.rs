//! One monday API call, with monday's limits and faults handled (FACTS.md §4):
//! - `COMPLEXITY_BUDGET_EXHAUSTED` (HTTP 200 with `errors[]`, or HTTP 429) and other rate limits:
//!   wait `retry_in_seconds` / `Retry-After`, then try again;
//! - 5xx, HTML error pages, dropped connections, timeouts: bounded retries with backoff;
//! - 401: "token rejected"; `USER_UNAUTHORIZED`: no access; `DAILY_LIMIT_EXCEEDED`: stop;
//! - everything else in `errors[]`: a clear error naming monday's code.
//!
//! The token is only ever put in the `Authorization` header: never in a message.

use serde_json::Value;
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Config {
    pub url: String,
    pub version: String,
    pub token: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Retries after a transport failure or a 5xx (not counting rate-limit waits).
    pub max_retries: u32,
    /// The longest total time one call may spend waiting on rate limits.
    pub max_wait: Duration,
    /// The largest answer body read into memory; a longer one is cut there and fails the call.
    pub max_response_bytes: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("version", &self.version)
            .field("token", &"<hidden>")
            .finish()
    }
}

/// `complexity { before after query reset_in_x_seconds }` of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Complexity {
    pub before: i64,
    pub after: i64,
    pub query: i64,
    pub reset_in_seconds: i64,
}

/// What one logical call cost: HTTP attempts, waits, complexity.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub operation: &'static str,
    pub http_status: u16,
    pub attempts: u32,
    pub waited: Duration,
    pub elapsed: Duration,
    pub complexity: Option<Complexity>,
    /// monday's error code, or a transport error kind, of the last failed attempt.
    pub last_error: Option<String>,
    /// Impossible values monday answered and what was done about them (for the run history).
    pub notes: Vec<String>,
}

impl CallRecord {
    #[cfg(test)]
    pub fn new_for_tests(operation: &'static str) -> CallRecord {
        CallRecord::new(operation)
    }

    /// A call before its first attempt (and one that never reached the network).
    fn new(operation: &'static str) -> CallRecord {
        CallRecord {
            operation,
            http_status: 0,
            attempts: 0,
            waited: Duration::ZERO,
            elapsed: Duration::ZERO,
            complexity: None,
            last_error: None,
            notes: Vec::new(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiErrorKind {
    /// HTTP 401 / NOT_AUTHENTICATED.
    TokenRejected,
    /// USER_UNAUTHORIZED and friends: the token's user may not read this.
    Unauthorized,
    /// The board or item does not exist (or is not visible).
    NotFound,
    /// DAILY_LIMIT_EXCEEDED: no more calls until midnight UTC.
    DailyLimit,
    /// A rate-limit wait longer than `monday_sync.max_wait`.
    WaitTooLong,
    /// The cursor of a walk expired (60 minutes after the first page).
    CursorExpired,
    /// Retries exhausted on 5xx, HTML pages, dropped connections or timeouts.
    Unavailable,
    /// ComplexityException without a time to come back: the query alone costs more than monday's
    /// single-query limit (5,000,000); only a smaller query helps.
    TooComplex,
    /// Any other error monday answered (validation, bad argument, …).
    Api,
}

#[derive(Clone, Debug)]
pub struct ApiError {
    pub kind: ApiErrorKind,
    pub message: String,
    pub detail: String,
    pub hint: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.detail)
    }
}

/// One HTTP exchange as it came back.
#[derive(Debug)]
pub enum Raw {
    Http {
        status: u16,
        retry_after: Option<String>,
        body: Vec<u8>,
    },
    /// Connection refused or reset, closed without an answer, timed out.
    Failed { timeout: bool, message: String },
    /// The body went past `max_response_bytes`: reading stopped there.
    TooLarge { limit: u64 },
}

/// What to do about one exchange.
#[derive(Debug)]
pub enum Verdict {
    Data(Value, Option<Complexity>),
    Wait { seconds: f64, why: String },
    Retry { why: String },
    Fail(ApiError),
}

fn code_of(err: &Value) -> &str {
    err.pointer("/extensions/code")
        .and_then(Value::as_str)
        .or_else(|| err.get("error_code").and_then(Value::as_str))
        .unwrap_or("")
}

fn short(s: &str, max: usize) -> String {
    let t = crate::codec::truncate_bytes(s.trim(), max);
    if t.len() < s.trim().len() {
        format!("{t}…")
    } else {
        t.to_string()
    }
}

fn retry_in(err: &Value) -> Option<f64> {
    let v = err.pointer("/extensions/retry_in_seconds")?;
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// Turns one exchange into data, a wait, a retry or an error. Pure: unit tested on monday's shapes.
pub fn classify(raw: &Raw) -> Verdict {
    let (status, retry_after, body) = match raw {
        Raw::TooLarge { limit } => {
            return Verdict::Fail(ApiError {
                kind: ApiErrorKind::Api,
                message: "monday's answer is larger than monday_sync.max_response_size".into(),
                detail: format!("reading stopped after {} bytes", limit),
                hint: "Raise monday_sync.max_response_size if answers this large are expected (boards with very large cells), or check monday_sync.api_url.".into(),
            })
        }
        Raw::Failed { timeout, message } => {
            return Verdict::Retry {
                why: if *timeout {
                    format!("timeout: {message}")
                } else {
                    format!("connection: {message}")
                },
            }
        }
        Raw::Http {
            status,
            retry_after,
            body,
        } => (*status, retry_after.as_deref(), body),
    };
    let json: Option<Value> = serde_json::from_slice(body).ok().filter(Value::is_object);
    let first_error = json
        .as_ref()
        .and_then(|j| j.get("errors"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
        // Legacy (≤2024-10) shape: error_code / error_message at the top level.
        .or_else(|| {
            json.as_ref()
                .filter(|j| j.get("error_code").is_some())
                .cloned()
        });
    let header_wait = retry_after.and_then(|s| s.trim().parse::<f64>().ok());

    if status == 401 {
        return Verdict::Fail(ApiError {
            kind: ApiErrorKind::TokenRejected,
            message: "monday rejected the API token".into(),
            detail: format!("HTTP 401{}", first_error.as_ref().map(|e| format!(", {}", code_of(e))).unwrap_or_default()),
            hint: "Set a valid token with SELECT monday_sync.set_token('…'); personal tokens are under Profile → Developers → My access tokens.".into(),
        });
    }
    if let Some(err) = &first_error {
        let code = code_of(err);
        let message = err
            .get("message")
            .or_else(|| err.get("error_message"))
            .and_then(Value::as_str)
            .unwrap_or("");
        match code {
            "DAILY_LIMIT_EXCEEDED" => {
                return Verdict::Fail(ApiError {
                    kind: ApiErrorKind::DailyLimit,
                    message: "monday's daily API call limit is exhausted".into(),
                    detail: format!(
                        "HTTP {status}, DAILY_LIMIT_EXCEEDED; resets at midnight UTC{}",
                        retry_in(err).or(header_wait).map(|s| format!(" (in {s:.0} s)")).unwrap_or_default()
                    ),
                    hint: "The limit depends on the monday plan (1,000 / 10,000 / 25,000 calls a day); pull less often or wait for the reset.".into(),
                })
            }
            "NOT_AUTHENTICATED" => {
                return Verdict::Fail(ApiError {
                    kind: ApiErrorKind::TokenRejected,
                    message: "monday rejected the API token".into(),
                    detail: format!("HTTP {status}, NOT_AUTHENTICATED"),
                    hint: "Set a valid token with SELECT monday_sync.set_token('…').".into(),
                })
            }
            "USER_UNAUTHORIZED" | "UserUnauthorizedException" | "USER_ACCESS_DENIED" | "missingRequiredPermissions" | "UNAUTHORIZED" => {
                return Verdict::Fail(ApiError {
                    kind: ApiErrorKind::Unauthorized,
                    message: "the token's monday user may not read this".into(),
                    detail: format!("HTTP {status}, {code}: {}", short(message, 200)),
                    hint: "Share the board with the token's user, or use a token of a user who can see it.".into(),
                })
            }
            "InvalidBoardIdException" | "InvalidItemIdException" | "ResourceNotFoundException" => {
                return Verdict::Fail(ApiError {
                    kind: ApiErrorKind::NotFound,
                    message: "monday does not know this board or item".into(),
                    detail: format!("HTTP {status}, {code}: {}", short(message, 200)),
                    hint: "Check the id in the board's URL (https://<account>.monday.com/boards/<board id>).".into(),
                })
            }
            "CursorExpiredError" | "CursorException" => {
                return Verdict::Fail(ApiError {
                    kind: ApiErrorKind::CursorExpired,
                    message: "the items_page cursor expired".into(),
                    detail: format!("{code}: {}", short(message, 200)),
                    hint: "Cursors live 60 minutes from the first page; the walk restarts.".into(),
                })
            }
            "INTERNAL_SERVER_ERROR" => return Verdict::Retry { why: format!("HTTP {status}, INTERNAL_SERVER_ERROR") },
            _ => {}
        }
        // Any other error that says when to come back is a rate limit: complexity budget, minute
        // limit, concurrency, IP limit, FIELD_LIMIT_EXCEEDED.
        if let Some(secs) = retry_in(err).or(if status == 429 { header_wait } else { None }) {
            return Verdict::Wait {
                // As monday said it: `next_step` bounds it (and notes an impossible value).
                seconds: secs,
                why: format!(
                    "HTTP {status}, {}",
                    if code.is_empty() {
                        "rate limited"
                    } else {
                        code
                    }
                ),
            };
        }
        if status == 429 {
            return Verdict::Wait {
                seconds: header_wait.unwrap_or(60.0),
                why: format!("HTTP 429, {code}"),
            };
        }
        if status >= 500 {
            return Verdict::Retry {
                why: format!("HTTP {status}, {code}"),
            };
        }
        let locations = err
            .get("locations")
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        return Verdict::Fail(ApiError {
            kind: if code == "ComplexityException" {
                ApiErrorKind::TooComplex
            } else {
                ApiErrorKind::Api
            },
            message: format!("monday answered an error: {}", short(message, 200)),
            detail: format!("HTTP {status}, code {}{locations}", if code.is_empty() { "(none)" } else { code }),
            hint: "See https://developer.monday.com/api-reference/docs/errors; if it names a field, the API version (monday_sync.api_version) may not match.".into(),
        });
    }
    if status == 429 {
        return Verdict::Wait {
            seconds: header_wait.unwrap_or(60.0),
            why: "HTTP 429".into(),
        };
    }
    if status >= 500 || (status == 200 && json.is_none()) {
        let what = if body.starts_with(b"<")
            || body.windows(5).any(|w| w.eq_ignore_ascii_case(b"<html"))
        {
            "an HTML error page"
        } else if json.is_none() {
            "a body that is not JSON"
        } else {
            "an error"
        };
        return Verdict::Retry {
            why: format!("HTTP {status} with {what}"),
        };
    }
    let Some(mut json) = json else {
        return Verdict::Fail(ApiError {
            kind: ApiErrorKind::Api,
            message: format!("monday answered HTTP {status}"),
            detail: format!("body: {}", short(&String::from_utf8_lossy(body), 200)),
            hint: "Check monday_sync.api_url.".into(),
        });
    };
    if status != 200 {
        return Verdict::Fail(ApiError {
            kind: ApiErrorKind::Api,
            message: format!("monday answered HTTP {status}"),
            detail: format!("body: {}", short(&json.to_string(), 200)),
            hint: "Check monday_sync.api_url and monday_sync.api_version.".into(),
        });
    }
    let data = json.get_mut("data").map(Value::take).unwrap_or(Value::Null);
    if !data.is_object() {
        return Verdict::Fail(ApiError {
            kind: ApiErrorKind::Api,
            message: "monday answered without data".into(),
            detail: format!("body: {}", short(&json.to_string(), 200)),
            hint: "Check monday_sync.api_url.".into(),
        });
    }
    let complexity = data.get("complexity").and_then(|c| {
        Some(Complexity {
            before: c.get("before")?.as_i64()?,
            after: c.get("after")?.as_i64()?,
            query: c.get("query")?.as_i64()?,
            reset_in_seconds: c.get("reset_in_x_seconds")?.as_i64()?,
        })
    });
    Verdict::Data(data, complexity)
}

/// [`classify`] for a mutation: HTTP 409 (a duplicate of a request still in flight, FACTS.md §0)
/// waits `Retry-After` and tries again with the same key; an answer with `data` whose errors name
/// their field (`path`) is data — each alias's error is the caller's to read — unless the error
/// concerns the whole call (token, daily limit, rate limits, server errors).
pub fn classify_mutation(raw: &Raw) -> Verdict {
    if let Raw::Http {
        status: 409,
        retry_after,
        ..
    } = raw
    {
        let secs = retry_after
            .as_deref()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .unwrap_or(1.0);
        return Verdict::Wait {
            seconds: secs,
            why: "HTTP 409, the same request is still being executed (Idempotency-Key)".into(),
        };
    }
    // An answer whose every error names its alias (and none asks to wait) is per-alias news,
    // whatever the codes: the request was executed, and a retry under the same key would only
    // get the same answer from monday's cache.
    if let Raw::Http {
        status: 200, body, ..
    } = raw
    {
        if let Ok(json) = serde_json::from_slice::<Value>(body) {
            let errs = json.get("errors").and_then(Value::as_array);
            let per_alias = json.get("data").is_some_and(Value::is_object)
                && errs.is_some_and(|errs| {
                    !errs.is_empty()
                        && errs.iter().all(|e| {
                            e.get("path")
                                .and_then(Value::as_array)
                                .is_some_and(|p| !p.is_empty())
                                && retry_in(e).is_none()
                                && !matches!(
                                    code_of(e),
                                    "DAILY_LIMIT_EXCEEDED"
                                        | "NOT_AUTHENTICATED"
                                        | "COMPLEXITY_BUDGET_EXHAUSTED"
                                )
                        })
                });
            if per_alias {
                let complexity = json.pointer("/data/complexity").and_then(|c| {
                    Some(Complexity {
                        before: c.get("before")?.as_i64()?,
                        after: c.get("after")?.as_i64()?,
                        query: c.get("query")?.as_i64()?,
                        reset_in_seconds: c.get("reset_in_x_seconds")?.as_i64()?,
                    })
                });
                return Verdict::Data(json, complexity);
            }
        }
    }
    let verdict = classify(raw);
    let e = match verdict {
        // The same shape either way: the whole body, `data` (and `errors` when some alias failed).
        Verdict::Data(data, c) => return Verdict::Data(serde_json::json!({ "data": data }), c),
        Verdict::Fail(ref e) => e,
        _ => return verdict,
    };
    if matches!(
        e.kind,
        ApiErrorKind::TokenRejected | ApiErrorKind::DailyLimit
    ) {
        return verdict;
    }
    let Raw::Http {
        status: 200, body, ..
    } = raw
    else {
        return verdict;
    };
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return verdict;
    };
    let fields_only = json.get("data").is_some_and(Value::is_object)
        && json
            .get("errors")
            .and_then(Value::as_array)
            .is_some_and(|errs| {
                errs.iter().all(|e| {
                    e.get("path")
                        .and_then(Value::as_array)
                        .is_some_and(|p| !p.is_empty())
                })
            });
    if fields_only {
        let complexity = json.pointer("/data/complexity").and_then(|c| {
            Some(Complexity {
                before: c.get("before")?.as_i64()?,
                after: c.get("after")?.as_i64()?,
                query: c.get("query")?.as_i64()?,
                reset_in_seconds: c.get("reset_in_x_seconds")?.as_i64()?,
            })
        });
        Verdict::Data(json, complexity)
    } else {
        verdict
    }
}

/// The usual answer to a query, recognised without building it: HTTP 200, a JSON object with a
/// `data` object and neither `errors` nor `error_code`. Returns its complexity (`Some(None)` when
/// it has none); `None` for any other answer, which [`classify`] then judges (so the verdict is
/// always [`classify`]'s). The body is scanned, not built: only `data.complexity` is kept.
pub fn probe_data(raw: &Raw) -> Option<Option<Complexity>> {
    let Raw::Http {
        status: 200, body, ..
    } = raw
    else {
        return None;
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let p = serde::Deserializer::deserialize_map(&mut de, probe::Top).ok()?;
    de.end().ok()?;
    if p.errors || p.data != 1 || !p.data_object {
        return None;
    }
    Some(p.complexity.as_ref().and_then(|c| {
        Some(Complexity {
            before: c.get("before")?.as_i64()?,
            after: c.get("after")?.as_i64()?,
            query: c.get("query")?.as_i64()?,
            reset_in_seconds: c.get("reset_in_x_seconds")?.as_i64()?,
        })
    }))
}

/// Serde visitors for [`probe_data`]: the top-level keys and `data`'s `complexity`; everything
/// else is skipped (`IgnoredAny`) without allocating.
mod probe {
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    use serde_json::Value;
    use std::fmt;

    #[derive(Default)]
    pub struct Found {
        /// How many `data` keys (a repeated one: left to `classify`).
        pub data: u32,
        pub data_object: bool,
        /// `errors` or `error_code` present (even null or empty).
        pub errors: bool,
        /// `data.complexity`, its last copy.
        pub complexity: Option<Value>,
    }

    pub struct Top;

    impl<'de> Visitor<'de> for Top {
        type Value = Found;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
            let mut found = Found::default();
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "data" => {
                        found.data += 1;
                        let d = map.next_value::<Data>()?;
                        found.data_object = d.0;
                        found.complexity = d.1;
                    }
                    "errors" | "error_code" => {
                        found.errors = true;
                        map.next_value::<IgnoredAny>()?;
                    }
                    _ => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
            }
            Ok(found)
        }
    }

    /// `data`: (is an object, its `complexity`).
    struct Data(bool, Option<Value>);

    impl<'de> serde::Deserialize<'de> for Data {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Data, D::Error> {
            d.deserialize_any(DataVisitor)
        }
    }

    struct DataVisitor;

    impl<'de> Visitor<'de> for DataVisitor {
        type Value = Data;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Data, A::Error> {
            let mut complexity = None;
            while let Some(key) = map.next_key::<String>()? {
                if key == "complexity" {
                    complexity = Some(map.next_value::<Value>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(Data(true, complexity))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Data(false, None))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Data, E> {
            Ok(Data(false, None))
        }
        fn visit_i64<E>(self, _: i64) -> Result<Data, E> {
            Ok(Data(false, None))
        }
        fn visit_u64<E>(self, _: u64) -> Result<Data, E> {
            Ok(Data(false, None))
        }
        fn visit_f64<E>(self, _: f64) -> Result<Data, E> {
            Ok(Data(false, None))
        }
        fn visit_str<E>(self, _: &str) -> Result<Data, E> {
            Ok(Data(false, None))
        }
        fn visit_unit<E>(self) -> Result<Data, E> {
            Ok(Data(false, None))
        }
    }
}

/// How [`Client::finish_with`] reads an answer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `data`, built ([`classify`]).
    Query,
    /// The whole body, built ([`classify_mutation`]).
    Mutation,
    /// The body as it came, judged like `Query` ([`probe_data`], else [`classify`]).
    Body,
}

enum Answer {
    Value(Value),
    Page(Page),
}

/// Backoff before retry `n` (1-based): 0.25 s, 0.5 s, 1 s, 2 s, … capped at 8 s.
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(250u64.saturating_mul(1u64 << n.saturating_sub(1).min(5)))
        .min(Duration::from_secs(8))
}

/// What the caller does around calls. In a backend: check for interrupts, share the budget with
/// other sessions and the worker. A bare `FnMut()` is a `Hooks` that only polls.
pub trait Hooks {
    /// Called every 20 ms while a call is under way (and before each call).
    fn poll(&mut self);
    /// Called before each attempt (the first and every retry): may wait (polling) or refuse it.
    fn before(&mut self, _operation: &'static str) -> Result<(), ApiError> {
        Ok(())
    }
    /// Called when a call has ended, with what it cost (its attempts were counted by `before`).
    fn after(&mut self, _call: &CallRecord) {}
}

impl<F: FnMut()> Hooks for F {
    fn poll(&mut self) {
        self()
    }
}

pub struct Client<'p> {
    cfg: Config,
    agent: ureq::Agent,
    hooks: &'p mut dyn Hooks,
    /// Every logical call made so far, in order.
    pub calls: Vec<CallRecord>,
}

const POLL: Duration = Duration::from_millis(20);

/// monday's rate-limit windows are one minute long: a wait it asks for is at least this …
pub const MIN_RATE_WAIT: f64 = 1.0;
/// … and at most this (`retry_in_seconds` of 0, negative or absurd is clamped, and noted).
pub const MAX_RATE_WAIT: f64 = 60.0;
/// Rate-limit waits within one call, at most (each is an attempt that counts against the budget).
pub const MAX_RATE_WAITS: u32 = 10;
/// `reset_in_x_seconds` beyond the one-minute window is impossible: clamped to this, and noted.
pub const MAX_RESET_SECONDS: i64 = 60;

/// A call under way: its current attempt runs on a helper thread (which never touches Postgres).
/// Retries and waits happen in `finish`, on the caller's thread, where every attempt passes
/// `Hooks::before` (the budget) and every wait polls for interrupts.
pub struct Pending {
    operation: &'static str,
    body: String,
    /// A mutation's `Idempotency-Key`: the same on every attempt of the call (FACTS.md §0).
    key: Option<String>,
    rec: CallRecord,
    started: Instant,
    attempt: Attempt,
}

enum Attempt {
    Running(mpsc::Receiver<Raw>),
    Refused(ApiError),
}

/// What to do after a Wait or Retry verdict: sleep this long, or give up with this error.
pub enum Next {
    Sleep(Duration),
    GiveUp(ApiError),
}

/// The rules for retrying, pure: given what happened so far in a call, how long to sleep before
/// the next attempt, or why not to try again.
pub fn next_step(
    verdict: &Verdict,
    rec: &mut CallRecord,
    retries: &mut u32,
    waits: &mut u32,
    cfg: &Config,
) -> Next {
    match verdict {
        Verdict::Wait { seconds, why } => {
            let asked = *seconds;
            let secs = if asked.is_finite() {
                asked.clamp(MIN_RATE_WAIT, MAX_RATE_WAIT)
            } else {
                MAX_RATE_WAIT
            };
            if secs != asked {
                rec.notes.push(format!(
                    "{why}: monday asked to wait {asked} s; waited {secs} s (rate-limit windows are one minute)"
                ));
            }
            *waits += 1;
            let d = Duration::from_secs_f64(secs);
            if *waits > MAX_RATE_WAITS || rec.waited + d > cfg.max_wait {
                return Next::GiveUp(ApiError {
                    kind: ApiErrorKind::WaitTooLong,
                    message: "monday kept this call waiting longer than monday_sync.max_wait allows"
                        .into(),
                    detail: format!(
                        "{why}: {} attempts, {:.0} s waited; max_wait is {} s, at most {MAX_RATE_WAITS} rate-limit waits per call",
                        rec.attempts,
                        rec.waited.as_secs_f64(),
                        cfg.max_wait.as_secs()
                    ),
                    hint: "Raise monday_sync.max_wait, or pull when other API users are quieter."
                        .into(),
                });
            }
            Next::Sleep(d)
        }
        Verdict::Retry { why } => {
            *retries += 1;
            if *retries > cfg.max_retries {
                return Next::GiveUp(ApiError {
                    kind: ApiErrorKind::Unavailable,
                    message: "monday's API is unavailable".into(),
                    detail: format!("{} attempts; last: {why}", rec.attempts),
                    hint: "monday may be having an outage (https://status.monday.com); try again later, or raise monday_sync.max_retries.".into(),
                });
            }
            Next::Sleep(backoff(*retries))
        }
        Verdict::Data(..) | Verdict::Fail(_) => Next::Sleep(Duration::ZERO),
    }
}

impl<'p> Client<'p> {
    pub fn new(cfg: Config, hooks: &'p mut dyn Hooks) -> Client<'p> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(cfg.connect_timeout))
            .timeout_global(Some(cfg.request_timeout))
            // The token travels in a header: never follow a redirect with it.
            .max_redirects(0)
            .user_agent(concat!("monday_sync/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Client {
            cfg,
            agent,
            hooks,
            calls: Vec::new(),
        }
    }

    pub fn complexity_used(&self) -> i64 {
        self.calls
            .iter()
            .filter_map(|c| c.complexity)
            .map(|c| c.query)
            .sum()
    }

    /// HTTP attempts made so far (each counts against monday's daily limit).
    pub fn http_calls(&self) -> u32 {
        self.calls.iter().map(|c| c.attempts).sum()
    }

    /// What monday answered that could not be true, and what was done instead.
    pub fn notes(&self) -> Vec<String> {
        self.calls.iter().flat_map(|c| c.notes.clone()).collect()
    }

    /// One attempt: asks the hooks (the budget may refuse it), then sends on a helper thread.
    fn attempt(&mut self, operation: &'static str, body: &str, key: Option<&str>) -> Attempt {
        if let Err(e) = self.hooks.before(operation) {
            return Attempt::Refused(e);
        }
        let (tx, rx) = mpsc::channel();
        let (agent, cfg, body) = (self.agent.clone(), self.cfg.clone(), body.to_string());
        let key = key.map(String::from);
        // Signals stay with the backend's thread (crate::thread).
        let spawned = crate::thread::spawn_blocked("monday_sync http", move || {
            let _ = tx.send(exchange(&agent, &cfg, &body, key.as_deref()));
        });
        match spawned {
            Ok(_) => Attempt::Running(rx),
            Err(e) => Attempt::Refused(ApiError {
                kind: ApiErrorKind::Unavailable,
                message: "could not start the HTTP thread".into(),
                detail: e.to_string(),
                hint: "The server may be out of threads or memory.".into(),
            }),
        }
    }

    /// Starts one call: its first attempt runs while the caller does other work (writes a page).
    pub fn begin(&mut self, operation: &'static str, document: &str, variables: Value) -> Pending {
        self.begin_keyed(operation, document, variables, None)
    }

    /// [`begin`](Self::begin) for a mutation: every attempt carries `Idempotency-Key: key`, so a
    /// retry after a lost answer (or monday's 409 for a duplicate still in flight) is answered
    /// from monday's cache instead of being executed again.
    pub fn begin_keyed(
        &mut self,
        operation: &'static str,
        document: &str,
        variables: Value,
        key: Option<String>,
    ) -> Pending {
        let body = serde_json::json!({ "query": document, "variables": variables, "operationName": operation }).to_string();
        let attempt = self.attempt(operation, &body, key.as_deref());
        Pending {
            operation,
            body,
            key,
            rec: CallRecord::new(operation),
            started: Instant::now(),
            attempt,
        }
    }

    /// Waits `d`, polling the hooks (interrupts) every 20 ms.
    fn nap(&mut self, d: Duration) {
        let end = Instant::now() + d;
        loop {
            self.hooks.poll();
            let now = Instant::now();
            if now >= end {
                return;
            }
            std::thread::sleep((end - now).min(POLL));
        }
    }

    /// Finishes a call started with `begin`: waits for its attempt (polling every 20 ms), waits out
    /// rate limits and retries transient failures, each attempt counted by the hooks.
    pub fn finish(&mut self, p: Pending) -> Result<Value, ApiError> {
        match self.finish_with(p, Mode::Query)? {
            Answer::Value(v) => Ok(v),
            Answer::Page(_) => unreachable!("a query answers a value"),
        }
    }

    /// [`finish`](Self::finish) for a big answer (a page of items): the same errors, retries and
    /// waits, but the answer comes back as a [`Page`]: its body parsed once, borrowed, without a
    /// `serde_json::Value` tree; the parse that builds it also judges the answer ([`read_page`]).
    pub fn finish_body(&mut self, p: Pending) -> Result<Page, ApiError> {
        match self.finish_with(p, Mode::Body)? {
            Answer::Page(page) => Ok(page),
            Answer::Value(_) => unreachable!("a body call answers a page"),
        }
    }

    /// Finishes a mutation: field errors (a value monday rejects for one alias) do not fail the
    /// call; the whole body comes back, `data` with a null per failed alias and `errors[]` with
    /// each one's `path`. Rate limits, 5xx, lost answers and 409s are retried as for a query.
    pub fn finish_mutation(&mut self, p: Pending) -> Result<Value, ApiError> {
        match self.finish_with(p, Mode::Mutation)? {
            Answer::Value(v) => Ok(v),
            Answer::Page(_) => unreachable!("a mutation answers a value"),
        }
    }

    fn finish_with(&mut self, p: Pending, mode: Mode) -> Result<Answer, ApiError> {
        let Pending {
            operation,
            body,
            key,
            mut rec,
            started,
            mut attempt,
        } = p;
        let (mut retries, mut waits) = (0u32, 0u32);
        let result = loop {
            let rx = match attempt {
                Attempt::Refused(e) => break Err(e),
                Attempt::Running(rx) => rx,
            };
            let raw = loop {
                match rx.recv_timeout(POLL) {
                    Ok(raw) => break raw,
                    Err(mpsc::RecvTimeoutError::Timeout) => self.hooks.poll(),
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        break Raw::Failed {
                            timeout: false,
                            message: "the request thread ended without an answer".into(),
                        }
                    }
                }
            };
            rec.attempts += 1;
            rec.http_status = match &raw {
                Raw::Http { status, .. } => *status,
                _ => 0,
            };
            // A page's answer, read (`page`), or found unreadable where `probe_data` accepts it
            // (`unreadable`: the error `data_of` gives it, after the call is recorded as data).
            let (mut page, mut unreadable) = (None, None);
            let verdict = match mode {
                Mode::Mutation => classify_mutation(&raw),
                Mode::Query => classify(&raw),
                Mode::Body => match read_page(raw) {
                    Ok((p, complexity)) => {
                        page = Some(p);
                        Verdict::Data(Value::Null, complexity)
                    }
                    Err((raw, e)) => match (e, probe_data(&raw)) {
                        (Some(e), Some(complexity)) => {
                            unreadable = Some(e);
                            Verdict::Data(Value::Null, complexity)
                        }
                        _ => classify(&raw),
                    },
                },
            };
            match verdict {
                Verdict::Data(data, complexity) => {
                    rec.complexity = complexity.map(|mut c| {
                        if !(0..=MAX_RESET_SECONDS).contains(&c.reset_in_seconds) {
                            rec.notes.push(format!(
                                "monday reported reset_in_x_seconds = {}; taken as {MAX_RESET_SECONDS} (the complexity window is one minute)",
                                c.reset_in_seconds
                            ));
                            c.reset_in_seconds = c.reset_in_seconds.clamp(0, MAX_RESET_SECONDS);
                        }
                        c
                    });
                    if let Some(e) = unreadable {
                        break Err(e);
                    }
                    break Ok(match page {
                        Some(p) => Answer::Page(p),
                        None => Answer::Value(data),
                    });
                }
                Verdict::Fail(e) => {
                    rec.last_error = Some(format!("{:?}", e.kind));
                    break Err(e);
                }
                Verdict::Wait { ref why, .. } | Verdict::Retry { ref why } => {
                    rec.last_error = Some(why.clone());
                    match next_step(&verdict, &mut rec, &mut retries, &mut waits, &self.cfg) {
                        Next::GiveUp(e) => break Err(e),
                        Next::Sleep(d) => {
                            rec.waited += d;
                            self.nap(d);
                            attempt = self.attempt(operation, &body, key.as_deref());
                        }
                    }
                }
            }
        };
        rec.elapsed = started.elapsed();
        if rec.attempts > 0 {
            self.hooks.after(&rec);
            self.calls.push(rec);
        }
        result
    }

    /// Sends one document and returns its answer as a [`Page`]: `begin` + `finish_body`.
    pub fn query_body(
        &mut self,
        operation: &'static str,
        document: &str,
        variables: Value,
    ) -> Result<Page, ApiError> {
        self.hooks.poll();
        let p = self.begin(operation, document, variables);
        self.finish_body(p)
    }

    /// Sends one document and returns its `data`: `begin` + `finish`.
    pub fn query(
        &mut self,
        operation: &'static str,
        document: &str,
        variables: Value,
    ) -> Result<Value, ApiError> {
        self.hooks.poll();
        let p = self.begin(operation, document, variables);
        self.finish(p)
    }
}

fn exchange(agent: &ureq::Agent, cfg: &Config, body: &str, key: Option<&str>) -> Raw {
    let mut req = agent
        .post(&cfg.url)
        .header("Authorization", &cfg.token)
        .header("API-Version", &cfg.version)
        .header("Content-Type", "application/json");
    if let Some(key) = key {
        req = req.header("Idempotency-Key", key);
    }
    let result = req.send(body.as_bytes());
    match result {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            // Read into a buffer of the announced size (bounded by the limit), not one grown
            // and copied as it fills: a page is 1.6 MB. The same limit and errors as read_to_vec.
            let announced = resp.body().content_length().unwrap_or(0);
            let mut buf = Vec::with_capacity(announced.min(cfg.max_response_bytes) as usize);
            let read = std::io::Read::read_to_end(
                &mut resp
                    .body_mut()
                    .with_config()
                    .limit(cfg.max_response_bytes)
                    .reader(),
                &mut buf,
            )
            .map(|_| buf)
            .map_err(ureq::Error::from);
            match read {
                Ok(body) => Raw::Http {
                    status,
                    retry_after,
                    body,
                },
                Err(ureq::Error::BodyExceedsLimit(_)) => Raw::TooLarge {
                    limit: cfg.max_response_bytes,
                },
                Err(e) => Raw::Failed {
                    timeout: matches!(e, ureq::Error::Timeout(_)),
                    message: scrub(&e.to_string(), &cfg.token),
                },
            }
        }
        Err(e) => Raw::Failed {
            timeout: matches!(e, ureq::Error::Timeout(_)),
            message: scrub(&e.to_string(), &cfg.token),
        },
    }
}

/// Removes the token from a message, should a library ever echo it.
pub fn scrub(message: &str, token: &str) -> String {
    if token.len() >= 4 {
        message.replace(token, "<token>")
    } else {
        message.to_string()
    }
}

/// A JSON value borrowing its strings from the text it was parsed from.
pub type Borrowed<'a> = serde_json_borrow::Value<'a>;

/// `data` of a body that [`Client::finish_body`] returned, parsed without copying its strings:
/// those with an escape (every cell's `value`) are unescaped into `arena`, the page's one string
/// store, instead of a `String` each; every object and array is one exactly sized `Vec` (their
/// members gather on a shared stack first). The same tree `serde_json_borrow` builds (a repeated
/// key keeps its last value, as `serde_json` does), with fewer allocations.
pub fn data_of<'a>(body: &'a [u8], arena: &'a Arena) -> Result<Borrowed<'a>, ApiError> {
    let Borrowed::Object(o) = parse_body(body, arena)? else {
        return Ok(Borrowed::Null);
    };
    Ok(o.into_vec()
        .into_iter()
        .rev()
        .find(|(k, _)| k == "data")
        .map(|(_, v)| v)
        .unwrap_or(Borrowed::Null))
}

/// A whole body parsed as [`data_of`] does.
fn parse_body<'a>(body: &'a [u8], arena: &'a Arena) -> Result<Borrowed<'a>, ApiError> {
    let unreadable = |detail: String| ApiError {
        kind: ApiErrorKind::Api,
        message: "monday's answer could not be read".into(),
        detail: short(&detail, 200),
        hint: "Check monday_sync.api_url.".into(),
    };
    // UTF-8 checked once for the whole body, not string by string as the parse reads them.
    let text = std::str::from_utf8(body).map_err(|e| unreadable(e.to_string()))?;
    let stacks = borrowed::Stacks::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let top = serde::de::DeserializeSeed::deserialize(
        borrowed::Seed {
            arena,
            stacks: &stacks,
        },
        &mut de,
    )
    .and_then(|v| de.end().map(|_| v))
    .map_err(|e| unreadable(e.to_string()))?;
    Ok(top)
}

/// A page's answer: the body as it came and its `data`, parsed once ([`data_of`]'s parse).
pub struct Page {
    // Declared first, so dropped first: it points into the arena and the body. Neither moves
    // when the `Page` does (their contents are on the heap) and both live as long as the `Page`.
    data: Borrowed<'static>,
    _arena: Arena,
    _body: Vec<u8>,
}

impl Page {
    /// `data`, borrowed from the page.
    pub fn data(&self) -> &Borrowed<'_> {
        &self.data
    }
}

/// The usual answer to a query, read into a [`Page`]: the answers [`probe_data`] accepts (HTTP
/// 200, a JSON object with one `data` object and neither `errors` nor `error_code`; its
/// `data.complexity`, the last copy), judged on the parsed tree instead of a scan of their own.
/// Any other answer comes back for [`classify`], with the error [`data_of`] gives when the body
/// is not one it can read (invalid UTF-8, a number out of range: things `probe_data` lets pass).
#[allow(clippy::result_large_err)] // The answer handed back, once per call.
pub fn read_page(raw: Raw) -> Result<(Page, Option<Complexity>), (Raw, Option<ApiError>)> {
    let Raw::Http {
        status: 200, body, ..
    } = &raw
    else {
        return Err((raw, None));
    };
    let arena = Arena::default();
    let read = match parse_body(body, &arena) {
        Err(e) => Err(Some(e)),
        Ok(Borrowed::Object(top)) => {
            let mut top = top.into_vec();
            let datas = top.iter().filter(|(k, _)| k == "data").count();
            let errors = top.iter().any(|(k, _)| k == "errors" || k == "error_code");
            match top.iter().position(|(k, _)| k == "data") {
                Some(at) if datas == 1 && !errors && top[at].1.is_object() => {
                    let data = top.swap_remove(at).1;
                    let complexity =
                        crate::codec::field(data.as_object().expect("an object"), "complexity")
                            .and_then(|c| {
                                let n = |k: &str| {
                                    c.as_object()
                                        .and_then(|o| crate::codec::field(o, k))?
                                        .as_i64()
                                };
                                Some(Complexity {
                                    before: n("before")?,
                                    after: n("after")?,
                                    query: n("query")?,
                                    reset_in_seconds: n("reset_in_x_seconds")?,
                                })
                            });
                    // SAFETY: `data` points into `arena` and `body`'s heap buffer; both move into
                    // the `Page` with it unchanged, and the `Page` drops `data` first.
                    let data =
                        unsafe { std::mem::transmute::<Borrowed<'_>, Borrowed<'static>>(data) };
                    Ok((data, complexity))
                }
                _ => Err(None),
            }
        }
        Ok(_) => Err(None),
    };
    match read {
        Ok((data, complexity)) => {
            let Raw::Http { body, .. } = raw else {
                unreachable!("matched above")
            };
            Ok((
                Page {
                    data,
                    _arena: arena,
                    _body: body,
                },
                complexity,
            ))
        }
        Err(e) => Err((raw, e)),
    }
}

/// Where [`data_of`] keeps the strings it had to unescape: a few large buffers, each filled and
/// never reallocated, so a string handed out stays where it is until the arena is dropped.
#[derive(Default)]
pub struct Arena {
    chunks: std::cell::RefCell<Vec<String>>,
}

impl Arena {
    const CHUNK: usize = 64 * 1024;

    /// A copy of `s` that lives as long as the arena.
    pub fn alloc<'a>(&'a self, s: &str) -> &'a str {
        let mut chunks = self.chunks.borrow_mut();
        if chunks
            .last()
            .is_none_or(|c| c.capacity() - c.len() < s.len())
        {
            chunks.push(String::with_capacity(s.len().max(Self::CHUNK)));
        }
        let chunk = chunks.last_mut().expect("a chunk was pushed");
        let start = chunk.len();
        // Within the capacity checked above: the buffer does not move.
        chunk.push_str(s);
        let copy: *const str = &chunk[start..];
        // SAFETY: `copy` points into a chunk's heap buffer, which is never reallocated (pushes stay
        // within its capacity), never written over (only appended to) and freed only when the
        // arena is dropped, which `'a` outlives.
        unsafe { &*copy }
    }
}

/// [`data_of`]'s serde visitors: `serde_json_borrow`'s `Value` built with an arena and stacks.
mod borrowed {
    use super::{Arena, Borrowed};
    use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
    use serde_json_borrow::ObjectAsVec;
    use std::cell::RefCell;
    use std::fmt;

    /// Members of the arrays and objects being parsed, innermost last.
    #[derive(Default)]
    pub struct Stacks<'a> {
        values: RefCell<Vec<Borrowed<'a>>>,
        pairs: RefCell<Vec<(&'a str, Borrowed<'a>)>>,
    }

    #[derive(Clone, Copy)]
    pub struct Seed<'s, 'a> {
        pub arena: &'a Arena,
        pub stacks: &'s Stacks<'a>,
    }

    impl<'a> DeserializeSeed<'a> for Seed<'_, 'a> {
        type Value = Borrowed<'a>;
        fn deserialize<D: serde::Deserializer<'a>>(self, d: D) -> Result<Borrowed<'a>, D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'a> Visitor<'a> for Seed<'_, 'a> {
        type Value = Borrowed<'a>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any valid JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Number(v.into()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Number(v.into()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Number(v.into()))
        }
        fn visit_borrowed_str<E>(self, v: &'a str) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Str(v.into()))
        }
        fn visit_str<E>(self, v: &str) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Str(self.arena.alloc(v).into()))
        }
        fn visit_unit<E>(self) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Null)
        }
        fn visit_none<E>(self) -> Result<Borrowed<'a>, E> {
            Ok(Borrowed::Null)
        }
        fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<Borrowed<'a>, A::Error> {
            let start = self.stacks.values.borrow().len();
            while let Some(v) = seq.next_element_seed(self)? {
                self.stacks.values.borrow_mut().push(v);
            }
            let items: Vec<Borrowed<'a>> = self.stacks.values.borrow_mut().drain(start..).collect();
            Ok(Borrowed::Array(items))
        }
        fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<Borrowed<'a>, A::Error> {
            let start = self.stacks.pairs.borrow().len();
            while let Some(k) = map.next_key_seed(Key(self.arena))? {
                let v = map.next_value_seed(self)?;
                self.stacks.pairs.borrow_mut().push((k, v));
            }
            let o: ObjectAsVec<'a> = self.stacks.pairs.borrow_mut().drain(start..).collect();
            Ok(Borrowed::Object(o))
        }
    }

    /// An object's key: borrowed from the body, or unescaped into the arena.
    struct Key<'a>(&'a Arena);

    impl<'a> DeserializeSeed<'a> for Key<'a> {
        type Value = &'a str;
        fn deserialize<D: serde::Deserializer<'a>>(self, d: D) -> Result<&'a str, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'a> Visitor<'a> for Key<'a> {
        type Value = &'a str;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string key")
        }
        fn visit_borrowed_str<E>(self, v: &'a str) -> Result<&'a str, E> {
            Ok(v)
        }
        fn visit_str<E>(self, v: &str) -> Result<&'a str, E> {
            Ok(self.0.alloc(v))
        }
    }
}
