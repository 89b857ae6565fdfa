//! `struct` (Roberto Ierusalimschy's library as Redis bundles it): `pack(fmt, ...)`,
//! `unpack(fmt, data [, init])` (values, then the next position) and `size(fmt)`.
//!
//! Formats: `>` big endian, `<`/`=` little endian, `![n]` alignment, `x` padding,
//! `b`/`B` char, `h`/`H` short, `l`/`L` long (8), `T` size_t (8), `i`/`I[n]` integer of n
//! bytes (default 4), `c[n]` fixed string, `s` zero-terminated string, `f` float,
//! `d` double.

use mlua::{Lua, MultiValue, Table, Value};

#[derive(Clone, Copy)]
enum Item {
    Padding,
    Integer { size: usize, signed: bool },
    Fixed(usize),
    Zero,
    Float,
    Double,
}

struct Format<'a> {
    bytes: &'a [u8],
    position: usize,
    little: bool,
    align: usize,
}

impl Format<'_> {
    fn number(&mut self, default: usize) -> usize {
        let start = self.position;
        while self
            .bytes
            .get(self.position)
            .is_some_and(u8::is_ascii_digit)
        {
            self.position += 1;
        }
        std::str::from_utf8(&self.bytes[start..self.position])
            .ok()
            .and_then(|digits| digits.parse().ok())
            .unwrap_or(default)
    }

    /// The next item, after applying any endianness or alignment options.
    fn next(&mut self) -> mlua::Result<Option<Item>> {
        loop {
            let Some(&option) = self.bytes.get(self.position) else {
                return Ok(None);
            };
            self.position += 1;
            let item = match option {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    self.align = self.number(8);
                    continue;
                }
                b'x' => Item::Padding,
                b'b' | b'B' => Item::Integer {
                    size: 1,
                    signed: option == b'b',
                },
                b'h' | b'H' => Item::Integer {
                    size: 2,
                    signed: option == b'h',
                },
                b'l' | b'L' | b'T' => Item::Integer {
                    size: 8,
                    signed: option == b'l',
                },
                b'i' | b'I' => {
                    let size = self.number(4);
                    if size == 0 || size > 8 {
                        return Err(mlua::Error::runtime(format!(
                            "integral size {size} is larger than limit of 8"
                        )));
                    }
                    Item::Integer {
                        size,
                        signed: option == b'i',
                    }
                }
                b'c' => Item::Fixed(self.number(1)),
                b's' => Item::Zero,
                b'f' => Item::Float,
                b'd' => Item::Double,
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "invalid format option '{}'",
                        char::from(other)
                    )))
                }
            };
            return Ok(Some(item));
        }
    }

    /// Padding before an item of `size` bytes at `offset`.
    fn padding(&self, size: usize, offset: usize) -> usize {
        let align = size.min(self.align);
        if align <= 1 || !align.is_power_of_two() {
            return 0;
        }
        (align - offset % align) % align
    }
}

fn format(bytes: &[u8]) -> Format<'_> {
    Format {
        bytes,
        position: 0,
        little: true,
        align: 1,
    }
}

fn item_size(item: Item) -> usize {
    match item {
        Item::Padding => 1,
        Item::Integer { size, .. } => size,
        Item::Fixed(size) => size,
        Item::Zero => 0,
        Item::Float => 4,
        Item::Double => 8,
    }
}

fn number_arg(values: &mut impl Iterator<Item = Value>, index: usize) -> mlua::Result<f64> {
    match values.next() {
        Some(Value::Number(number)) => Ok(number),
        Some(Value::Integer(number)) => Ok(number as f64),
        Some(Value::String(text)) => text
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .ok_or_else(|| {
                mlua::Error::runtime(format!(
                    "bad argument #{index} to 'pack' (number expected, got string)"
                ))
            }),
        other => Err(mlua::Error::runtime(format!(
            "bad argument #{index} to 'pack' (number expected, got {})",
            other.map_or("no value", |value| value.type_name())
        ))),
    }
}

fn pack(lua: &Lua, (fmt, values): (mlua::LuaString, MultiValue)) -> mlua::Result<mlua::LuaString> {
    let fmt_bytes = fmt.as_bytes();
    let mut format = format(&fmt_bytes);
    let mut values = values.into_iter();
    let mut out: Vec<u8> = Vec::new();
    let mut index = 1;
    while let Some(item) = format.next()? {
        let padding = format.padding(item_size(item), out.len());
        out.resize(out.len() + padding, 0);
        index += 1;
        match item {
            Item::Padding => out.push(0),
            Item::Integer { size, .. } => {
                let number = number_arg(&mut values, index)?;
                let value = if number < 0.0 {
                    number as i64 as u64
                } else {
                    number as u64
                };
                let bytes = value.to_le_bytes();
                let mut chunk = bytes[..size].to_vec();
                if !format.little {
                    chunk.reverse();
                }
                out.extend_from_slice(&chunk);
            }
            Item::Float | Item::Double => {
                let number = number_arg(&mut values, index)?;
                let mut chunk = if matches!(item, Item::Float) {
                    (number as f32).to_le_bytes().to_vec()
                } else {
                    number.to_le_bytes().to_vec()
                };
                if !format.little {
                    chunk.reverse();
                }
                out.extend_from_slice(&chunk);
            }
            Item::Fixed(_) | Item::Zero => {
                let text = match values.next() {
                    Some(Value::String(text)) => text.as_bytes().to_vec(),
                    Some(Value::Number(number)) => {
                        crate::convert::format_g(number, 14).into_bytes()
                    }
                    Some(Value::Integer(number)) => number.to_string().into_bytes(),
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{index} to 'pack' (string expected, got {})",
                            other.map_or("no value", |value| value.type_name())
                        )))
                    }
                };
                if let Item::Fixed(size) = item {
                    if text.len() < size {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{index} to 'pack' (string too short)"
                        )));
                    }
                    out.extend_from_slice(&text[..size]);
                } else {
                    if text.contains(&0) {
                        return Err(mlua::Error::runtime(format!(
                            "bad argument #{index} to 'pack' (string contains zeros)"
                        )));
                    }
                    out.extend_from_slice(&text);
                    out.push(0);
                }
            }
        }
    }
    lua.create_string(out)
}

fn unpack(
    lua: &Lua,
    (fmt, data, init): (mlua::LuaString, mlua::LuaString, Option<f64>),
) -> mlua::Result<MultiValue> {
    let fmt_bytes = fmt.as_bytes();
    let data = data.as_bytes();
    let mut format = format(&fmt_bytes);
    let mut position = init.map_or(0, |init| (init.max(1.0) as usize) - 1);
    let mut results = MultiValue::new();
    let short = || mlua::Error::runtime("bad argument #2 to 'unpack' (data string too short)");
    let mut previous_number: Option<usize> = None;
    while let Some(item) = format.next()? {
        position += format.padding(item_size(item), position);
        match item {
            Item::Padding => position += 1,
            Item::Integer { size, signed } => {
                let mut chunk = data
                    .get(position..position + size)
                    .ok_or_else(short)?
                    .to_vec();
                if !format.little {
                    chunk.reverse();
                }
                let mut bytes = [0u8; 8];
                bytes[..size].copy_from_slice(&chunk);
                let mut value = u64::from_le_bytes(bytes);
                let number = if signed && size < 8 && value >> (size * 8 - 1) & 1 == 1 {
                    value |= u64::MAX << (size * 8);
                    value as i64 as f64
                } else if signed {
                    value as i64 as f64
                } else {
                    value as f64
                };
                previous_number = Some(number as usize);
                results.push_back(Value::Number(number));
                position += size;
            }
            Item::Float | Item::Double => {
                let size = item_size(item);
                let mut chunk = data
                    .get(position..position + size)
                    .ok_or_else(short)?
                    .to_vec();
                if !format.little {
                    chunk.reverse();
                }
                let number = if size == 4 {
                    f64::from(f32::from_le_bytes(chunk.try_into().unwrap_or_default()))
                } else {
                    f64::from_le_bytes(chunk.try_into().unwrap_or_default())
                };
                results.push_back(Value::Number(number));
                position += size;
            }
            Item::Fixed(size) => {
                let size = if size == 0 {
                    previous_number.take().unwrap_or(0)
                } else {
                    size
                };
                let text = data.get(position..position + size).ok_or_else(short)?;
                results.push_back(Value::String(lua.create_string(text)?));
                position += size;
            }
            Item::Zero => {
                let rest = data.get(position..).ok_or_else(short)?;
                let end = rest
                    .iter()
                    .position(|&byte| byte == 0)
                    .ok_or_else(|| mlua::Error::runtime("unfinished string in data"))?;
                results.push_back(Value::String(lua.create_string(&rest[..end])?));
                position += end + 1;
            }
        }
    }
    results.push_back(Value::Number((position + 1) as f64));
    Ok(results)
}

fn size(_: &Lua, fmt: mlua::LuaString) -> mlua::Result<f64> {
    let fmt_bytes = fmt.as_bytes();
    let mut format = format(&fmt_bytes);
    let mut total = 0usize;
    while let Some(item) = format.next()? {
        if matches!(item, Item::Zero) {
            return Err(mlua::Error::runtime("options 's' has no fixed size"));
        }
        total += format.padding(item_size(item), total) + item_size(item);
    }
    Ok(total as f64)
}

/// Creates the `struct` table.
pub(crate) fn create(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.set("pack", lua.create_function(pack)?)?;
    table.set("unpack", lua.create_function(unpack)?)?;
    table.set("size", lua.create_function(size)?)?;
    Ok(table)
}
