//! Seeded, reproducible command sequences.
//!
//! A [`Sequence`] draws recipes by weight from every family's table and yields
//! their commands one at a time. A recipe ([`Recipe`]) builds one command, or a
//! short run of commands when one needs a follow-up (a command that sets a
//! tiny expiry is followed by a pause and an access that makes both servers
//! delete the key lazily; see [`expiry`]).
//!
//! Adding a command family is adding one module with a `RECIPES` table and one
//! entry in [`FAMILIES`]. A run may draw from only some families (by name).
//!
//! The same seed gives the same commands, except for absolute unix times
//! (EXPIREAT, EXAT, ...), which are the clock at generation plus a seeded offset
//! so that keys never expire in the middle of a run by accident.

pub mod bitmaps;
pub mod collections;
pub mod expiry;
pub mod geo;
pub mod hashes;
pub mod hyperloglogs;
pub mod keys;
pub mod lists;
pub mod model;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod sorted_sets;
pub mod streams;
pub mod strings;
pub mod transactions;
pub mod values;

use std::collections::VecDeque;
use std::time::Duration;

use crate::compare::Comparison;
use crate::prng::Prng;
use crate::resp::{escape_unquoted, quote};
use model::Model;

/// A named group of recipes, selectable with `--families`.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The name `--families` takes.
    pub name: &'static str,
    /// The family's recipes.
    pub recipes: &'static [Recipe],
}

/// Every family. Add a family here.
#[rustfmt::skip]
pub const FAMILIES: &[Family] = &[
    Family { name: "strings",     recipes: strings::RECIPES },
    Family { name: "keys",        recipes: keys::RECIPES },
    Family { name: "server",      recipes: server::RECIPES },
    Family { name: "lists",       recipes: lists::RECIPES },
    Family { name: "hashes",      recipes: hashes::RECIPES },
    Family { name: "sets",        recipes: sets::RECIPES },
    Family { name: "sorted-sets", recipes: sorted_sets::RECIPES },
    Family { name: "geo",         recipes: geo::RECIPES },
    Family { name: "transactions", recipes: transactions::RECIPES },
    Family { name: "scripting",   recipes: scripting::RECIPES },
    Family { name: "pubsub",      recipes: pubsub::RECIPES },
    Family { name: "sort",        recipes: sort::RECIPES },
    Family { name: "hyperloglog", recipes: hyperloglogs::RECIPES },
    Family { name: "bitmaps",     recipes: bitmaps::RECIPES },
    Family { name: "streams",     recipes: streams::RECIPES },
];

/// The families named in `names`, in [`FAMILIES`] order; every family when
/// `names` is empty. Errors on a name no family has.
pub fn select_families(names: &[String]) -> Result<Vec<Family>, String> {
    if let Some(unknown) = names
        .iter()
        .find(|name| !FAMILIES.iter().any(|family| family.name == name.as_str()))
    {
        let known: Vec<&str> = FAMILIES.iter().map(|family| family.name).collect();
        return Err(format!(
            "unknown family {unknown:?}; the families are {}",
            known.join(", ")
        ));
    }
    Ok(FAMILIES
        .iter()
        .copied()
        .filter(|family| names.is_empty() || names.iter().any(|name| name == family.name))
        .collect())
}

/// Which of the two connections to each server a command is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Client {
    /// The connection every family uses; its selected database is the model's.
    #[default]
    First,
    /// Another client of the same servers, for writes that WATCH must notice. It
    /// keeps its own selected database: a recipe that uses it selects one first.
    Second,
}

/// Percentage of commands whose name is sent in scrambled letter case.
const SCRAMBLED_NAME_PERCENT: u64 = 5;

/// One command to send to both servers, with what the comparison needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The arguments, name first, exactly as sent.
    pub args: Vec<Vec<u8>>,
    /// How the two replies are compared.
    pub comparison: Comparison,
    /// The keys the command reads or writes (for the context of a mismatch).
    pub keys: Vec<Vec<u8>>,
    /// Whether the command affects every key (SELECT, SWAPDB, FLUSHDB), so it
    /// belongs in the context of any mismatch.
    pub global: bool,
    /// Time to wait after both replies arrived, before the next command.
    pub pause_after: Option<Duration>,
    /// The name coverage counts this command under, when not its own name
    /// (unknown command names are counted together).
    pub counted_as: Option<&'static str>,
    /// The connection it is sent on.
    pub client: Client,
    /// How many frames answer it: 1, except for (un)subscribing in RESP2, which
    /// answers one confirmation per name.
    pub frames: usize,
    /// Whether, once this command has run, the second client is subscribed to the
    /// sync channel (`Some(true)`), no longer is (`Some(false)`), or as before
    /// (`None`); see `stream`.
    pub listening: Option<bool>,
}

impl Command {
    /// A command with only its name, compared exactly.
    pub fn new(name: &str) -> Self {
        Self {
            args: vec![name.as_bytes().to_vec()],
            comparison: Comparison::Exact,
            keys: Vec::new(),
            global: false,
            pause_after: None,
            counted_as: None,
            client: Client::First,
            frames: 1,
            listening: None,
        }
    }

    /// Expects `count` frames in answer (one per name of a RESP2 (un)subscribe).
    pub fn frames(mut self, count: usize) -> Self {
        self.frames = count;
        self
    }

    /// Records whether the second client listens on the sync channel after this command.
    pub fn listening(mut self, listening: bool) -> Self {
        self.listening = Some(listening);
        self
    }

    /// Appends a plain argument.
    pub fn arg(mut self, arg: impl AsRef<[u8]>) -> Self {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    /// Appends several plain arguments.
    pub fn args<I, A>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<[u8]>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_vec()));
        self
    }

    /// Appends an argument that is a key, and records the key.
    pub fn key(mut self, key: impl AsRef<[u8]>) -> Self {
        let key = key.as_ref().to_vec();
        if !self.keys.contains(&key) {
            self.keys.push(key.clone());
        }
        self.args.push(key);
        self
    }

    /// Sets how the replies are compared.
    pub fn compared(mut self, comparison: Comparison) -> Self {
        self.comparison = comparison;
        self
    }

    /// Marks the command as affecting every key.
    pub fn global(mut self) -> Self {
        self.global = true;
        self
    }

    /// Waits this long after the replies, before the next command.
    pub fn pause(mut self, duration: Duration) -> Self {
        self.pause_after = Some(duration);
        self
    }

    /// Sends the command on the second connection ([`Client::Second`]).
    pub fn on_second_client(mut self) -> Self {
        self.client = Client::Second;
        self
    }

    /// Counts the command under `label` in coverage.
    pub fn counted_as(mut self, label: &'static str) -> Self {
        self.counted_as = Some(label);
        self
    }

    /// The command name in upper case, as counted in coverage.
    pub fn name(&self) -> String {
        if let Some(label) = self.counted_as {
            return label.to_owned();
        }
        let name = self.args.first().map(Vec::as_slice).unwrap_or_default();
        escape_unquoted(&name.to_ascii_uppercase())
    }

    /// Whether the command touches `key` (or every key).
    pub fn touches(&self, keys: &[Vec<u8>]) -> bool {
        self.global || self.keys.iter().any(|key| keys.contains(key))
    }

    /// The command as one printable line: the name as sent, then each argument,
    /// quoted and escaped when it is empty or holds anything but plain ASCII;
    /// `[client 2]` first when it goes on the second connection.
    pub fn printable(&self) -> String {
        let mut parts = Vec::with_capacity(self.args.len().saturating_add(1));
        if self.client == Client::Second {
            parts.push("[client 2]".to_owned());
        }
        for (position, arg) in self.args.iter().enumerate() {
            let plain = !arg.is_empty()
                && arg
                    .iter()
                    .all(|byte| byte.is_ascii_graphic() && *byte != b'"' && *byte != b'\\');
            if plain || (position == 0 && !arg.is_empty()) {
                parts.push(escape_unquoted(arg));
            } else {
                parts.push(quote(arg));
            }
        }
        parts.join(" ")
    }
}

/// What a recipe can use: the seeded generator, the load-bounding model and the clock.
#[derive(Debug)]
pub struct Context<'a> {
    /// The seeded random source; every choice comes from here.
    pub rng: &'a mut Prng,
    /// Bounds on value lengths and the selected database.
    pub model: &'a mut Model,
    /// The current unix time in milliseconds, for absolute expiry times.
    pub now_unix_ms: u64,
}

impl Context<'_> {
    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.rng.chance(percent)
    }

    /// One element of a non-empty constant table.
    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        self.rng.pick(items).clone()
    }

    /// A number in `low..=high`.
    pub fn between(&mut self, low: i64, high: i64) -> i64 {
        self.rng.between(low, high)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let other = self.rng.index(last.saturating_add(1));
            items.swap(last, other);
        }
    }
}

/// One way to generate a command, weighted against all others.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Relative frequency.
    pub weight: u64,
    /// Builds the command(s); never returns an empty list.
    pub build: fn(&mut Context<'_>) -> Vec<Command>,
}

/// An endless, seeded stream of commands.
#[derive(Debug)]
pub struct Sequence {
    rng: Prng,
    model: Model,
    pending: VecDeque<Command>,
    recipes: Vec<Recipe>,
    total_weight: u64,
}

impl Sequence {
    /// The sequence named by `seed`, drawing from every family.
    #[cfg(test)]
    pub fn new(seed: u64) -> Self {
        Self::with_families(seed, FAMILIES)
    }

    /// The sequence named by `seed`, drawing from `families` only (PING when
    /// `families` is empty).
    pub fn with_families(seed: u64, families: &[Family]) -> Self {
        let mut recipes: Vec<Recipe> = families
            .iter()
            .flat_map(|family| family.recipes.iter().copied())
            .collect();
        if recipes.is_empty() {
            recipes.extend(server::RECIPES.first().copied());
        }
        let total_weight = recipes.iter().map(|recipe| recipe.weight).sum();
        Self {
            rng: Prng::new(seed),
            model: Model::default(),
            pending: VecDeque::new(),
            recipes,
            total_weight,
        }
    }

    /// The next command; `now_unix_ms` anchors absolute expiry times.
    pub fn next_command(&mut self, now_unix_ms: u64) -> Command {
        loop {
            if let Some(command) = self.pending.pop_front() {
                return command;
            }
            let recipe = self.draw_recipe();
            let mut context = Context {
                rng: &mut self.rng,
                model: &mut self.model,
                now_unix_ms,
            };
            let mut commands = (recipe.build)(&mut context);
            if let Some(first) = commands.first_mut() {
                if self.rng.chance(SCRAMBLED_NAME_PERCENT) {
                    scramble_case(&mut self.rng, first);
                }
            }
            self.pending.extend(commands);
        }
    }

    /// Whether every command of the recipes drawn so far has been taken, so
    /// the next command starts a new recipe (a recipe's follow-up commands, such
    /// as the access after a tiny expiry, are never separated from it).
    pub fn at_recipe_boundary(&self) -> bool {
        self.pending.is_empty()
    }

    /// The database the commands taken so far leave selected (valid at a
    /// recipe boundary; the generator tracks it from its own SELECTs).
    pub fn selected_database(&self) -> usize {
        self.model.selected()
    }

    fn draw_recipe(&mut self) -> Recipe {
        let mut ticket = self.rng.below(self.total_weight);
        for recipe in &self.recipes {
            if ticket < recipe.weight {
                return *recipe;
            }
            ticket -= recipe.weight;
        }
        // Unreachable while the weights sum to `total_weight`; PING is harmless.
        server::RECIPES[0]
    }
}

/// Flips the case of each letter of the command name with probability one half.
fn scramble_case(rng: &mut Prng, command: &mut Command) {
    if let Some(name) = command.args.first_mut() {
        for byte in name.iter_mut() {
            if byte.is_ascii_alphabetic() && rng.chance(50) {
                *byte ^= 0x20;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs `build` `count` times on one seeded context and returns every command built.
    pub(crate) fn build_many(
        build: fn(&mut Context<'_>) -> Vec<Command>,
        count: usize,
    ) -> Vec<Command> {
        let mut rng = Prng::new(99);
        let mut model = Model::default();
        let mut out = Vec::new();
        for _ in 0..count {
            let mut context = Context {
                rng: &mut rng,
                model: &mut model,
                now_unix_ms: 1_700_000_000_000,
            };
            out.extend(build(&mut context));
        }
        out
    }

    fn take(seed: u64, count: usize) -> Vec<Command> {
        let mut sequence = Sequence::new(seed);
        (0..count)
            .map(|_| sequence.next_command(1_700_000_000_000))
            .collect()
    }

    #[test]
    fn a_seed_names_one_sequence() {
        assert_eq!(take(5, 500), take(5, 500));
        assert_ne!(take(5, 50), take(6, 50));
    }

    #[test]
    fn every_recipe_builds_commands() {
        let mut rng = Prng::new(11);
        let mut model = Model::default();
        for family in FAMILIES {
            for (position, recipe) in family.recipes.iter().enumerate() {
                for _ in 0..50 {
                    let mut context = Context {
                        rng: &mut rng,
                        model: &mut model,
                        now_unix_ms: 1_700_000_000_000,
                    };
                    let commands = (recipe.build)(&mut context);
                    assert!(!commands.is_empty(), "recipe {position} built nothing");
                    assert!(commands.iter().all(|command| !command.args.is_empty()));
                }
            }
        }
    }

    #[test]
    fn families_select_by_name() {
        let all = select_families(&[]).unwrap_or_default();
        assert_eq!(all.len(), FAMILIES.len());
        let names = vec!["sets".to_owned(), "lists".to_owned()];
        let chosen: Vec<&str> = select_families(&names)
            .unwrap_or_default()
            .iter()
            .map(|family| family.name)
            .collect();
        assert_eq!(chosen, ["lists", "sets"]);
        assert!(select_families(&["zsets".to_owned()]).is_err());
        let mut sequence = Sequence::with_families(3, &select_families(&names).unwrap_or_default());
        let core_only = [
            "GET", "SET", "APPEND", "PING", "ECHO", "KEYS", "SCAN", "SELECT",
        ];
        for _ in 0..500 {
            let name = sequence.next_command(1_700_000_000_000).name();
            assert!(!core_only.contains(&name.as_str()), "{name}");
        }
    }

    #[test]
    fn recipe_boundaries_fall_between_a_command_and_its_follow_up() {
        let mut sequence = Sequence::new(21);
        let mut follow_ups = 0;
        for _ in 0..20_000 {
            let command = sequence.next_command(1_700_000_000_000);
            if command.pause_after.is_some() {
                assert!(!sequence.at_recipe_boundary(), "{}", command.printable());
                follow_ups += 1;
            }
        }
        assert!(follow_ups > 0, "no tiny expiry in 20000 commands");
    }

    #[test]
    fn the_selected_database_follows_valid_selects() {
        let mut sequence = Sequence::new(4);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..3000 {
            let command = sequence.next_command(1_700_000_000_000);
            let argument = command.args.get(1).cloned().unwrap_or_default();
            // A SELECT inside MULTI, or the second client's, leaves the model's
            // database alone (the transaction selects it again before EXEC).
            if command.name() == "SELECT"
                && command.client == Client::First
                && sequence.at_recipe_boundary()
                && matches!(argument.as_slice(), b"0" | b"1" | b"2" | b"3")
            {
                assert_eq!(
                    sequence.selected_database().to_string().into_bytes(),
                    argument
                );
                seen.insert(argument);
            }
        }
        assert!(seen.len() > 1, "too few SELECTs to tell: {seen:?}");
    }

    #[test]
    fn printable_quotes_only_when_needed() {
        let command = Command::new("SET")
            .key(b"k1")
            .arg(b"a b\x00\r\n")
            .arg(b"")
            .arg(b"EX");
        assert_eq!(command.printable(), "SET k1 \"a b\\x00\\r\\n\" \"\" EX");
        assert_eq!(command.name(), "SET");
        assert_eq!(command.keys, vec![b"k1".to_vec()]);
    }

    #[test]
    fn touches_matches_keys_and_global_commands() {
        let keys = vec![b"k1".to_vec()];
        assert!(Command::new("GET").key("k1").touches(&keys));
        assert!(!Command::new("GET").key("k2").touches(&keys));
        assert!(Command::new("FLUSHDB").global().touches(&keys));
    }
}
