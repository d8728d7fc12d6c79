//! The thin pgrx glue that exposes the pure modules as SQL.

pub mod codec;
pub mod errors;
pub mod jsonb;
pub mod progress;
pub mod settings;
pub mod sync;
