//! The transactions family: MULTI EXEC DISCARD WATCH UNWATCH, around commands of
//! every other family on the shared keys.
//!
//! A transaction queues one to five commands drawn from the other families'
//! recipes (only those compared exactly, with no pause, not SELECT / SWAPDB /
//! FLUSHDB, and no sorted-set or blocking command, whose 7.0 / 7.2 allowances
//! `compare` applies by command name and so not inside an EXEC reply; and no
//! OBJECT: Redis checks a container's subcommand and its arity when queuing,
//! Peregrine only when the handler runs, so `OBJECT NOSUCHSUB` inside MULTI
//! dooms the transaction in Redis and not in Peregrine, a known difference; the same
//! for XGROUP and XINFO with an unknown subcommand or a wrong subcommand arity,
//! [`streams::fails_subcommand_lookup`]), plus
//! commands that fail when EXEC runs them (INCR of a non-number, WRONGTYPE) and,
//! sometimes, a queuing error (wrong arity, unknown command) that makes EXEC
//! answer EXECABORT. Keys are not hash-tagged, so one transaction spans shards.
//! Recipes also cover DISCARD, nested MULTI, WATCH inside MULTI, EXEC and DISCARD
//! without MULTI, SELECT inside MULTI (always selecting the model's database
//! again before EXEC, so the selected database does not depend on whether the
//! transaction ran), and PING / ECHO / DBSIZE / FLUSHDB inside MULTI.
//!
//! WATCH is only interesting when someone else writes, so the watch recipes send
//! writes from a second client ([`Client::Second`]) between WATCH and EXEC:
//! writes that change a watched key, writes that leave it alone (DEL of a missing
//! key, GET, PERSIST without expiry, a write to another key or another database),
//! and sometimes the first client's own write or an UNWATCH. EXEC then answers nil
//! or the array of replies, which must match.
//!
//! Every recipe ends outside MULTI with nothing watched (EXEC, DISCARD or UNWATCH
//! last), so the crash-restart mode, which restarts between recipes, finds no
//! transaction state to lose. Whether a transaction ran is not known to the
//! generator, so the model keeps the larger bound of before and after it
//! ([`Model::keep_bounds_of`]).
//!
//! [`Model::keep_bounds_of`]: super::model::Model::keep_bounds_of

use super::server;
use super::streams;
use super::values::{self, key, value};
use super::{Client, Command, Context, Recipe, FAMILIES};
use crate::compare::{Comparison, VERSION_DIFFERENCES};

/// The transactions family's recipes.
#[rustfmt::skip]
pub const RECIPES: &[Recipe] = &[
    Recipe { weight: 10, build: multi_exec },
    Recipe { weight: 3,  build: multi_discard },
    Recipe { weight: 4,  build: queuing_error },
    Recipe { weight: 4,  build: misuse },
    Recipe { weight: 12, build: watch_exec },
    Recipe { weight: 3,  build: select_inside },
    Recipe { weight: 3,  build: server_commands_inside },
];

/// This family's name in [`FAMILIES`]; its recipes never queue each other.
const FAMILY_NAME: &str = "transactions";

/// Most attempts at drawing a recipe of another family whose commands may be queued.
const DRAW_ATTEMPTS: usize = 20;

/// MULTI, one to five commands, EXEC.
fn multi_exec(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let queued = queued_commands(context, 1, 5);
    context.model.keep_bounds_of(&earlier);
    transaction(queued, Command::new("EXEC"))
}

/// MULTI, some commands, DISCARD, then a read of a key the queue touched (nothing ran).
fn multi_discard(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let queued = queued_commands(context, 0, 4);
    context.model.keep_bounds_of(&earlier);
    let probe_key = queued
        .iter()
        .flat_map(|command| command.keys.first())
        .next()
        .cloned()
        .unwrap_or_else(|| key(context));
    let mut commands = transaction(queued, Command::new("DISCARD"));
    commands.push(Command::new("EXISTS").key(probe_key));
    commands
}

/// MULTI with a wrong-arity or unknown command among valid ones: EXECABORT.
fn queuing_error(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let mut queued = queued_commands(context, 0, 3);
    let mut refused = if context.chance(60) {
        server::wrong_arity(context)
    } else {
        server::unknown(context)
    };
    let position = context.rng.index(queued.len().saturating_add(1));
    if let Some(refused) = refused.pop() {
        queued.insert(position, refused);
    }
    queued.extend(queued_commands(context, 0, 2));
    context.model.keep_bounds_of(&earlier);
    let end = if context.chance(80) {
        Command::new("EXEC")
    } else {
        Command::new("DISCARD")
    };
    transaction(queued, end)
}

/// Transaction commands where they do not belong.
fn misuse(context: &mut Context<'_>) -> Vec<Command> {
    match context.rng.below(6) {
        0 => vec![Command::new("EXEC")],
        1 => vec![Command::new("DISCARD")],
        2 => vec![Command::new("UNWATCH")],
        3 => vec![Command::new("EXEC").arg(value(context))],
        _ => {
            // MULTI or WATCH inside MULTI: refused without dooming the transaction.
            let earlier = context.model.clone();
            let mut queued = queued_commands(context, 1, 2);
            let inner = if context.chance(50) {
                Command::new("MULTI")
            } else {
                Command::new("WATCH").key(key(context))
            };
            let position = context.rng.index(queued.len().saturating_add(1));
            queued.insert(position, inner);
            queued.extend(queued_commands(context, 0, 2));
            context.model.keep_bounds_of(&earlier);
            transaction(queued, Command::new("EXEC"))
        }
    }
}

/// WATCH one to three keys, a second client's writes that may or may not change
/// them, sometimes an UNWATCH or the first client's own write, then MULTI .. EXEC
/// (or DISCARD, or just UNWATCH).
fn watch_exec(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let watched = values::some_keys(context, 1, 3);
    let mut watch = Command::new("WATCH");
    for watched_key in &watched {
        watch = watch.key(watched_key);
    }
    let mut commands = vec![watch];
    if context.chance(15) {
        // WATCH twice: the union is watched.
        commands.push(Command::new("WATCH").key(key(context)));
    }
    let selected = context.model.selected();
    let other_database = context.chance(15);
    let database = if other_database {
        (selected + 1) % 4
    } else {
        selected
    };
    let writes = context.rng.below(3);
    if writes > 0 {
        commands.push(
            Command::new("SELECT")
                .arg(database.to_string())
                .on_second_client(),
        );
    }
    for _ in 0..writes {
        let target = if context.chance(65) {
            context.pick(&watched)
        } else {
            key(context)
        };
        // The model's bounds are per database: a write elsewhere is bounded there.
        if other_database {
            context.model.select(database);
        }
        commands.push(second_client_write(context, target).on_second_client());
        context.model.select(selected);
    }
    match context.rng.below(10) {
        0 => commands.push(Command::new("UNWATCH")),
        1 => {
            let target = context.pick(&watched);
            commands.push(Command::new("SET").key(&target).arg("own"));
            context.model.may_store(&target, 3);
        }
        _ => {}
    }
    let mut queued = queued_commands(context, 0, 4);
    if context.chance(10) {
        let position = context.rng.index(queued.len().saturating_add(1));
        queued.insert(position, Command::new("UNWATCH"));
    }
    context.model.keep_bounds_of(&earlier);
    match context.rng.below(20) {
        0 => {
            commands.push(Command::new("UNWATCH"));
            commands.push(Command::new("EXEC"));
        }
        1 | 2 => commands.extend(transaction(queued, Command::new("DISCARD"))),
        _ => commands.extend(transaction(queued, Command::new("EXEC"))),
    }
    commands
}

/// One write (or read) by the second client: some change `target`, some leave it as it is.
fn second_client_write(context: &mut Context<'_>, target: Vec<u8>) -> Command {
    match context.rng.below(12) {
        0..=2 => {
            let value = value(context);
            context.model.may_store(&target, value.len());
            Command::new("SET").key(target).arg(value)
        }
        3 => Command::new("DEL").key(target),
        4 => {
            context.model.may_store(&target, 20);
            Command::new("INCR").key(target)
        }
        5 => {
            context.model.may_grow(&target, 1);
            let member = context.pick(&["a", "b", "c"]);
            Command::new("SADD").key(target).arg(member)
        }
        6 => Command::new("EXPIRE").key(target).arg("1000"),
        7 => Command::new("PERSIST").key(target),
        8 => Command::new("APPEND").key(target).arg(""),
        9 => Command::new("GET").key(target),
        10 => {
            context.model.may_grow(&target, 1);
            Command::new("LPUSHX").key(target).arg("x")
        }
        _ => {
            if context.chance(30) {
                Command::new("FLUSHDB").global()
            } else {
                Command::new("EXISTS").key(target)
            }
        }
    }
}

/// MULTI, SELECT of another database, commands there, SELECT of the model's database, EXEC.
fn select_inside(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let selected = context.model.selected();
    let (text, database) = values::database(context);
    let mut queued = vec![Command::new("SELECT").arg(text).global()];
    if let Some(database) = database {
        context.model.select(database);
    }
    queued.extend(queued_commands(context, 1, 3));
    context.model.select(selected);
    queued.push(Command::new("SELECT").arg(selected.to_string()).global());
    context.model.keep_bounds_of(&earlier);
    let end = if context.chance(85) {
        Command::new("EXEC")
    } else {
        Command::new("DISCARD")
    };
    transaction(queued, end)
}

/// MULTI with PING, ECHO, DBSIZE or (rarely) FLUSHDB among keyed commands.
fn server_commands_inside(context: &mut Context<'_>) -> Vec<Command> {
    let earlier = context.model.clone();
    let mut queued = queued_commands(context, 0, 3);
    for _ in 0..context.between(1, 2) {
        let command = match context.rng.below(20) {
            0..=5 => Command::new("PING"),
            6..=8 => Command::new("PING").arg(value(context)),
            9..=11 => Command::new("ECHO").arg(value(context)),
            12..=18 => Command::new("DBSIZE"),
            _ => Command::new("FLUSHDB").global(),
        };
        let position = context.rng.index(queued.len().saturating_add(1));
        queued.insert(position, command);
    }
    queued.extend(queued_commands(context, 0, 2));
    context.model.keep_bounds_of(&earlier);
    transaction(queued, Command::new("EXEC"))
}

/// MULTI, the queued commands, then `end` (EXEC or DISCARD), which names every
/// queued key so a mismatch shows the commands that wrote them.
fn transaction(queued: Vec<Command>, end: Command) -> Vec<Command> {
    let mut end = end;
    for command in &queued {
        for queued_key in &command.keys {
            if !end.keys.contains(queued_key) {
                end.keys.push(queued_key.clone());
            }
        }
        end.global |= command.global;
    }
    let mut commands = Vec::with_capacity(queued.len().saturating_add(2));
    commands.push(Command::new("MULTI"));
    commands.extend(queued);
    commands.push(end);
    commands
}

/// Between `low` and `high` commands to queue (a recipe of another family may
/// add one or two more).
fn queued_commands(context: &mut Context<'_>, low: i64, high: i64) -> Vec<Command> {
    let count = context.between(low, high);
    let mut queued = Vec::new();
    for _ in 0..count {
        if context.chance(20) {
            queued.extend(failing_at_runtime(context));
        } else {
            queued.extend(borrowed_recipe(context));
        }
    }
    queued
}

/// Commands that queue fine and fail when EXEC runs them, without failing the others.
fn failing_at_runtime(context: &mut Context<'_>) -> Vec<Command> {
    let target = key(context);
    match context.rng.below(5) {
        0 => {
            context.model.may_store(&target, 3);
            vec![
                Command::new("SET").key(&target).arg("abc"),
                Command::new("INCR").key(target),
            ]
        }
        1 => {
            context.model.may_store(&target, 1);
            vec![
                Command::new("SET").key(&target).arg("x"),
                Command::new("LPUSH").key(target).arg("y"),
            ]
        }
        2 => vec![Command::new("INCRBY").key(target).arg("notanumber")],
        3 => {
            context.model.may_grow(&target, 1);
            vec![
                Command::new("SADD").key(&target).arg("m"),
                Command::new("GET").key(target),
            ]
        }
        _ => vec![Command::new("HINCRBY").key(target).arg("f").arg("1.5")],
    }
}

/// The commands of one recipe of another family that may be queued; nothing
/// when none of a few draws qualifies. A drawn recipe that is not used leaves
/// the model as it was.
fn borrowed_recipe(context: &mut Context<'_>) -> Vec<Command> {
    let recipes: Vec<Recipe> = FAMILIES
        .iter()
        .filter(|family| family.name != FAMILY_NAME)
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
        if commands.iter().all(may_be_queued) {
            return commands;
        }
        // Never sent: whatever the recipe assumed (a SELECT, a FLUSHDB) did not happen.
        *context.model = earlier;
    }
    Vec::new()
}

/// Whether a command of another family can go inside MULTI here: its reply,
/// inside the EXEC array, is compared exactly.
fn may_be_queued(command: &Command) -> bool {
    let name = command.name();
    command.comparison == Comparison::Exact
        && command.pause_after.is_none()
        && !command.global
        && command.client == Client::First
        && command.frames == 1
        && command.listening.is_none()
        && name != "OBJECT"
        && !streams::fails_subcommand_lookup(command)
        && !name.starts_with('Z')
        && !name.starts_with("BZ")
        && !VERSION_DIFFERENCES
            .iter()
            .any(|difference| difference.command == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::tests::build_many;

    /// Whether `commands` leaves the connection outside MULTI: each MULTI is closed
    /// by EXEC or DISCARD (a nested MULTI inside one is refused, not opened).
    fn ends_outside_multi(commands: &[Command]) -> bool {
        let mut inside = false;
        for command in commands {
            match command.name().as_str() {
                "MULTI" => inside = true,
                "EXEC" | "DISCARD" => inside = false,
                _ => {}
            }
        }
        !inside
    }

    #[test]
    fn every_recipe_ends_outside_multi_with_nothing_watched() {
        for recipe in RECIPES {
            for _ in 0..200 {
                let commands = build_many(recipe.build, 1);
                assert!(ends_outside_multi(&commands));
                let last = commands.last().map(Command::name).unwrap_or_default();
                let watched = commands.iter().any(|command| command.name() == "WATCH");
                if watched {
                    assert!(
                        matches!(last.as_str(), "EXEC" | "DISCARD" | "UNWATCH"),
                        "{last}"
                    );
                }
            }
        }
    }

    #[test]
    fn queued_commands_are_compared_exactly() {
        let commands = build_many(multi_exec, 300);
        assert!(commands
            .iter()
            .all(|command| command.comparison == Comparison::Exact));
        assert!(commands.iter().any(|command| command.name() == "LPUSH"));
    }

    #[test]
    fn watch_recipes_write_from_the_second_client() {
        let commands = build_many(watch_exec, 100);
        assert!(commands
            .iter()
            .any(|command| command.client == Client::Second && command.name() == "SET"));
        assert!(commands
            .iter()
            .filter(|command| command.client == Client::Second)
            .all(|command| command.name() != "MULTI"));
    }

    #[test]
    fn select_inside_multi_selects_the_models_database_again() {
        let commands = build_many(select_inside, 100);
        let mut model_database = "0".to_owned();
        for window in commands.windows(2) {
            if let [select, end] = window {
                if matches!(end.name().as_str(), "EXEC" | "DISCARD") {
                    assert_eq!(select.name(), "SELECT");
                    let argument = select.args.get(1).cloned().unwrap_or_default();
                    model_database = String::from_utf8_lossy(&argument).into_owned();
                }
            }
        }
        assert_eq!(model_database, "0");
    }
}
