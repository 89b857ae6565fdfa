//! Function libraries: what `redis.register_function` collected, `FUNCTION LIST`,
//! `FUNCTION STATS`, and the `FUNCTION DUMP` payload.
//!
//! Payload format (all integers big-endian):
//!
//! ```text
//! "PRGFN" | version u8 (1) | count u32 | count × (length u32 | code bytes) | FNV-1a-64 u64
//! ```
//! The checksum covers every byte before it.

use crate::errors::ScriptError;
use crate::registry::{FunctionInfo, Library, ScriptRegistry};
use crate::shebang::ScriptFlags;
use bytes::Bytes;
use mlua::{Function, Table, Value};
use peregrine_resp::Reply;
use std::collections::HashMap;
use std::sync::Arc;

/// A library compiled in one engine: its callbacks by function name.
pub(crate) struct CompiledLibrary {
    pub library: Arc<Library>,
    pub callbacks: HashMap<String, Function>,
}

/// What `FUNCTION RESTORE` does with existing libraries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RestorePolicy {
    /// `APPEND` (the default): fail if a library already exists.
    #[default]
    Append,
    /// `REPLACE`: restored libraries replace those of the same name.
    Replace,
    /// `FLUSH`: every existing library is deleted first.
    Flush,
}

/// Builds a [`Library`] from the `registered` list of the prelude's `load_library`.
pub(crate) fn collect(
    name: String,
    code: Bytes,
    registered: &Table,
) -> Result<(Library, HashMap<String, Function>), ScriptError> {
    let mut functions = Vec::new();
    let mut callbacks = HashMap::new();
    for entry in registered.sequence_values::<Table>() {
        let entry = entry.map_err(|error| ScriptError::invalid(format!("ERR {error}")))?;
        let function_name: String = entry.get("name").unwrap_or_default();
        let description: Option<String> = entry.get("description").unwrap_or(None);
        let mut flags = ScriptFlags::NONE;
        if let Ok(Value::Table(names)) = entry.get::<Value>("flags") {
            for flag in names.sequence_values::<mlua::LuaString>().flatten() {
                if let Some(flag) = ScriptFlags::named(&flag.as_bytes()) {
                    flags = flags.union(flag);
                }
            }
        }
        if let Ok(callback) = entry.get::<Function>("callback") {
            callbacks.insert(function_name.clone(), callback);
        }
        functions.push(FunctionInfo {
            name: function_name,
            description,
            flags,
        });
    }
    if functions.is_empty() {
        return Err(ScriptError::invalid("ERR No functions registered"));
    }
    functions.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((
        Library {
            name,
            code,
            functions,
        },
        callbacks,
    ))
}

const MAGIC: &[u8; 5] = b"PRGFN";
const VERSION: u8 = 1;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The error of a payload that is not ours or is damaged (Redis's text).
const BAD_PAYLOAD: &str = "ERR payload version or checksum are wrong";

/// Decodes a `FUNCTION DUMP` payload into the libraries' codes.
pub(crate) fn decode_dump(payload: &[u8]) -> Result<Vec<Bytes>, ScriptError> {
    let bad = || ScriptError::invalid(BAD_PAYLOAD);
    let body_len = payload.len().checked_sub(8).ok_or_else(bad)?;
    let (body, checksum) = payload.split_at(body_len);
    let checksum = u64::from_be_bytes(checksum.try_into().map_err(|_| bad())?);
    if fnv1a(body) != checksum
        || !body.starts_with(MAGIC)
        || body.get(MAGIC.len()) != Some(&VERSION)
    {
        return Err(bad());
    }
    let mut rest = body.get(MAGIC.len() + 1..).ok_or_else(bad)?;
    let mut take = |count: usize| -> Result<&[u8], ScriptError> {
        let (head, tail) = rest.split_at_checked(count).ok_or_else(bad)?;
        rest = tail;
        Ok(head)
    };
    let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?);
    let mut codes = Vec::new();
    for _ in 0..count {
        let length = u32::from_be_bytes(take(4)?.try_into().map_err(|_| bad())?);
        codes.push(Bytes::copy_from_slice(take(length as usize)?));
    }
    if !take(0)?.is_empty() {
        return Err(bad());
    }
    Ok(codes)
}

impl ScriptRegistry {
    /// `FUNCTION DUMP`: every library's code in one payload for `FUNCTION RESTORE`.
    pub fn dump_libraries(&self) -> Bytes {
        let libraries = self.libraries();
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.extend_from_slice(&(libraries.len() as u32).to_be_bytes());
        for library in &libraries {
            out.extend_from_slice(&(library.code.len() as u32).to_be_bytes());
            out.extend_from_slice(&library.code);
        }
        let checksum = fnv1a(&out);
        out.extend_from_slice(&checksum.to_be_bytes());
        Bytes::from(out)
    }

    /// `FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]`, shaped as Redis (maps in RESP3,
    /// flat arrays in RESP2).
    pub fn list_libraries(&self, pattern: Option<&[u8]>, with_code: bool) -> Reply {
        let entries = self
            .libraries()
            .into_iter()
            .filter(|library| {
                pattern.is_none_or(|pattern| glob_match(pattern, library.name.as_bytes()))
            })
            .map(|library| {
                let functions = library
                    .functions
                    .iter()
                    .map(|function| {
                        Reply::Map(vec![
                            (Reply::bulk("name"), Reply::bulk(&function.name)),
                            (
                                Reply::bulk("description"),
                                function
                                    .description
                                    .as_ref()
                                    .map_or(Reply::Nil, Reply::bulk),
                            ),
                            (
                                Reply::bulk("flags"),
                                Reply::Set(function.flags.names().map(Reply::status).collect()),
                            ),
                        ])
                    })
                    .collect();
                let mut fields = vec![
                    (Reply::bulk("library_name"), Reply::bulk(&library.name)),
                    (Reply::bulk("engine"), Reply::bulk("LUA")),
                    (Reply::bulk("functions"), Reply::Array(functions)),
                ];
                if with_code {
                    fields.push((
                        Reply::bulk("library_code"),
                        Reply::Bulk(library.code.clone()),
                    ));
                }
                Reply::Map(fields)
            })
            .collect();
        Reply::Array(entries)
    }

    /// `FUNCTION STATS`; `running_script` is the server's (`Reply::Nil` when idle, else
    /// a map of `name`, `command`, `duration_ms`).
    pub fn function_stats(&self, running_script: Reply) -> Reply {
        let libraries = self.libraries();
        let functions: usize = libraries
            .iter()
            .map(|library| library.functions.len())
            .sum();
        Reply::Map(vec![
            (Reply::bulk("running_script"), running_script),
            (
                Reply::bulk("engines"),
                Reply::Map(vec![(
                    Reply::bulk("LUA"),
                    Reply::Map(vec![
                        (
                            Reply::bulk("libraries_count"),
                            Reply::Integer(libraries.len() as i64),
                        ),
                        (
                            Reply::bulk("functions_count"),
                            Reply::Integer(functions as i64),
                        ),
                    ]),
                )]),
            ),
        ])
    }
}

/// Redis's `stringmatchlen` (case-sensitive): `*`, `?`, `[...]` with `^` and ranges, `\`.
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => {
            (0..=text.len()).any(|skip| glob_match(rest, text.get(skip..).unwrap_or_default()))
        }
        Some((b'?', rest)) => text
            .split_first()
            .is_some_and(|(_, tail)| glob_match(rest, tail)),
        Some((b'[', rest)) => {
            let Some((&first, tail)) = text.split_first() else {
                return false;
            };
            let (negate, mut class) = match rest.split_first() {
                Some((b'^', class)) => (true, class),
                _ => (false, rest),
            };
            let mut matched = false;
            loop {
                match class {
                    [] => break,
                    [b']', after @ ..] => {
                        class = after;
                        break;
                    }
                    [b'\\', escaped, after @ ..] => {
                        matched |= *escaped == first;
                        class = after;
                    }
                    [low, b'-', high, after @ ..] if *high != b']' => {
                        let (low, high) = if low <= high {
                            (*low, *high)
                        } else {
                            (*high, *low)
                        };
                        matched |= (low..=high).contains(&first);
                        class = after;
                    }
                    [single, after @ ..] => {
                        matched |= *single == first;
                        class = after;
                    }
                }
            }
            matched != negate && glob_match(class, tail)
        }
        Some((b'\\', rest)) if !rest.is_empty() => match (rest.split_first(), text.split_first()) {
            (Some((expected, rest)), Some((actual, tail))) => {
                expected == actual && glob_match(rest, tail)
            }
            _ => false,
        },
        Some((expected, rest)) => text
            .split_first()
            .is_some_and(|(actual, tail)| expected == actual && glob_match(rest, tail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_match(b"*", b"anything"));
        assert!(glob_match(b"li?_*", b"lib_1"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[^a-c]x", b"bx"));
        assert!(!glob_match(b"abc", b"abd"));
    }

    #[test]
    fn damaged_payload_is_refused() {
        let registry = ScriptRegistry::new();
        let mut payload = registry.dump_libraries().to_vec();
        assert_eq!(decode_dump(&payload).unwrap(), Vec::<Bytes>::new());
        payload[6] ^= 1;
        assert_eq!(decode_dump(&payload).unwrap_err().to_string(), BAD_PAYLOAD);
        assert_eq!(decode_dump(b"x").unwrap_err().to_string(), BAD_PAYLOAD);
    }
}
