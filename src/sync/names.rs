//! SQL names for monday titles: lower-case ASCII slugs, unique within a table, never one of the
//! fixed columns, at most 63 bytes (NAMEDATALEN - 1). Stable once chosen: the mapping table keeps them.

use crate::codec::truncate_bytes;

/// The columns every synced table has; a board column never takes one of these names.
pub const FIXED_COLUMNS: &[&str] = &[
    "item_id",
    "name",
    "group_id",
    "group_title",
    "state",
    "parent_item_id",
    "created_at",
    "updated_at",
    "raw",
    "synced_at",
];

const MAX: usize = 63;

/// "Due date (UTC)" → `due_date_utc`; "Überprüft?" → `uberpruft`; "2026 plan" → `c_2026_plan`.
pub fn slug(title: &str) -> String {
    let mut out = String::new();
    let mut pending_sep = false;
    for ch in title.chars().flat_map(fold) {
        if ch.is_ascii_alphanumeric() {
            if pending_sep && !out.is_empty() {
                out.push('_');
            }
            pending_sep = false;
            out.push(ch.to_ascii_lowercase());
        } else {
            pending_sep = true;
        }
        if out.len() >= MAX {
            break;
        }
    }
    if out.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.insert_str(0, "c_");
    }
    out.truncate(MAX);
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// Latin letters with diacritics → their base letter, so "Größe" reads `grosse` rather than `gr_e`.
fn fold(c: char) -> impl Iterator<Item = char> {
    let s: &str = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' => "y",
        'ß' => "ss",
        _ => "",
    };
    let keep = if s.is_empty() { Some(c) } else { None };
    s.chars().chain(keep)
}

/// A name for a new column: the slug of its title (or of its id when the title has no letters),
/// suffixed `_2`, `_3`, … until it differs from every fixed and taken name.
pub fn unique_column_name(title: &str, column_id: &str, taken: &[String]) -> String {
    let mut base = slug(title);
    if base.is_empty() {
        base = slug(column_id);
    }
    if base.is_empty() {
        base = "column".into();
    }
    let clash = |n: &str| FIXED_COLUMNS.contains(&n) || taken.iter().any(|t| t == n);
    if !clash(&base) {
        return base;
    }
    // Ends: `taken` is finite.
    let mut k = 2;
    loop {
        let cand = with_suffix(&base, k);
        if !clash(&cand) {
            return cand;
        }
        k += 1;
    }
}

/// `<name>_<k>`, the name cut (on a character boundary) so that the whole is at most 63 bytes.
pub fn with_suffix(name: &str, k: u32) -> String {
    let suffix = format!("_{k}");
    format!("{}{suffix}", truncate_bytes(name, MAX - suffix.len()))
}

/// The table of a board's subitems: `<table>_subitems`, the table name cut (on a character
/// boundary) so that the whole is at most 63 bytes. Never equal to `table`, which Postgres'
/// truncation of a long `<table>_subitems` would make it.
/// The history table's name for a typed table: `<table>_history`, cut to fit 63 bytes.
pub fn history_table_name(table: &str) -> String {
    suffixed_table_name(table, "_history")
}

/// `<table><suffix>` within Postgres' 63-byte names (the table's name is cut, not the suffix).
pub fn suffixed_table_name(table: &str, suffix: &str) -> String {
    format!("{}{suffix}", truncate_bytes(table, MAX - suffix.len()))
}

pub fn subitems_table_name(table: &str) -> String {
    const SUFFIX: &str = "_subitems";
    let base = truncate_bytes(table, MAX - SUFFIX.len());
    let name = format!("{base}{SUFFIX}");
    if name != table {
        return name;
    }
    // `table` is 63 bytes ending in `_subitems`: cut one character more.
    let base = truncate_bytes(base, base.len().saturating_sub(1));
    format!("{base}{SUFFIX}")
}

/// The default table name for a board: the slug of its name, or `board_<id>`; at most 63 bytes.
pub fn table_name(board_name: &str, board_id: i64) -> String {
    let s = slug(board_name);
    if s.is_empty() {
        format!("board_{board_id}")
    } else {
        s
    }
}
