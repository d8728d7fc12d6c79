//! The GraphQL documents monday_sync sends, one file each under `graphql/`. The fake monday server
//! validates every request against the official schema, and `cargo test` validates these files.

const ITEM_FIELDS: &str = include_str!("graphql/item_fields.graphql");
const BOARD_FIELDS: &str = include_str!("graphql/board_fields.graphql");

/// Board name, kind, item count, columns and groups (no items): `track_board`.
pub fn board_meta() -> String {
    [include_str!("graphql/board_meta.graphql"), BOARD_FIELDS].concat()
}

/// The board's metadata and its first page of items in one call: a walk costs ceil(N/500) calls.
pub fn board_page() -> String {
    [
        include_str!("graphql/board_page.graphql"),
        BOARD_FIELDS,
        ITEM_FIELDS,
    ]
    .concat()
}

/// The following pages of a walk (root-level `next_items_page`, cheaper than re-nesting).
pub fn next_page() -> String {
    [include_str!("graphql/next_page.graphql"), ITEM_FIELDS].concat()
}

/// Items by id (at most 100 per call; `limit` must be passed, its default is 25).
pub fn items_by_ids() -> String {
    [include_str!("graphql/items_by_ids.graphql"), ITEM_FIELDS].concat()
}

/// monday's largest page.
pub const PAGE_LIMIT: i64 = 500;
/// monday's `items(ids:)` accepts at most 100 ids.
pub const IDS_PER_CALL: usize = 100;

/// Every document, for validation in tests: (name, text).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        ("BoardMeta", board_meta()),
        ("BoardPage", board_page()),
        ("NextPage", next_page()),
        ("ItemsByIds", items_by_ids()),
    ]
}
