//! Borrowed jsonb in, jsonb out, without the text round trip of `pgrx::JsonB`.
//!
//! `pgrx::JsonB` prints the whole argument with `jsonb_out` and re-parses it with serde on the way
//! in. The codec reads a handful of top-level keys, so [`JsonbArg`] keeps the detoasted binary
//! jsonb and looks keys up with `getKeyJsonValueFromContainer` (a binary search over sorted keys).
//! Strings are borrowed straight out of the datum.

use crate::codec::Cell;
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys;
use pgrx::pgrx_sql_entity_graph::metadata::{
    ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable, TypeOrigin,
};
use pgrx::{FromDatum, IntoDatum};
use serde_json::Value;
use std::ffi::CString;

/// A `jsonb` argument, detoasted, read in place.
pub struct JsonbArg {
    jsonb: *mut pg_sys::Jsonb,
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
        // SAFETY: a non-null jsonb datum; detoasting copies into the current memory context when
        // the value is compressed or out of line, and returns the original pointer otherwise.
        let jsonb = unsafe { pg_sys::pg_detoast_datum(datum.cast_mut_ptr()) } as *mut pg_sys::Jsonb;
        Some(JsonbArg { jsonb })
    }
}

unsafe impl<'fcx> ArgAbi<'fcx> for JsonbArg {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        let index = arg.index();
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| panic!("argument {index} must not be null"))
    }
}

unsafe impl SqlTranslatable for JsonbArg {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(JsonbArg);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

impl JsonbArg {
    fn root(&self) -> *mut pg_sys::JsonbContainer {
        // SAFETY: `jsonb` points at a detoasted Jsonb for the duration of the call.
        unsafe { std::ptr::addr_of_mut!((*self.jsonb).root) }
    }

    fn header(&self) -> u32 {
        unsafe { (*self.root()).header }
    }

    /// True for a JSON object (not an array, not a scalar).
    pub fn is_object(&self) -> bool {
        self.header() & pg_sys::JB_FOBJECT != 0
    }

    /// The whole value as `serde_json` (for the cold paths: settings, whole items).
    pub fn to_value(&self) -> Value {
        container_to_value(self.root())
    }

    /// A short JSON text of the value, for error messages.
    pub fn to_text(&self) -> String {
        container_text(self.root())
    }

    fn lookup(&self, key: &str) -> Option<pg_sys::JsonbValue> {
        if !self.is_object() {
            return None;
        }
        let mut res = pg_sys::JsonbValue::default();
        // SAFETY: root is an object container; `res` receives the value (strings point into the
        // container, which outlives `self`).
        let found = unsafe {
            pg_sys::getKeyJsonValueFromContainer(
                self.root(),
                key.as_ptr().cast(),
                key.len() as i32,
                &mut res,
            )
        };
        if found.is_null() {
            None
        } else {
            Some(res)
        }
    }
}

impl Cell for JsonbArg {
    fn str_field(&self, key: &str) -> Option<&str> {
        let v = self.lookup(key)?;
        if v.type_ != pg_sys::jbvType::jbvString {
            return None;
        }
        // SAFETY: jbvString points at `len` bytes inside the container.
        let bytes = unsafe {
            std::slice::from_raw_parts(v.val.string.val as *const u8, v.val.string.len as usize)
        };
        std::str::from_utf8(bytes).ok()
    }

    fn json_field(&self, key: &str) -> Option<Value> {
        let v = self.lookup(key)?;
        jsonb_value_to_value(&v)
    }
}

/// One JsonbValue (scalar or binary container) as `serde_json`; `None` for JSON null.
fn jsonb_value_to_value(v: &pg_sys::JsonbValue) -> Option<Value> {
    unsafe {
        match v.type_ {
            pg_sys::jbvType::jbvNull => None,
            pg_sys::jbvType::jbvBool => Some(Value::Bool(v.val.boolean)),
            pg_sys::jbvType::jbvString => {
                let bytes = std::slice::from_raw_parts(
                    v.val.string.val as *const u8,
                    v.val.string.len as usize,
                );
                Some(Value::String(String::from_utf8_lossy(bytes).into_owned()))
            }
            pg_sys::jbvType::jbvNumeric => {
                let text = numeric_text(v.val.numeric);
                Some(serde_json::from_str(&text).unwrap_or(Value::String(text)))
            }
            pg_sys::jbvType::jbvBinary => Some(container_to_value(v.val.binary.data)),
            _ => None,
        }
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

fn container_to_value(c: *mut pg_sys::JsonbContainer) -> Value {
    let text = container_text(c);
    // jsonb_out always prints valid JSON; a number serde cannot hold (1e400) degrades to null
    // rather than failing here.
    serde_json::from_str(&text).unwrap_or(Value::Null)
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

unsafe impl BoxRet for JsonbOut {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        unsafe { fcinfo.return_raw_datum(self.0) }
    }
}

unsafe impl SqlTranslatable for JsonbOut {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(JsonbOut);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
}

/// A `regtype` result.
pub struct RegType(pub pg_sys::Oid);

unsafe impl BoxRet for RegType {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        match self.0.into_datum() {
            Some(d) => unsafe { fcinfo.return_raw_datum(d) },
            None => fcinfo.return_null(),
        }
    }
}

unsafe impl SqlTranslatable for RegType {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(RegType);
    const TYPE_ORIGIN: TypeOrigin = TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> =
        Ok(SqlMappingRef::literal("regtype"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> =
        Ok(ReturnsRef::One(SqlMappingRef::literal("regtype")));
}
