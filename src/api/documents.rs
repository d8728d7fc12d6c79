//! The GraphQL documents monday_sync sends, one file each under `graphql/`. The fake monday server
//! validates every request against the official schema, and `cargo test` validates these files.

// Each document with its fragments, joined at compile time.

/// Board name, kind, item count, columns and groups (no items): `track_board`.
pub const BOARD_META: &str = concat!(
    include_str!("graphql/board_meta.graphql"),
    include_str!("graphql/board_fields.graphql"),
);

/// The board's metadata and its first page of items in one call: a walk costs ceil(N/500) calls.
pub const BOARD_PAGE: &str = concat!(
    include_str!("graphql/board_page.graphql"),
    include_str!("graphql/board_fields.graphql"),
    include_str!("graphql/item_fields.graphql"),
);

/// The following pages of a walk (root-level `next_items_page`, cheaper than re-nesting).
pub const NEXT_PAGE: &str = concat!(
    include_str!("graphql/next_page.graphql"),
    include_str!("graphql/item_fields.graphql"),
);

/// The first page of a group's walk in a parallel pull: the board's items filtered by group
/// (`query_params`, whose filter the cursor keeps; the following pages are `NEXT_PAGE`).
pub const GROUP_PAGE: &str = concat!(
    include_str!("graphql/group_page.graphql"),
    include_str!("graphql/item_fields.graphql"),
);

/// Items by id (at most 100 per call; `limit` must be passed, its default is 25).
pub const ITEMS_BY_IDS: &str = concat!(
    include_str!("graphql/items_by_ids.graphql"),
    include_str!("graphql/item_fields.graphql"),
);

/// A board (and its subitems board) with its activity log since the watermark, first page: the
/// metadata comes along, so a refresh that finds nothing costs one call.
pub const BOARD_CHANGES: &str = concat!(
    include_str!("graphql/board_changes.graphql"),
    include_str!("graphql/board_fields.graphql"),
);

/// The following pages of the activity log (page-based; monday reaches 10,000 entries at most).
pub const ACTIVITY_PAGE: &str = include_str!("graphql/activity_page.graphql");

/// Activity-log entries asked per page (monday documents no maximum; a refresh reads on until an
/// empty page, so a lower cap would cost pages, not entries).
pub const LOG_PAGE_LIMIT: i64 = 500;
/// How many entries of one activity_logs query monday lets pagination reach.
pub const LOG_REACH: i64 = 10_000;

/// monday's largest page.
pub const PAGE_LIMIT: i64 = 500;
/// monday's `items(ids:)` accepts at most 100 ids.
pub const IDS_PER_CALL: usize = 100;

/// The fields of an item a pull reads: write-back's mutations answer each item with them.
pub const ITEM_FIELDS: &str = include_str!("graphql/item_fields.graphql");

/// A board's webhooks on monday (`subscribe_board` creates what is missing).
pub const WEBHOOKS: &str = include_str!("graphql/webhooks.graphql");
/// The account's users, a page at a time (every status: deactivated users are kept, marked).
pub const ACCOUNT_USERS: &str = include_str!("graphql/account_users.graphql");
/// Users per page of `users` (monday's maximum).
pub const USERS_PER_PAGE: i64 = 1_000;
/// The account's workspaces (every state) and folders, a page at a time.
pub const ACCOUNT_WORKSPACES: &str = include_str!("graphql/account_workspaces.graphql");
pub const ACCOUNT_FOLDERS: &str = include_str!("graphql/account_folders.graphql");
/// Workspaces and folders per page.
pub const SPACES_PER_PAGE: i64 = 100;
/// The account's teams (with their members) and tags, in one call.
pub const ACCOUNT_REFS: &str = include_str!("graphql/account_refs.graphql");
/// One webhook subscription (monday POSTs a challenge to the URL before it answers).
pub const CREATE_WEBHOOK: &str = include_str!("graphql/create_webhook.graphql");
pub const DELETE_WEBHOOK: &str = include_str!("graphql/delete_webhook.graphql");

/// A board's updates (comments) with their replies and files, a cursor page at a time: the first
/// pull of `enable_updates`, and `pull_updates(board, full => true)`.
pub const BOARD_UPDATES: &str = concat!(
    include_str!("graphql/board_updates.graphql"),
    include_str!("graphql/update_fields.graphql"),
    include_str!("graphql/asset_fields.graphql"),
);

/// The updates created since an instant, a page at a time (newest first): the incremental pull.
pub const BOARD_UPDATES_SINCE: &str = concat!(
    include_str!("graphql/board_updates_since.graphql"),
    include_str!("graphql/update_fields.graphql"),
    include_str!("graphql/asset_fields.graphql"),
);

/// Files by id (those a file column names): name, extension, size, the `url` that needs a login
/// (never `public_url`, whose signature is a credential).
pub const ASSETS_BY_IDS: &str = concat!(
    include_str!("graphql/assets_by_ids.graphql"),
    include_str!("graphql/asset_fields.graphql"),
);

/// Updates asked per page (monday's maximum for `updates`).
pub const UPDATES_PER_PAGE: i64 = 100;

/// A workspace (name, state) and a page of its active boards: `track_workspace` and the worker's
/// look for boards created there since.
pub const WORKSPACE_BOARDS: &str = include_str!("graphql/workspace_boards.graphql");

/// Boards asked per page of a workspace.
pub const BOARDS_PER_PAGE: i64 = 100;

/// Entries a refresh round's probe asks per board (its document is built per round, in
/// `pg/round.rs`): a board with fewer new entries than this is settled by the probe alone (idle,
/// or its changed items fetched with the other boards'); one with more refreshes on its own.
pub const PROBE_LOG_LIMIT: i64 = 100;
