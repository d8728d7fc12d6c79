//! The thin pgrx glue that exposes the pure modules as SQL.

/// One API budget for the whole server, in shared memory (`monday_sync.api_budget`).
/// The account: users, teams, tags (`pull_account`, `user_names`, `tag_names`).
pub mod account;
pub mod budget;
/// Tokens: `set_token`, `monday_sync.token_file`, and the API client built from them.
pub mod client;
/// The column codec as SQL functions (`decode`, `decode_item`, `column_sql_type`).
pub mod codec;
/// Errors → SQLSTATE, DETAIL and HINT: the SQL error type and its constructors.
pub mod errors;
/// History of item values: `enable_history`, the history trigger, `as_of`.
pub mod history;
/// Borrowed jsonb in, jsonb out without a text round trip; the `regtype`/`regclass` SQL types.
pub mod jsonb;
/// The column mapping: a board's mapped columns and `map_column`.
pub mod mapping;
/// Pull progress in shared memory (`monday_sync.pull_progress`).
pub mod progress;
/// Pulls: the walk of a board (`pull_board`), one item (`pull_item`), transaction steps (`Steps`).
pub mod pull;
/// Incremental refresh from monday's activity log (`refresh_board`).
pub mod refresh;
/// Refresh rounds: one call tells which of many due boards changed.
pub mod round;
/// Run history: `monday_sync.sync_runs` and `monday_sync.api_calls`, and a run's figures (`Stats`).
pub mod runs;
/// The security boundary: typed tables by OID, writes as the table's owner, the pinned search path.
pub mod security;
/// Settings (`monday_sync.*` GUCs).
pub mod settings;
/// SPI helpers every room shares: run a statement, read one value, quote, subtransactions.
pub mod spi;
/// Tracking: `track_board`, reconciling the mapping and the typed table with the board, table DDL.
pub mod track;
/// The end of a board's sync: `untrack_board`.
pub mod untrack;
/// Updates (comments, with replies) and files of a board: `enable_updates`, `pull_updates`.
pub mod updates;
/// Real time: monday webhooks received (listener, `receive_webhook`), stored and applied.
pub mod webhooks;
/// The background worker and its job queue.
pub mod worker;
/// Whole workspaces: `track_workspace`, and boards created there later.
pub mod workspace;
/// Writing rows into a typed table as its owner: the upsert, `Writer`, marking deleted, reading back.
pub mod writeback;

pub mod writer;
