//! DEBUG PROTOCOL <type>: one reply of each RESP type, as redis-server sends it, for
//! client libraries' tests of their RESP2 and RESP3 parsers.

use bytes::Bytes;
use peregrine_resp::{Protocol, Reply};

const BIGNUM: &str = "1234567999999999999999999999999999999";
const AFTER_ATTRIBUTE: &str = "Some real reply following the attribute";
/// Redis's sample double: the text `3.141`, not an approximation of π.
#[allow(clippy::approx_constant)]
const DOUBLE: f64 = 3.141;

/// The sample reply of `kind` for a client speaking `protocol`.
pub fn sample(kind: &str, protocol: Protocol) -> Reply {
    let resp3 = protocol == Protocol::Resp3;
    let numbers = || (0..3).map(Reply::Integer).collect::<Vec<_>>();
    match kind {
        "string" => Reply::bulk("Hello World"),
        "integer" => Reply::Integer(12345),
        "double" => Reply::Double(DOUBLE),
        "bignum" if resp3 => Reply::Raw(Bytes::from(format!("({BIGNUM}\r\n"))),
        "bignum" => Reply::bulk(BIGNUM),
        "null" => Reply::Nil,
        "array" => Reply::Array(numbers()),
        "set" => Reply::Set(numbers()),
        "map" => Reply::Map(
            (0..3)
                .map(|index| (Reply::Integer(index), Reply::Bool(index == 1)))
                .collect(),
        ),
        "attrib" if resp3 => {
            let mut raw = Vec::new();
            Reply::Raw(Bytes::from_static(b"|1\r\n")).encode(protocol, &mut raw);
            Reply::bulk("key-popularity").encode(protocol, &mut raw);
            Reply::Array(vec![Reply::bulk("key:123"), Reply::Integer(90)])
                .encode(protocol, &mut raw);
            Reply::bulk(AFTER_ATTRIBUTE).encode(protocol, &mut raw);
            Reply::Raw(Bytes::from(raw))
        }
        "attrib" => Reply::bulk(AFTER_ATTRIBUTE),
        "push" if resp3 => {
            let mut raw = Vec::new();
            Reply::Push(vec![Reply::bulk("server-cpu-usage"), Reply::Integer(42)])
                .encode(protocol, &mut raw);
            Reply::bulk("Some real reply following the push reply").encode(protocol, &mut raw);
            Reply::Raw(Bytes::from(raw))
        }
        "push" => Reply::error("ERR RESP2 is not supported by this command"),
        "verbatim" => Reply::Verbatim("txt", Bytes::from_static(b"This is a verbatim\nstring")),
        "true" => Reply::Bool(true),
        "false" => Reply::Bool(false),
        _ => Reply::error(
            "ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
        ),
    }
}
