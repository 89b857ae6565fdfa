//! `cmsgpack` (lua-cmsgpack as Redis bundles it): `pack(...)` concatenates the MessagePack
//! encoding of each argument, `unpack(data)` returns every value it holds.

use mlua::{Lua, MultiValue, Table, Value};

/// Tables nested deeper than this encode as nil (lua-cmsgpack's LUACMSGPACK_MAX_NESTING).
const MAX_NESTING: usize = 16;

/// Creates the `cmsgpack` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let cmsgpack = lua.create_table()?;
    cmsgpack.set(
        "pack",
        lua.create_function(|lua, values: MultiValue| {
            if values.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for value in values.iter() {
                encode(value, 0, &mut out)?;
            }
            lua.create_string(out)
        })?,
    )?;
    cmsgpack.set(
        "unpack",
        lua.create_function(|lua, data: mlua::LuaString| {
            let bytes = data.as_bytes();
            let mut decoder = Decoder {
                lua,
                input: &bytes,
                position: 0,
            };
            let mut values = MultiValue::new();
            while decoder.position < decoder.input.len() {
                values.push_back(decoder.value()?);
            }
            Ok(values)
        })?,
    )?;
    Ok(cmsgpack)
}

fn encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(flag) => out.push(if *flag { 0xc3 } else { 0xc2 }),
        Value::Integer(number) => encode_integer(*number, out),
        Value::Number(number) => {
            let number = *number;
            if number.fract() == 0.0 && number.is_finite() && number.abs() < 9.2e18 {
                encode_integer(number as i64, out);
            } else if f64::from(number as f32) == number || number.is_nan() {
                out.push(0xca);
                out.extend_from_slice(&(number as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&number.to_be_bytes());
            }
        }
        Value::String(text) => {
            let bytes = text.as_bytes();
            let length = bytes.len();
            if length < 32 {
                out.push(0xa0 | length as u8);
            } else if length <= 0xff {
                out.extend_from_slice(&[0xd9, length as u8]);
            } else if length <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(length as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(length as u32).to_be_bytes());
            }
            out.extend_from_slice(&bytes);
        }
        Value::Table(table) if depth < MAX_NESTING => encode_table(table, depth + 1, out)?,
        _ => out.push(0xc0),
    }
    Ok(())
}

fn encode_integer(number: i64, out: &mut Vec<u8>) {
    if number >= 0 {
        let number = number as u64;
        if number < 128 {
            out.push(number as u8);
        } else if number <= 0xff {
            out.extend_from_slice(&[0xcc, number as u8]);
        } else if number <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(number as u16).to_be_bytes());
        } else if number <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(number as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&number.to_be_bytes());
        }
    } else if number >= -32 {
        out.push(number as i8 as u8);
    } else if number >= -128 {
        out.extend_from_slice(&[0xd0, number as i8 as u8]);
    } else if number >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(number as i16).to_be_bytes());
    } else if number >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(number as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&number.to_be_bytes());
    }
}

fn encode_length(length: usize, fix: u8, small: u8, out: &mut Vec<u8>) {
    if length < 16 {
        out.push(fix | length as u8);
    } else if length <= 0xffff {
        out.push(small);
        out.extend_from_slice(&(length as u16).to_be_bytes());
    } else {
        out.push(small + 1);
        out.extend_from_slice(&(length as u32).to_be_bytes());
    }
}

fn encode_table(table: &Table, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    // An array: keys are exactly 1..n.
    let mut count = 0usize;
    let mut max = 0i64;
    let mut array = true;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        count += 1;
        match key {
            Value::Integer(index) if index >= 1 => max = max.max(index),
            Value::Number(index) if index >= 1.0 && index.fract() == 0.0 => {
                max = max.max(index as i64)
            }
            _ => array = false,
        }
    }
    if array && max as usize == count {
        encode_length(count, 0x90, 0xdc, out);
        for index in 1..=count {
            encode(&table.raw_get::<Value>(index)?, depth, out)?;
        }
    } else {
        encode_length(count, 0x80, 0xde, out);
        for pair in table.pairs::<Value, Value>() {
            let (key, value) = pair?;
            encode(&key, depth, out)?;
            encode(&value, depth, out)?;
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
    fn take(&mut self, count: usize) -> mlua::Result<&[u8]> {
        let end = self
            .position
            .checked_add(count)
            .filter(|end| *end <= self.input.len());
        let Some(end) = end else {
            return Err(mlua::Error::runtime("Missing bytes in input."));
        };
        let bytes = &self.input[self.position..end];
        self.position = end;
        Ok(bytes)
    }

    fn uint(&mut self, size: usize) -> mlua::Result<u64> {
        Ok(self
            .take(size)?
            .iter()
            .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte)))
    }

    fn string(&mut self, length: usize) -> mlua::Result<Value> {
        let bytes = self.take(length)?.to_vec();
        Ok(Value::String(self.lua.create_string(bytes)?))
    }

    fn array(&mut self, length: usize) -> mlua::Result<Value> {
        let table = self.lua.create_table()?;
        for index in 1..=length {
            table.raw_set(index, self.value()?)?;
        }
        Ok(Value::Table(table))
    }

    fn map(&mut self, length: usize) -> mlua::Result<Value> {
        let table = self.lua.create_table()?;
        for _ in 0..length {
            let key = self.value()?;
            let value = self.value()?;
            if !key.is_nil() {
                table.raw_set(key, value)?;
            }
        }
        Ok(Value::Table(table))
    }

    fn value(&mut self) -> mlua::Result<Value> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x00..=0x7f => Value::Number(f64::from(tag)),
            0x80..=0x8f => self.map(usize::from(tag & 0x0f))?,
            0x90..=0x9f => self.array(usize::from(tag & 0x0f))?,
            0xa0..=0xbf => self.string(usize::from(tag & 0x1f))?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let length = self.uint(1)? as usize;
                self.string(length)?
            }
            0xc5 | 0xda => {
                let length = self.uint(2)? as usize;
                self.string(length)?
            }
            0xc6 | 0xdb => {
                let length = self.uint(4)? as usize;
                self.string(length)?
            }
            0xca => Value::Number(f64::from(f32::from_bits(self.uint(4)? as u32))),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(f64::from(self.uint(1)? as u8 as i8)),
            0xd1 => Value::Number(f64::from(self.uint(2)? as u16 as i16)),
            0xd2 => Value::Number(f64::from(self.uint(4)? as u32 as i32)),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xdc => {
                let length = self.uint(2)? as usize;
                self.array(length)?
            }
            0xdd => {
                let length = self.uint(4)? as usize;
                self.array(length)?
            }
            0xde => {
                let length = self.uint(2)? as usize;
                self.map(length)?
            }
            0xdf => {
                let length = self.uint(4)? as usize;
                self.map(length)?
            }
            0xe0..=0xff => Value::Number(f64::from(tag as i8)),
            _ => return Err(mlua::Error::runtime("Bad data format in input.")),
        })
    }
}
