//! SPI helpers every room shares: run a statement, read one value, quote an identifier, run code
//! in a subtransaction. Postgres errors raised inside SPI propagate as errors; identifiers go into
//! SQL text through `q` (`quote_identifier`), and values always travel as parameters.

use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::{quote_identifier, Spi};

pub(super) fn spi_fail(e: pgrx::spi::SpiError) -> ! {
    pgrx::error!("monday_sync: SPI failed: {e}")
}

/// Runs a statement; returns the number of rows it processed.
pub(super) fn exec(sql: &str, args: &[DatumWithOid]) -> u64 {
    Spi::connect_mut(|c| c.update(sql, None, args).map(|t| t.len() as u64))
        .unwrap_or_else(|e| spi_fail(e))
}

/// First column of the first row, or None when there is no row (or it is NULL).
pub(super) fn one<T: FromDatum + IntoDatum>(sql: &str, args: &[DatumWithOid]) -> Option<T> {
    Spi::connect_mut(|c| {
        let t = c.update(sql, Some(1), args)?;
        if t.is_empty() {
            return Ok(None);
        }
        t.first().get_one::<T>()
    })
    .unwrap_or_else(|e| spi_fail(e))
}

pub(super) fn q(ident: &str) -> String {
    quote_identifier(ident)
}

/// Runs `f` in a subtransaction: its ERROR is rolled back and returned as its message.
pub(super) fn in_subtransaction(f: impl FnOnce()) -> Result<(), String> {
    in_subtransaction_coded(f).map_err(|(_, m)| m)
}

/// [`in_subtransaction`], with the error's SQLSTATE.
pub(super) fn in_subtransaction_coded(
    f: impl FnOnce(),
) -> Result<(), (pgrx::PgSqlErrorCode, String)> {
    use pgrx::pg_sys::panic::CaughtError;
    let (ctx, owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    unsafe { pg_sys::BeginInternalSubTransaction(std::ptr::null()) };
    let r = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        f();
        Ok(())
    }))
    .catch_others(|e| {
        Err(match e {
            CaughtError::PostgresError(r)
            | CaughtError::ErrorReport(r)
            | CaughtError::RustPanic { ereport: r, .. } => {
                (r.sql_error_code(), r.message().to_string())
            }
        })
    })
    .execute();
    unsafe {
        match r {
            Ok(()) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(ctx);
        pg_sys::CurrentResourceOwner = owner;
    }
    r
}
