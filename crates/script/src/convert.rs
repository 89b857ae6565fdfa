//! Conversions between Lua values and replies, as Redis's `script_lua.c`.

use bytes::Bytes;
use mlua::{Lua, Table};
use peregrine_resp::Reply;

/// Deepest table nesting converted to a reply (Redis fails on its Lua stack limit).
pub(crate) const MAX_DEPTH: usize = 200;

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
    let (code, message) = match buffer.strip_prefix(b"-") {
        Some(rest) => error_parts(rest),
        None => (b"ERR".as_slice(), trim_line_ends(buffer)),
    };
    let mut text = Vec::with_capacity(code.len() + 1 + message.len());
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(message);
    text
}

/// The code and message of an error reply's text `CODE message` (code `ERR` when it has
/// no space), as [`error_text`] splits `-CODE message`.
pub(crate) fn error_parts(text: &[u8]) -> (&[u8], &[u8]) {
    match text.iter().position(|&byte| byte == b' ') {
        Some(space) => (
            text.get(..space).unwrap_or_default(),
            trim_line_ends(text.get(space + 1..).unwrap_or_default()),
        ),
        None => (b"ERR", trim_line_ends(text)),
    }
}

/// `text` without leading and trailing CR/LF.
fn trim_line_ends(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| b != b'\r' && b != b'\n')
        .map_or(start, |end| end + 1);
    text.get(start..end).unwrap_or_default()
}

/// An error table `{err = text}` for the error buffer `buffer` (see [`error_text`]).
pub(crate) fn error_table(lua: &Lua, buffer: &[u8]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set("err", lua.create_string(error_text(buffer))?)?;
    Ok(table)
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
