//! `rename-command old new` (config file or command line, as in Redis): the command is
//! reached by its new name only, and an empty new name disables it. Clients and scripts
//! resolve names here; once resolved, a command's arguments carry its own name again, so
//! the log, replay and statistics never see the configured one.

use bytes::Bytes;
use peregrine_commands::{lookup, CommandSpec};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The renames in effect, fixed at start-up; unset when the configuration has none, so
/// resolving a name costs one load more than [`lookup`].
static RENAMES: OnceLock<Renames> = OnceLock::new();

struct Renames {
    /// New name (lowercase) → the command.
    by_new_name: HashMap<Vec<u8>, &'static CommandSpec>,
    /// Commands no longer reached by their own name.
    hidden: Vec<&'static str>,
}

/// Checks one `rename-command` value (`old [new]`) as Redis does; returns (old, new).
pub fn parse(value: &str) -> Result<(String, String), String> {
    let mut words = value.split_whitespace();
    let (Some(old), new, None) = (words.next(), words.next().unwrap_or_default(), words.next())
    else {
        return Err("wrong number of arguments".to_owned());
    };
    if lookup(old.as_bytes()).is_none() {
        return Err("No such command in rename-command".to_owned());
    }
    if !new.is_empty() && lookup(new.as_bytes()).is_some() {
        return Err("Target command name already exists".to_owned());
    }
    Ok((old.to_ascii_lowercase(), new.to_ascii_lowercase()))
}

/// Puts `renames` (as [`parse`] returned them, in configuration order) in effect for
/// the process; nothing to do when there are none.
pub fn install(renames: &[(String, String)]) {
    if renames.is_empty() {
        return;
    }
    let mut by_new_name: HashMap<Vec<u8>, &'static CommandSpec> = HashMap::new();
    let mut hidden = Vec::new();
    for (old, new) in renames {
        let Some(spec) = lookup(old.as_bytes()) else {
            continue;
        };
        hidden.push(spec.name);
        by_new_name.retain(|_, renamed| !std::ptr::eq(*renamed, spec));
        if !new.is_empty() {
            by_new_name.insert(new.as_bytes().to_vec(), spec);
        }
    }
    let _ = RENAMES.set(Renames {
        by_new_name,
        hidden,
    });
}

/// The command a client or script names `name`, renames applied.
#[inline]
pub fn resolve(name: &[u8]) -> Option<&'static CommandSpec> {
    match RENAMES.get() {
        None => lookup(name),
        Some(renames) => renames.resolve(name),
    }
}

impl Renames {
    /// Out of line: configurations without renames never come here.
    #[cold]
    #[inline(never)]
    fn resolve(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.by_new_name
            .get(&name.to_ascii_lowercase())
            .copied()
            .or_else(|| lookup(name).filter(|spec| !self.hidden.contains(&spec.name)))
    }
}

/// Gives `argv` its command's own name when renames are in effect (it may carry the
/// configured one).
#[inline]
pub fn restore_name(argv: &mut [Bytes], spec: &'static CommandSpec) {
    if RENAMES.get().is_some() {
        if let Some(name) = argv.first_mut() {
            *name = Bytes::from_static(spec.name.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_are_checked_as_redis_checks_them() {
        assert_eq!(
            parse("SET myset"),
            Ok(("set".to_owned(), "myset".to_owned()))
        );
        assert_eq!(
            parse("FLUSHALL"),
            Ok(("flushall".to_owned(), String::new()))
        );
        assert_eq!(
            parse("nosuch x").unwrap_err(),
            "No such command in rename-command"
        );
        assert_eq!(
            parse("SET get").unwrap_err(),
            "Target command name already exists"
        );
        assert!(parse("SET a b").is_err());
        assert!(parse("").is_err());
    }
}
