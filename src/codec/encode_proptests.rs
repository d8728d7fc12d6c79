//! Property tests of [`encode`]: for every writable type, typed values `v` (the `to_jsonb` text
//! of the column's SQL type) come back from `decode(store(encode(v)))` unchanged, through the
//! monday model of `encode_tests`; and no input makes `encode` panic.

use super::countries::COUNTRIES;
use super::encode::encode;
use super::encode_tests::{assert_round_trip, store, typed_input, Column};
use super::*;
use proptest::prelude::*;
use serde_json::{json, Value};

/// 0001-01-01 and 9999-12-31 as days since 1970-01-01: the dates monday and the codec hold.
const FIRST_DAY: i64 = -719_162;
const LAST_DAY: i64 = 2_932_896;

fn day(d: i64) -> Date {
    Date::from_days_since_epoch(d)
}

/// A JSON string literal.
fn lit(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A `bigint[]` as `to_jsonb` prints it.
fn id_array(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!("[{}]", ids.join(", "))
}

/// Canonical `numeric` text, as `to_jsonb(numeric)` prints it.
fn arb_numeric() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        "0|[1-9][0-9]{0,24}",
        prop::option::of("[0-9]{1,12}"),
    )
        .prop_map(|(neg, int, frac)| {
            let text = format!(
                "{}{int}{}",
                if neg { "-" } else { "" },
                frac.map(|f| format!(".{f}")).unwrap_or_default()
            );
            match numeric::parse(&text) {
                Some(numeric::Numeric::Finite(n)) => n.to_string(),
                other => panic!("{text} gave {other:?}"),
            }
        })
}

/// Distinct monday ids, in the order given.
fn arb_ids() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(prop_oneof![1i64..100_000, 1i64..=i64::MAX], 1..6).prop_map(|mut v| {
        let mut seen = std::collections::HashSet::new();
        v.retain(|id| seen.insert(*id));
        v
    })
}

/// A column's labels: distinct, non-empty, with ids as monday numbers them (status keeps 5 for
/// its empty default label).
fn arb_labels() -> impl Strategy<Value = Vec<(i64, String)>> {
    prop::collection::btree_set("[A-Za-z][A-Za-z0-9 ,&'-]{0,14}", 1..10).prop_map(|set| {
        set.into_iter()
            .enumerate()
            .map(|(i, l)| (if i >= 5 { i as i64 + 1 } else { i as i64 }, l))
            .collect()
    })
}

fn arb_location() -> impl Strategy<Value = String> {
    let coord = |max: i64, closed: bool| {
        (-max..=max, prop::option::of("[0-9]{1,7}")).prop_map(move |(int, frac)| {
            // The closed end (lng ±180) takes no fraction; the open one (lat ±90) is never hit.
            let frac = if int.abs() == max && closed {
                None
            } else {
                frac
            };
            let text = format!("{int}{}", frac.map(|f| format!(".{f}")).unwrap_or_default());
            match numeric::parse(&text) {
                Some(numeric::Numeric::Finite(n)) => n.to_string(),
                other => panic!("{text} gave {other:?}"),
            }
        })
    };
    (
        coord(89, false),
        coord(180, true),
        prop::option::of("\\PC{1,30}"),
    )
        .prop_map(|(lat, lng, address)| {
            let address = address.map_or("null".to_string(), |a| lit(&a));
            format!(r#"{{"lat": {lat}, "lng": {lng}, "address": {address}}}"#)
        })
}

/// encode → monday stores it → the API cell without its `text`, so labels resolve through the
/// column settings alone (the decoder's other path).
fn round_trip_without_text(column_type: &str, v: &str, column: &mut Column) {
    let settings = column.encode_settings(column_type);
    let sent = encode(column_type, &typed_input(v), Some(&settings)).expect("encodes");
    let mut cell = store(column_type, &sent, column).expect("monday takes it");
    cell.remove("text");
    let got = decode(
        Some(column_type),
        &cell,
        Some(&column.settings(column_type)),
    )
    .expect("decodes");
    let got: Value = serde_json::from_str(&got.to_json()).expect("JSON");
    assert_eq!(got, serde_json::from_str::<Value>(v).expect("JSON"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn texts_round_trip(s in "\\PC{1,60}", long in "(\\PC|\n){1,400}") {
        assert_round_trip("name", &lit(&s), &mut Column::default());
        assert_round_trip("text", &lit(&s), &mut Column::default());
        assert_round_trip("long_text", &lit(&long), &mut Column::default());
    }

    #[test]
    fn numbers_round_trip(n in arb_numeric()) {
        // As exact text (the contract), and as a JSON number wherever an f64 keeps its text.
        assert_round_trip("numbers", &n, &mut Column::default());
        let as_number: Value = serde_json::from_str(&n).unwrap();
        let printed = as_number.to_string();
        if printed == n {
            let sent = encode("numbers", &as_number, None).unwrap();
            prop_assert_eq!(sent, Value::String(n.clone()));
        }
    }

    #[test]
    fn statuses_round_trip(labels in arb_labels(), pick in any::<prop::sample::Index>(), new in "[a-z]{1,10}!", with_text in any::<bool>()) {
        let mut column = Column { labels: labels.clone(), ..Column::default() };
        let (_, label) = &labels[pick.index(labels.len())];
        if with_text {
            assert_round_trip("status", &lit(label), &mut column);
        } else {
            round_trip_without_text("status", &lit(label), &mut column);
        }
        // A label monday does not have, created on the way.
        column.create_labels = true;
        assert_round_trip("status", &lit(&new), &mut column);
    }

    #[test]
    fn dropdowns_round_trip(labels in arb_labels(), picks in prop::collection::vec(any::<prop::sample::Index>(), 1..5), new in prop::collection::btree_set("[a-z]{1,10}!", 0..3)) {
        let mut chosen: Vec<String> = Vec::new();
        for p in picks {
            let l = &labels[p.index(labels.len())].1;
            if !chosen.contains(l) {
                chosen.push(l.clone());
            }
        }
        let mut column = Column { labels, ..Column::default() };
        let v = serde_json::to_string(&chosen).unwrap();
        round_trip_without_text("dropdown", &v, &mut column);
        chosen.extend(new);
        column.create_labels = true;
        assert_round_trip("dropdown", &serde_json::to_string(&chosen).unwrap(), &mut column);
    }

    #[test]
    fn dates_round_trip(d in FIRST_DAY..=LAST_DAY, len in 0i64..400) {
        assert_round_trip("date", &lit(&day(d).to_iso()), &mut Column::default());
        let first = d.min(LAST_DAY - len);
        let range = datetime::daterange_inclusive(Some(day(first)), Some(day(first + len))).unwrap();
        assert_round_trip("timeline", &lit(&range), &mut Column::default());
    }

    #[test]
    fn weeks_round_trip(week in 0i64..(LAST_DAY - FIRST_DAY) / 7 - 1, sunday in any::<bool>()) {
        // 0001-01-01 was a Monday; a Sunday week starts the day before the next Monday.
        let first = FIRST_DAY + 7 * week + if sunday { 6 } else { 0 };
        let range = datetime::daterange_inclusive(Some(day(first)), Some(day(first + 6))).unwrap();
        let mut column = Column { weeks_start_sunday: sunday, ..Column::default() };
        assert_round_trip("week", &lit(&range), &mut column);
    }

    #[test]
    fn hours_round_trip(h in 0i64..24, m in 0i64..60) {
        let t = datetime::time_of_day(h, m).unwrap();
        assert_round_trip("hour", &lit(&t), &mut Column::default());
    }

    #[test]
    fn ids_round_trip(ids in arb_ids()) {
        for ty in ["people", "board_relation", "dependency", "tags"] {
            assert_round_trip(ty, &id_array(&ids), &mut Column::default());
        }
        assert_round_trip("team", &format!(r#"{{"team_id": {}}}"#, ids[0]), &mut Column::default());
    }

    #[test]
    fn contacts_round_trip(
        email in "[a-z0-9._%+-]{1,20}@[a-z0-9-]{1,20}\\.[a-z]{2,6}",
        url in "https?://[a-z0-9-]{1,20}\\.[a-z]{2,5}(/[A-Za-z0-9_~%.-]{0,10}){0,3}",
        phone in "\\+?[0-9]{4,15}",
        country in prop::sample::select(COUNTRIES),
    ) {
        assert_round_trip("email", &lit(&email), &mut Column::default());
        assert_round_trip("link", &lit(&url), &mut Column::default());
        assert_round_trip("country", &lit(country.0), &mut Column::default());
        let mut column = Column::default();
        column.extra.insert("countryShortName".into(), json!(country.0));
        assert_round_trip("phone", &lit(&phone), &mut column);
    }

    #[test]
    fn places_and_scalars_round_trip(
        loc in arb_location(),
        zone in prop_oneof![
            prop::sample::select(vec!["UTC", "Europe/London", "America/Argentina/Buenos_Aires", "Etc/GMT+5", "America/Port-au-Prince"]).prop_map(String::from),
            "[A-Z][a-z]{2,10}/[A-Z][a-z_]{2,12}",
        ],
        checked in any::<bool>(),
        (limit, rating) in (1i64..=10).prop_flat_map(|l| (Just(l), 1..=l)),
    ) {
        assert_round_trip("location", &loc, &mut Column::default());
        assert_round_trip("world_clock", &lit(&zone), &mut Column::default());
        assert_round_trip("checkbox", &checked.to_string(), &mut Column::default());
        let mut column = Column::default();
        column.extra.insert("limit".into(), json!(limit));
        assert_round_trip("rating", &rating.to_string(), &mut column);
    }
}

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
    "button",
    "team",
    "zzz",
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
        "[\\[(]?[0-9]{4}-[0-9]{2}-[0-9]{2},?([0-9]{4}-[0-9]{2}-[0-9]{2})?[\\])]?"
            .prop_map(Value::String),
        "[0-9]{2}:[0-9]{2}(:[0-9]{2})?".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "lat",
                        "lng",
                        "address",
                        "labels",
                        "team_id",
                        "limit",
                        "create_labels_if_missing",
                        "first_day_of_the_week",
                        "countryShortName",
                        "0",
                        "1",
                        "id",
                        "name",
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// No value or settings make encode panic; errors stay short enough for a psql screen.
    #[test]
    fn arbitrary_input_never_panics(ty in prop::sample::select(TYPES), v in arb_json(), settings in arb_json()) {
        for s in [Some(&settings), None] {
            match encode(ty, &v, s) {
                Ok(out) => { serde_json::to_string(&out).unwrap(); }
                Err(e) => {
                    prop_assert!(e.detail.len() < 600, "detail {}", e.detail.len());
                    prop_assert!(e.message.len() < 400, "message {}", e.message.len());
                    prop_assert!(!e.hint.is_empty());
                    prop_assert_eq!(e.code.sqlstate().len(), 5);
                }
            }
        }
    }
}
