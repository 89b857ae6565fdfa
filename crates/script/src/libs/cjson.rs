//! `cjson` as Redis bundles it (lua-cjson 2.1): numbers as `%.14g`, an empty table is
//! `{}`, excessively sparse arrays are refused, `null` decodes to `cjson.null` (a NULL
//! light userdata). The configuration functions answer their defaults and change nothing.

use crate::convert::format_g;
use mlua::{LightUserData, Lua, Table, Value};
use std::ffi::c_void;

const MAX_DEPTH: usize = 1000;
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut::<c_void>()))
}

/// Creates the `cjson` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let cjson = lua.create_table()?;
    cjson.set(
        "encode",
        lua.create_function(|lua, value: Value| {
            let mut out = Vec::new();
            encode(&value, 0, &mut out).map_err(|error| super::located_error(lua, error))?;
            lua.create_string(out)
        })?,
    )?;
    cjson.set(
        "decode",
        lua.create_function(|lua, text: mlua::LuaString| {
            let bytes = text.as_bytes();
            let mut decoder = Decoder {
                lua,
                input: &bytes,
                position: 0,
            };
            let value = decoder.value(0)?;
            decoder.skip_whitespace();
            if decoder.position < decoder.input.len() {
                return Err(decoder.error("the end"));
            }
            Ok(value)
        })?,
    )?;
    cjson.set("null", null())?;
    for (name, default) in [
        ("encode_max_depth", 1000.0),
        ("decode_max_depth", 1000.0),
        ("encode_number_precision", 14.0),
    ] {
        cjson.set(
            name,
            lua.create_function(move |_, _: mlua::MultiValue| Ok(default))?,
        )?;
    }
    cjson.set(
        "encode_keep_buffer",
        lua.create_function(|_, _: mlua::MultiValue| Ok(true))?,
    )?;
    cjson.set(
        "encode_sparse_array",
        lua.create_function(|_, _: mlua::MultiValue| Ok((false, 2.0, 10.0)))?,
    )?;
    cjson.set(
        "encode_invalid_numbers",
        lua.create_function(|_, _: mlua::MultiValue| Ok(false))?,
    )?;
    cjson.set(
        "decode_invalid_numbers",
        lua.create_function(|_, _: mlua::MultiValue| Ok(true))?,
    )?;
    Ok(cjson)
}

fn encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(data) if data.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(flag) => out.extend_from_slice(if *flag { b"true" } else { b"false" }),
        Value::Integer(number) => out.extend_from_slice(number.to_string().as_bytes()),
        Value::Number(number) => encode_number(*number, out)?,
        Value::String(text) => encode_string(&text.as_bytes(), out),
        Value::Table(table) => encode_table(table, depth + 1, out)?,
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn encode_number(number: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !number.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".to_string());
    }
    out.extend_from_slice(format_g(number, 14).as_bytes());
    Ok(())
}

fn encode_string(text: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in text {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// The array length of `table` as lua-cjson's `lua_array_length`: `Some(n)` when every
/// key is a positive integer and the array is not excessively sparse.
fn array_length(table: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|error| error.to_string())?;
        let index = match key {
            Value::Integer(index) if index >= 1 => index as usize,
            Value::Number(index) if index >= 1.0 && index.fract() == 0.0 => index as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        items += 1;
    }
    if max > items * SPARSE_RATIO && max > SPARSE_SAFE {
        return Err("Cannot serialise table: excessively sparse array".to_string());
    }
    Ok(Some(max))
}

fn encode_table(table: &Table, depth: usize, out: &mut Vec<u8>) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("Cannot serialise, excessive nesting ({depth})"));
    }
    match array_length(table)? {
        Some(length) if length > 0 => {
            out.push(b'[');
            for index in 1..=length {
                if index > 1 {
                    out.push(b',');
                }
                let item: Value = table.raw_get(index).map_err(|error| error.to_string())?;
                encode(&item, depth, out)?;
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            let mut first = true;
            for pair in table.pairs::<Value, Value>() {
                let (key, value) = pair.map_err(|error| error.to_string())?;
                if !first {
                    out.push(b',');
                }
                first = false;
                match &key {
                    Value::String(text) => encode_string(&text.as_bytes(), out),
                    Value::Integer(number) => encode_string(number.to_string().as_bytes(), out),
                    Value::Number(number) => encode_string(format_g(*number, 14).as_bytes(), out),
                    _ => {
                        return Err(
                            "Cannot serialise table: table key must be a number or string"
                                .to_string(),
                        )
                    }
                }
                out.push(b':');
                encode(&value, depth, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

struct Decoder<'a> {
    lua: &'a Lua,
    input: &'a [u8],
    position: usize,
}

impl Decoder<'_> {
    fn error(&self, expected: &str) -> mlua::Error {
        let found = match self.input.get(self.position) {
            None => "T_END",
            Some(_) => "invalid token",
        };
        mlua::Error::runtime(format!(
            "Expected {expected} but found {found} at character {}",
            self.position + 1
        ))
    }

    fn skip_whitespace(&mut self) {
        while matches!(
            self.input.get(self.position),
            Some(b' ' | b'\t' | b'\n' | b'\r')
        ) {
            self.position += 1;
        }
    }

    fn literal(&mut self, word: &[u8], value: Value) -> mlua::Result<Value> {
        if self.input.get(self.position..self.position + word.len()) == Some(word) {
            self.position += word.len();
            Ok(value)
        } else {
            Err(self.error("value"))
        }
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        self.skip_whitespace();
        match self.input.get(self.position) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b't') => self.literal(b"true", Value::Boolean(true)),
            Some(b'f') => self.literal(b"false", Value::Boolean(false)),
            Some(b'n') => self.literal(b"null", null()),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.error("value")),
        }
    }

    fn nested(&self, depth: usize) -> mlua::Result<()> {
        if depth > MAX_DEPTH {
            return Err(mlua::Error::runtime(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.position + 1
            )));
        }
        Ok(())
    }

    fn object(&mut self, depth: usize) -> mlua::Result<Value> {
        self.nested(depth)?;
        self.position += 1;
        let table = self.lua.create_table()?;
        self.skip_whitespace();
        if self.input.get(self.position) == Some(&b'}') {
            self.position += 1;
            return Ok(Value::Table(table));
        }
        loop {
            self.skip_whitespace();
            if self.input.get(self.position) != Some(&b'"') {
                return Err(self.error("object key string"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.input.get(self.position) != Some(&b':') {
                return Err(self.error("colon"));
            }
            self.position += 1;
            let value = self.value(depth)?;
            table.raw_set(self.lua.create_string(key)?, value)?;
            self.skip_whitespace();
            match self.input.get(self.position) {
                Some(b',') => self.position += 1,
                Some(b'}') => {
                    self.position += 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.error("comma or object end")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> mlua::Result<Value> {
        self.nested(depth)?;
        self.position += 1;
        let table = self.lua.create_table()?;
        self.skip_whitespace();
        if self.input.get(self.position) == Some(&b']') {
            self.position += 1;
            return Ok(Value::Table(table));
        }
        let mut index = 1;
        loop {
            let value = self.value(depth)?;
            table.raw_set(index, value)?;
            index += 1;
            self.skip_whitespace();
            match self.input.get(self.position) {
                Some(b',') => self.position += 1,
                Some(b']') => {
                    self.position += 1;
                    return Ok(Value::Table(table));
                }
                _ => return Err(self.error("comma or array end")),
            }
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.position;
        while matches!(
            self.input.get(self.position),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.position += 1;
        }
        let text = std::str::from_utf8(&self.input[start..self.position]).unwrap_or_default();
        match text.parse::<f64>() {
            Ok(number) => Ok(Value::Number(number)),
            Err(_) => {
                self.position = start;
                Err(self.error("value"))
            }
        }
    }

    fn hex4(&mut self) -> mlua::Result<u32> {
        let digits = self
            .input
            .get(self.position..self.position + 4)
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| u32::from_str_radix(digits, 16).ok())
            .ok_or_else(|| self.error("value"))?;
        self.position += 4;
        Ok(digits)
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        self.position += 1;
        let mut out = Vec::new();
        loop {
            let Some(&byte) = self.input.get(self.position) else {
                return Err(self.error("value"));
            };
            self.position += 1;
            match byte {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&escaped) = self.input.get(self.position) else {
                        return Err(self.error("value"));
                    };
                    self.position += 1;
                    match escaped {
                        b'"' | b'\\' | b'/' => out.push(escaped),
                        b'b' => out.push(0x08),
                        b'f' => out.push(0x0c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code)
                                && self.input.get(self.position..self.position + 2) == Some(b"\\u")
                            {
                                self.position += 2;
                                let low = self.hex4()?;
                                code = 0x10000
                                    + ((code - 0xD800) << 10)
                                    + (low.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            let character = char::from_u32(code).unwrap_or('\u{FFFD}');
                            let mut buffer = [0u8; 4];
                            out.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
                        }
                        _ => return Err(self.error("value")),
                    }
                }
                _ => out.push(byte),
            }
        }
    }
}
