//! Conversions between Lua values and replies, as Redis's `script_lua.c`.

use bytes::Bytes;
use mlua::{Lua, LuaString, Table, Value};
use peregrine_resp::{format_double, Reply};

/// Deepest table nesting converted to a reply (Redis fails on its Lua stack limit).
const MAX_DEPTH: usize = 200;

/// The field names the conversions read and write, made once per Lua state: a lookup
/// with a ready key pushes a reference instead of hashing and interning the name again.
pub(crate) struct FieldNames {
    err: LuaString,
    ok: LuaString,
    double: LuaString,
    big_number: LuaString,
    verbatim_string: LuaString,
    format: LuaString,
    string: LuaString,
    map: LuaString,
    set: LuaString,
}

impl FieldNames {
    pub(crate) fn new(lua: &Lua) -> mlua::Result<FieldNames> {
        Ok(FieldNames {
            err: lua.create_string("err")?,
            ok: lua.create_string("ok")?,
            double: lua.create_string("double")?,
            big_number: lua.create_string("big_number")?,
            verbatim_string: lua.create_string("verbatim_string")?,
            format: lua.create_string("format")?,
            string: lua.create_string("string")?,
            map: lua.create_string("map")?,
            set: lua.create_string("set")?,
        })
    }
}

/// Formats `value` as C's `printf("%.<precision>g")`.
pub(crate) fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_string();
    }
    if value.is_infinite() {
        return if value < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let precision = precision.max(1);
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        strip_fraction_zeros(&format!("{value:.decimals$}")).to_string()
    }
}

fn strip_fraction_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// 2^63, the first double past `i64::MAX`.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `(long long)lua_Number` as x86 computes it: out of range and NaN give `i64::MIN`.
pub(crate) fn number_to_integer(number: f64) -> i64 {
    if !(-TWO_POW_63..TWO_POW_63).contains(&number) {
        i64::MIN
    } else {
        number as i64
    }
}

/// Redis's `luaPushErrorBuff`: `-CODE message` or `message` (code `ERR`) to the text of
/// an error table, `CODE message`, without surrounding CR/LF.
pub(crate) fn error_text(buffer: &[u8]) -> Vec<u8> {
    let (code, message): (&[u8], &[u8]) = match buffer.strip_prefix(b"-") {
        Some(rest) => match rest.iter().position(|&byte| byte == b' ') {
            Some(space) => (&rest[..space], &rest[space + 1..]),
            None => (b"ERR", rest),
        },
        None => (b"ERR", buffer),
    };
    let start = message
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(message.len());
    let end = message
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(start, |end| end + 1);
    let mut text = Vec::with_capacity(code.len() + 1 + end.saturating_sub(start));
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(message.get(start..end).unwrap_or_default());
    text
}

/// An error table `{err = text}` for the error buffer `buffer` (see [`error_text`]).
pub(crate) fn error_table(lua: &Lua, buffer: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set("err", lua.create_string(error_text(buffer))?)?;
    Ok(table)
}

/// A command's reply as the script sees it (`resp3`: after `redis.setresp(3)`).
pub(crate) fn reply_to_lua(
    lua: &Lua,
    names: &FieldNames,
    reply: &Reply,
    resp3: bool,
) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Ok => status_table(lua, names, b"OK")?,
        Reply::Status(text) => status_table(lua, names, text.as_bytes())?,
        Reply::Error(text) => error_value(lua, text.as_bytes())?,
        Reply::BinaryError(text) => error_value(lua, text)?,
        Reply::Integer(value) => Value::Number(*value as f64),
        Reply::Bulk(bytes) => Value::String(lua.create_string(bytes)?),
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::Array(items) | Reply::Push(items) => array(lua, names, items.iter(), resp3)?,
        Reply::Set(items) if resp3 => {
            let set = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                set.raw_set(reply_to_lua(lua, names, item, resp3)?, true)?;
            }
            wrapped(lua, &names.set, Value::Table(set))?
        }
        Reply::Set(items) => array(lua, names, items.iter(), resp3)?,
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (key, value) in pairs {
                map.raw_set(
                    reply_to_lua(lua, names, key, resp3)?,
                    reply_to_lua(lua, names, value, resp3)?,
                )?;
            }
            wrapped(lua, &names.map, Value::Table(map))?
        }
        Reply::Map(pairs) => array(lua, names, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)?,
        Reply::Pairs(pairs) if resp3 => {
            let table = lua.create_table_with_capacity(pairs.len(), 0)?;
            for (index, (first, second)) in pairs.iter().enumerate() {
                let pair = array(lua, names, [first, second].into_iter(), resp3)?;
                table.raw_set(index + 1, pair)?;
            }
            Value::Table(table)
        }
        Reply::Pairs(pairs) => array(lua, names, pairs.iter().flat_map(|(k, v)| [k, v]), resp3)?,
        Reply::Double(value) if resp3 => wrapped(lua, &names.double, Value::Number(*value))?,
        Reply::Double(value) => Value::String(lua.create_string(format_double(*value))?),
        Reply::Bool(value) if resp3 => Value::Boolean(*value),
        Reply::Bool(value) => Value::Number(if *value { 1.0 } else { 0.0 }),
        Reply::Verbatim(format, text) if resp3 => {
            let inner = lua.create_table_with_capacity(0, 2)?;
            inner.raw_set(&names.format, *format)?;
            inner.raw_set(&names.string, lua.create_string(text)?)?;
            wrapped(lua, &names.verbatim_string, Value::Table(inner))?
        }
        Reply::Verbatim(_, text) => Value::String(lua.create_string(text)?),
        Reply::Raw(bytes) => match parse_reply(bytes) {
            Some((parsed, _)) => reply_to_lua(lua, names, &parsed, resp3)?,
            None => error_value(lua, b"ERR Protocol error: bad reply from command")?,
        },
    })
}

fn status_table(lua: &Lua, names: &FieldNames, text: &[u8]) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(&names.ok, lua.create_string(text)?)?;
    Ok(Value::Table(table))
}

fn error_value(lua: &Lua, text: &[u8]) -> mlua::Result<Value> {
    let mut buffer = Vec::with_capacity(text.len() + 1);
    buffer.push(b'-');
    buffer.extend_from_slice(text);
    Ok(Value::Table(error_table(lua, &buffer)?))
}

fn wrapped(lua: &Lua, field: &LuaString, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(field, value)?;
    Ok(Value::Table(table))
}

fn array<'a>(
    lua: &Lua,
    names: &FieldNames,
    items: impl Iterator<Item = &'a Reply>,
    resp3: bool,
) -> mlua::Result<Value> {
    let table = lua.create_table_with_capacity(items.size_hint().0, 0)?;
    for (index, item) in items.enumerate() {
        table.raw_set(index + 1, reply_to_lua(lua, names, item, resp3)?)?;
    }
    Ok(Value::Table(table))
}

/// A script's return value as the reply to the client (`resp3`: the script's
/// `redis.setresp`, which decides how booleans convert).
pub(crate) fn lua_to_reply(names: &FieldNames, value: &Value, resp3: bool) -> Reply {
    lua_to_reply_at(names, value, resp3, 0)
}

fn lua_to_reply_at(names: &FieldNames, value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::String(text) => Reply::Bulk(Bytes::copy_from_slice(&text.as_bytes())),
        Value::Boolean(flag) if resp3 => Reply::Bool(*flag),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Boolean(false) => Reply::Nil,
        Value::Integer(number) => Reply::Integer(*number),
        Value::Number(number) => Reply::Integer(number_to_integer(*number)),
        Value::Table(table) => table_to_reply(names, table, resp3, depth),
        _ => Reply::Nil,
    }
}

fn field(table: &Table, name: &LuaString) -> Value {
    table.get::<Value>(name).unwrap_or(Value::Nil)
}

/// `\r` and `\n` become spaces, as Redis does for status and error texts.
fn one_line(text: &[u8]) -> String {
    String::from_utf8_lossy(text).replace(['\r', '\n'], " ")
}

fn table_to_reply(names: &FieldNames, table: &Table, resp3: bool, depth: usize) -> Reply {
    if let Value::String(error) = field(table, &names.err) {
        return Reply::error(one_line(&error.as_bytes()));
    }
    if let Value::String(status) = field(table, &names.ok) {
        return Reply::Status(one_line(&status.as_bytes()).into());
    }
    match field(table, &names.double) {
        Value::Number(number) => return Reply::Double(number),
        Value::Integer(number) => return Reply::Double(number as f64),
        _ => {}
    }
    if let Value::String(number) = field(table, &names.big_number) {
        return Reply::Bulk(Bytes::from(one_line(&number.as_bytes())));
    }
    if let Value::Table(verbatim) = field(table, &names.verbatim_string) {
        if let (Value::String(format), Value::String(text)) = (
            field(&verbatim, &names.format),
            field(&verbatim, &names.string),
        ) {
            let text = Bytes::copy_from_slice(&text.as_bytes());
            return match &*format.as_bytes() {
                b"txt" => Reply::Verbatim("txt", text),
                b"mkd" => Reply::Verbatim("mkd", text),
                _ => Reply::Bulk(text),
            };
        }
    }
    if let Value::Table(map) = field(table, &names.map) {
        let pairs = map
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(key, value)| {
                (
                    lua_to_reply_at(names, &key, resp3, depth + 1),
                    lua_to_reply_at(names, &value, resp3, depth + 1),
                )
            })
            .collect();
        return Reply::Map(pairs);
    }
    if let Value::Table(set) = field(table, &names.set) {
        let items = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(key, _)| lua_to_reply_at(names, &key, resp3, depth + 1))
            .collect();
        return Reply::Set(items);
    }
    let mut items = Vec::with_capacity(table.raw_len());
    for index in 1.. {
        match table.get::<Value>(index) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(item) => items.push(lua_to_reply_at(names, &item, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}

/// Parses one RESP2/RESP3 reply (for [`Reply::Raw`]); returns it and the bytes used.
pub(crate) fn parse_reply(input: &[u8]) -> Option<(Reply, usize)> {
    let line_end = input.windows(2).position(|pair| pair == b"\r\n")?;
    let (&kind, line) = input.get(..line_end)?.split_first()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut used = line_end + 2;
    let reply = match kind {
        b'+' => Reply::Status(text.to_string().into()),
        b'-' => Reply::error(text.to_string()),
        b':' => Reply::Integer(text.parse().ok()?),
        b'_' => Reply::Nil,
        b'#' => Reply::Bool(text == "t"),
        b',' => Reply::Double(text.parse().ok()?),
        b'(' => Reply::Bulk(Bytes::copy_from_slice(line)),
        b'$' | b'=' => {
            let length: i64 = text.parse().ok()?;
            if length < 0 {
                return Some((Reply::Nil, used));
            }
            let length = usize::try_from(length).ok()?;
            let body = input.get(used..used.checked_add(length)?)?;
            used = used.checked_add(length)?.checked_add(2)?;
            if kind == b'=' && body.len() >= 4 {
                Reply::Bulk(Bytes::copy_from_slice(body.get(4..)?))
            } else {
                Reply::Bulk(Bytes::copy_from_slice(body))
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let count: i64 = text.parse().ok()?;
            if count < 0 {
                return Some((Reply::NilArray, used));
            }
            let elements = if kind == b'%' {
                count.checked_mul(2)?
            } else {
                count
            };
            let mut items = Vec::new();
            for _ in 0..elements {
                let (item, item_used) = parse_reply(input.get(used..)?)?;
                used = used.checked_add(item_used)?;
                items.push(item);
            }
            match kind {
                b'~' => Reply::Set(items),
                b'%' => {
                    let mut pairs = Vec::with_capacity(items.len() / 2);
                    let mut iter = items.into_iter();
                    while let (Some(key), Some(value)) = (iter.next(), iter.next()) {
                        pairs.push((key, value));
                    }
                    Reply::Map(pairs)
                }
                _ => Reply::Array(items),
            }
        }
        _ => return None,
    };
    Some((reply, used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_printf() {
        assert_eq!(format_g(1.5, 17), "1.5");
        assert_eq!(format_g(3.0, 17), "3");
        assert_eq!(format_g(3.0000000000001, 17), "3.0000000000000999");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(0.0001, 14), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(-0.5, 14), "-0.5");
        assert_eq!(format_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(format_g(100.0, 14), "100");
    }

    #[test]
    fn number_to_integer_as_x86() {
        assert_eq!(number_to_integer(1.9), 1);
        assert_eq!(number_to_integer(-1.9), -1);
        assert_eq!(number_to_integer(1e300), i64::MIN);
        assert_eq!(number_to_integer(f64::NAN), i64::MIN);
    }

    #[test]
    fn error_text_as_redis() {
        assert_eq!(error_text(b"-WRONGTYPE bad\r\n"), b"WRONGTYPE bad");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"-ERR"), b"ERR ERR");
        assert_eq!(error_text(b"plain text"), b"ERR plain text");
    }

    #[test]
    fn parses_raw_replies() {
        let raw = Reply::bulk_array([b"a".as_slice(), b"bc".as_slice()].into_iter());
        let Reply::Raw(bytes) = raw else {
            panic!("bulk_array is raw")
        };
        let (reply, used) = parse_reply(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            reply,
            Reply::Array(vec![Reply::bulk("a"), Reply::bulk("bc")])
        );
    }
}
