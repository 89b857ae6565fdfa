//! The shape of a command table row.

use crate::{ArgReader, CmdResult, ShardCtx};

/// A keyed command's handler: runs on the shard that owns its keys.
pub type Handler = fn(&mut ShardCtx<'_>, &mut ArgReader<'_>) -> CmdResult;

/// How many arguments a command takes, its name included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exactly(usize),
    /// At least this many.
    AtLeast(usize),
}

impl Arity {
    /// True when `argc` arguments are acceptable.
    pub fn accepts(self, argc: usize) -> bool {
        match self {
            Arity::Exactly(count) => argc == count,
            Arity::AtLeast(count) => argc >= count,
        }
    }

    /// Redis's signed arity, as COMMAND INFO reports it.
    pub fn redis_arity(self) -> i64 {
        match self {
            Arity::Exactly(count) => count as i64,
            Arity::AtLeast(count) => -(count as i64),
        }
    }
}

/// Command flags, with Redis's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flag {
    /// May modify the keyspace.
    Write,
    /// Only reads.
    ReadOnly,
    /// Refused when over maxmemory.
    DenyOom,
    /// Administrative.
    Admin,
    /// Not allowed from scripts.
    NoScript,
    /// Allowed while loading.
    Loading,
    /// Allowed on a stale replica.
    Stale,
    /// O(1) or O(log N).
    Fast,
    /// Allowed before authentication.
    NoAuth,
    /// Not allowed inside MULTI.
    NoMulti,
    /// Allowed while a script is busy.
    AllowBusy,
    /// May block the client (BLPOP, BZPOPMIN ...).
    Blocking,
    /// A pub/sub command.
    PubSub,
    /// May propagate an effect though it does not write (PUBLISH, PFCOUNT's cache):
    /// refused in read-only scripts, as Redis does.
    MayReplicate,
    /// Refused unless `enable-debug-command` allows the client (DEBUG), as Redis's
    /// protected commands.
    Protected,
    /// Not shown to MONITOR clients as itself (scripts: MONITOR shows their calls).
    SkipMonitor,
    /// Not kept by the slow log (EXEC: the slow log keeps its commands).
    SkipSlowlog,
}

impl Flag {
    /// The flag's name in COMMAND INFO.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Write => "write",
            Flag::ReadOnly => "readonly",
            Flag::DenyOom => "denyoom",
            Flag::Admin => "admin",
            Flag::NoScript => "noscript",
            Flag::Loading => "loading",
            Flag::Stale => "stale",
            Flag::Fast => "fast",
            Flag::NoAuth => "no_auth",
            Flag::NoMulti => "no_multi",
            Flag::AllowBusy => "allow_busy",
            Flag::Blocking => "blocking",
            Flag::PubSub => "pubsub",
            Flag::MayReplicate => "may_replicate",
            Flag::Protected => "protected",
            Flag::SkipMonitor => "skip_monitor",
            Flag::SkipSlowlog => "skip_slowlog",
        }
    }
}

/// Finds the key positions of a command whose keys move (a `numkeys` argument, as in
/// ZUNIONSTORE, LMPOP, SINTERCARD). Given a malformed argument vector it returns the keys
/// it can find; the handler reports the error.
pub type KeyFinder = fn(&[bytes::Bytes]) -> Vec<usize>;

/// Where a command's keys are, as Redis's legacy (first, last, step) triple, plus a
/// finder for commands with movable keys (COMMAND INFO's `movablekeys`).
#[derive(Clone, Copy, Debug)]
pub struct KeySpec {
    /// Index of the first key (0 = no keys).
    pub first: usize,
    /// Index of the last key; negative counts from the end (-1 = last argument).
    pub last: isize,
    /// Distance between keys.
    pub step: usize,
    /// For movable keys: the positions, found from the arguments; the triple is then
    /// only what COMMAND INFO reports.
    pub find: Option<KeyFinder>,
}

impl KeySpec {
    /// No keys.
    pub const NONE: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: None,
    };
    /// The first argument is the only key.
    pub const FIRST: KeySpec = KeySpec {
        first: 1,
        last: 1,
        step: 1,
        find: None,
    };
    /// The first two arguments are keys.
    pub const FIRST_TWO: KeySpec = KeySpec {
        first: 1,
        last: 2,
        step: 1,
        find: None,
    };
    /// A `numkeys` count in the second argument, then the keys (EVAL, FCALL).
    pub const NUMKEYS_SECOND: KeySpec = KeySpec {
        first: 0,
        last: 0,
        step: 0,
        find: Some(|argv| numkeys_positions(argv, &[], 2)),
    };
    /// Every argument is a key.
    pub const ALL: KeySpec = KeySpec {
        first: 1,
        last: -1,
        step: 1,
        find: None,
    };
    /// Alternating key, value pairs.
    pub const KEY_VALUE_PAIRS: KeySpec = KeySpec {
        first: 1,
        last: -1,
        step: 2,
        find: None,
    };

    /// Every argument but the last is a key (BLPOP key [key ...] timeout).
    pub const ALL_BUT_LAST: KeySpec = KeySpec {
        first: 1,
        last: -2,
        step: 1,
        find: None,
    };

    /// Movable keys: COMMAND INFO reports the triple, `find` gives the positions.
    pub const fn movable(first: usize, last: isize, step: usize, find: KeyFinder) -> KeySpec {
        KeySpec {
            first,
            last,
            step,
            find: Some(find),
        }
    }

    /// Positions of the keys in `argv`.
    pub fn positions(self, argv: &[bytes::Bytes]) -> KeyPositions {
        match self.find {
            Some(find) => KeyPositions::Found(find(argv).into_iter()),
            None => KeyPositions::Fixed(self.fixed_positions(argv.len())),
        }
    }

    /// Positions of the keys given by the triple in an argument vector of `argc`
    /// arguments.
    fn fixed_positions(self, argc: usize) -> std::iter::StepBy<std::ops::Range<usize>> {
        let last = if self.last < 0 {
            argc as isize + self.last
        } else {
            (self.last).min(argc as isize - 1)
        };
        let (first, step) = (self.first, self.step.max(1));
        let end = if self.first == 0 {
            0
        } else {
            (last + 1).max(0) as usize
        };
        (first..end.max(first)).step_by(step)
    }
}

/// The key positions of one command (see [`KeySpec::positions`]).
pub enum KeyPositions {
    /// From the (first, last, step) triple.
    Fixed(std::iter::StepBy<std::ops::Range<usize>>),
    /// Found by a [`KeyFinder`].
    Found(std::vec::IntoIter<usize>),
}

impl Iterator for KeyPositions {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            KeyPositions::Fixed(range) => range.next(),
            KeyPositions::Found(found) => found.next(),
        }
    }
}

/// A [`KeyFinder`] building block: `count_at` holds a key count (`numkeys`) and the keys
/// follow it; `fixed` lists positions that are keys regardless (a destination). Redis's
/// `numkeys` errors are the handler's to report, so a bad count finds no counted keys.
pub fn numkeys_positions(argv: &[bytes::Bytes], fixed: &[usize], count_at: usize) -> Vec<usize> {
    let mut positions: Vec<usize> = fixed
        .iter()
        .copied()
        .filter(|&at| at < argv.len())
        .collect();
    let count = argv
        .get(count_at)
        .and_then(|arg| std::str::from_utf8(arg).ok())
        .and_then(|text| text.parse::<usize>().ok())
        .unwrap_or(0);
    let first = count_at + 1;
    if count > 0 && first + count <= argv.len() {
        positions.extend(first..first + count);
    }
    positions
}

/// How per-shard replies of a split multi-key command are combined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Every part replies OK; the command replies OK.
    Ok,
    /// Integer replies are added (DEL, EXISTS, TOUCH, UNLINK).
    SumIntegers,
    /// Each part replies an array in its keys' order; elements go back to the original
    /// key order (MGET).
    ArrayInKeyOrder,
}

/// Cross-shard commands that need a dedicated coordination plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Coordinated {
    /// RENAME (`nx: false`) and RENAMENX (`nx: true`).
    Rename {
        /// Only when the destination does not exist.
        nx: bool,
    },
    /// COPY source destination [DB n] [REPLACE].
    Copy,
    /// MSETNX: set all or nothing.
    MsetNx,
}

/// What a keyed command does when its keys live on more than one shard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrossShard {
    /// The command has one key (or none): never cross-shard.
    SingleKey,
    /// Run the same command on each shard with that shard's keys, then merge replies.
    Split(Merge),
    /// A dedicated plan in the coordinator.
    Coordinated(Coordinated),
    /// Lock every key, copy the keys' entries to a scratch keyspace, run the ordinary
    /// handler there, and write back the keys it changed: any multi-key command
    /// (SINTERSTORE, SMOVE, LMOVE, ZUNIONSTORE ...) becomes atomic across shards without
    /// a plan of its own.
    Scratch,
    /// Like [`CrossShard::Scratch`], for a command that may also reach keys its arguments
    /// do not name (SORT's BY and GET patterns): when [`Discovery::references`] says so,
    /// the command runs under a lock of every shard, [`Discovery::keys`] lists the keys it
    /// will reach (run on the first key's shard), and those are copied to the scratch
    /// keyspace too.
    Discovered(Discovery),
}

/// How a [`CrossShard::Discovered`] command finds the keys its arguments do not name.
#[derive(Clone, Copy)]
pub struct Discovery {
    /// True when the arguments make the command reach keys beyond its key positions.
    pub references: fn(&[bytes::Bytes]) -> bool,
    /// The keys it will reach, computed against the shard that owns its first key.
    pub keys: fn(&mut ShardCtx<'_>, &[bytes::Bytes]) -> Vec<bytes::Bytes>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Discovery")
    }
}

impl PartialEq for Discovery {
    fn eq(&self, other: &Discovery) -> bool {
        std::ptr::fn_addr_eq(self.references, other.references)
            && std::ptr::fn_addr_eq(self.keys, other.keys)
    }
}

impl Eq for Discovery {}

/// Commands executed by the server itself (connection state, all-shard operations,
/// introspection) rather than by one shard's handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCommand {
    /// PING [message]
    Ping,
    /// ECHO message
    Echo,
    /// QUIT
    Quit,
    /// RESET
    Reset,
    /// HELLO [protover [AUTH user pass] [SETNAME name]]
    Hello,
    /// AUTH [user] password
    Auth,
    /// SELECT index
    Select,
    /// SWAPDB index1 index2
    SwapDb,
    /// CLIENT subcommand ...
    Client,
    /// COMMAND [subcommand ...]
    Command,
    /// INFO [section ...]
    Info,
    /// CONFIG GET|SET|RESETSTAT ...
    Config,
    /// DBSIZE
    DbSize,
    /// FLUSHDB [ASYNC|SYNC]
    FlushDb,
    /// FLUSHALL [ASYNC|SYNC]
    FlushAll,
    /// TIME
    Time,
    /// ROLE
    Role,
    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
    Shutdown,
    /// DEBUG SLEEP|OBJECT ...
    Debug,
    /// KEYS pattern
    Keys,
    /// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
    Scan,
    /// RANDOMKEY
    RandomKey,
    /// LASTSAVE
    LastSave,
    /// SLOWLOG GET|LEN|RESET|HELP
    SlowLog,
    /// MONITOR
    Monitor,
    /// MODULE LIST|LOAD|LOADEX|UNLOAD|HELP
    Module,
    /// MEMORY DOCTOR|MALLOC-STATS|PURGE|STATS|USAGE|HELP
    Memory,
    /// LATENCY DOCTOR|GRAPH|HISTORY|LATEST|RESET|HISTOGRAM|HELP
    Latency,
    /// WAIT numreplicas timeout
    Wait,
    /// WAITAOF numlocal numreplicas timeout
    WaitAof,
    /// SAVE
    Save,
    /// BGSAVE [SCHEDULE]
    BgSave,
    /// BGREWRITEAOF
    BgRewriteAof,
    /// MULTI
    Multi,
    /// EXEC
    Exec,
    /// DISCARD
    Discard,
    /// WATCH key [key ...]
    Watch,
    /// UNWATCH
    Unwatch,
    /// EVAL script numkeys [key ...] [arg ...]
    Eval,
    /// EVALSHA sha1 numkeys [key ...] [arg ...]
    EvalSha,
    /// EVAL_RO script numkeys [key ...] [arg ...]
    EvalRo,
    /// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
    EvalShaRo,
    /// FCALL function numkeys [key ...] [arg ...]
    FCall,
    /// FCALL_RO function numkeys [key ...] [arg ...]
    FCallRo,
    /// SCRIPT LOAD|EXISTS|FLUSH|KILL|HELP
    Script,
    /// FUNCTION LOAD|DELETE|FLUSH|LIST|DUMP|RESTORE|STATS|KILL|HELP
    Function,
    /// SUBSCRIBE channel [channel ...]
    Subscribe,
    /// UNSUBSCRIBE [channel [channel ...]]
    Unsubscribe,
    /// PSUBSCRIBE pattern [pattern ...]
    PSubscribe,
    /// PUNSUBSCRIBE [pattern [pattern ...]]
    PUnsubscribe,
    /// SSUBSCRIBE shardchannel [shardchannel ...]
    SSubscribe,
    /// SUNSUBSCRIBE [shardchannel [shardchannel ...]]
    SUnsubscribe,
    /// PUBLISH channel message
    Publish,
    /// SPUBLISH shardchannel message
    SPublish,
    /// PUBSUB CHANNELS|NUMSUB|NUMPAT|SHARDCHANNELS|SHARDNUMSUB|HELP
    PubSub,
}

/// How a command executes.
#[derive(Clone, Copy)]
pub enum Exec {
    /// On the shard(s) owning its keys.
    Keyed {
        /// The single-shard body.
        handler: Handler,
        /// What to do when keys span shards.
        cross: CrossShard,
    },
    /// By the server (connection or all shards).
    Server(ServerCommand),
}

/// A keyed command that has one key (or whose keys never span shards).
pub const fn keyed(handler: Handler) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::SingleKey,
    }
}

/// A keyed command split into per-shard parts whose replies `merge` combines.
pub const fn split(handler: Handler, merge: Merge) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::Split(merge),
    }
}

/// A keyed command that runs on a locked scratch copy of its keys when they span shards.
pub const fn scratch(handler: Handler) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::Scratch,
    }
}

/// A keyed command with a dedicated cross-shard plan.
pub const fn coordinated(handler: Handler, plan: Coordinated) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::Coordinated(plan),
    }
}

/// A keyed command that may reach keys its arguments do not name (see
/// [`CrossShard::Discovered`]).
pub const fn discovered(handler: Handler, discovery: Discovery) -> Exec {
    Exec::Keyed {
        handler,
        cross: CrossShard::Discovered(discovery),
    }
}

/// The command group, as COMMAND DOCS reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Connection management.
    Connection,
    /// Server management.
    Server,
    /// Strings.
    String,
    /// Keys of any type.
    Generic,
    /// Lists.
    List,
    /// Hashes.
    Hash,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Geospatial indexes (sorted sets of geohashes).
    Geo,
    /// MULTI/EXEC transactions.
    Transactions,
    /// Lua scripts and functions.
    Scripting,
    /// Publish/subscribe.
    PubSub,
    /// HyperLogLog.
    HyperLogLog,
    /// Bitmaps (bit operations on strings).
    Bitmap,
    /// Streams.
    Stream,
}

impl Group {
    /// The group's name in COMMAND DOCS.
    pub fn name(self) -> &'static str {
        match self {
            Group::Connection => "connection",
            Group::Server => "server",
            Group::String => "string",
            Group::Generic => "generic",
            Group::List => "list",
            Group::Hash => "hash",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Geo => "geo",
            Group::Transactions => "transactions",
            Group::Scripting => "scripting",
            Group::PubSub => "pubsub",
            Group::HyperLogLog => "hyperloglog",
            Group::Bitmap => "bitmap",
            Group::Stream => "stream",
        }
    }
}

/// One row of the command table.
#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lowercase name.
    pub name: &'static str,
    /// Argument count, name included.
    pub arity: Arity,
    /// Redis flags.
    pub flags: &'static [Flag],
    /// Key positions.
    pub keys: KeySpec,
    /// How it runs.
    pub exec: Exec,
    /// Its group.
    pub group: Group,
    /// One-line summary, as COMMAND DOCS gives it.
    pub summary: &'static str,
}

impl CommandSpec {
    /// True when the command has `flag`.
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// True when `argv` makes this command reach keys beyond its key positions (SORT
    /// with BY or GET patterns): it cannot run on one shard unless the server has one.
    pub fn references_other_keys(&self, argv: &[bytes::Bytes]) -> bool {
        match self.exec {
            Exec::Keyed {
                cross: CrossShard::Discovered(discovery),
                ..
            } => (discovery.references)(argv),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_positions() {
        let collect = |spec: KeySpec, argc: usize| {
            let argv = vec![bytes::Bytes::from_static(b"x"); argc];
            spec.positions(&argv).collect::<Vec<_>>()
        };
        assert_eq!(collect(KeySpec::FIRST, 3), vec![1]);
        assert_eq!(collect(KeySpec::ALL, 4), vec![1, 2, 3]);
        assert_eq!(collect(KeySpec::KEY_VALUE_PAIRS, 5), vec![1, 3]);
        assert_eq!(collect(KeySpec::NONE, 5), Vec::<usize>::new());
        assert_eq!(collect(KeySpec::FIRST_TWO, 4), vec![1, 2]);
    }
}

/// A subcommand of a container command (CLIENT, CONFIG, OBJECT, COMMAND), with its arity
/// counted from the container's name.
#[derive(Clone, Copy, Debug)]
pub struct Subcommand {
    /// Lowercase name.
    pub name: &'static str,
    /// `container|name`, as CLIENT LIST's `cmd=` and errors show it.
    pub full_name: &'static str,
    /// Argument count, container name included.
    pub arity: Arity,
    /// Redis's flags of the subcommand (COMMAND INFO; MONITOR hides `admin` ones).
    pub flags: &'static [Flag],
    /// Where its keys are (COMMAND INFO), counted from the container's name.
    pub keys: KeySpec,
}

impl Subcommand {
    /// Whether the subcommand has `flag`.
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }
}

/// Finds `argv[1]` in a container's subcommand table and checks its arity, with Redis's
/// errors: `unknown subcommand 'x'. Try CLIENT HELP.` and `wrong number of arguments for
/// 'client|setname' command`.
pub fn check_subcommand(
    container: &'static str,
    table: &'static [Subcommand],
    argv: &[bytes::Bytes],
) -> Result<&'static Subcommand, crate::CommandError> {
    let name = argv.get(1).map(|arg| arg.as_ref()).unwrap_or_default();
    let Some(subcommand) = table
        .iter()
        .find(|subcommand| name.eq_ignore_ascii_case(subcommand.name.as_bytes()))
    else {
        let shown: String = String::from_utf8_lossy(name).chars().take(128).collect();
        return Err(crate::CommandError::other(format!(
            "ERR unknown subcommand '{shown}'. Try {} HELP.",
            container.to_ascii_uppercase()
        )));
    };
    if !subcommand.arity.accepts(argv.len()) {
        return Err(crate::CommandError::other(format!(
            "ERR wrong number of arguments for '{}' command",
            subcommand.full_name
        )));
    }
    Ok(subcommand)
}
