//! Property tests: no input makes the codec panic, and every value it returns is valid JSON.

use super::*;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const TYPES: &[&str] = &[
    "name",
    "text",
    "long_text",
    "numbers",
    "status",
    "color",
    "dropdown",
    "date",
    "timeline",
    "week",
    "hour",
    "people",
    "multiple-person",
    "board_relation",
    "dependency",
    "subtasks",
    "mirror",
    "formula",
    "email",
    "phone",
    "link",
    "location",
    "checkbox",
    "rating",
    "vote",
    "tags",
    "country",
    "world_clock",
    "color_picker",
    "creation_log",
    "last_updated",
    "item_id",
    "time_tracking",
    "file",
    "doc",
    "button",
    "pulse-updated",
    "zzz",
];

const KEYS: &[&str] = &[
    "index",
    "label",
    "text",
    "date",
    "from",
    "to",
    "week",
    "startDate",
    "endDate",
    "hour",
    "minute",
    "personsAndTeams",
    "id",
    "kind",
    "linkedPulseIds",
    "linkedPulseId",
    "ids",
    "labels",
    "chosenValues",
    "email",
    "phone",
    "url",
    "lat",
    "lng",
    "address",
    "checked",
    "rating",
    "voter_ids",
    "tag_ids",
    "countryCode",
    "timezone",
    "color",
    "hex",
    "rgb",
    "r",
    "g",
    "b",
    "updated_at",
    "created_at",
    "item_id",
    "duration",
    "files",
    "value",
    "number",
    "changed_at",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        "[0-9.eE+-]{0,8}".prop_map(Value::String),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn cell_with(value: Value, extra: Value) -> Map<String, Value> {
    let mut m = match extra {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.insert("id".into(), json!("col"));
    m.insert("value".into(), value);
    m
}

fn assert_valid(result: Result<Decoded, DecodeError>) {
    match result {
        Ok(d) => {
            let text = d.to_json();
            serde_json::from_str::<Value>(&text)
                .unwrap_or_else(|e| panic!("invalid JSON output {text:?}: {e}"));
        }
        Err(e) => {
            assert!(e.detail.len() < 400, "detail too long: {}", e.detail.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Arbitrary bytes as the JSON-encoded `value` string.
    #[test]
    fn arbitrary_bytes_never_panic(ty in prop::sample::select(TYPES), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let s = String::from_utf8_lossy(&bytes).into_owned();
        assert_valid(decode(Some(ty), &cell_with(Value::String(s), Value::Null), None));
    }

    /// Arbitrary JSON, double-encoded as monday does, plus arbitrary typed fields and settings.
    #[test]
    fn arbitrary_json_never_panics(ty in prop::sample::select(TYPES), v in arb_json(), extra in arb_json(), settings in arb_json()) {
        assert_valid(decode(Some(ty), &cell_with(Value::String(v.to_string()), extra.clone()), Some(&settings)));
        // Webhook dialect: the same JSON as a real value.
        assert_valid(decode(Some(ty), &cell_with(v, extra), Some(&settings)));
    }

    /// Arbitrary whole items.
    #[test]
    fn arbitrary_items_never_panic(item in arb_json(), columns in arb_json()) {
        let cols = item::Columns::from_json(&columns).ok();
        if let Ok(text) = item::decode_item(&item, cols.as_ref()) {
            serde_json::from_str::<Value>(&text).unwrap();
        }
    }
}
