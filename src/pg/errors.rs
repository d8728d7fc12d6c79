//! Errors → Postgres errors with SQLSTATE, DETAIL and HINT: the SQL error type every function
//! returns (`R`), its constructor (`err`), and the codec's and monday API's errors converted.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use crate::api::{ApiError, ApiErrorKind};
use crate::codec::{DecodeError, ErrorCode};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

pub fn report(e: DecodeError) -> ErrorReport {
    let code = match e.code {
        ErrorCode::Malformed => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        ErrorCode::WrongShape => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
    };
    ErrorReport::new(code, e.message, "monday_sync")
        .set_detail(e.detail)
        .set_hint(e.hint)
}

pub(crate) type R<T> = Result<T, ErrorReport>;

pub(super) fn err(
    code: PgSqlErrorCode,
    message: impl Into<String>,
    detail: impl Into<String>,
    hint: impl Into<String>,
) -> ErrorReport {
    ErrorReport::new(code, message.into(), "monday_sync")
        .set_detail(detail.into())
        .set_hint(hint.into())
}

pub(super) fn not_null<T>(v: Option<T>, name: &str) -> R<T> {
    v.ok_or_else(|| {
        err(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("{name} must not be NULL"),
            format!("{name} was NULL"),
            "Pass a value; see \\df+ monday_sync.*",
        )
    })
}

/// monday's answer → an SQL error with a SQLSTATE, naming the board when there is one.
pub(super) fn api_err(e: ApiError, what: &str) -> ErrorReport {
    let code = match e.kind {
        ApiErrorKind::TokenRejected => PgSqlErrorCode::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
        ApiErrorKind::Unauthorized => PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        ApiErrorKind::NotFound => PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
        ApiErrorKind::DailyLimit | ApiErrorKind::WaitTooLong => {
            PgSqlErrorCode::ERRCODE_CONFIGURATION_LIMIT_EXCEEDED
        }
        ApiErrorKind::Unavailable => PgSqlErrorCode::ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
        ApiErrorKind::CursorExpired | ApiErrorKind::TooComplex | ApiErrorKind::Api => {
            PgSqlErrorCode::ERRCODE_FDW_ERROR
        }
    };
    err(code, format!("{what}: {}", e.message), e.detail, e.hint)
}

/// A SQLSTATE as its five characters (`PgSqlErrorCode` packs them six bits each, like
/// Postgres' `MAKE_SQLSTATE`).
pub(crate) fn sqlstate(code: PgSqlErrorCode) -> String {
    let mut v = code as i32;
    (0..5)
        .map(|_| {
            let c = (((v & 0x3F) as u8) + b'0') as char;
            v >>= 6;
            c
        })
        .collect()
}
