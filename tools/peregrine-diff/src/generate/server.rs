//! Connection and generic commands: PING, ECHO, unknown command names, and
//! known commands called with the wrong number of arguments.
//!
//! The error texts matter here: Redis names the command in lower case in arity
//! errors whatever case was sent, repeats unknown names as sent, quotes at most
//! the first 128 bytes of arguments (stopping at a NUL byte), and turns CR and
//! LF inside error texts into spaces.

use super::values::{key, value};
use super::{Command, Context, Recipe};

/// The connection family's recipes. PING comes first: the sequence falls back to it.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 2,  build: ping },
    Recipe { weight: 2,  build: echo },
    Recipe { weight: 2,  build: unknown },
    Recipe { weight: 6,  build: wrong_arity },
];

fn ping(context: &mut Context<'_>) -> Vec<Command> {
    let command = match context.rng.below(10) {
        0..=3 => Command::new("PING"),
        4..=8 => Command::new("PING").arg(value(context)),
        _ => Command::new("PING").arg(value(context)).arg(value(context)),
    };
    vec![command]
}

fn echo(context: &mut Context<'_>) -> Vec<Command> {
    let command = match context.rng.below(10) {
        0..=7 => Command::new("ECHO").arg(value(context)),
        8 => Command::new("ECHO"),
        _ => Command::new("ECHO").arg(value(context)).arg(value(context)),
    };
    vec![command]
}

/// Names no Redis version implements.
const UNKNOWN_NAMES: &[&[u8]] = &[
    b"NOSUCHCOMMAND",
    b"GETT",
    b"SETX",
    b"foo",
    b"GET_",
    b"",
    b"HGETT",
    b"bad\x00name",
    b"a\r\nb",
];

/// A command name no Redis version implements, with up to four arguments.
pub fn unknown(context: &mut Context<'_>) -> Vec<Command> {
    let name = context.pick(UNKNOWN_NAMES);
    let mut command = Command::new("").counted_as("(unknown command)");
    if let Some(first) = command.args.first_mut() {
        *first = name.to_vec();
    }
    let count = context.between(0, 4);
    for _ in 0..count {
        command = command.arg(value(context));
    }
    vec![command]
}

/// Known commands and argument counts (after the name) their arity rejects.
const WRONG_ARITY: &[(&str, i64)] = &[
    ("GET", 0),
    ("GET", 2),
    ("SET", 0),
    ("SET", 1),
    ("SETNX", 1),
    ("SETEX", 2),
    ("PSETEX", 4),
    ("GETSET", 1),
    ("GETDEL", 0),
    ("GETDEL", 2),
    ("GETEX", 0),
    ("MGET", 0),
    ("MSET", 0),
    ("MSET", 1),
    ("MSET", 3),
    ("MSETNX", 1),
    ("APPEND", 1),
    ("STRLEN", 0),
    ("STRLEN", 2),
    ("INCR", 0),
    ("INCR", 2),
    ("DECR", 2),
    ("INCRBY", 1),
    ("DECRBY", 3),
    ("INCRBYFLOAT", 1),
    ("GETRANGE", 2),
    ("SETRANGE", 2),
    ("SUBSTR", 1),
    ("LCS", 1),
    ("DEL", 0),
    ("UNLINK", 0),
    ("EXISTS", 0),
    ("TYPE", 0),
    ("TYPE", 2),
    ("RENAME", 1),
    ("RENAMENX", 3),
    ("COPY", 1),
    ("MOVE", 1),
    ("TOUCH", 0),
    ("EXPIRE", 1),
    ("PEXPIRE", 0),
    ("EXPIREAT", 1),
    ("PEXPIREAT", 1),
    ("TTL", 0),
    ("PTTL", 2),
    ("EXPIRETIME", 0),
    ("PEXPIRETIME", 2),
    ("PERSIST", 0),
    ("OBJECT", 0),
    ("DBSIZE", 1),
    ("KEYS", 0),
    ("KEYS", 2),
    ("SCAN", 0),
    ("SELECT", 0),
    ("SELECT", 2),
    ("SWAPDB", 1),
    ("RANDOMKEY", 1),
    ("ECHO", 0),
    ("PING", 2),
];

/// A known command with an argument count its arity rejects.
pub fn wrong_arity(context: &mut Context<'_>) -> Vec<Command> {
    let (name, count) = context.pick(WRONG_ARITY);
    let mut command = Command::new(name);
    for position in 0..count {
        // Keys first, so the context of a mismatch finds the command.
        command = if position == 0 {
            command.key(key(context))
        } else {
            command.arg(value(context))
        };
    }
    vec![command]
}
