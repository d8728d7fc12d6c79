//! Borrowed jsonb in, jsonb out, without the text round trip of `pgrx::JsonB`.
//!
//! `pgrx::JsonB` prints the whole argument with `jsonb_out` and re-parses it with serde on the way
//! in, and builds its result by printing JSON for `jsonb_in`. The codec reads a handful of
//! top-level keys, so [`JsonbArg`] keeps the binary jsonb, locates its members in one pass and
//! borrows strings straight out of the datum; [`JsonbOut`] builds results as in-memory
//! `JsonbValue`s converted once by `JsonbValueToJsonb`.

use crate::codec::{Cell, Decoded};
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};
use serde_json::Value;
use std::ffi::CString;

/// Maps a wrapper type to an existing SQL type, as argument and as result.
macro_rules! sql_type {
    ($ty:ident, $sql:literal) => {
        unsafe impl SqlTranslatable for $ty {
            const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!($ty);
            const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
                Ok(SqlMappingRef::literal($sql));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
                Ok(ReturnsRef::One(SqlMappingRef::literal($sql)));
        }
    };
}

/// A `jsonb` argument, detoasted, read in place.
///
/// When the value is an object, its top-level members are located once, in a single pass over
/// the container's JEntry array (the layout in PostgreSQL's `utils/jsonb.h`), so each field the
/// codec asks for is a short scan of a few keys, not a fresh binary search through the datum.
pub struct JsonbArg {
    jsonb: *mut pg_sys::Jsonb,
    members: Members,
    /// Backing store when the datum had a 1-byte header: its bytes copied to 4-byte alignment.
    _aligned: Vec<u32>,
}

/// Whether this backend's database is UTF-8 (fixed for the life of a backend, so read once).
fn database_is_utf8() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static STATE: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 yes, 2 no
    match STATE.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let utf8 = unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32;
            STATE.store(if utf8 { 1 } else { 2 }, Ordering::Relaxed);
            utf8
        }
    }
}

/// A column value has a handful of top-level keys: kept inline, no allocation per row.
type Members = smallvec::SmallVec<[Member; 6]>;

/// Byte-wise equality for short keys, inlined (a `memcmp` call costs more than the compare).
#[inline]
fn key_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// One top-level member: byte spans relative to the container's data area. Spans are u32 (a
/// jsonb offset is at most 28 bits, JENTRY_OFFLENMASK): small, because the member list is kept
/// inline and moves with the argument.
#[derive(Clone, Copy)]
struct Member {
    key: (u32, u32),
    kind: u32,
    /// For numerics and containers, `start` is already int-aligned, as `fillJsonbValue` does.
    value: (u32, u32),
}

impl FromDatum for JsonbArg {
    unsafe fn from_polymorphic_datum(
        datum: pg_sys::Datum,
        is_null: bool,
        _: pg_sys::Oid,
    ) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: a non-null jsonb datum. A plain 4-byte-header varlena (VARATT_IS_4B_U: low two
        // bits of the first byte clear, little-endian) is used in place; anything else (short
        // header, compressed, out of line) is detoasted into the current memory context.
        let ptr: *mut pg_sys::varlena = datum.cast_mut_ptr();
        let first = unsafe { *(ptr as *const u8) };
        let mut aligned = Vec::new();
        let jsonb = if first & 0x03 == 0x00 {
            ptr as *mut pg_sys::Jsonb
        } else if first & 0x01 == 0x01 && first != 0x01 {
            // VARATT_IS_1B, not external: a short inline value (< 127 bytes, common for empty
            // cells). Copy it behind a 4-byte header into an aligned buffer, as
            // pg_detoast_datum would, without the FFI round trip and palloc.
            let len = (first >> 1) as usize; // total length, header included
            let payload = unsafe {
                std::slice::from_raw_parts((ptr as *const u8).add(1), len.saturating_sub(1))
            };
            aligned = vec![0u32; 1 + payload.len().div_ceil(4)];
            aligned[0] = ((payload.len() + 4) as u32) << 2; // SET_VARSIZE_4B, little-endian
            let bytes = aligned.as_mut_ptr() as *mut u8;
            unsafe { std::ptr::copy_nonoverlapping(payload.as_ptr(), bytes.add(4), payload.len()) };
            aligned.as_mut_ptr() as *mut pg_sys::Jsonb
        } else {
            unsafe { pg_sys::pg_detoast_datum(ptr) as *mut pg_sys::Jsonb }
        };
        let mut arg = JsonbArg {
            jsonb,
            members: Members::new(),
            _aligned: aligned,
        };
        unsafe { scan_object(arg.root(), &mut arg.members) };
        Some(arg)
    }
}

/// A container's entries in one pass over its JEntry array (the layout in `utils/jsonb.h`):
/// the data area's start and, per entry, its type and byte span. Data is laid out in entry order
/// (an object's keys first, then its values); every JB_OFFSET_STRIDE-th entry stores an end offset
/// instead of a length. Numerics and containers start int-aligned, as `fillJsonbValue` reads them.
unsafe fn entries(c: *const pg_sys::JsonbContainer) -> (*const u8, Vec<(u32, usize, usize)>) {
    let header = unsafe { (*c).header };
    let n = (header & pg_sys::JB_CMASK) as usize;
    let count = if header & pg_sys::JB_FOBJECT != 0 {
        2 * n
    } else {
        n
    };
    let children = unsafe { (c as *const u8).add(4) } as *const u32;
    let data = unsafe { (children as *const u8).add(4 * count) };
    (data, unsafe { walk(children, count) }.collect())
}

/// Walks `count` JEntries in order, yielding each entry's type and byte span relative to the
/// data area (numerics and containers int-aligned). No allocation: the per-row scan uses it too.
unsafe fn walk(children: *const u32, count: usize) -> impl Iterator<Item = (u32, usize, usize)> {
    let mut off = 0usize;
    (0..count).map(move |i| {
        let e = unsafe { children.add(i).read_unaligned() };
        let field = (e & pg_sys::JENTRY_OFFLENMASK) as usize;
        let end = if e & pg_sys::JENTRY_HAS_OFF != 0 {
            field
        } else {
            off + field
        };
        let kind = e & pg_sys::JENTRY_TYPEMASK;
        let start = if kind == pg_sys::JENTRY_ISNUMERIC || kind == pg_sys::JENTRY_ISCONTAINER {
            (off + 3) & !3 // INTALIGN
        } else {
            off
        };
        off = end;
        (kind, start, end)
    })
}

/// An object's top-level members, located once (this runs once per row).
unsafe fn scan_object(root: *const pg_sys::JsonbContainer, members: &mut Members) {
    let header = unsafe { (*root).header };
    if header & pg_sys::JB_FOBJECT == 0 {
        return;
    }
    let n = (header & pg_sys::JB_CMASK) as usize;
    let children = unsafe { (root as *const u8).add(4) } as *const u32;
    members.reserve(n);
    for (i, (kind, start, end)) in unsafe { walk(children, 2 * n) }.enumerate() {
        if i < n {
            // Keys are strings: their span starts unaligned.
            members.push(Member {
                key: (start as u32, end as u32),
                kind: 0,
                value: (0, 0),
            });
        } else {
            let m = &mut members[i - n];
            m.kind = kind;
            m.value = (start as u32, end as u32);
        }
    }
}

/// One entry as `serde_json`, read straight from the binary form (no printing and re-parsing).
unsafe fn entry_value(
    data: *const u8,
    (kind, start, end): (u32, usize, usize),
    exact: bool,
) -> Value {
    let bytes =
        || unsafe { std::slice::from_raw_parts(data.add(start), end.saturating_sub(start)) };
    match kind {
        pg_sys::JENTRY_ISNULL => Value::Null,
        pg_sys::JENTRY_ISBOOL_TRUE => Value::Bool(true),
        pg_sys::JENTRY_ISBOOL_FALSE => Value::Bool(false),
        pg_sys::JENTRY_ISSTRING => Value::String(String::from_utf8_lossy(bytes()).into_owned()),
        pg_sys::JENTRY_ISNUMERIC => {
            let text = numeric_text(unsafe { data.add(start) } as pg_sys::Numeric);
            // `exact`: a number that is not an integer stays its numeric text (an f64 would drop
            // its scale and digits past the 17th).
            match serde_json::from_str::<Value>(&text) {
                Ok(v) if !exact || v.is_i64() || v.is_u64() => v,
                _ => Value::String(text),
            }
        }
        _ => unsafe { container_value(data.add(start) as *const pg_sys::JsonbContainer, exact) },
    }
}

/// A whole container (object, array, or the raw-scalar wrapper of a top-level scalar).
unsafe fn container_value(c: *const pg_sys::JsonbContainer, exact: bool) -> Value {
    let header = unsafe { (*c).header };
    let (data, spans) = unsafe { entries(c) };
    if header & pg_sys::JB_FOBJECT != 0 {
        let n = spans.len() / 2;
        let mut map = serde_json::Map::new();
        for i in 0..n {
            let (_, ks, ke) = spans[i];
            let key = unsafe { std::slice::from_raw_parts(data.add(ks), ke - ks) };
            map.insert(String::from_utf8_lossy(key).into_owned(), unsafe {
                entry_value(data, spans[n + i], exact)
            });
        }
        Value::Object(map)
    } else if header & pg_sys::JB_FSCALAR != 0 {
        spans
            .first()
            .map(|&e| unsafe { entry_value(data, e, exact) })
            .unwrap_or(Value::Null)
    } else {
        Value::Array(
            spans
                .iter()
                .map(|&e| unsafe { entry_value(data, e, exact) })
                .collect(),
        )
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for JsonbArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

sql_type!(JsonbArg, "jsonb");

impl JsonbArg {
    fn root(&self) -> *mut pg_sys::JsonbContainer {
        // SAFETY: `jsonb` points at a detoasted Jsonb for the duration of the call.
        unsafe { std::ptr::addr_of_mut!((*self.jsonb).root) }
    }

    /// Start of the root container's data area (after its JEntry array).
    fn data(&self) -> *const u8 {
        let n = self.members.len();
        unsafe { (self.root() as *const u8).add(4 + 8 * n) }
    }

    fn bytes(&self, (start, end): (u32, u32)) -> &[u8] {
        // SAFETY: spans come from the container's own JEntries.
        unsafe {
            std::slice::from_raw_parts(
                self.data().add(start as usize),
                end.saturating_sub(start) as usize,
            )
        }
    }

    /// True for a JSON object (not an array, not a scalar).
    pub fn is_object(&self) -> bool {
        unsafe { (*self.root()).header & pg_sys::JB_FOBJECT != 0 }
    }

    /// The whole value as `serde_json` (for the cold paths: settings, whole items).
    pub fn to_value(&self) -> Value {
        // SAFETY: the root container of a detoasted jsonb.
        unsafe { container_value(self.root(), false) }
    }

    /// [`to_value`](Self::to_value), with every number that is not an integer as its exact
    /// numeric text (a JSON string) instead of an f64.
    pub fn to_value_exact(&self) -> Value {
        // SAFETY: the root container of a detoasted jsonb.
        unsafe { container_value(self.root(), true) }
    }

    /// A short JSON text of the value, for error messages.
    pub fn to_text(&self) -> String {
        container_text(self.root())
    }

    fn member(&self, key: &str) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| key_eq(self.bytes(m.key), key.as_bytes()))
    }
}

impl Cell for JsonbArg {
    fn str_field(&self, key: &str) -> Option<&str> {
        let m = self.member(key)?;
        if m.kind != pg_sys::JENTRY_ISSTRING {
            return None;
        }
        let bytes = self.bytes(m.value);
        if database_is_utf8() {
            // SAFETY: jsonb_in only stores strings valid in the database encoding, here UTF-8.
            Some(unsafe { std::str::from_utf8_unchecked(bytes) })
        } else {
            std::str::from_utf8(bytes).ok()
        }
    }

    fn json_field(&self, key: &str) -> Option<Value> {
        let m = *self.member(key)?;
        if m.kind == pg_sys::JENTRY_ISNULL {
            return None;
        }
        // SAFETY: the span comes from this container's own JEntries.
        Some(unsafe {
            entry_value(
                self.data(),
                (m.kind, m.value.0 as usize, m.value.1 as usize),
                false,
            )
        })
    }
}

fn numeric_text(n: pg_sys::Numeric) -> String {
    // SAFETY: numeric_out on a valid Numeric returns a palloc'd C string.
    unsafe {
        let datum = pgrx::direct_function_call_as_datum(
            pg_sys::numeric_out,
            &[Some(pg_sys::Datum::from(n))],
        );
        match datum {
            Some(d) => std::ffi::CStr::from_ptr(d.cast_mut_ptr::<std::ffi::c_char>())
                .to_string_lossy()
                .into_owned(),
            None => "null".into(),
        }
    }
}

fn container_text(c: *mut pg_sys::JsonbContainer) -> String {
    // SAFETY: JsonbToCString prints a valid container into a fresh StringInfo.
    unsafe {
        let s = pg_sys::JsonbToCString(std::ptr::null_mut(), c, 64);
        std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned()
    }
}

/// A jsonb result, built from JSON text by `jsonb_in`.
pub struct JsonbOut(pg_sys::Datum);

impl JsonbOut {
    /// `text` must be valid JSON. A string holding `\u0000` makes `jsonb_in` raise 22P05, as
    /// Postgres does for any text with a NUL.
    pub fn from_json_text(text: &str) -> JsonbOut {
        let c = CString::new(text).unwrap_or_else(|_| CString::new("null").expect("no NUL"));
        // SAFETY: jsonb_in on a C string; it raises a Postgres ERROR (not UB) on bad input.
        let d = unsafe {
            pgrx::direct_function_call_as_datum(pg_sys::jsonb_in, &[Some(c.as_ptr().into())])
        };
        JsonbOut(d.expect("jsonb_in never returns NULL"))
    }
}

impl JsonbOut {
    /// Builds the jsonb of a decoded value. Scalars are made straight from a `JsonbValue` (no JSON
    /// text to print and re-parse); arrays and objects go through `jsonb_in`.
    pub fn from_decoded(d: &Decoded) -> Result<JsonbOut, NulInText> {
        let mut jbv = match d {
            Decoded::Text(s) => string_value(s)?,
            Decoded::Number(n) => numeric_value(n),
            Decoded::Bool(b) => {
                let mut v = pg_sys::JsonbValue {
                    type_: pg_sys::jbvType::jbvBool,
                    ..Default::default()
                };
                v.val.boolean = *b;
                v
            }
            // Arrays: an in-memory jbvArray, converted once (no JSON text to lex).
            Decoded::BigIntArray(ids) => {
                return Ok(array(ids.iter().map(|&id| numeric_value_i64(id)).collect()));
            }
            Decoded::TextArray(items) => {
                let elems = items
                    .iter()
                    .map(|s| string_value(s))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(array(elems));
            }
            Decoded::Json(text) => return Ok(JsonbOut::from_json_text(text)),
            Decoded::Null => return Ok(JsonbOut::from_json_text("null")),
        };
        // SAFETY: a scalar JsonbValue; JsonbValueToJsonb copies the string bytes it points at.
        let jsonb = unsafe { pg_sys::JsonbValueToJsonb(&mut jbv) };
        Ok(JsonbOut(pg_sys::Datum::from(jsonb)))
    }
}

/// A jbvString pointing at `s` (which must outlive the conversion).
fn string_value(s: &str) -> Result<pg_sys::JsonbValue, NulInText> {
    if s.as_bytes().contains(&0) {
        return Err(NulInText);
    }
    let mut v = pg_sys::JsonbValue {
        type_: pg_sys::jbvType::jbvString,
        ..Default::default()
    };
    v.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 {
        len: s.len() as i32,
        val: s.as_ptr() as *mut std::ffi::c_char,
    };
    Ok(v)
}

/// A jbvNumeric: integers through `int8_numeric` (no text to parse), others through `numeric_in`.
fn numeric_value(n: &str) -> pg_sys::JsonbValue {
    match n.parse::<i64>() {
        Ok(i) => numeric_value_i64(i),
        Err(_) => {
            let mut v = pg_sys::JsonbValue {
                type_: pg_sys::jbvType::jbvNumeric,
                ..Default::default()
            };
            v.val.numeric = numeric_from_text(n);
            v
        }
    }
}

fn numeric_value_i64(i: i64) -> pg_sys::JsonbValue {
    // SAFETY: int8_numeric takes an int8 datum and returns a palloc'd Numeric.
    let d = unsafe {
        pgrx::direct_function_call_as_datum(pg_sys::int8_numeric, &[Some(pg_sys::Datum::from(i))])
    };
    let mut v = pg_sys::JsonbValue {
        type_: pg_sys::jbvType::jbvNumeric,
        ..Default::default()
    };
    v.val.numeric = d.expect("int8_numeric never returns NULL").cast_mut_ptr();
    v
}

/// A jsonb array of the given element values, converted by JsonbValueToJsonb.
fn array(mut elems: Vec<pg_sys::JsonbValue>) -> JsonbOut {
    let mut v = pg_sys::JsonbValue {
        type_: pg_sys::jbvType::jbvArray,
        ..Default::default()
    };
    v.val.array = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_2 {
        nElems: elems.len() as i32,
        elems: elems.as_mut_ptr(),
        rawScalar: false,
    };
    // SAFETY: `elems` (and the strings they point at) live until the conversion returns; it
    // copies everything into the new Jsonb.
    let jsonb = unsafe { pg_sys::JsonbValueToJsonb(&mut v) };
    JsonbOut(pg_sys::Datum::from(jsonb))
}

/// A decoded text held `\u0000`, which a Postgres text (and jsonb string) cannot store.
pub struct NulInText;

/// `numeric_in` on canonical numeric text (short: written into a stack buffer).
fn numeric_from_text(n: &str) -> pg_sys::Numeric {
    let mut buf = [0u8; 64];
    let owned;
    let ptr = if n.len() < buf.len() {
        buf[..n.len()].copy_from_slice(n.as_bytes());
        buf.as_ptr()
    } else {
        owned = CString::new(n).unwrap_or_default();
        owned.as_ptr() as *const u8
    };
    // SAFETY: a NUL-terminated canonical numeric; numeric_in raises a Postgres ERROR otherwise.
    let d = unsafe {
        pgrx::direct_function_call_as_datum(
            pg_sys::numeric_in,
            &[
                Some(pg_sys::Datum::from(ptr)),
                Some(pg_sys::Datum::from(pg_sys::Oid::INVALID)),
                Some(pg_sys::Datum::from(-1i32)),
            ],
        )
    };
    d.expect("numeric_in never returns NULL").cast_mut_ptr()
}

unsafe impl BoxRet for JsonbOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

sql_type!(JsonbOut, "jsonb");

/// An oid returned as a reg* type (`regtype`, `regclass`).
macro_rules! reg_result {
    ($name:ident, $sql:literal, $doc:literal) => {
        #[doc = $doc]
        pub struct $name(pub pg_sys::Oid);

        unsafe impl BoxRet for $name {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
                match self.0.into_datum() {
                    Some(d) => unsafe { fcinfo.return_raw_datum(d) },
                    None => fcinfo.return_null(),
                }
            }
        }

        sql_type!($name, $sql);
    };
}

reg_result!(RegType, "regtype", "A `regtype` result.");
reg_result!(RegClass, "regclass", "A `regclass` result.");
