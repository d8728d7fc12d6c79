//! Who may post a webhook: one decision for the HTTP listener and for SQL.
//!
//! Three ways in, checked in this order:
//! 1. **JWT** — an `Authorization` header and a configured signing secret: the token must verify
//!    ([`super::jwt::verify_hs256`]) with audience `webhook_public_url` + the request path. A bad
//!    token is refused even when the path's secret is right.
//! 2. **Secret path** — `/webhook/<secret>`: the secret's SHA-256 must equal the digest of one
//!    board's path secret. Only digests are kept; they are compared in constant time, all of them.
//! 3. **Unauthenticated** — `/webhook` with no secret, allowed only when configured so.
//!
//! Anything else is an [`AuthError`] (HTTP 401).

use super::jwt::{verify_hs256, Claims};
use sha2::{Digest, Sha256};

/// What the receiver trusts. Built by the caller from settings and the secrets table.
#[derive(Clone, Default)]
pub struct AuthConfig {
    /// The monday app's Signing Secret (FACTS §5.2). `None` or empty: JWTs are not checked and an
    /// `Authorization` header is ignored.
    pub signing_secret: Option<Vec<u8>>,
    /// The listener's URL as monday reaches it (scheme, host, port, any path prefix), e.g.
    /// `https://sync.example.com`; a JWT's expected audience is this (without trailing `/`)
    /// followed by the request path.
    pub public_url: Option<String>,
    /// The digests of the boards' secret path segments.
    pub path_secrets: Vec<PathSecret>,
    /// Accept posts to `/webhook` with neither a JWT nor a path secret.
    pub allow_unauthenticated: bool,
}

impl std::fmt::Debug for AuthConfig {
    /// Never prints the signing secret or the digests.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "<set>"),
            )
            .field("public_url", &self.public_url)
            .field("path_secrets", &self.path_secrets.len())
            .field("allow_unauthenticated", &self.allow_unauthenticated)
            .finish()
    }
}

/// One board's secret path segment, kept as its SHA-256 ([`path_secret_digest`]) so the listener
/// never holds the secret itself.
#[derive(Clone, PartialEq, Eq)]
pub struct PathSecret {
    pub digest: [u8; 32],
    pub board_id: i64,
}

impl std::fmt::Debug for PathSecret {
    /// Prints the board only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PathSecret")
            .field("board_id", &self.board_id)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a secret path segment (its UTF-8 bytes).
pub fn path_secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Who a request was accepted from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorized {
    /// A valid JWT signed with the signing secret.
    Jwt(Claims),
    /// The right secret path segment for this board.
    SecretPath { board_id: i64 },
    /// `/webhook` with unauthenticated posts allowed.
    Unauthenticated,
}

/// Why a request is refused (HTTP 401). `reason` is for logs and counters: it never contains a
/// secret, a token or a path secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub reason: String,
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for AuthError {}

fn refuse(reason: impl Into<String>) -> AuthError {
    AuthError {
        reason: reason.into(),
    }
}

/// The paths the listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/webhook` (secret `None`) or `/webhook/<secret>`.
    Webhook { secret: Option<&'a str> },
    /// `/health`.
    Health,
    /// Anything else.
    NotFound,
}

/// Shortest and longest secret path segment.
pub const SECRET_LEN: std::ops::RangeInclusive<usize> = 16..=128;

/// Routes a request target: the path, with any `?query` ignored and one trailing `/` tolerated.
/// `/webhook`, `/webhook/<secret>` (one segment of 16..=128 characters from `[A-Za-z0-9_-]`) and
/// `/health`; everything else (other segments, percent-escapes, `..`, a secret of another length or
/// alphabet) is [`Route::NotFound`].
pub fn route(path: &str) -> Route<'_> {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    match path {
        "/webhook" => return Route::Webhook { secret: None },
        "/health" => return Route::Health,
        _ => {}
    }
    match path.strip_prefix("/webhook/") {
        Some(secret)
            if SECRET_LEN.contains(&secret.len())
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            Route::Webhook {
                secret: Some(secret),
            }
        }
        _ => Route::NotFound,
    }
}

/// Decides whether a POST to `path` (the request target; a query string is ignored) with the
/// given `Authorization` header may deliver events. `now_s` is the current time in epoch seconds.
///
/// An `Authorization` header that is empty or only whitespace counts as absent. See the module
/// doc for the rules and their order.
pub fn authorize(
    cfg: &AuthConfig,
    path: &str,
    authorization: Option<&str>,
    now_s: i64,
) -> Result<Authorized, AuthError> {
    let Route::Webhook { secret } = route(path) else {
        return Err(refuse("not a webhook path"));
    };
    let authorization = authorization.map(str::trim).filter(|a| !a.is_empty());
    let signing_secret = cfg.signing_secret.as_deref().filter(|s| !s.is_empty());

    if let (Some(token), Some(key)) = (authorization, signing_secret) {
        let Some(base) = cfg.public_url.as_deref().filter(|u| !u.trim().is_empty()) else {
            return Err(refuse("webhook_public_url is not set"));
        };
        let path_only = path.split_once('?').map_or(path, |(p, _)| p);
        let aud = format!("{}{}", base.trim().trim_end_matches('/'), path_only);
        return verify_hs256(token, key, &aud, now_s)
            .map(Authorized::Jwt)
            .map_err(|e| refuse(e.to_string()));
    }

    if let Some(secret) = secret {
        let digest = path_secret_digest(secret);
        // Every entry is compared, in constant time, whatever matches.
        let mut found: Option<i64> = None;
        for ps in &cfg.path_secrets {
            if ct_eq(&digest, &ps.digest) && found.is_none() {
                found = Some(ps.board_id);
            }
        }
        return found
            .map(|board_id| Authorized::SecretPath { board_id })
            .ok_or_else(|| refuse("unknown webhook path secret"));
    }

    if cfg.allow_unauthenticated {
        return Ok(Authorized::Unauthenticated);
    }
    Err(refuse(if authorization.is_some() {
        "Authorization header given but no signing secret is set, and no path secret"
    } else {
        "no Authorization header and no path secret"
    }))
}

/// Constant-time equality of two digests.
fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}
