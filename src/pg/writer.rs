//! Writing rows into a board's typed table: the upsert built from the mapping (`upsert_sql`), the
//! `Writer` that writes pages of items into the table it finds by OID, with its owner's rights,
//! marking rows deleted, and reading a row back (`row_json`). Identifiers are quoted by
//! `quote_identifier`; values always travel as parameters.
//!
//! A page travels as one parameter: an array of the table's own row type, each element a row built
//! here from the decoded values with the column types' input functions — what
//! `json_populate_recordset` did with the page's JSON text, without writing and parsing that text.
//! The upsert is prepared once per walk (an SPI plan kept across pages and the worker's
//! per-page commits) and reads the page with `unnest($1)`. A table with a column whose type this
//! cannot build (a composite, a domain over an array) takes the JSON path for the page instead.
#![allow(clippy::result_large_err)] // ErrorReport is the SQL error type.

use super::errors::R;
use super::runs::Stats;
use super::security::{as_owner, open_target, Target};
use super::spi::{exec, one, q, spi_fail};
use super::track::Tracked;
use crate::codec::{write_json_string, Decoded};
use crate::sync::names::FIXED_COLUMNS;
use crate::sync::rows::{build_rows, raw_text, write_number, MappedColumn, PageRows, Row};
use pgrx::datum::DatumWithOid;
use pgrx::pg_sys::{self, jbvType, Datum, Oid};
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, Spi};
use pgrx::PgMemoryContexts;
use serde_json::Value;
use serde_json_borrow::{ObjectAsVec, Value as Item};
use std::borrow::Cow;
use std::ffi::CStr;

/// Where the upsert reads the page's rows from.
#[derive(Clone, Copy, PartialEq)]
enum PageFrom {
    /// `$1` is an array of the table's row type.
    Rows,
    /// `$1` is the page as JSON text (`PageRows::json`).
    Json,
}

/// The upsert for one table; unchanged rows are not written.
fn upsert_sql(table: &str, cols: &[MappedColumn], from: PageFrom) -> String {
    // The item's own fields: every fixed column but `raw` and `synced_at`, which come last.
    let fixed = &FIXED_COLUMNS[..FIXED_COLUMNS.len() - 2];
    let mut all: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    all.extend(cols.iter().map(|c| q(&c.sql_name)));
    all.push(q("raw"));
    let rest = &all[1..];
    let list = all.join(", ");
    let set_cols = rest.join(", ");
    let set_vals: Vec<String> = rest.iter().map(|c| format!("excluded.{c}")).collect();
    // Typed columns compare as text: a column retyped with map_column may lack an equality operator.
    let cmp = |prefix: &str| -> String {
        rest.iter()
            .enumerate()
            .map(|(i, c)| {
                if i >= fixed.len() - 1 && c != "raw" {
                    format!("{prefix}.{c}::pg_catalog.text")
                } else {
                    format!("{prefix}.{c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // Explicit casts apply type modifiers (numeric(12,2), varchar(n)) that the record type alone does not.
    let mut select: Vec<String> = fixed.iter().map(|c| q(c)).collect();
    select.extend(cols.iter().map(|c| {
        if c.sql_type.is_empty() {
            q(&c.sql_name)
        } else {
            format!("CAST({} AS {})", q(&c.sql_name), c.sql_type)
        }
    }));
    select.push(q("raw"));
    let source = match from {
        PageFrom::Rows => "pg_catalog.unnest($1) r".to_string(),
        PageFrom::Json => {
            format!("pg_catalog.json_populate_recordset(NULL::{table}, $1::pg_catalog.json)")
        }
    };
    format!(
        "INSERT INTO {t} AS t ({list}, synced_at)
         SELECT {select}, pg_catalog.now() FROM {source}
         ON CONFLICT (item_id) DO UPDATE SET ({set_cols}, synced_at) = ROW({vals}, pg_catalog.now())
         WHERE ({old}) IS DISTINCT FROM ({new})",
        t = table,
        vals = set_vals.join(", "),
        select = select.join(", "),
        old = cmp("t"),
        new = cmp("excluded"),
    )
}

/// Every writer of a board's rows (and its subitems board's) takes this transaction lock first:
/// pulls, refreshes and confirming fetches wait for it; the webhook apply only tries it (its
/// worker also answers monday, and must not block) and defers the board's events when it is
/// taken. Without it, two transactions updating the same rows in different orders deadlock. The
/// key is the top board (the parent of a subitems board), hashed into its own namespace.
pub(crate) fn lock_rows(board_id: i64, wait: bool) -> bool {
    let key = "pg_catalog.hashtextextended('monday_sync board rows',
                 coalesce((SELECT b.parent_board_id FROM monday_sync.boards b WHERE b.board_id = $1), $1))";
    let sql = if wait {
        format!("SELECT true FROM (SELECT pg_catalog.pg_advisory_xact_lock({key})) l")
    } else {
        format!("SELECT pg_catalog.pg_try_advisory_xact_lock({key})")
    };
    one::<bool>(&sql, &[board_id.into()]).unwrap_or(false)
}

/// Where one attribute of the table takes its value from.
#[derive(Clone, Copy)]
enum Field {
    ItemId,
    Name,
    GroupId,
    GroupTitle,
    State,
    ParentItemId,
    CreatedAt,
    UpdatedAt,
    Raw,
    /// A mapped column (index into the mapping).
    Cell(usize),
    /// Dropped, `synced_at` (set by the statement), or not ours: NULL.
    Nothing,
}

/// A value before its column's type sees it.
enum Val<'a> {
    Null,
    Int(i64),
    Str(&'a str),
    /// `raw`'s cells, and whether a string in them holds U+0000.
    Raw(&'a [(Cow<'a, str>, &'a ObjectAsVec<'a>)], bool),
    Decoded(&'a Decoded),
}

/// How a type turns text into its datum: its input function, as `json_populate_record` calls it.
struct Input {
    typid: Oid,
    finfo: pg_sys::FmgrInfo,
    ioparam: Oid,
    typmod: i32,
    /// json or jsonb (a domain over them included): takes the value's JSON text; other types take
    /// a JSON string's contents and any other value's JSON text.
    json: bool,
    /// A domain: its input function runs for NULL too (its constraints may refuse NULL).
    domain: bool,
}

enum Conv {
    /// bigint: an integer goes in as is (other values through the input function).
    Int8(Input),
    /// text: a string goes in as is (other values through the input function).
    Text(Input),
    Scalar(Input),
    /// A one-dimensional array, element by element through the element type's input function.
    Array {
        elem: Input,
        len: i16,
        byval: bool,
        align: std::ffi::c_char,
        column: String,
    },
}

struct Slot {
    field: Field,
    conv: Option<Conv>,
}

/// The table's row type as this page sees it: a copy of its tuple descriptor and, per attribute,
/// where the value comes from and how it becomes a datum. Lives in the page's memory context.
struct Layout {
    tupdesc: pg_sys::TupleDesc,
    array_type: Oid,
    slots: Vec<Slot>,
}

unsafe fn input(typid: Oid, typmod: i32) -> Input {
    let (mut func, mut ioparam) = (Oid::INVALID, Oid::INVALID);
    pg_sys::getTypeInputInfo(typid, &mut func, &mut ioparam);
    let mut finfo: pg_sys::FmgrInfo = std::mem::zeroed();
    pg_sys::fmgr_info(func, &mut finfo);
    let base = pg_sys::getBaseType(typid);
    Input {
        typid,
        finfo,
        ioparam,
        typmod,
        json: base == pg_sys::JSONOID || base == pg_sys::JSONBOID,
        domain: base != typid,
    }
}

impl Layout {
    /// Reads the table's current row type; `None` when a column's type is one this writer does not
    /// build (composite, a domain over an array, an array of arrays or composites).
    unsafe fn of(oid: Oid, cols: &[MappedColumn]) -> Option<Layout> {
        let rel = pg_sys::relation_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let tupdesc = pg_sys::CreateTupleDescCopy((*rel).rd_att);
        pg_sys::relation_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
        let array_type = pg_sys::get_array_type((*tupdesc).tdtypeid);
        if array_type == Oid::INVALID {
            return None;
        }
        let natts = (*tupdesc).natts as usize;
        let mut slots = Vec::with_capacity(natts);
        for i in 0..natts {
            let att = &*(*tupdesc).attrs.as_ptr().add(i);
            if att.attisdropped {
                slots.push(Slot {
                    field: Field::Nothing,
                    conv: None,
                });
                continue;
            }
            let name = CStr::from_ptr(att.attname.data.as_ptr()).to_string_lossy();
            let (typid, typmod) = (att.atttypid, att.atttypmod);
            let base = pg_sys::getBaseType(typid);
            let field = match name.as_ref() {
                "item_id" => Field::ItemId,
                "name" => Field::Name,
                "group_id" => Field::GroupId,
                "group_title" => Field::GroupTitle,
                "state" => Field::State,
                "parent_item_id" => Field::ParentItemId,
                "created_at" => Field::CreatedAt,
                "updated_at" => Field::UpdatedAt,
                "raw" => Field::Raw,
                n => cols
                    .iter()
                    .position(|c| c.sql_name == n)
                    .map_or(Field::Nothing, Field::Cell),
            };
            if matches!(field, Field::Nothing) {
                // Not written (synced_at, a column of the user's): NULL, checked by a domain's
                // input function as json_populate_record checks an absent key.
                slots.push(Slot {
                    field,
                    conv: (base != typid).then(|| Conv::Scalar(input(typid, typmod))),
                });
                continue;
            }
            let elem = pg_sys::get_element_type(base);
            let conv = if elem != Oid::INVALID {
                let elem_base = pg_sys::getBaseType(elem);
                if base != typid
                    || pg_sys::type_is_rowtype(elem_base)
                    || pg_sys::get_element_type(elem_base) != Oid::INVALID
                {
                    return None;
                }
                let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
                pg_sys::get_typlenbyvalalign(elem, &mut len, &mut byval, &mut align);
                Conv::Array {
                    elem: input(elem, typmod),
                    len,
                    byval,
                    align,
                    column: name.into_owned(),
                }
            } else if pg_sys::type_is_rowtype(base) {
                return None;
            } else if typid == pg_sys::INT8OID {
                Conv::Int8(input(typid, typmod))
            } else if typid == pg_sys::TEXTOID {
                Conv::Text(input(typid, typmod))
            } else {
                Conv::Scalar(input(typid, typmod))
            };
            slots.push(Slot {
                field,
                conv: Some(conv),
            });
        }
        Some(Layout {
            tupdesc,
            array_type,
            slots,
        })
    }

    /// The page as one array of the table's row type.
    unsafe fn page(&mut self, rows: &[Row]) -> Datum {
        let n = self.slots.len();
        let mut values = vec![Datum::from(0usize); n];
        let mut nulls = vec![true; n];
        let mut buf: Vec<u8> = Vec::with_capacity(256);
        let mut elems: Vec<Datum> = Vec::with_capacity(rows.len());
        // Per mapped column, where the row's decoded cell is (`NONE`: no cell); `raw`'s tree
        // storage, reused from row to row.
        let ncols = self
            .slots
            .iter()
            .filter_map(|s| match s.field {
                Field::Cell(c) => Some(c + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut at: Vec<u32> = vec![NONE; ncols];
        let mut tree = JsonbTree::default();
        for row in rows {
            for (k, (c, _)) in row.cells.iter().enumerate() {
                // The last cell of a column wins, as a repeated key does in `raw`.
                if let Some(a) = at.get_mut(*c) {
                    *a = k as u32;
                }
            }
            for (i, slot) in self.slots.iter_mut().enumerate() {
                let Some(conv) = slot.conv.as_mut() else {
                    values[i] = Datum::from(0usize);
                    nulls[i] = true;
                    continue;
                };
                let val = value(row, slot.field, &at);
                (values[i], nulls[i]) = datum(conv, &val, &mut buf, &mut tree);
            }
            for (c, _) in &row.cells {
                if let Some(a) = at.get_mut(*c) {
                    *a = NONE;
                }
            }
            let tuple =
                pg_sys::heap_form_tuple(self.tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
            // heap_form_tuple fills the header's datum length, type and typmod: its data is a
            // composite datum as it stands (`HeapTupleGetDatum`), with no copy, unless it points
            // to TOASTed values (never: every datum here was just built), which must be flattened.
            let data = (*tuple).t_data;
            if (*data).t_infomask & pg_sys::HEAP_HASEXTERNAL as u16 == 0 {
                elems.push(Datum::from(data));
            } else {
                elems.push(pg_sys::heap_copy_tuple_as_datum(tuple, self.tupdesc));
                pg_sys::heap_freetuple(tuple);
            }
        }
        let (mut dims, mut lbs) = ([elems.len() as i32], [1i32]);
        let arr = pg_sys::construct_md_array(
            elems.as_mut_ptr(),
            std::ptr::null_mut(),
            1,
            dims.as_mut_ptr(),
            lbs.as_mut_ptr(),
            (*self.tupdesc).tdtypeid,
            -1,
            false,
            pg_sys::TYPALIGN_DOUBLE as std::ffi::c_char,
        );
        Datum::from(arr)
    }
}

/// No cell for this column in the row.
const NONE: u32 = u32::MAX;

/// The value of `field` in `row`; `at`: per mapped column, the index of its cell in `row.cells`.
fn value<'a>(row: &'a Row, field: Field, at: &[u32]) -> Val<'a> {
    let s = |v: &'a Option<Cow<'a, str>>| v.as_deref().map_or(Val::Null, Val::Str);
    let t = |v: &'a Option<compact_str::CompactString>| v.as_deref().map_or(Val::Null, Val::Str);
    match field {
        Field::ItemId => Val::Int(row.item_id),
        Field::Name => s(&row.name),
        Field::GroupId => s(&row.group_id),
        Field::GroupTitle => s(&row.group_title),
        Field::State => Val::Str(row.state),
        Field::ParentItemId => row.parent_item_id.map_or(Val::Null, Val::Int),
        Field::CreatedAt => t(&row.created_at),
        Field::UpdatedAt => t(&row.updated_at),
        Field::Raw => Val::Raw(&row.raw, row.raw_nul),
        Field::Cell(c) => match at.get(c) {
            Some(&k) if k != NONE => Val::Decoded(&row.cells[k as usize].1),
            _ => Val::Null,
        },
        Field::Nothing => Val::Null,
    }
}

/// The text a scalar column's input function gets for a value, as `json_populate_record` would
/// give it from the page's JSON: a JSON string's contents (its JSON text for json and jsonb), any
/// other value's JSON text; JSON null is SQL NULL.
fn scalar_text<'a>(v: &'a Val, json: bool) -> Option<Cow<'a, str>> {
    let quoted = |s: &str| {
        let mut out = String::with_capacity(s.len() + 2);
        write_json_string(&mut out, s);
        Cow::Owned(out)
    };
    match v {
        Val::Null => None,
        Val::Int(i) => Some(Cow::Owned(i.to_string())),
        Val::Str(s) if json => Some(quoted(s)),
        Val::Str(s) => Some(Cow::Borrowed(s)),
        Val::Raw(cells, _) => Some(Cow::Owned(raw_text(cells))),
        Val::Decoded(d) => match d {
            Decoded::Null => None,
            Decoded::Text(s) if json => Some(quoted(s)),
            Decoded::Text(s) => Some(Cow::Borrowed(s.as_str())),
            Decoded::Number(n) => Some(Cow::Borrowed(n.as_str())),
            Decoded::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            Decoded::Json(t) if t.trim() == "null" => None,
            Decoded::Json(t) => Some(Cow::Borrowed(t.as_str())),
            other => {
                let mut out = String::new();
                other.write_json(&mut out);
                Some(Cow::Owned(out))
            }
        },
    }
}

/// The elements of an array column's value (`None`: SQL NULL); an error for a value that is not
/// a JSON array, as `json_populate_record` raises.
fn array_elems(v: &Val, json: bool, column: &str) -> Option<Vec<Option<String>>> {
    let quoted = |s: &str| {
        let mut out = String::with_capacity(s.len() + 2);
        write_json_string(&mut out, s);
        out
    };
    let from_json = |t: &str| -> Option<Vec<Option<String>>> {
        match serde_json::from_str::<Value>(t) {
            Ok(Value::Null) => None,
            Ok(Value::Array(a)) => Some(
                a.into_iter()
                    .map(|e| match e {
                        Value::Null => None,
                        Value::String(s) if !json => Some(s),
                        Value::Array(_) if !json => not_an_array(column),
                        other => Some(other.to_string()),
                    })
                    .collect(),
            ),
            _ => not_an_array(column),
        }
    };
    match v {
        Val::Null => None,
        Val::Raw(cells, _) => from_json(&raw_text(cells)),
        Val::Decoded(Decoded::Null) => None,
        Val::Decoded(Decoded::BigIntArray(ids)) => {
            Some(ids.iter().map(|i| Some(i.to_string())).collect())
        }
        Val::Decoded(Decoded::TextArray(items)) => Some(
            items
                .iter()
                .map(|s| Some(if json { quoted(s) } else { s.clone() }))
                .collect(),
        ),
        Val::Decoded(Decoded::Json(t)) => from_json(t),
        _ => not_an_array(column),
    }
}

/// `json_populate_record`'s error for a value that is not an array in an array column.
fn not_an_array(column: &str) -> ! {
    pgrx::pg_sys::panic::ErrorReport::new(
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        "expected JSON array",
        "monday_sync",
    )
    .set_hint(format!("See the value of key \"{column}\"."))
    .report(PgLogLevel::ERROR);
    unreachable!()
}

/// Calls an input function on `text` (NULL: only a domain's, which may refuse it).
unsafe fn call_input(inp: &mut Input, text: Option<&str>, buf: &mut Vec<u8>) -> (Datum, bool) {
    match text {
        None if !inp.domain => (Datum::from(0usize), true),
        None => {
            let d = pg_sys::InputFunctionCall(
                &mut inp.finfo,
                std::ptr::null_mut(),
                inp.ioparam,
                inp.typmod,
            );
            (d, true)
        }
        Some(t) => {
            buf.clear();
            // U+0000 never reaches here (the rows are scrubbed); a C string ends at the first one.
            buf.extend_from_slice(t.as_bytes());
            buf.push(0);
            let d = pg_sys::InputFunctionCall(
                &mut inp.finfo,
                buf.as_mut_ptr() as *mut std::ffi::c_char,
                inp.ioparam,
                inp.typmod,
            );
            (d, false)
        }
    }
}

/// A text datum of `s` (what `textin` makes of it: no U+0000 reaches here).
unsafe fn text_datum(s: &str) -> Datum {
    Datum::from(pg_sys::cstring_to_text_with_len(
        s.as_ptr() as *const std::ffi::c_char,
        s.len() as i32,
    ))
}

unsafe fn datum(
    conv: &mut Conv,
    v: &Val,
    buf: &mut Vec<u8>,
    tree: &mut JsonbTree,
) -> (Datum, bool) {
    match conv {
        Conv::Scalar(inp) if inp.typid == pg_sys::JSONBOID && matches!(v, Val::Raw(..)) => {
            let Val::Raw(cells, nul) = v else {
                unreachable!()
            };
            (raw_jsonb(tree, cells, *nul), false)
        }
        Conv::Text(_) if matches!(v, Val::Decoded(Decoded::Text(_))) => {
            let Val::Decoded(Decoded::Text(s)) = v else {
                unreachable!()
            };
            (text_datum(s), false)
        }
        // bigint[] and text[] of decoded ids and labels: each element's datum made directly
        // (`int8in` of an i64's text is the i64; `textin` of a label is its text).
        Conv::Array {
            elem,
            len,
            byval,
            align,
            ..
        } if (elem.typid == pg_sys::INT8OID
            && matches!(v, Val::Decoded(Decoded::BigIntArray(_))))
            || (elem.typid == pg_sys::TEXTOID
                && matches!(v, Val::Decoded(Decoded::TextArray(_)))) =>
        {
            let mut ds: Vec<Datum> = match v {
                Val::Decoded(Decoded::BigIntArray(ids)) => {
                    ids.iter().map(|&i| Datum::from(i)).collect()
                }
                Val::Decoded(Decoded::TextArray(items)) => {
                    items.iter().map(|s| text_datum(s)).collect()
                }
                _ => unreachable!(),
            };
            let (mut dims, mut lbs) = ([ds.len() as i32], [1i32]);
            let arr = pg_sys::construct_md_array(
                ds.as_mut_ptr(),
                std::ptr::null_mut(),
                1,
                dims.as_mut_ptr(),
                lbs.as_mut_ptr(),
                elem.typid,
                *len as i32,
                *byval,
                *align,
            );
            (Datum::from(arr), false)
        }
        Conv::Int8(_) if matches!(v, Val::Int(_)) => {
            let Val::Int(i) = v else { unreachable!() };
            (Datum::from(*i), false)
        }
        Conv::Text(_) if matches!(v, Val::Str(_)) => {
            let Val::Str(s) = v else { unreachable!() };
            (text_datum(s), false)
        }
        Conv::Int8(inp) | Conv::Text(inp) | Conv::Scalar(inp) => {
            let text = scalar_text(v, inp.json);
            call_input(inp, text.as_deref(), buf)
        }
        Conv::Array {
            elem,
            len,
            byval,
            align,
            column,
        } => {
            let Some(items) = array_elems(v, elem.json, column) else {
                return (Datum::from(0usize), true);
            };
            let mut ds = Vec::with_capacity(items.len());
            let mut ns = Vec::with_capacity(items.len());
            for it in &items {
                let (d, n) = call_input(elem, it.as_deref(), buf);
                ds.push(d);
                ns.push(n);
            }
            let (mut dims, mut lbs) = ([items.len() as i32], [1i32]);
            let arr = pg_sys::construct_md_array(
                ds.as_mut_ptr(),
                ns.as_mut_ptr(),
                1,
                dims.as_mut_ptr(),
                lbs.as_mut_ptr(),
                elem.typid,
                *len as i32,
                *byval,
                *align,
            );
            (Datum::from(arr), false)
        }
    }
}

/// `raw` as jsonb, built from the page's parsed cells: the `JsonbValue` tree that `jsonb_in` would
/// build from `raw`'s JSON text, made in Rust and turned into a jsonb by one `JsonbValueToJsonb`
/// call per row — no JSON text written and lexed again. Each object's keys are sorted and a
/// repeated key keeps its last value as `pushJsonbValue` does it (`uniqueifyJsonbObject`: length,
/// then bytes, then the later pair first, the first of equal keys kept); numbers go through
/// `numeric_in` on the text `raw_text` writes (integers through `int64_to_numeric`, the same
/// value); U+0000 becomes U+FFFD as in `raw_text`. The same jsonb, byte for byte.
unsafe fn raw_jsonb(t: &mut JsonbTree, cells: &[(Cow<str>, &ObjectAsVec)], nul: bool) -> Datum {
    t.reset();
    t.scan_nul = nul;
    let mut pairs = t.spare_pairs.pop().unwrap_or_default();
    for (i, (cid, obj)) in cells.iter().enumerate() {
        let key = t.string(cid);
        let value = t.object(obj);
        pairs.push(pg_sys::JsonbPair {
            key,
            value,
            order: i as u32,
        });
    }
    let mut top = t.pairs(pairs);
    Datum::from(pg_sys::JsonbValueToJsonb(&mut top))
}

/// The storage a `JsonbValue` tree points into until `JsonbValueToJsonb` has copied it; kept
/// from row to row (its vectors reused, not allocated again for every object of every row).
#[derive(Default)]
struct JsonbTree {
    /// Texts with U+0000 replaced.
    keep: Vec<String>,
    objects: Vec<Vec<pg_sys::JsonbPair>>,
    arrays: Vec<Vec<pg_sys::JsonbValue>>,
    /// Emptied vectors of earlier rows, for the next ones.
    spare_pairs: Vec<Vec<pg_sys::JsonbPair>>,
    spare_values: Vec<Vec<pg_sys::JsonbValue>>,
    num: String,
    /// Whether a string of this row may hold U+0000 (`Row::raw_nul`): looked for only then.
    scan_nul: bool,
}

/// jsonb's order of keys (`lengthCompareJsonbStringValue`): shorter first, then by bytes.
unsafe fn key_order(a: &pg_sys::JsonbValue, b: &pg_sys::JsonbValue) -> std::cmp::Ordering {
    let bytes = |v: &pg_sys::JsonbValue| {
        std::slice::from_raw_parts(v.val.string.val as *const u8, v.val.string.len as usize)
    };
    a.val
        .string
        .len
        .cmp(&b.val.string.len)
        .then_with(|| bytes(a).cmp(bytes(b)))
}

impl JsonbTree {
    /// Forgets the previous row's tree (already copied into its jsonb), keeping the storage.
    fn reset(&mut self) {
        self.keep.clear();
        for mut v in self.objects.drain(..) {
            v.clear();
            self.spare_pairs.push(v);
        }
        for mut v in self.arrays.drain(..) {
            v.clear();
            self.spare_values.push(v);
        }
    }

    unsafe fn string(&mut self, s: &str) -> pg_sys::JsonbValue {
        let (ptr, len) = if self.scan_nul && s.contains('\0') {
            self.keep.push(s.replace('\0', "\u{FFFD}"));
            let k = self.keep.last().expect("pushed");
            (k.as_ptr(), k.len())
        } else {
            (s.as_ptr(), s.len())
        };
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        v.type_ = jbvType::jbvString;
        v.val.string.len = len as i32;
        v.val.string.val = ptr as *mut std::ffi::c_char;
        v
    }

    unsafe fn value(&mut self, x: &Item) -> pg_sys::JsonbValue {
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        match x {
            Item::Null => v.type_ = jbvType::jbvNull,
            Item::Bool(b) => {
                v.type_ = jbvType::jbvBool;
                v.val.boolean = *b;
            }
            Item::Number(n) => {
                v.type_ = jbvType::jbvNumeric;
                v.val.numeric = match n.as_i64() {
                    Some(i) => pg_sys::int64_to_numeric(i),
                    None => {
                        self.num.clear();
                        write_number(&mut self.num, n);
                        self.num.push('\0');
                        let d = pg_sys::OidInputFunctionCall(
                            Oid::from(pg_sys::F_NUMERIC_IN),
                            self.num.as_mut_ptr() as *mut std::ffi::c_char,
                            pg_sys::NUMERICOID,
                            -1,
                        );
                        d.cast_mut_ptr()
                    }
                };
            }
            Item::Str(s) => return self.string(s),
            Item::Array(a) => {
                let mut elems = self.spare_values.pop().unwrap_or_default();
                for e in a.iter() {
                    let x = self.value(e);
                    elems.push(x);
                }
                v.type_ = jbvType::jbvArray;
                v.val.array.nElems = elems.len() as i32;
                v.val.array.elems = elems.as_mut_ptr();
                v.val.array.rawScalar = false;
                self.arrays.push(elems);
            }
            Item::Object(o) => return self.object(o),
        }
        v
    }

    unsafe fn object(&mut self, o: &ObjectAsVec) -> pg_sys::JsonbValue {
        let mut pairs = self.spare_pairs.pop().unwrap_or_default();
        for (i, (k, x)) in o.iter().enumerate() {
            let key = self.string(k);
            let value = self.value(x);
            pairs.push(pg_sys::JsonbPair {
                key,
                value,
                order: i as u32,
            });
        }
        self.pairs(pairs)
    }

    /// An object of `pairs` (in the order they came), keys sorted and made unique as jsonb does.
    unsafe fn pairs(&mut self, mut pairs: Vec<pg_sys::JsonbPair>) -> pg_sys::JsonbValue {
        pairs.sort_unstable_by(|a, b| key_order(&a.key, &b.key).then(b.order.cmp(&a.order)));
        // Equal keys are next to each other, the last to come first: keep that one.
        pairs.dedup_by(|later, kept| key_order(&later.key, &kept.key).is_eq());
        let mut v: pg_sys::JsonbValue = std::mem::zeroed();
        v.type_ = jbvType::jbvObject;
        v.val.object.nPairs = pairs.len() as i32;
        v.val.object.pairs = pairs.as_mut_ptr();
        self.objects.push(pairs);
        v
    }
}

/// The prepared upsert of one walk: kept across pages (and the worker's commits), rebuilt when the
/// table's name, its owner or its row type's array type changes.
struct Prepared {
    sql: String,
    owner: Oid,
    array_type: Oid,
    plan: OwnedPreparedStatement,
}

pub(crate) struct Writer {
    board_id: i64,
    oid: pg_sys::Oid,
    recorded: String,
    prepared: Option<Prepared>,
    cols: Vec<MappedColumn>,
    /// Everything Postgres allocates for one page (the rows' datums, SPI) lives here and is freed
    /// after the page: the backend's memory stays flat however many pages a walk has.
    page_memory: PgMemoryContexts,
}

impl Writer {
    pub fn new(tb: &Tracked, cols: Vec<MappedColumn>) -> Writer {
        // A child of TopMemoryContext: the worker commits between pages, which frees every
        // transaction context.
        let page_memory = unsafe {
            PgMemoryContexts::TopMemoryContext
                .switch_to(|_| PgMemoryContexts::new("monday_sync page"))
        };
        Writer {
            board_id: tb.board_id,
            oid: tb.table_oid,
            recorded: tb.recorded(),
            prepared: None,
            cols,
            page_memory,
        }
    }

    /// Writes items into the board's own table (by OID), with its owner's rights; the ids go to
    /// the walk's seen-set when `seen`.
    pub fn write(&mut self, items: &[Value], stats: &mut Stats, seen: bool) -> R<Vec<i64>> {
        let items: Vec<Item> = items.iter().map(Item::from).collect();
        self.write_page(&items, stats, seen)
    }

    /// [`write`](Self::write) for a page parsed borrowed (`crate::api::client::data_of`).
    pub fn write_page(&mut self, items: &[Item], stats: &mut Stats, seen: bool) -> R<Vec<i64>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let target = open_target(self.oid, self.board_id, &self.recorded)?;
        lock_rows(self.board_id, true);
        let (cols, prepared) = (&self.cols, &mut self.prepared);
        // SAFETY: nothing allocated in the page context outlives this call (results are Rust values;
        // the kept plan lives in its own context).
        let ids = unsafe {
            self.page_memory
                .switch_to(|_| Self::write_rows(prepared, cols, &target, items, stats, seen))
        };
        unsafe { self.page_memory.reset() };
        Ok(ids)
    }

    fn write_rows(
        prepared: &mut Option<Prepared>,
        cols: &[MappedColumn],
        target: &Target,
        items: &[Item],
        stats: &mut Stats,
        seen: bool,
    ) -> Vec<i64> {
        let page = build_rows(items, cols);
        stats.rows_written += as_owner(target.owner, || unsafe {
            // As the owner: input functions of the owner's types, and the plan's parse analysis.
            match Layout::of(target.oid, cols) {
                Some(mut layout) => {
                    let rows = layout.page(&page.rows);
                    let sql = upsert_sql(&target.qualified, cols, PageFrom::Rows);
                    let stale = prepared.as_ref().is_none_or(|p| {
                        p.sql != sql || p.owner != target.owner || p.array_type != layout.array_type
                    });
                    if stale {
                        // Drop the old plan before preparing the new one.
                        drop(prepared.take());
                        let plan = Spi::connect(|c| {
                            c.prepare_mut(sql.as_str(), &[layout.array_type.into()])
                                .map(|p| p.keep())
                        })
                        .unwrap_or_else(|e| spi_fail(e));
                        *prepared = Some(Prepared {
                            sql,
                            owner: target.owner,
                            array_type: layout.array_type,
                            plan,
                        });
                    }
                    let plan = &prepared.as_ref().expect("prepared above").plan;
                    let arg = DatumWithOid::new(rows, layout.array_type);
                    Spi::connect_mut(|c| c.update(plan, None, &[arg]).map(|t| t.len() as u64))
                        .unwrap_or_else(|e| spi_fail(e))
                }
                None => {
                    let sql = upsert_sql(&target.qualified, cols, PageFrom::Json);
                    exec(&sql, &[page.json(cols).into()])
                }
            }
        }) as i64;
        // The page kept the first of its warnings word for word and counted the rest.
        stats.warnings += (page.warning_count - page.warnings.len()) as i64;
        let PageRows { warnings, ids, .. } = page;
        stats.note_all(warnings);
        if seen {
            exec(
                "INSERT INTO pg_temp.monday_sync_seen SELECT pg_catalog.unnest($1::bigint[]) ON CONFLICT DO NOTHING",
                &[ids.clone().into()],
            );
        }
        ids
    }
}

/// Marks rows deleted (kept, never dropped), as the table's owner; returns how many changed.
pub(crate) fn mark_deleted(tb: &Tracked, ids: &[i64]) -> R<i64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let t = tb.target()?;
    lock_rows(tb.board_id, true);
    let sql = format!(
        "UPDATE ONLY {} SET state = 'deleted', synced_at = pg_catalog.now() WHERE item_id = ANY ($1) AND state <> 'deleted'",
        t.qualified
    );
    Ok(as_owner(t.owner, || exec(&sql, &[ids.to_vec().into()])) as i64)
}

/// One row of a typed table as jsonb, without `raw`. As the table's owner: `to_jsonb` may call a
/// cast the owner defined for a column's type.
pub(crate) fn row_json(t: &Target, item_id: i64) -> Option<pgrx::JsonB> {
    as_owner(t.owner, || {
        one(
            &format!(
                "SELECT pg_catalog.to_jsonb(t) OPERATOR(pg_catalog.-) 'raw' FROM ONLY {} t WHERE item_id = $1",
                t.qualified
            ),
            &[item_id.into()],
        )
    })
}
