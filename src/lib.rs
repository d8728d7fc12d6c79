//! monday_sync: monday.com boards as typed PostgreSQL tables, synced from inside the database.
//!
//! `codec` is pure Rust (no pgrx) and unit tested on its own; `pg` is the SQL glue.

use pgrx::prelude::*;

pub mod api;
pub mod codec;
pub mod sync;
pub mod pg;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/comments.sql", name = "comments", finalize);

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
