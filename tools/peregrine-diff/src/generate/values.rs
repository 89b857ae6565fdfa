//! The key space and the pools arguments are drawn from.
//!
//! The key space is small so that commands collide on the same keys; it holds
//! plain keys, two keys sharing a hash tag (same slot, same shard), a binary key
//! and the empty key. Values mix integers (including i64 edges and texts that
//! only look like integers), floats in every spelling Redis accepts or rejects,
//! binary data, text with spaces and CRLF inside, strings on the 44/45-byte
//! embstr boundary, and ~100-byte strings.

use super::Context;

/// Every key a sequence uses.
pub const KEYS: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"k6",
    b"k7",
    b"{t}a",
    b"{t}b",
    b"bin\x00\xff",
    b"",
];

/// Small integers, valid everywhere an integer is.
const SMALL_INTEGERS: &[&str] = &[
    "0", "1", "-1", "2", "3", "7", "10", "42", "-42", "100", "255", "1000",
];

/// The i64 edges and the first values past them.
const EDGE_INTEGERS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
];

/// Texts that a lenient parser would take for integers and Redis does not.
const INTEGER_LOOKALIKES: &[&str] = &[
    "007", "-0", "+1", " 1", "1 ", "0x10", "1e3", "12abc", "1_000", "-", "",
];

/// Floats in the spellings Redis accepts and some it rejects.
const FLOATS: &[&str] = &[
    "1.5",
    "-0.0",
    "0.0",
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "5e3",
    "0.1",
    "0.2",
    "-2.25",
    "3.0",
    "1e-5",
    ".5",
    "5.",
    "1e",
    "1.7976931348623157e308",
    "1e309",
    "Infinity",
    "abc",
];

/// Short texts, including spaces, CRLF and things that look like RESP.
const TEXTS: &[&[u8]] = &[
    b"",
    b"a",
    b"b",
    b"abc",
    b"hello world",
    b"a\r\nb",
    b"\r\n",
    b"line\r\n$3\r\nfoo",
    b" ",
    b"x y z",
    b"*1\r\n$4\r\nPING\r\n",
    b"-ERR not an error",
    b"+OK",
    b"\"quoted\"",
    b"tab\there",
];

/// Short binary values.
const BINARIES: &[&[u8]] = &[
    b"\x00",
    b"\xff\x00\xfe",
    b"a\x00b",
    b"\x80\x81",
    b"\xc3\x28",
];

/// A key from [`KEYS`].
pub fn key(context: &mut Context<'_>) -> Vec<u8> {
    context.pick(KEYS).to_vec()
}

/// Between `low` and `high` keys, possibly repeated.
pub fn some_keys(context: &mut Context<'_>, low: i64, high: i64) -> Vec<Vec<u8>> {
    let count = context.between(low, high);
    (0..count).map(|_| key(context)).collect()
}

/// A value for SET and friends.
pub fn value(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=19 => context.pick(SMALL_INTEGERS).as_bytes().to_vec(),
        20..=25 => context.pick(EDGE_INTEGERS).as_bytes().to_vec(),
        26..=30 => context.pick(INTEGER_LOOKALIKES).as_bytes().to_vec(),
        31..=40 => context.pick(FLOATS).as_bytes().to_vec(),
        41..=52 => context.pick(TEXTS).to_vec(),
        53..=57 => context.pick(BINARIES).to_vec(),
        58..=60 => random_bytes(context, 1, 8),
        61..=77 => from_alphabet(context, b"abc", 0, 12),
        78..=83 => from_alphabet(context, PRINTABLE, 90, 110),
        84..=87 => {
            let length = context.between(43, 46);
            vec![b'x'; usize::try_from(length).unwrap_or(44)]
        }
        88..=93 => {
            let mut digits = from_alphabet(context, b"0123456789", 1, 21);
            if let Some(first) = digits.first_mut() {
                if *first == b'0' && context.chance(80) {
                    *first = b'1';
                }
            }
            digits
        }
        _ => from_alphabet(context, PRINTABLE_WITH_SPACE, 1, 20),
    }
}

/// An INCRBY / DECRBY amount: mostly valid, sometimes at the edges or not an integer.
pub fn increment(context: &mut Context<'_>) -> Vec<u8> {
    match context.rng.below(100) {
        0..=69 => context.pick(SMALL_INTEGERS).as_bytes().to_vec(),
        70..=84 => context.pick(EDGE_INTEGERS).as_bytes().to_vec(),
        _ => context.pick(INTEGER_LOOKALIKES).as_bytes().to_vec(),
    }
}

/// An INCRBYFLOAT amount.
pub fn float_increment(context: &mut Context<'_>) -> Vec<u8> {
    if context.chance(70) {
        context.pick(FLOATS).as_bytes().to_vec()
    } else {
        increment(context)
    }
}

/// A GETRANGE / SUBSTR index.
pub fn range_index(context: &mut Context<'_>) -> Vec<u8> {
    const INDEXES: &[&str] = &[
        "0",
        "1",
        "2",
        "3",
        "5",
        "-1",
        "-2",
        "-3",
        "-5",
        "-100",
        "100",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "abc",
        "",
        "1.5",
    ];
    context.pick(INDEXES).as_bytes().to_vec()
}

/// Largest SETRANGE offset generated that Redis accepts; larger ones are
/// chosen only where Redis rejects them without allocating.
pub const MAX_VALID_OFFSET: usize = 200;

/// A SETRANGE offset and, when it is a valid small one, its value.
pub fn offset(context: &mut Context<'_>) -> (Vec<u8>, Option<usize>) {
    const INVALID: &[&str] = &["-1", "536870912", "9223372036854775807", "abc", "", "1.5"];
    if context.chance(85) {
        let offset = if context.chance(70) {
            context.between(0, 10)
        } else {
            context.between(11, 200)
        };
        let offset = usize::try_from(offset).unwrap_or(0).min(MAX_VALID_OFFSET);
        (offset.to_string().into_bytes(), Some(offset))
    } else {
        (context.pick(INVALID).as_bytes().to_vec(), None)
    }
}

/// A database index and, when valid, its value. Valid ones are 0 to 3.
pub fn database(context: &mut Context<'_>) -> (Vec<u8>, Option<usize>) {
    const INVALID: &[&str] = &["16", "-1", "abc", "99", "", "1.0"];
    if context.chance(88) {
        let database = context.between(0, 3);
        let index = usize::try_from(database).unwrap_or(0);
        (index.to_string().into_bytes(), Some(index))
    } else {
        (context.pick(INVALID).as_bytes().to_vec(), None)
    }
}

/// A glob pattern for KEYS and SCAN MATCH.
pub fn pattern(context: &mut Context<'_>) -> Vec<u8> {
    const PATTERNS: &[&[u8]] = &[
        b"*",
        b"k*",
        b"k?",
        b"k[0-3]",
        b"k[^0-3]",
        b"k[!0-3]",
        b"k[13579]",
        b"{t}*",
        b"\\{t\\}*",
        b"*a",
        b"*b*",
        b"",
        b"bin*",
        b"bin\x00*",
        b"k[",
        b"[a-",
        b"*\\",
        b"?",
        b"??",
        b"???",
        b"k\\1",
        b"K*",
        b"k[3-1]",
        b"*[tb]*",
    ];
    context.pick(PATTERNS).to_vec()
}

/// An option keyword, upper case most of the time and lower case sometimes,
/// since Redis reads options case-insensitively.
pub fn option(context: &mut Context<'_>, name: &str) -> Vec<u8> {
    if context.chance(10) {
        name.to_ascii_lowercase().into_bytes()
    } else {
        name.as_bytes().to_vec()
    }
}

const PRINTABLE: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const PRINTABLE_WITH_SPACE: &[u8] =
    b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:-_!?";

fn from_alphabet(context: &mut Context<'_>, alphabet: &[u8], low: i64, high: i64) -> Vec<u8> {
    let length = context.between(low, high);
    (0..length).map(|_| context.pick(alphabet)).collect()
}

fn random_bytes(context: &mut Context<'_>, low: i64, high: i64) -> Vec<u8> {
    let length = context.between(low, high);
    (0..length)
        .map(|_| u8::try_from(context.rng.below(256)).unwrap_or(0))
        .collect()
}
