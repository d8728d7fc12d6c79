//! Codec errors → Postgres errors with SQLSTATE, DETAIL and HINT.

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
