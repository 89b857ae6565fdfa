//! Tests of the streams family's generators.

use super::entries::xadd_many;
use super::ids::MAX_ID;
use super::*;
use crate::generate::tests::build_many;

/// Every recipe of the family, with each command it builds.
fn every_command() -> Vec<Command> {
    RECIPES
        .iter()
        .flat_map(|recipe| build_many(recipe.build, 300))
        .collect()
}

/// Runs `build` `count` times on one seeded context: the commands of each run.
fn runs(build: fn(&mut Context<'_>) -> Vec<Command>, count: usize) -> Vec<Vec<Command>> {
    let mut rng = crate::prng::Prng::new(7);
    let mut model = crate::generate::model::Model::default();
    (0..count)
        .map(|_| {
            let mut context = Context {
                rng: &mut rng,
                model: &mut model,
                now_unix_ms: 1_700_000_000_000,
            };
            build(&mut context)
        })
        .collect()
}

#[test]
fn clock_made_ids_are_compared_by_shape_and_deleted_in_their_recipe() {
    let mut seen = 0;
    for recipe in RECIPES {
        for commands in runs(recipe.build, 300) {
            for (position, command) in commands.iter().enumerate() {
                let clock_made = command.name() == "XADD"
                    && command
                        .args
                        .iter()
                        .skip(2)
                        .any(|arg| arg.as_slice() == b"*");
                if !clock_made {
                    continue;
                }
                seen += 1;
                assert_eq!(
                    command.comparison,
                    Comparison::StreamId,
                    "{}",
                    command.printable()
                );
                let rest = commands.get(position + 1..).unwrap_or_default();
                assert!(
                    rest.iter()
                        .any(|later| later.name() == "DEL" && later.keys == command.keys),
                    "{}",
                    command.printable()
                );
            }
        }
    }
    assert!(seen > 0);
}

#[test]
fn fresh_ids_keep_growing() {
    let commands = build_many(xadd_many, 50);
    let mut last = (0u64, 0u64);
    for command in commands.iter().filter(|command| command.name() == "XADD") {
        // `... id f value`: the ID is third from the end.
        let id = command
            .args
            .iter()
            .rev()
            .nth(2)
            .cloned()
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&id).into_owned();
        let (milliseconds, sequence) = text.split_once('-').unwrap_or_default();
        let id = (
            milliseconds.parse().unwrap_or(0),
            sequence.parse().unwrap_or(0),
        );
        assert!(id > last, "{text} after {last:?}");
        last = id;
    }
}

#[test]
fn every_command_and_subcommand_is_generated() {
    let names: std::collections::BTreeSet<String> =
        every_command().iter().map(Command::name).collect();
    for name in [
        "XADD",
        "XLEN",
        "XRANGE",
        "XREVRANGE",
        "XDEL",
        "XTRIM",
        "XREAD",
        "XGROUP CREATE",
        "XGROUP SETID",
        "XGROUP DESTROY",
        "XGROUP CREATECONSUMER",
        "XGROUP DELCONSUMER",
        "XGROUP HELP",
        "XREADGROUP",
        "XACK",
        "XPENDING",
        "XCLAIM",
        "XAUTOCLAIM",
        "XINFO STREAM",
        "XINFO GROUPS",
        "XINFO CONSUMERS",
        "XINFO HELP",
        "XSETID",
    ] {
        assert!(names.contains(name), "{name} never generated");
    }
}

#[test]
fn every_option_is_generated() {
    let commands = every_command();
    let has = |name: &str, token: &str| {
        commands.iter().any(|command| {
            command.name().starts_with(name)
                && command
                    .args
                    .iter()
                    .any(|arg| arg.eq_ignore_ascii_case(token.as_bytes()))
        })
    };
    for (name, token) in [
        ("XADD", "NOMKSTREAM"),
        ("XADD", "MAXLEN"),
        ("XADD", "MINID"),
        ("XADD", "~"),
        ("XADD", "="),
        ("XADD", "LIMIT"),
        ("XTRIM", "LIMIT"),
        ("XRANGE", "COUNT"),
        ("XREAD", "BLOCK"),
        ("XREAD", "COUNT"),
        ("XREAD", "$"),
        ("XREADGROUP", "NOACK"),
        ("XREADGROUP", "BLOCK"),
        ("XREADGROUP", ">"),
        ("XGROUP CREATE", "MKSTREAM"),
        ("XGROUP CREATE", "ENTRIESREAD"),
        ("XGROUP SETID", "ENTRIESREAD"),
        ("XPENDING", "IDLE"),
        ("XCLAIM", "IDLE"),
        ("XCLAIM", "TIME"),
        ("XCLAIM", "RETRYCOUNT"),
        ("XCLAIM", "FORCE"),
        ("XCLAIM", "JUSTID"),
        ("XCLAIM", "LASTID"),
        ("XAUTOCLAIM", "COUNT"),
        ("XAUTOCLAIM", "JUSTID"),
        ("XINFO STREAM", "FULL"),
        ("XSETID", "ENTRIESADDED"),
        ("XSETID", "MAXDELETEDID"),
        ("XADD", MAX_ID),
    ] {
        assert!(has(name, token), "{name} never sent with {token}");
    }
}

#[test]
fn blocking_reads_wait_briefly_or_are_rejected() {
    for command in every_command() {
        let Some(position) = command
            .args
            .iter()
            .position(|arg| arg.eq_ignore_ascii_case(b"BLOCK"))
        else {
            continue;
        };
        let timeout = command.args.get(position + 1).cloned().unwrap_or_default();
        let accepted = String::from_utf8_lossy(&timeout).parse::<i64>().ok();
        assert!(
            matches!(accepted, Some(1 | 10) | None) || accepted.is_some_and(|value| value < 0),
            "{}",
            command.printable()
        );
    }
}

#[test]
fn creating_commands_never_touch_other_families_keys() {
    let foreign = |key: &[u8]| {
        key.len() >= 2
            && !STREAMS.plain.contains(&key)
            && !STREAMS.tagged.contains(&key)
            && key != AUTO_KEY
            && !values::KEYS.contains(&key)
    };
    for command in every_command() {
        let creates = match command.name().as_str() {
            "XADD" => !command
                .args
                .iter()
                .any(|arg| arg.eq_ignore_ascii_case(b"NOMKSTREAM")),
            "XGROUP CREATE" => command
                .args
                .iter()
                .any(|arg| arg.eq_ignore_ascii_case(b"MKSTREAM")),
            "COPY" | "RENAME" => true,
            _ => false,
        };
        if creates {
            assert!(
                !command.keys.iter().any(|key| foreign(key)),
                "{}",
                command.printable()
            );
        }
    }
}

#[test]
fn subcommand_lookup_failures_follow_redis_arities() {
    let command = |args: &[&str]| {
        let mut command = Command::new(args[0]);
        for arg in &args[1..] {
            command = command.arg(arg);
        }
        command
    };
    assert!(!fails_subcommand_lookup(&command(&[
        "XGROUP", "create", "k", "g", "$"
    ])));
    assert!(!fails_subcommand_lookup(&command(&[
        "XGROUP", "CREATE", "k", "g", "$", "MKSTREAM"
    ])));
    assert!(fails_subcommand_lookup(&command(&[
        "XGROUP", "CREATE", "k", "g"
    ])));
    assert!(fails_subcommand_lookup(&command(&["xgroup", "FOO", "k"])));
    assert!(fails_subcommand_lookup(&command(&[
        "XGROUP", "DESTROY", "k", "g", "x"
    ])));
    assert!(!fails_subcommand_lookup(&command(&["XINFO", "HELP"])));
    assert!(fails_subcommand_lookup(&command(&["XINFO", "HELP", "x"])));
    assert!(!fails_subcommand_lookup(&command(&[
        "XINFO", "STREAM", "k", "FULL"
    ])));
    // The top-level arity is checked first, by both servers alike.
    assert!(!fails_subcommand_lookup(&command(&["XINFO"])));
    assert!(!fails_subcommand_lookup(&command(&["XADD", "k", "FOO"])));
}

#[test]
fn consumers_exist_before_group_reads_and_claims_name_them() {
    let mut checked = 0;
    for recipe in RECIPES {
        for commands in runs(recipe.build, 200) {
            for (position, command) in commands.iter().enumerate() {
                let (group, consumer) = match command.name().as_str() {
                    // Fewer than six arguments is an arity error.
                    "XCLAIM" | "XAUTOCLAIM" if command.args.len() >= 6 => {
                        (command.args.get(2), command.args.get(3))
                    }
                    "XREADGROUP"
                        if command
                            .args
                            .get(1)
                            .is_some_and(|word| word.eq_ignore_ascii_case(b"GROUP")) =>
                    {
                        (command.args.get(2), command.args.get(3))
                    }
                    _ => continue,
                };
                if command.keys.is_empty() {
                    continue;
                }
                checked += 1;
                let earlier = commands.get(..position).unwrap_or_default();
                for key in &command.keys {
                    let created = earlier.iter().any(|before| {
                        before.name() == "XGROUP CREATECONSUMER"
                            && before.keys.first() == Some(key)
                            && before.args.get(3) == group
                            && before.args.get(4) == consumer
                    });
                    assert!(created, "{}", command.printable());
                }
            }
        }
    }
    assert!(checked > 100, "{checked}");
}
