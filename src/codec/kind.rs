//! monday column types, their legacy spellings, and the Postgres type each decodes to.

/// How a column type decodes. Types that share a decoder share a variant; every type monday has
/// not told us about (and those with no useful scalar form) is [`Kind::Json`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Name,
    Text,
    LongText,
    Numbers,
    Status,
    Dropdown,
    Date,
    Timeline,
    Week,
    Hour,
    People,
    /// board_relation and dependency: linked item ids.
    Relation,
    Subtasks,
    /// mirror and formula: the `display_value` text.
    DisplayValue,
    Email,
    Phone,
    Link,
    Location,
    Checkbox,
    Rating,
    Vote,
    Tags,
    Country,
    WorldClock,
    ColorPicker,
    CreationLog,
    LastUpdated,
    ItemId,
    TimeTracking,
    /// file, doc, direct_doc, button, and every other or unknown type: the parsed value as is.
    Json,
}

impl Kind {
    /// Maps a `ColumnType` enum name, or a legacy / webhook name (`color`, `multiple-person`, `tag`,
    /// `pulse-updated`, …), to its decoder. Case and `-`/`_` are not significant. Unknown names
    /// decode as jsonb: a type monday adds tomorrow is not an error.
    pub fn from_name(name: &str) -> Kind {
        // The API's own spelling (lower case, `_`) needs no normalising copy.
        if name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            return Self::from_normalized(name.as_bytes());
        }
        let mut buf = [0u8; 32];
        let n = name.trim();
        if n.len() > buf.len() {
            return Kind::Json;
        }
        for (dst, src) in buf.iter_mut().zip(n.bytes()) {
            *dst = if src == b'-' {
                b'_'
            } else {
                src.to_ascii_lowercase()
            };
        }
        Self::from_normalized(&buf[..n.len()])
    }

    fn from_normalized(name: &[u8]) -> Kind {
        match name {
            b"name" => Kind::Name,
            b"text" => Kind::Text,
            b"long_text" => Kind::LongText,
            b"numbers" | b"numeric" | b"number" => Kind::Numbers,
            b"status" | b"color" => Kind::Status,
            b"dropdown" => Kind::Dropdown,
            b"date" => Kind::Date,
            b"timeline" | b"timerange" => Kind::Timeline,
            b"week" => Kind::Week,
            b"hour" => Kind::Hour,
            b"people" | b"multiple_person" | b"person" => Kind::People,
            b"board_relation" | b"dependency" => Kind::Relation,
            b"subtasks" | b"subitems" => Kind::Subtasks,
            b"mirror" | b"lookup" | b"formula" => Kind::DisplayValue,
            b"email" => Kind::Email,
            b"phone" => Kind::Phone,
            b"link" => Kind::Link,
            b"location" => Kind::Location,
            b"checkbox" | b"boolean" => Kind::Checkbox,
            b"rating" => Kind::Rating,
            b"vote" | b"votes" => Kind::Vote,
            b"tags" | b"tag" => Kind::Tags,
            b"country" => Kind::Country,
            b"world_clock" => Kind::WorldClock,
            b"color_picker" => Kind::ColorPicker,
            b"creation_log" | b"pulse_log" => Kind::CreationLog,
            b"last_updated" | b"pulse_updated" => Kind::LastUpdated,
            b"item_id" | b"pulse_id" => Kind::ItemId,
            b"time_tracking" | b"duration" => Kind::TimeTracking,
            _ => Kind::Json,
        }
    }

    /// Whether decoding reads the column's settings (status index and dropdown id → label).
    pub fn uses_settings(self) -> bool {
        matches!(self, Kind::Status | Kind::Dropdown)
    }

    /// The default Postgres type of a decoded value, as SQL type text.
    pub fn sql_type(self) -> &'static str {
        match self {
            Kind::Name
            | Kind::Text
            | Kind::LongText
            | Kind::Status
            | Kind::DisplayValue
            | Kind::Email
            | Kind::Phone
            | Kind::Link
            | Kind::Country
            | Kind::WorldClock
            | Kind::ColorPicker => "text",
            Kind::Numbers => "numeric",
            Kind::Dropdown => "text[]",
            Kind::Date => "date",
            Kind::Timeline | Kind::Week => "daterange",
            Kind::Hour => "time",
            Kind::People | Kind::Relation | Kind::Subtasks | Kind::Tags => "bigint[]",
            Kind::Location | Kind::Json => "jsonb",
            Kind::Checkbox => "boolean",
            Kind::Rating | Kind::Vote => "integer",
            Kind::CreationLog | Kind::LastUpdated => "timestamptz",
            Kind::ItemId => "bigint",
            Kind::TimeTracking => "interval",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every ColumnType of the 2026-07 schema resolves, and legacy names land on the same decoder.
    #[test]
    fn every_enum_name_resolves() {
        let table = [
            ("auto_number", "jsonb"),
            ("board_relation", "bigint[]"),
            ("button", "jsonb"),
            ("checkbox", "boolean"),
            ("color_picker", "text"),
            ("country", "text"),
            ("creation_log", "timestamptz"),
            ("date", "date"),
            ("dependency", "bigint[]"),
            ("doc", "jsonb"),
            ("dropdown", "text[]"),
            ("email", "text"),
            ("file", "jsonb"),
            ("formula", "text"),
            ("group", "jsonb"),
            ("hour", "time"),
            ("integration", "jsonb"),
            ("item_assignees", "jsonb"),
            ("item_id", "bigint"),
            ("last_updated", "timestamptz"),
            ("link", "text"),
            ("location", "jsonb"),
            ("long_text", "text"),
            ("mirror", "text"),
            ("numbers", "numeric"),
            ("people", "bigint[]"),
            ("phone", "text"),
            ("progress", "jsonb"),
            ("rating", "integer"),
            ("status", "text"),
            ("tags", "bigint[]"),
            ("team", "jsonb"),
            ("text", "text"),
            ("timeline", "daterange"),
            ("time_tracking", "interval"),
            ("vote", "integer"),
            ("week", "daterange"),
            ("world_clock", "text"),
            ("unsupported", "jsonb"),
            ("name", "text"),
            ("person", "bigint[]"),
            ("direct_doc", "jsonb"),
            ("subtasks", "bigint[]"),
        ];
        for (name, ty) in table {
            assert_eq!(Kind::from_name(name).sql_type(), ty, "{name}");
        }
    }

    #[test]
    fn legacy_names() {
        assert_eq!(Kind::from_name("color"), Kind::Status);
        assert_eq!(Kind::from_name("multiple-person"), Kind::People);
        assert_eq!(Kind::from_name("tag"), Kind::Tags);
        assert_eq!(Kind::from_name("pulse-updated"), Kind::LastUpdated);
        assert_eq!(Kind::from_name("pulse-log"), Kind::CreationLog);
        assert_eq!(Kind::from_name("long-text"), Kind::LongText);
        assert_eq!(Kind::from_name("numeric"), Kind::Numbers);
        assert_eq!(Kind::from_name("boolean"), Kind::Checkbox);
        assert_eq!(Kind::from_name("lookup"), Kind::DisplayValue);
        assert_eq!(Kind::from_name("board-relation"), Kind::Relation);
        assert_eq!(Kind::from_name("World-Clock"), Kind::WorldClock);
        assert_eq!(Kind::from_name("some_type_monday_adds_in_2027"), Kind::Json);
        assert_eq!(Kind::from_name(&"x".repeat(1000)), Kind::Json);
    }
}
