//! monday_sync: monday.com boards as typed PostgreSQL tables, synced from inside the database.
//!
//! `codec`, `api`, `sync` and `webhook` are pure Rust (no pgrx) and unit tested on their own; `pg`
//! is the SQL glue.

use pgrx::prelude::*;

pub mod api;
pub mod codec;
pub mod listener;
pub mod multidb;
pub mod pg;
pub mod sync;
pub mod thread;
pub mod webhook;
pub mod writeback;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/comments.sql", name = "comments", finalize);

/// Settings are defined when the library loads (first use, or shared_preload_libraries).
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    pg::settings::init();
    pg::progress::init();
    pg::budget::init();
    pg::worker::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
