//! Which databases one server's launcher serves, and per-database setting values (pure logic; the
//! launcher and the workers are in `pg::worker`).
//!
//! `monday_sync.databases` names the databases: empty = the one `monday_sync.database` names (the
//! 0.2.0 behaviour), `*` = every database that allows connections and is not a template (a
//! database without the extension costs one short-lived check a minute), or a comma-separated
//! list. Settings that must differ per database (the webhook listener's address and public URL)
//! take either one value — for the first database served — or `db=value` entries.

/// The databases a launcher serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// These databases, in this order (the first takes plain per-database values).
    Named(Vec<String>),
    /// Every database that allows connections and is not a template.
    All,
}

/// Most databases one server's launcher serves (each with its own workers).
pub const MAX_DATABASES: usize = 16;

/// `monday_sync.databases` (None or empty: `monday_sync.database` alone). Names are trimmed;
/// duplicates and empty entries are dropped; `"quoted"` names keep commas and spaces.
pub fn served(databases: Option<&str>, database: &str) -> Served {
    let v = databases.map(str::trim).unwrap_or("");
    if v.is_empty() {
        return Served::Named(vec![database.to_string()]);
    }
    if v == "*" {
        return Served::All;
    }
    let mut names: Vec<String> = Vec::new();
    for n in split_list(v) {
        if !n.is_empty() && !names.contains(&n) {
            names.push(n);
        }
    }
    if names.is_empty() {
        names.push(database.to_string());
    }
    Served::Named(names)
}

/// Splits a comma-separated list; `"…"` quotes a name (with `""` for a quote inside).
fn split_list(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => {
                if !quoted && !was_quoted && cur.trim().is_empty() {
                    cur.clear();
                }
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                out.push(if was_quoted {
                    cur.clone()
                } else {
                    cur.trim().to_string()
                });
                cur.clear();
                was_quoted = false;
            }
            c if !quoted && was_quoted && c.is_whitespace() => {}
            c => cur.push(c),
        }
    }
    out.push(if was_quoted {
        cur
    } else {
        cur.trim().to_string()
    });
    out
}

impl Served {
    /// The database that takes a setting's plain (not `db=value`) value: the first named one, or
    /// `monday_sync.database` when every database is served.
    pub fn first<'a>(&'a self, database: &'a str) -> &'a str {
        match self {
            Served::Named(n) => n.first().map(String::as_str).unwrap_or(database),
            Served::All => database,
        }
    }
}

/// A per-database setting's value for `db`: `db=value` entries of the comma-separated list, or
/// the plain value when `db` is the first database served (`is_first`). An entry is `name=value`
/// when the text before its first `=` has no `:` or `/` (so `https://h/x?a=b` stays a plain URL).
pub fn for_database(setting: &str, db: &str, is_first: bool) -> Option<String> {
    let mut plain = None;
    for entry in setting.split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        match entry.split_once('=') {
            Some((name, value)) if !name.contains([':', '/']) => {
                let name = name.trim().trim_matches('"');
                if name == db {
                    let value = value.trim();
                    return (!value.is_empty()).then(|| value.to_string());
                }
            }
            _ => {
                if plain.is_none() {
                    plain = Some(entry.to_string());
                }
            }
        }
    }
    if is_first {
        plain
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn served_databases() {
        assert_eq!(
            served(None, "postgres"),
            Served::Named(vec!["postgres".into()])
        );
        assert_eq!(served(Some("  "), "app"), Served::Named(vec!["app".into()]));
        assert_eq!(served(Some(" * "), "app"), Served::All);
        assert_eq!(
            served(Some("sales, ops,,sales ,\"my, db\""), "app"),
            Served::Named(vec!["sales".into(), "ops".into(), "my, db".into()])
        );
        assert_eq!(
            served(Some("\"a\"\"b\""), "app"),
            Served::Named(vec!["a\"b".into()])
        );
        assert_eq!(served(Some(","), "app"), Served::Named(vec!["app".into()]));
        assert_eq!(served(Some("b,a"), "x").first("x"), "b");
        assert_eq!(Served::All.first("x"), "x");
    }

    #[test]
    fn per_database_values() {
        let s = "127.0.0.1:8787";
        assert_eq!(for_database(s, "a", true).as_deref(), Some(s));
        assert_eq!(for_database(s, "b", false), None);
        let s = "sales=127.0.0.1:8787, ops = 127.0.0.1:8788";
        assert_eq!(
            for_database(s, "ops", false).as_deref(),
            Some("127.0.0.1:8788")
        );
        assert_eq!(
            for_database(s, "sales", true).as_deref(),
            Some("127.0.0.1:8787")
        );
        assert_eq!(for_database(s, "other", true), None);
        // A URL with a query string is a plain value, not a db=value entry.
        let u = "https://db.example.com/hook?x=1";
        assert_eq!(for_database(u, "a", true).as_deref(), Some(u));
        let mixed = "https://a.example.com/m, ops=https://b.example.com/m";
        assert_eq!(
            for_database(mixed, "app", true).as_deref(),
            Some("https://a.example.com/m")
        );
        assert_eq!(
            for_database(mixed, "ops", false).as_deref(),
            Some("https://b.example.com/m")
        );
        assert_eq!(for_database("ops=", "ops", false), None);
        assert_eq!(for_database("", "ops", true), None);
    }
}
