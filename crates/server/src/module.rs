//! MODULE LIST|LOAD|LOADEX|UNLOAD|HELP: Peregrine runs no Redis modules (they are C
//! libraries written against redis-server's internals), so the list is empty and loading
//! fails as a module that does not load fails in Redis; clients and tools that ask which
//! modules are loaded (RedisInsight, client libraries probing for RedisJSON) get the
//! answer they expect from a server without modules.

use crate::dispatch::Session;
use peregrine_commands::{check_subcommand, Arity::*, Subcommand};
use peregrine_commands::{Flag, KeySpec};
use peregrine_resp::{Argv, Reply};

/// MODULE's subcommands.
#[rustfmt::skip]
pub const MODULE_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "list",   full_name: "module|list",   arity: Exactly(2), flags: &[Flag::Admin, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "load",   full_name: "module|load",   arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "loadex", full_name: "module|loadex", arity: AtLeast(3), flags: &[Flag::Admin, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "unload", full_name: "module|unload", arity: Exactly(3), flags: &[Flag::Admin, Flag::NoScript], keys: KeySpec::NONE },
    Subcommand { name: "help",   full_name: "module|help",   arity: Exactly(2), flags: &[Flag::Loading, Flag::Stale], keys: KeySpec::NONE },
];

const HELP: &[&str] = &[
    "MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LIST",
    "    Return a list of loaded modules.",
    "LOAD <path> [<arg> ...]",
    "    Load a module library from <path>, passing to it any optional arguments.",
    "LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    "    Load a module library from <path>, while passing it module configurations and optional arguments.",
    "UNLOAD <name>",
    "    Unload a module.",
    "HELP",
    "    Prints this help.",
];

/// Redis's refusal of MODULE LOAD/LOADEX/UNLOAD when `enable-module-command` forbids it.
const NOT_ALLOWED: &str = "ERR MODULE command not allowed. If the enable-module-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";

/// MODULE <subcommand> ...
pub fn command(session: &mut Session, argv: &Argv) -> Reply {
    let subcommand = match check_subcommand("module", MODULE_SUBCOMMANDS, argv) {
        Ok(subcommand) => subcommand,
        Err(failure) => return failure.into_reply(),
    };
    session.info.last_command.set(subcommand.full_name);
    let allowed = session
        .settings()
        .module_command
        .allows(crate::dispatch::is_local(&session.info));
    match subcommand.name {
        "list" => Reply::Array(Vec::new()),
        "help" => Reply::help(HELP),
        _ if !allowed => Reply::error(NOT_ALLOWED),
        "unload" => Reply::error("ERR Error unloading module: no such module with that name"),
        _ => {
            tracing::warn!(
                path = %String::from_utf8_lossy(&argv[2]),
                "Module loading refused: Peregrine does not run Redis modules"
            );
            Reply::error("ERR Error loading the extension. Please check the server logs.")
        }
    }
}
