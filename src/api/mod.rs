//! monday's GraphQL API: the documents we send, the HTTP client (ureq on a helper thread, so every
//! request and every wait stays cancellable), and the rules that turn monday's answers — data,
//! rate limits, outages, rejections — into data, a wait, a retry or a clear error.
//!
//! No pgrx here: the caller passes a `poll` closure (in a backend, `check_for_interrupts!`) that
//! runs every 20 ms while a request is in flight or a wait is under way.

pub mod client;
pub mod documents;

#[cfg(test)]
mod tests;

pub use client::{ApiError, ApiErrorKind, CallRecord, Client, Complexity, Config, Hooks, Pending};
