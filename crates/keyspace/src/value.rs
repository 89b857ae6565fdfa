//! Values stored under keys.

use crate::collections::{Hash, List, Set, SortedSet, Stream};
use crate::CompactBytes;

/// Strings up to this length are "embstr" in Redis's terms (one allocation with the key's
/// object header); longer ones, and strings modified in place, are "raw".
pub const EMBSTR_SIZE_LIMIT: usize = 44;

/// A value. Strings have three encodings, as in Redis: an integer, a short immutable
/// string, and a growable "raw" string (after APPEND/SETRANGE or when long). Collections
/// are boxed so every value stays 24 bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string that is the canonical decimal text of this integer.
    Int(i64),
    /// A string of at most [`EMBSTR_SIZE_LIMIT`] bytes.
    Embedded(CompactBytes),
    /// A long string, or one modified in place.
    Raw(Box<Vec<u8>>),
    /// A list.
    List(Box<List>),
    /// A hash: unboxed, as it is one pointer and a tag (a small hash is then one
    /// allocation besides its key's entry).
    Hash(Hash),
    /// A set: unboxed, as the hash (a small one is one allocation).
    Set(Set),
    /// A sorted set: unboxed, as the hash.
    SortedSet(SortedSet),
    /// A stream.
    Stream(Box<Stream>),
}

/// The type of a value, as TYPE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    String,
    /// `list`
    List,
    /// `hash`
    Hash,
    /// `set`
    Set,
    /// `zset`
    SortedSet,
    /// `stream`
    Stream,
}

impl Value {
    /// The heap block a command on this value reads first (a raw string's or a list's
    /// header, a small collection's encoding), for prefetching; none for a value stored
    /// inline.
    pub fn heap_address(&self) -> Option<*const u8> {
        match self {
            Value::Int(_) | Value::Embedded(_) => None,
            Value::Raw(bytes) => Some(std::ptr::from_ref(&**bytes).cast()),
            Value::List(list) => Some(std::ptr::from_ref(&**list).cast()),
            Value::Hash(hash) => Some(hash.address()),
            Value::Set(set) => Some(set.address()),
            Value::SortedSet(sorted_set) => Some(sorted_set.address()),
            Value::Stream(stream) => Some(std::ptr::from_ref(&**stream).cast()),
        }
    }

    /// The block a command reads next, whose address is in the [`Value::heap_address`]
    /// block (so this reads that block): a raw string's bytes, a small list's elements.
    pub fn contents_address(&self) -> Option<*const u8> {
        match self {
            Value::Raw(bytes) if bytes.capacity() > 0 => Some(bytes.as_ptr()),
            Value::List(list) => list.contents_address(),
            _ => None,
        }
    }
}

impl ValueType {
    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Hash => "hash",
            ValueType::Set => "set",
            ValueType::SortedSet => "zset",
            ValueType::Stream => "stream",
        }
    }

    /// Parses a TYPE name (case-insensitive), as SCAN's TYPE option takes it.
    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        [
            ValueType::String,
            ValueType::List,
            ValueType::Hash,
            ValueType::Set,
            ValueType::SortedSet,
            ValueType::Stream,
        ]
        .into_iter()
        .find(|candidate| name.eq_ignore_ascii_case(candidate.name().as_bytes()))
    }
}

impl Value {
    /// A string value in the encoding Redis would choose for `bytes` given by a client.
    pub fn string(bytes: &[u8]) -> Value {
        if let Some(integer) = canonical_integer(bytes) {
            return Value::Int(integer);
        }
        if bytes.len() <= EMBSTR_SIZE_LIMIT {
            Value::Embedded(CompactBytes::new(bytes))
        } else {
            Value::Raw(Box::new(bytes.to_vec()))
        }
    }

    /// An empty collection of `value_type` (as TYPE names it) in `encoding` (as OBJECT
    /// ENCODING names it), to be filled at once: how persistence recreates a value in the
    /// encoding it had. `None` for strings, lists and unknown names.
    pub fn empty_collection(value_type: &[u8], encoding: &[u8]) -> Option<Value> {
        match value_type {
            b"hash" => Hash::empty_in(encoding).map(Value::Hash),
            b"set" => Set::empty_in(encoding).map(Value::Set),
            b"zset" => SortedSet::empty_in(encoding).map(Value::SortedSet),
            _ => None,
        }
    }

    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Int(_) | Value::Embedded(_) | Value::Raw(_) => ValueType::String,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::SortedSet(_) => ValueType::SortedSet,
            Value::Stream(_) => ValueType::Stream,
        }
    }

    /// The name OBJECT ENCODING replies with.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Embedded(_) => "embstr",
            Value::Raw(_) => "raw",
            Value::List(list) => list.encoding_name(),
            Value::Hash(hash) => hash.encoding_name(),
            Value::Set(set) => set.encoding_name(),
            Value::SortedSet(sorted_set) => sorted_set.encoding_name(),
            Value::Stream(_) => "stream",
        }
    }

    /// How many elements freeing this value visits: 1 for strings, the element count
    /// for collections (Redis's lazyfree "effort"; big ones are freed in the background).
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Int(_) | Value::Embedded(_) | Value::Raw(_) => 1,
            Value::List(list) => list.len(),
            Value::Hash(hash) => hash.len(),
            Value::Set(set) => set.len(),
            Value::SortedSet(sorted_set) => sorted_set.len(),
            Value::Stream(stream) => stream.node_count().max(1),
        }
    }
}

/// A collection type stored as a [`Value`] variant: lets command families find, create
/// and check the type of their values generically.
pub trait Collection: Sized {
    /// The type TYPE reports.
    const TYPE: ValueType;

    /// The collection inside `value`, or `None` when it holds another type.
    fn from_value(value: &mut Value) -> Option<&mut Self>;

    /// Wraps the collection as a value.
    fn into_value(self) -> Value;

    /// True when the collection has no elements (it must then be deleted).
    fn is_empty(&self) -> bool;

    /// Number of elements.
    fn len(&self) -> usize;
}

macro_rules! collection {
    ($type:ident, $variant:ident) => {
        impl Collection for $type {
            const TYPE: ValueType = ValueType::$variant;

            fn from_value(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }

            fn into_value(self) -> Value {
                Value::$variant(self.into())
            }

            fn is_empty(&self) -> bool {
                $type::is_empty(self)
            }

            fn len(&self) -> usize {
                $type::len(self)
            }
        }
    };
}

collection!(List, List);
collection!(Hash, Hash);
collection!(Set, Set);
collection!(SortedSet, SortedSet);

/// Streams are collections for lookup and type checks; unlike the others an empty stream
/// is not deleted (it keeps its last ID and groups), so `is_empty` is always false here.
impl Collection for Stream {
    const TYPE: ValueType = ValueType::Stream;

    fn from_value(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Stream(inner) => Some(inner),
            _ => None,
        }
    }

    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }

    fn is_empty(&self) -> bool {
        false
    }

    fn len(&self) -> usize {
        Stream::len(self) as usize
    }
}

/// Parses `bytes` as Redis's `string2ll` does: only the canonical form (no leading `+`,
/// no leading zeros, no spaces, `-0` rejected) of an `i64`.
pub fn canonical_integer(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    if bytes == b"0" {
        return Some(0);
    }
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn canonical_integers_only() {
        assert_eq!(canonical_integer(b"123"), Some(123));
        assert_eq!(canonical_integer(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(canonical_integer(b"9223372036854775808"), None);
        for rejected in [&b"+1"[..], b"01", b"-0", b" 1", b"1 ", b"", b"-", b"1.0"] {
            assert_eq!(canonical_integer(rejected), None, "{rejected:?}");
        }
    }

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(Value::string(b"42").encoding_name(), "int");
        assert_eq!(Value::string(b"hello").encoding_name(), "embstr");
        assert_eq!(Value::string(&[b'x'; 45]).encoding_name(), "raw");
    }
}
