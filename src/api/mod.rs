//! monday's GraphQL API: the documents we send, the HTTP client (ureq on a helper thread, so every
//! request and every wait stays cancellable), and the rules that turn monday's answers — data,
//! rate limits, outages, rejections — into data, a wait, a retry or a clear error.
//!
//! No pgrx here: the caller passes `Hooks` — `poll` (in a backend, `check_for_interrupts!`) runs
//! every 20 ms while a request is in flight or a wait is under way; `before` and `after` surround
//! each call (in a backend, the shared budget). A bare `FnMut()` is a `Hooks` that only polls.

pub mod client;
pub mod documents;

#[cfg(test)]
mod tests;

pub use client::{ApiError, ApiErrorKind, CallRecord, Client, Complexity, Config, Hooks, Pending};
