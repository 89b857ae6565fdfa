//! The scripting family: EVAL EVALSHA EVAL_RO SCRIPT LOAD / EXISTS / FLUSH, with
//! random Lua scripts.
//!
//! Return values come from a small grammar ([`expression`]): integers (negative,
//! past 2^53, past i64), floats (truncated toward zero: 3.99, -2.5, 1e10, 1/0),
//! strings (binary ones through `string.char`), booleans and nil, nested tables
//! with nil holes and hash parts, `{ok=..}` / `{err=..}`, `redis.status_reply`
//! and `redis.error_reply`; after `redis.setresp(3)` also `{double=..}`,
//! `{map=..}` (one field, so the order of a Lua table walk does not matter),
//! `{set=..}` and `{big_number=..}`, all sent to a RESP2 client.
//!
//! Command scripts borrow other families' recipes (like the transactions family):
//! each command becomes one `redis.call` or `redis.pcall` whose name is a literal
//! and whose keys come from KEYS (declared) or ARGV (undeclared, numkeys 0), every
//! other argument from ARGV, so binary arguments pass untouched. Keys are not
//! hash-tagged, so a script spans shards. The script returns the replies (reply
//! to Lua to reply), their Lua types, or one of them; a raised error carries the
//! `script: <sha>, on @user_script:N.` suffix, which is compared. Only commands
//! compared exactly and that a script may run are borrowed (no SELECT, FLUSHDB,
//! blocking or sorted-set commands, nor a command the server family generates:
//! Peregrine refuses FLUSHALL, DBSIZE and such inside scripts, a known difference;
//! nor an XGROUP or XINFO whose subcommand lookup fails,
//! [`streams::fails_subcommand_lookup`]).
//! Whether a script's writes ran is not known to the generator (a raised error
//! stops it, EVAL_RO refuses writes), so the model keeps the larger bound of
//! before and after it, as for a transaction.
//!
//! Error recipes cover runtime errors (calling nil, arithmetic on a string,
//! `error()` with a string or an `{err=..}` table), syntax errors, the globals
//! protection, redis.call misuse (no arguments, a table argument, an unknown
//! command, wrong arity, a command refused in scripts) and numkeys errors.
//! `error()` with a table lacking `err` is never generated: it crashes
//! redis-server 7.0.15.
//!
//! A recipe that runs EVALSHA of a known script loads it first in the same
//! recipe, and SCRIPT EXISTS asks only about scripts the recipe loaded or never
//! loaded ones: the crash-restart mode restarts Peregrine, which does not keep
//! its script cache (neither does Redis), between recipes while the oracle keeps
//! running.

use super::streams;
use super::values::{key, value};
use super::{Client, Command, Context, Recipe, FAMILIES};
use crate::compare::{Comparison, VERSION_DIFFERENCES};

/// The scripting family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 12, build: return_value },
    Recipe { weight: 14, build: command_script },
    Recipe { weight: 6,  build: script_error },
    Recipe { weight: 3,  build: numkeys_error },
    Recipe { weight: 4,  build: evalsha },
    Recipe { weight: 3,  build: read_only },
];

/// Families whose recipes are never borrowed: they borrow themselves, or their
/// commands are not for scripts.
const NOT_BORROWED: &[&str] = &["transactions", "scripting", "server"];

/// Most attempts at drawing a recipe of another family whose commands a script may run.
const DRAW_ATTEMPTS: usize = 20;

/// Deepest table nesting in a generated return value.
const MAX_DEPTH: u32 = 3;

/// `EVAL "return <expression>" 0`, sometimes after `redis.setresp(3)`, sometimes
/// with keys and arguments the script returns.
fn return_value(context: &mut Context<'_>) -> Vec<Command> {
    let resp3 = context.chance(20);
    let expression = expression(context, 0, resp3);
    let mut body = String::new();
    if resp3 {
        body.push_str("redis.setresp(3) ");
    }
    if context.chance(15) {
        // KEYS and ARGV as values: numbers arrive as strings.
        let argument = value(context);
        let target = key(context);
        let shape = context.pick(&[
            "return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
            "return ARGV",
            "return KEYS",
            "return {KEYS[2], ARGV[1]}",
            "return tonumber(ARGV[1])",
            "return ARGV[1] .. KEYS[1]",
        ]);
        body.push_str(shape);
        return vec![Command::new("EVAL")
            .arg(body)
            .arg("1")
            .key(target)
            .arg(argument)];
    }
    body.push_str("return ");
    body.push_str(&expression);
    vec![Command::new("EVAL").arg(body).arg("0")]
}

/// One Lua expression of the return grammar; `resp3` adds the RESP3-only tables.
fn expression(context: &mut Context<'_>, depth: u32, resp3: bool) -> String {
    let choice = if depth >= MAX_DEPTH {
        context.rng.below(9)
    } else {
        context.rng.below(14)
    };
    match choice {
        0 => context
            .pick(&[
                "0",
                "1",
                "-1",
                "42",
                "-42",
                "9007199254740993",
                "-9223372036854775808",
                "2^62",
                "1e20",
                "-1e20",
                "0x10",
            ])
            .to_owned(),
        1 => context
            .pick(&[
                "3.99", "-2.5", "1e10", "-0.5", "0.5", "2.5e-3", "1/3", "-1/3", "1/0", "-1/0",
                "0/0", "1e300", "-3.7",
            ])
            .to_owned(),
        2 => context
            .pick(&[
                "'abc'",
                "''",
                "'hello world'",
                "'a\\r\\nb'",
                "'-ERR not an error'",
                "'+OK'",
                "'123'",
                "'3.5'",
                "\"quoted\"",
            ])
            .to_owned(),
        3 => {
            let count = context.between(0, 5);
            let bytes: Vec<String> = (0..count)
                .map(|_| context.rng.below(256).to_string())
                .collect();
            format!("string.char({})", bytes.join(","))
        }
        4 => context.pick(&["true", "false", "nil"]).to_owned(),
        5 => {
            let text = error_text(context);
            if context.chance(50) {
                format!("{{ok={text}}}")
            } else {
                format!("{{err={text}}}")
            }
        }
        6 => {
            let text = error_text(context);
            if context.chance(50) {
                format!("redis.status_reply({text})")
            } else {
                format!("redis.error_reply({text})")
            }
        }
        7 => context
            .pick(&[
                "tostring(1/3)",
                "tostring(1e100)",
                "string.format('%.3f', 2/3)",
                "string.rep('ab', 3)",
                "#'four'",
                "math.floor(-2.5)",
                // Not math.random: its generator state lives as long as the process in
                // Redis (and per core in Peregrine), so a restart or another core's script
                // engine sees another point of the sequence.
                "math.max(3, 7)",
                "redis.sha1hex('abc')",
                "cjson.encode({1, 'two'})",
                "type(nil)",
            ])
            .to_owned(),
        8 if resp3 => context
            .pick(&[
                "{double=3.5}",
                "{double=-0.25}",
                "{map={field=7}}",
                "{map={}}",
                "{set={member=true}}",
                "{big_number='123456789012345678901234567890'}",
            ])
            .to_owned(),
        8 => context
            .pick(&["{double=3.5}", "{map={a=1}}", "{}"])
            .to_owned(),
        9 | 10 => {
            // An array, with nil holes sometimes (the reply stops at the first).
            let count = context.between(0, 4);
            let items: Vec<String> = (0..count)
                .map(|_| expression(context, depth.saturating_add(1), resp3))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        11 => {
            // Array and hash parts together: only the array part is returned.
            let first = expression(context, depth.saturating_add(1), resp3);
            let second = expression(context, depth.saturating_add(1), resp3);
            format!("{{{first}, name={second}, 7}}")
        }
        12 => {
            let inner = expression(context, depth.saturating_add(1), resp3);
            format!("{{nil, {inner}}}")
        }
        _ => {
            let inner = expression(context, depth.saturating_add(1), resp3);
            format!("{{{{{inner}}}, {{}}}}")
        }
    }
}

/// A Lua string literal for a status or an error text.
fn error_text(context: &mut Context<'_>) -> String {
    context
        .pick(&[
            "'My Error'",
            "'-CUSTOM failure'",
            "''",
            "'ERR x'",
            "'WRONGTYPE fake'",
            "'OK'",
            "'two words'",
        ])
        .to_owned()
}

/// A script running one to four commands of other families' recipes through
/// redis.call or redis.pcall, keys declared or passed in ARGV.
fn command_script(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let mut commands = Vec::new();
    for _ in 0..context.between(1, 3) {
        commands.extend(borrowed_recipe(context));
    }
    if commands.is_empty() {
        commands.push(Command::new("GET").key(key(context)));
    }
    commands.truncate(4);
    context.model.keep_bounds_of(&earlier);
    let name = if context.chance(10) {
        "EVAL_RO"
    } else {
        "EVAL"
    };
    vec![script_running(context, name, &commands)]
}

/// EVAL (or EVAL_RO) of a script that runs `commands` and returns something of their replies.
fn script_running(context: &mut Context<'_>, name: &str, commands: &[Command]) -> Command {
    let declared = context.chance(75);
    let resp3 = context.chance(10);
    // In EVAL_RO a refused write must end the script, as redis.call makes it: a
    // borrowed recipe's later commands may assume its earlier writes ran.
    let protected = if name == "EVAL_RO" {
        0
    } else {
        context.rng.below(3)
    };
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut arguments: Vec<Vec<u8>> = Vec::new();
    let mut body = String::new();
    if resp3 {
        body.push_str("redis.setresp(3)\n");
    }
    for (position, command) in commands.iter().enumerate() {
        let call = match protected {
            0 => "redis.call",
            1 => "redis.pcall",
            _ => {
                if context.chance(50) {
                    "redis.call"
                } else {
                    "redis.pcall"
                }
            }
        };
        let mut parts = Vec::with_capacity(command.args.len());
        for (index, arg) in command.args.iter().enumerate() {
            if index == 0 && !arg.is_empty() && arg.iter().all(u8::is_ascii_alphanumeric) {
                parts.push(format!("'{}'", String::from_utf8_lossy(arg)));
            } else if declared && index > 0 && command.keys.contains(arg) {
                let slot = keys
                    .iter()
                    .position(|known| known == arg)
                    .unwrap_or_else(|| {
                        keys.push(arg.clone());
                        keys.len().saturating_sub(1)
                    });
                parts.push(format!("KEYS[{}]", slot.saturating_add(1)));
            } else {
                arguments.push(arg.clone());
                parts.push(format!("ARGV[{}]", arguments.len()));
            }
        }
        body.push_str(&format!(
            "local r{} = {call}({})\n",
            position.saturating_add(1),
            parts.join(", ")
        ));
    }
    let count = commands.len();
    let all: Vec<String> = (1..=count).map(|position| format!("r{position}")).collect();
    match context.rng.below(6) {
        0 => body.push_str(&format!("return r{count}")),
        1 => {
            let types: Vec<String> = all.iter().map(|name| format!("type({name})")).collect();
            body.push_str(&format!("return {{{}}}", types.join(", ")));
        }
        2 => body.push_str(&format!(
            "if type(r{count}) == 'table' and r{count}.err then return 'caught: ' .. r{count}.err end\nreturn r{count}"
        )),
        _ => body.push_str(&format!("return {{{}}}", all.join(", "))),
    }
    let mut eval = Command::new(name).arg(body);
    let mut everything = Vec::new();
    for command in commands {
        everything.extend(command.keys.iter().cloned());
    }
    eval = eval.arg(keys.len().to_string());
    for script_key in keys {
        eval = eval.key(script_key);
    }
    eval = eval.args(arguments);
    // Undeclared keys are keys too, for the context of a mismatch.
    for touched in everything {
        if !eval.keys.contains(&touched) {
            eval.keys.push(touched);
        }
    }
    eval
}

/// The commands of one recipe of another family that a script may run; nothing
/// when none of a few draws qualifies. A drawn recipe that is not used leaves the
/// model as it was.
fn borrowed_recipe(context: &mut Context<'_>) -> Vec<Command> {
    let recipes: Vec<Recipe> = FAMILIES
        .iter()
        .filter(|family| !NOT_BORROWED.contains(&family.name))
        .flat_map(|family| family.recipes.iter().copied())
        .collect();
    let total_weight: u64 = recipes.iter().map(|recipe| recipe.weight).sum();
    for _ in 0..DRAW_ATTEMPTS {
        let mut ticket = context.rng.below(total_weight);
        let Some(recipe) = recipes.iter().find(|recipe| {
            let found = ticket < recipe.weight;
            ticket = ticket.saturating_sub(recipe.weight);
            found
        }) else {
            continue;
        };
        let earlier = context.model.clone();
        let commands = (recipe.build)(context);
        if commands.iter().all(may_run_in_script) {
            return commands;
        }
        *context.model = earlier;
    }
    Vec::new()
}

/// Whether a command of another family can run inside a script here, its reply
/// compared exactly inside EVAL's.
fn may_run_in_script(command: &Command) -> bool {
    let name = command.name();
    command.comparison == Comparison::Exact
        && command.pause_after.is_none()
        && !command.global
        && command.client == Client::First
        && !command.keys.is_empty()
        && name != "OBJECT"
        && !streams::fails_subcommand_lookup(command)
        && name != "SORT"
        && !name.starts_with('Z')
        && !name.starts_with('B')
        && !VERSION_DIFFERENCES
            .iter()
            .any(|difference| difference.command == name)
}

/// Scripts that fail: at runtime, when compiled, or in redis.call.
fn script_error(context: &mut Context<'_>) -> Vec<Command> {
    const SCRIPTS: &[&str] = &[
        "return nil + 1",
        "return 'a' + 1",
        "return {} .. 'x'",
        "local x; x()",
        "return undefined_function()",
        "return (",
        "return 1 +",
        "local = 3",
        "x = 1",
        "redis = nil",
        "return some_global",
        "return dofile('/etc/passwd')",
        "return error('boom')",
        "error('plain boom', 0)",
        "return error({err='TABLE failure'})",
        "return redis.call()",
        "return redis.call('get', {})",
        "return redis.call('set', KEYS[1], true)",
        "return redis.call('nosuchcommand', KEYS[1])",
        "return redis.pcall('nosuchcommand')",
        "return redis.call('get')",
        "return redis.call('get', KEYS[1], 'extra')",
        "return redis.pcall('set')",
        "return redis.call('eval', 'return 1', '0')",
        "return redis.call('multi')",
        "return redis.call('set', KEYS[1], 'x'), redis.call('lpush', KEYS[1], 'y')",
        "redis.call('set', KEYS[1], 'x') return redis.call('incr', KEYS[1])",
        "redis.call('set', KEYS[1], 'x') return redis.pcall('lpush', KEYS[1], 'y')",
        "local ok, e = pcall(redis.call, 'nosuchcommand') return {tostring(ok), e}",
        "local ok, e = pcall(function() return nil + 1 end) return tostring(ok)",
        "local r = redis.pcall('incr', KEYS[1]) return type(r)",
        "return redis.setresp(4)",
        "return string.rep('x', -1) .. undefined",
        "return #KEYS[5]",
        "return tonumber('abc') + 1",
    ];
    let script = context.pick(SCRIPTS);
    let target = key(context);
    // Writes to the key: at most a short string.
    context.model.may_store(&target, 2);
    vec![Command::new("EVAL").arg(script).arg("1").key(target)]
}

/// EVAL with a numkeys that is negative, too large or not a number, or too few arguments.
fn numkeys_error(context: &mut Context<'_>) -> Vec<Command> {
    let numkeys = context.pick(&[
        "-1",
        "abc",
        "3",
        "",
        "1.5",
        "9223372036854775808",
        "-9223372036854775808",
    ]);
    let name = context.pick(&["EVAL", "EVAL_RO", "EVALSHA"]);
    // A script no recipe evaluates or loads, so that NOSCRIPT does not depend on
    // which of the two checks comes first.
    let script = "return 'numkeys'";
    let body = if name == "EVALSHA" {
        sha1(script)
    } else {
        script.to_owned()
    };
    if context.chance(15) {
        return vec![Command::new(name).arg(body)];
    }
    let target = key(context);
    vec![Command::new(name).arg(body).arg(numkeys).key(target)]
}

/// SCRIPT LOAD then EVALSHA (lower or upper case SHA), SCRIPT EXISTS of it and of a
/// script never loaded, EVALSHA of an unknown SHA, and sometimes SCRIPT FLUSH between.
fn evalsha(context: &mut Context<'_>) -> Vec<Command> {
    let target = key(context);
    let script = if context.chance(50) {
        format!(
            "return {{KEYS[1], ARGV[1], {}}}",
            expression(context, 1, false)
        )
    } else {
        format!("return {}", expression(context, 0, false))
    };
    let sha = sha1(&script);
    let unknown = sha1(&format!("never loaded {}", context.rng.below(1000)));
    let mut commands = vec![Command::new("SCRIPT").arg("LOAD").arg(&script)];
    if context.chance(20) {
        let mode = context.pick(&["", "ASYNC", "SYNC"]);
        let mut flush = Command::new("SCRIPT").arg("FLUSH").global();
        if !mode.is_empty() {
            flush = flush.arg(mode);
        }
        commands.push(flush);
    }
    let shown_sha = if context.chance(20) {
        sha.to_ascii_uppercase()
    } else {
        sha.clone()
    };
    let argument = value(context);
    commands.push(
        Command::new("EVALSHA")
            .arg(shown_sha)
            .arg("1")
            .key(&target)
            .arg(argument),
    );
    commands.push(
        Command::new("SCRIPT")
            .arg("EXISTS")
            .arg(&sha)
            .arg(&unknown)
            .arg("not-a-sha"),
    );
    let bad_sha = context.pick(&[unknown.as_str(), "abc", ""]).to_owned();
    commands.push(Command::new("EVALSHA").arg(bad_sha).arg("0"));
    if context.chance(30) {
        // EVAL caches the script as well.
        let other = "return 'cached by eval'";
        commands.push(Command::new("EVAL").arg(other).arg("0"));
        commands.push(Command::new("EVALSHA").arg(sha1(other)).arg("0"));
    }
    commands
}

/// EVAL_RO of reads (which run) and of writes (refused), and EVALSHA_RO.
fn read_only(context: &mut Context<'_>) -> Vec<Command> {
    let target = key(context);
    let script = context.pick(&[
        "return redis.call('exists', KEYS[1])",
        "return redis.call('type', KEYS[1])",
        "return redis.pcall('get', KEYS[1])",
        "return redis.call('set', KEYS[1], 'x')",
        "return redis.pcall('del', KEYS[1])",
        "return redis.call('incr', ARGV[1])",
        "return redis.call('ping')",
    ]);
    if context.chance(30) {
        return vec![
            Command::new("SCRIPT").arg("LOAD").arg(script),
            Command::new("EVALSHA_RO")
                .arg(sha1(script))
                .arg("1")
                .key(&target)
                .arg(&target),
        ];
    }
    vec![Command::new("EVAL_RO")
        .arg(script)
        .arg("1")
        .key(&target)
        .arg(&target)]
}

/// The SHA1 of a script, in lower-case hex, as SCRIPT LOAD answers it.
fn sha1(script: &str) -> String {
    sha1_smol::Sha1::from(script).digest().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    #[test]
    fn sha1_is_script_loads_answer() {
        assert_eq!(sha1("return 1"), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    }

    #[test]
    fn command_scripts_pass_keys_in_keys_or_argv() {
        let commands = build_many(command_script, 300);
        let declared = commands
            .iter()
            .filter(|command| command.args.get(2).is_some_and(|numkeys| numkeys != b"0"))
            .count();
        assert!(declared > 0 && declared < commands.len(), "{declared}");
        assert!(commands.iter().any(|command| {
            String::from_utf8_lossy(command.args.get(1).map_or(&[][..], |body| body))
                .contains("redis.pcall('")
        }));
    }

    #[test]
    fn evalsha_of_a_known_script_follows_its_load() {
        let commands = build_many(evalsha, 100);
        let mut loaded = Vec::new();
        for command in &commands {
            match command.args.first().map(Vec::as_slice) {
                Some(b"SCRIPT") if command.args.get(1).is_some_and(|sub| sub == b"LOAD") => {
                    let body = command.args.get(2).cloned().unwrap_or_default();
                    loaded.push(sha1(&String::from_utf8_lossy(&body)));
                }
                _ => {}
            }
        }
        assert!(!loaded.is_empty());
    }

    #[test]
    fn no_error_table_without_err() {
        for _ in 0..5 {
            for command in build_many(return_value, 200) {
                let body = String::from_utf8_lossy(command.args.get(1).map_or(&[][..], |b| b))
                    .into_owned();
                assert!(!body.contains("error({x"), "{body}");
            }
        }
    }
}
