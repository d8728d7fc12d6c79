//! monday's `Authorization` JWT for webhooks (FACTS §5.2): HS256 over the app's signing secret.
//!
//! Only the compact form with an HMAC-SHA256 signature is accepted. The signature is checked
//! (in constant time) before anything in the payload is read; then `exp` (required), `nbf` (if
//! present) and `aud`. `shortLivedToken` is never read out of the payload.

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// base64url, written without padding, read with or without it.
const B64: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Longest token accepted, in bytes (monday's tokens are well under 1 KB).
pub const MAX_TOKEN_BYTES: usize = 8192;

/// Clock skew tolerated on `exp` and `nbf`, in seconds: a token is expired when
/// `exp + LEEWAY_S < now`, not yet valid when `nbf - LEEWAY_S > now`.
pub const LEEWAY_S: i64 = 60;

/// The claims of a verified token that the receiver may use. `shortLivedToken` (an API token
/// monday adds for https endpoints) is deliberately not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `accountId`.
    pub account_id: Option<i64>,
    /// `userId`.
    pub user_id: Option<i64>,
    /// `aud`, a string or an array of strings (as an array).
    pub aud: Vec<String>,
    /// `exp`, epoch seconds.
    pub exp: i64,
    /// `iat`, epoch seconds.
    pub iat: Option<i64>,
}

/// Why a token is refused. `Display` gives a one-line reason with nothing of the token or the
/// secret in it (an `alg` name is quoted, cut to 32 bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwtError {
    /// Not a well-formed compact HS256 JWT; says which part is wrong.
    Malformed(&'static str),
    /// The header's `alg` is not `HS256` (`none` included).
    Algorithm(String),
    /// The signature does not match the signing secret.
    Signature,
    /// `exp` is more than [`LEEWAY_S`] seconds in the past.
    Expired,
    /// `nbf` is more than [`LEEWAY_S`] seconds in the future.
    NotYetValid,
    /// `aud` does not name this endpoint.
    Audience,
    /// The payload has no `exp`.
    MissingExp,
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwtError::Malformed(what) => write!(f, "malformed JWT: {what}"),
            JwtError::Algorithm(alg) => {
                write!(f, "JWT algorithm {alg:?} is not accepted (only HS256)")
            }
            JwtError::Signature => f.write_str("JWT signature does not match the signing secret"),
            JwtError::Expired => f.write_str("JWT has expired"),
            JwtError::NotYetValid => f.write_str("JWT is not valid yet (nbf)"),
            JwtError::Audience => f.write_str("JWT audience is not this endpoint"),
            JwtError::MissingExp => f.write_str("JWT has no exp claim"),
        }
    }
}

impl std::error::Error for JwtError {}

/// Verifies a monday webhook JWT and returns its claims.
///
/// `token` is the `Authorization` header's value: the bare token as monday sends it, or
/// `Bearer <token>`. `expected_aud` is this endpoint's public URL; the token's `aud` (a string or
/// an array) must contain it, compared exactly except that trailing `/`s are ignored on both
/// sides. `now_s` is the current time in epoch seconds.
///
/// Order: length and shape, header (`alg` must be `HS256`; `crit` is refused), the signature
/// (constant time), then the claims: `exp` required ([`LEEWAY_S`] of leeway), `nbf` if present,
/// then `aud`.
pub fn verify_hs256(
    token: &str,
    secret: &[u8],
    expected_aud: &str,
    now_s: i64,
) -> Result<Claims, JwtError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwtError::Malformed("token longer than 8192 bytes"));
    }
    let token = strip_bearer(token.trim());
    if token.is_empty() {
        return Err(JwtError::Malformed("empty token"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed("not three dot-separated parts"));
    };

    let header = decode_json(h64, "header is not base64url", "header is not JSON")?;
    let Some(header) = header.as_object() else {
        return Err(JwtError::Malformed("header is not a JSON object"));
    };
    match header.get("alg") {
        Some(Value::String(alg)) if alg == "HS256" => {}
        Some(Value::String(alg)) => {
            return Err(JwtError::Algorithm(
                crate::codec::truncate_bytes(alg, 32).to_owned(),
            ))
        }
        _ => return Err(JwtError::Malformed("header has no alg")),
    }
    if header.contains_key("crit") {
        return Err(JwtError::Malformed("header has crit extensions"));
    }

    let signature = B64
        .decode(s64)
        .map_err(|_| JwtError::Malformed("signature is not base64url"))?;
    let mut mac = HmacSha256::new_from_slice(secret)
        .map_err(|_| JwtError::Malformed("unusable signing secret"))?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| JwtError::Signature)?;

    // The payload is trusted from here on.
    let payload = decode_json(p64, "payload is not base64url", "payload is not JSON")?;
    let Some(claims) = payload.as_object() else {
        return Err(JwtError::Malformed("payload is not a JSON object"));
    };
    let exp = match claims.get("exp") {
        None | Some(Value::Null) => return Err(JwtError::MissingExp),
        Some(v) => numeric_date(v).ok_or(JwtError::Malformed("exp is not a number"))?,
    };
    if exp.saturating_add(LEEWAY_S) < now_s {
        return Err(JwtError::Expired);
    }
    match claims.get("nbf") {
        None | Some(Value::Null) => {}
        Some(v) => {
            let nbf = numeric_date(v).ok_or(JwtError::Malformed("nbf is not a number"))?;
            if nbf.saturating_sub(LEEWAY_S) > now_s {
                return Err(JwtError::NotYetValid);
            }
        }
    }
    let aud: Vec<String> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let want = expected_aud.trim_end_matches('/');
    if want.is_empty() || !aud.iter().any(|a| a.trim_end_matches('/') == want) {
        return Err(JwtError::Audience);
    }

    Ok(Claims {
        account_id: claims.get("accountId").and_then(crate::sync::id_of),
        user_id: claims.get("userId").and_then(crate::sync::id_of),
        aud,
        exp,
        iat: claims.get("iat").and_then(numeric_date),
    })
}

/// Signs `claims` (any JSON object) as a compact HS256 JWT with header
/// `{"alg":"HS256","typ":"JWT"}`. For tests and tools (the fake monday server signs with it).
pub fn sign_hs256(claims: &Value, secret: &[u8]) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = B64.encode(claims.to_string().as_bytes());
    let signing_input = format!("{header}.{payload}");
    // HMAC accepts keys of any length: new_from_slice cannot fail.
    let signature = match HmacSha256::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(signing_input.as_bytes());
            B64.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{signing_input}.{signature}")
}

/// `Bearer <token>` → `<token>` (scheme case-insensitive); anything else as is.
fn strip_bearer(h: &str) -> &str {
    match h.get(..7) {
        Some(scheme) if scheme.eq_ignore_ascii_case("bearer ") => h[7..].trim_start(),
        _ => h,
    }
}

/// One base64url JWT part as JSON; the errors name the part.
fn decode_json(
    part: &str,
    not_b64: &'static str,
    not_json: &'static str,
) -> Result<Value, JwtError> {
    let bytes = B64.decode(part).map_err(|_| JwtError::Malformed(not_b64))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed(not_json))
}

/// A JWT NumericDate (epoch seconds, possibly with a fraction) as whole seconds (rounded down).
fn numeric_date(v: &Value) -> Option<i64> {
    let n = v.as_number()?;
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // i64::MAX as f64 rounds up to 2^63, so `<` keeps the cast in range.
    (f.is_finite() && f >= i64::MIN as f64 && f < i64::MAX as f64).then(|| f.floor() as i64)
}
