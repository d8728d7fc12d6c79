//! The thin pgrx glue that exposes the pure modules as SQL.

pub mod budget;
pub mod codec;
pub mod errors;
pub mod jsonb;
pub mod progress;
pub mod refresh;
pub mod security;
pub mod settings;
pub mod sync;
pub mod webhooks;
pub mod worker;
