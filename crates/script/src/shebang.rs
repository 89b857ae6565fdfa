//! `#!lua` shebang lines: script flags (`EVAL`) and library metadata (`FUNCTION LOAD`).

use crate::errors::ScriptError;

/// Script and function flags, as Redis's `scripts_flags_def`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ScriptFlags(u8);

impl ScriptFlags {
    /// No flags.
    pub const NONE: ScriptFlags = ScriptFlags(0);
    /// A script without a shebang: Redis's old-style semantics (writes allowed, the
    /// server decides OOM and stale handling per command).
    pub const EVAL_COMPAT_MODE: ScriptFlags = ScriptFlags(1);
    /// `no-writes`: the script may only read (required by `EVAL_RO`/`FCALL_RO`).
    pub const NO_WRITES: ScriptFlags = ScriptFlags(1 << 1);
    /// `allow-oom`: may run when the server is over `maxmemory`.
    pub const ALLOW_OOM: ScriptFlags = ScriptFlags(1 << 2);
    /// `allow-stale`: may run on a stale replica.
    pub const ALLOW_STALE: ScriptFlags = ScriptFlags(1 << 3);
    /// `no-cluster`: refused in cluster mode.
    pub const NO_CLUSTER: ScriptFlags = ScriptFlags(1 << 4);
    /// `allow-cross-slot-keys`: may touch keys of several slots.
    pub const ALLOW_CROSS_SLOT_KEYS: ScriptFlags = ScriptFlags(1 << 5);

    /// The flags that can be named in a shebang or a function's `flags`, by name.
    pub(crate) const NAMED: [(&'static str, ScriptFlags); 5] = [
        ("no-writes", ScriptFlags::NO_WRITES),
        ("allow-oom", ScriptFlags::ALLOW_OOM),
        ("allow-stale", ScriptFlags::ALLOW_STALE),
        ("no-cluster", ScriptFlags::NO_CLUSTER),
        ("allow-cross-slot-keys", ScriptFlags::ALLOW_CROSS_SLOT_KEYS),
    ];

    /// True when every flag of `other` is set here.
    pub fn contains(self, other: ScriptFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub fn union(self, other: ScriptFlags) -> ScriptFlags {
        ScriptFlags(self.0 | other.0)
    }

    /// The flag called `name` (`no-writes`, ...).
    pub(crate) fn named(name: &[u8]) -> Option<ScriptFlags> {
        ScriptFlags::NAMED
            .iter()
            .find(|(flag_name, _)| flag_name.as_bytes() == name)
            .map(|(_, flag)| *flag)
    }

    /// The names of the set flags, in Redis's order (for `FUNCTION LIST`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        ScriptFlags::NAMED
            .into_iter()
            .filter(move |(_, flag)| self.contains(*flag))
            .map(|(name, _)| name)
    }
}

/// Parses an `EVAL` body's shebang. Returns the flags and the number of bytes of the
/// shebang line (without its `\n`, which stays so that line numbers match).
pub(crate) fn script_flags(body: &[u8]) -> Result<(ScriptFlags, usize), ScriptError> {
    if !body.starts_with(b"#!") {
        return Ok((ScriptFlags::EVAL_COMPAT_MODE, 0));
    }
    let Some(end) = body.iter().position(|&byte| byte == b'\n') else {
        return Err(ScriptError::invalid("ERR Invalid script shebang"));
    };
    let line = body.get(..end).unwrap_or_default();
    let mut parts = line
        .split(u8::is_ascii_whitespace)
        .filter(|part| !part.is_empty());
    let Some(engine) = parts.next() else {
        return Err(ScriptError::invalid("ERR Invalid engine in script shebang"));
    };
    if engine != b"#!lua" {
        return Err(ScriptError::invalid(format!(
            "ERR Unexpected engine in script shebang: {}",
            String::from_utf8_lossy(engine)
        )));
    }
    let mut flags = ScriptFlags::NONE;
    for part in parts {
        let Some(list) = part.strip_prefix(b"flags=") else {
            return Err(ScriptError::invalid(format!(
                "ERR Unknown lua shebang option: {}",
                String::from_utf8_lossy(part)
            )));
        };
        if list.is_empty() {
            continue;
        }
        for name in list.split(|&byte| byte == b',') {
            let Some(flag) = ScriptFlags::named(name) else {
                return Err(ScriptError::invalid(format!(
                    "ERR Unexpected flag in script shebang: {}",
                    String::from_utf8_lossy(name)
                )));
            };
            flags = flags.union(flag);
        }
    }
    Ok((flags, end))
}

/// The metadata of a `FUNCTION LOAD` payload.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LibraryMetadata {
    /// The library's name (`name=`).
    pub name: String,
    /// The length of the shebang line, without its `\n`.
    pub shebang_len: usize,
}

/// Parses a library's `#!lua name=<lib>` line with Redis's errors.
pub(crate) fn library_metadata(code: &[u8]) -> Result<LibraryMetadata, ScriptError> {
    if !code.starts_with(b"#!") {
        return Err(ScriptError::invalid("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&byte| byte == b'\n') else {
        return Err(ScriptError::invalid("ERR Invalid library metadata"));
    };
    let line = code.get(..end).unwrap_or_default();
    let mut parts = line
        .split(u8::is_ascii_whitespace)
        .filter(|part| !part.is_empty());
    let Some(engine) = parts.next() else {
        return Err(ScriptError::invalid("ERR Invalid library metadata"));
    };
    let engine = engine.get(2..).unwrap_or_default();
    let mut name = None;
    for part in parts {
        let is_name = part.len() >= 5
            && part
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"name="));
        if !is_name {
            return Err(ScriptError::invalid(format!(
                "ERR Invalid metadata value given: {}",
                String::from_utf8_lossy(part)
            )));
        }
        if name.is_some() {
            return Err(ScriptError::invalid(
                "ERR Invalid metadata value, name argument was given multiple times",
            ));
        }
        name = Some(part.get(5..).unwrap_or_default());
    }
    let Some(name) = name else {
        return Err(ScriptError::invalid("ERR Library name was not given"));
    };
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(ScriptError::invalid(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        )));
    }
    if !valid_name(name) {
        return Err(ScriptError::invalid(NAME_RULE));
    }
    Ok(LibraryMetadata {
        name: String::from_utf8_lossy(name).into_owned(),
        shebang_len: end,
    })
}

/// Redis's text for a bad library or function name (it uses the same for both).
pub(crate) const NAME_RULE: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// Library and function names: letters, digits and `_`, at least one.
pub(crate) fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_without_shebang_is_compat_mode() {
        assert_eq!(
            script_flags(b"return 1").unwrap(),
            (ScriptFlags::EVAL_COMPAT_MODE, 0)
        );
    }

    #[test]
    fn script_flags_parse() {
        let (flags, len) = script_flags(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.contains(ScriptFlags::NO_WRITES.union(ScriptFlags::ALLOW_OOM)));
        assert!(!flags.contains(ScriptFlags::EVAL_COMPAT_MODE));
        assert_eq!(len, 31);
        assert_eq!(
            script_flags(b"#!lua\nreturn 1").unwrap().0,
            ScriptFlags::NONE
        );
        assert_eq!(
            script_flags(b"#!lua flags=bogus\n")
                .unwrap_err()
                .to_string(),
            "ERR Unexpected flag in script shebang: bogus"
        );
        assert_eq!(
            script_flags(b"#!lua x=1\n").unwrap_err().to_string(),
            "ERR Unknown lua shebang option: x=1"
        );
        assert_eq!(
            script_flags(b"#!python\n").unwrap_err().to_string(),
            "ERR Unexpected engine in script shebang: #!python"
        );
    }

    #[test]
    fn library_metadata_errors() {
        let text = |code: &[u8]| library_metadata(code).unwrap_err().to_string();
        assert_eq!(text(b"return 1"), "ERR Missing library metadata");
        assert_eq!(text(b"#!lua\nreturn 1"), "ERR Library name was not given");
        assert_eq!(text(b"#!py name=x\n"), "ERR Engine 'py' not found");
        assert_eq!(
            text(b"#!lua name=y z=1\n"),
            "ERR Invalid metadata value given: z=1"
        );
        assert_eq!(text(b"#!lua name=y-\n"), NAME_RULE);
        assert_eq!(
            library_metadata(b"#!LUA name=lib_1\n").unwrap().name,
            "lib_1"
        );
    }
}
