//! Server configuration: redis.conf-style files, `--name value` flags, CONFIG GET/SET.
//!
//! Every parameter is one row of [`PARAMETERS`] (name, default, kind, whether CONFIG SET
//! may change it at run time), or of [`redis_only::PARAMETERS`] for Redis's parameters
//! that change nothing here. Values are validated when set; [`Settings`] is the typed
//! snapshot the rest of the server reads.

mod redis_only;

use peregrine_keyspace::glob_match_nocase;
use std::collections::BTreeMap;

/// How a parameter's value is validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A non-negative integer.
    Integer,
    /// Any integer of 32 bits.
    SignedInteger,
    /// A memory size (`1gb`, `512mb`, `100k`, bytes).
    Memory,
    /// `yes` or `no`.
    Bool,
    /// Free text.
    Text,
    /// One of the listed words.
    OneOf(&'static [&'static str]),
    /// One or more of the listed words, separated by spaces.
    Words(&'static [&'static str]),
}

/// One configuration parameter.
struct Parameter {
    name: &'static str,
    default: &'static str,
    kind: Kind,
    mutable: bool,
}

const LOG_LEVELS: &[&str] = &["debug", "verbose", "notice", "warning", "nothing"];
const POLICIES: &[&str] = &[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
];

#[rustfmt::skip]
const PARAMETERS: &[Parameter] = &[
    Parameter { name: "port",                       default: "6379",        kind: Kind::Integer, mutable: false },
    Parameter { name: "bind",                       default: "127.0.0.1",   kind: Kind::Text,    mutable: false },
    Parameter { name: "shards",                     default: "0",           kind: Kind::Integer, mutable: false },
    Parameter { name: "dir",                        default: ".",           kind: Kind::Text,    mutable: false },
    Parameter { name: "databases",                  default: "16",          kind: Kind::Integer, mutable: false },
    Parameter { name: "maxclients",                 default: "10000",       kind: Kind::Integer, mutable: true },
    Parameter { name: "loglevel",                   default: "notice",      kind: Kind::OneOf(LOG_LEVELS), mutable: true },
    Parameter { name: "logfile",                    default: "",            kind: Kind::Text,    mutable: false },
    Parameter { name: "proto-max-bulk-len",         default: "536870912",   kind: Kind::Memory,  mutable: true },
    Parameter { name: "client-query-buffer-limit",  default: "1073741824",  kind: Kind::Memory,  mutable: true },
    Parameter { name: "protected-mode",             default: "yes",         kind: Kind::Bool,    mutable: true },
    Parameter { name: "requirepass",                default: "",            kind: Kind::Text,    mutable: true },
    Parameter { name: "save",                       default: "3600 1 300 100 60 10000", kind: Kind::Text, mutable: true },
    Parameter { name: "appendonly",                 default: "yes",         kind: Kind::Bool,    mutable: false },
    Parameter { name: "auto-aof-rewrite-percentage", default: "100",       kind: Kind::Integer, mutable: true },
    Parameter { name: "auto-aof-rewrite-min-size",  default: "67108864",    kind: Kind::Memory,  mutable: true },
    Parameter { name: "appenddirname",              default: "appendonlydir", kind: Kind::Text,  mutable: false },
    Parameter { name: "aof-segment-size",           default: "67108864",    kind: Kind::Memory,  mutable: false },
    Parameter { name: "aof-load-truncated",         default: "yes",         kind: Kind::Bool,    mutable: true },
    Parameter { name: "aof-load-skip-corrupt",      default: "no",          kind: Kind::Bool,    mutable: true },
    Parameter { name: "encryption-key-file",        default: "",            kind: Kind::Text,    mutable: false },
    Parameter { name: "appendfsync",                default: "everysec",    kind: Kind::OneOf(&["always", "everysec", "no"]), mutable: true },
    Parameter { name: "maxmemory",                  default: "0",           kind: Kind::Memory,  mutable: true },
    Parameter { name: "maxmemory-policy",           default: "noeviction",  kind: Kind::OneOf(POLICIES), mutable: true },
    Parameter { name: "hz",                         default: "10",          kind: Kind::Integer, mutable: true },
    Parameter { name: "timeout",                    default: "0",           kind: Kind::Integer, mutable: true },
    Parameter { name: "tcp-keepalive",              default: "300",         kind: Kind::Integer, mutable: true },
    Parameter { name: "daemonize",                  default: "no",          kind: Kind::Bool,    mutable: false },
    Parameter { name: "pidfile",                    default: "",            kind: Kind::Text,    mutable: false },
    Parameter { name: "enable-module-command",      default: "no",          kind: Kind::OneOf(&["no", "yes", "local"]), mutable: false },
    Parameter { name: "enable-debug-command",       default: "no",          kind: Kind::OneOf(&["no", "yes", "local"]), mutable: false },
    Parameter { name: "supervised",                 default: "no",          kind: Kind::OneOf(&["upstart", "systemd", "auto", "no"]), mutable: false },
    Parameter { name: "dbfilename",                 default: "dump.rdb",    kind: Kind::Text,    mutable: true },
    Parameter { name: "appendfilename",             default: "appendonly.aof", kind: Kind::Text, mutable: false },
    Parameter { name: "cluster-enabled",            default: "no",          kind: Kind::Bool,    mutable: false },
    Parameter { name: "slowlog-log-slower-than",    default: "10000",       kind: Kind::SignedInteger, mutable: true },
    Parameter { name: "slowlog-max-len",            default: "128",         kind: Kind::Integer, mutable: true },
    Parameter { name: "latency-monitor-threshold",  default: "0",           kind: Kind::Integer, mutable: true },
    Parameter { name: "latency-tracking",           default: "yes",         kind: Kind::Bool,    mutable: true },
    Parameter { name: "latency-tracking-info-percentiles", default: "50 99 99.9", kind: Kind::Text, mutable: true },
    Parameter { name: "tracking-table-max-keys",    default: "1000000",     kind: Kind::Integer, mutable: true },
    Parameter { name: "busy-reply-threshold",       default: "5000",        kind: Kind::Integer, mutable: true },
    Parameter { name: "script-undeclared-keys",     default: "allow",       kind: Kind::OneOf(&["allow", "deny"]), mutable: true },
    Parameter { name: "client-output-buffer-limit", default: crate::outbox::DEFAULT_OUTPUT_LIMITS, kind: Kind::Text, mutable: true },
    Parameter { name: "notify-keyspace-events",     default: "",            kind: Kind::Text,    mutable: true },
    Parameter { name: "replica-read-only",          default: "yes",         kind: Kind::Bool,    mutable: true },
    Parameter { name: "spin-before-park-us",        default: "0",           kind: Kind::Integer, mutable: false },
    Parameter { name: "tcp-backlog",                default: "511",         kind: Kind::Integer, mutable: false },
    Parameter { name: "list-max-listpack-size",     default: "-2",          kind: Kind::SignedInteger, mutable: true },
    Parameter { name: "list-compress-depth",        default: "0",           kind: Kind::Integer, mutable: true },
    Parameter { name: "hash-max-listpack-entries",  default: "512",         kind: Kind::Integer, mutable: true },
    Parameter { name: "hash-max-listpack-value",    default: "64",          kind: Kind::Memory,  mutable: true },
    Parameter { name: "set-max-intset-entries",     default: "512",         kind: Kind::Integer, mutable: true },
    Parameter { name: "set-max-listpack-entries",   default: "128",         kind: Kind::Integer, mutable: true },
    Parameter { name: "set-max-listpack-value",     default: "64",          kind: Kind::Memory,  mutable: true },
    Parameter { name: "zset-max-listpack-entries",  default: "128",         kind: Kind::Integer, mutable: true },
    Parameter { name: "zset-max-listpack-value",    default: "64",          kind: Kind::Memory,  mutable: true },
    Parameter { name: "hll-sparse-max-bytes",       default: "3000",        kind: Kind::Memory,  mutable: true },
    Parameter { name: "stream-node-max-bytes",      default: "4096",        kind: Kind::Memory,  mutable: true },
    Parameter { name: "stream-node-max-entries",    default: "100",         kind: Kind::Integer, mutable: true },
    Parameter { name: "lazyfree-lazy-user-del",     default: "no",          kind: Kind::Bool,    mutable: true },
    Parameter { name: "lazyfree-lazy-user-flush",   default: "no",          kind: Kind::Bool,    mutable: true },
];

/// A configuration error; the text names the offending option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The typed view of the configuration that the server reads.
#[derive(Clone, Debug)]
pub struct Settings {
    /// TCP port (0 picks a free one).
    pub port: u16,
    /// Addresses to listen on.
    pub bind: Vec<String>,
    /// Number of shards (0 = every CPU the process may use).
    pub shards: u16,
    /// Number of databases.
    pub databases: u32,
    /// Maximum simultaneous clients.
    pub maxclients: u64,
    /// Log verbosity.
    pub loglevel: String,
    /// Log file ("" = standard output).
    pub logfile: String,
    /// Largest bulk argument.
    pub proto_max_bulk_len: u64,
    /// Largest query buffer per client.
    pub client_query_buffer_limit: u64,
    /// Refuse non-loopback clients when no password is set.
    pub protected_mode: bool,
    /// The password, if any.
    pub requirepass: Option<Vec<u8>>,
    /// Whether an LFU eviction policy is configured.
    pub lfu_policy: bool,
    /// `notify-keyspace-events`: which keyspace events shards record for publishing.
    pub notify_keyspace_events: peregrine_commands::EventFlags,
    /// Active expiry frequency (per second).
    pub hz: u64,
    /// Microseconds a shard with a core of its own spins before sleeping (0 = never).
    pub spin_before_park_us: u64,
    /// When collections leave their compact encodings.
    pub encoding: peregrine_keyspace::EncodingLimits,
    /// `hll-sparse-max-bytes`: the largest sparse HyperLogLog.
    pub hll_sparse_max_bytes: usize,
    /// `stream-node-max-bytes` and `stream-node-max-entries`.
    pub stream: peregrine_keyspace::collections::stream::StreamLimits,
    /// Milliseconds a script runs before other clients get `-BUSY`.
    pub busy_reply_threshold_ms: u64,
    /// Whether scripts may touch keys they did not declare (`script-undeclared-keys`).
    pub undeclared_keys: bool,
    /// `client-output-buffer-limit`'s `pubsub` class.
    pub pubsub_output_limit: crate::outbox::OutputLimit,
    /// `client-output-buffer-limit`'s `slave` class (MONITOR clients').
    pub replica_output_limit: crate::outbox::OutputLimit,
    /// Where and how data is persisted.
    pub persistence: crate::persistence::PersistenceSettings,
    /// `daemonize`: run in the background.
    pub daemonize: bool,
    /// `pidfile`: where to write the pid ("" = nowhere unless daemonized).
    pub pidfile: String,
    /// `supervised`: whom to tell that the server is ready.
    pub supervised: crate::process::Supervision,
    /// `tcp-backlog`: the listen queue of every shard's listener.
    pub tcp_backlog: u32,
    /// `enable-debug-command`: which clients may run DEBUG.
    pub debug_command: ProtectedAccess,
    /// `enable-module-command`: which clients may run MODULE LOAD/LOADEX/UNLOAD.
    pub module_command: ProtectedAccess,
    /// When snapshots are taken automatically.
    pub auto_snapshot: crate::persistence::schedule::AutoSnapshot,
    /// `slowlog-log-slower-than` and `slowlog-max-len`: which commands the slow log keeps.
    pub slowlog: crate::slowlog::SlowLogSettings,
    /// The latency monitor and per-command latency tracking.
    pub latency: crate::latency::LatencySettings,
    /// `tracking-table-max-keys`: most keys remembered for CLIENT TRACKING (0: no limit).
    pub tracking_table_max_keys: usize,
}

/// Who may run a protected command (`enable-debug-command no|yes|local`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProtectedAccess {
    /// No client (`no`, Redis's default).
    Nobody,
    /// Every client (`yes`).
    Everyone,
    /// Clients on the loopback interface (`local`).
    Local,
}

impl ProtectedAccess {
    /// The access `enable-debug-command`'s or `enable-module-command`'s value gives.
    pub fn parse(text: &str) -> ProtectedAccess {
        match text {
            "yes" => ProtectedAccess::Everyone,
            "local" => ProtectedAccess::Local,
            _ => ProtectedAccess::Nobody,
        }
    }

    /// Whether a client connected from a loopback address (`local`) or not may run it.
    pub fn allows(self, local: bool) -> bool {
        match self {
            ProtectedAccess::Nobody => false,
            ProtectedAccess::Everyone => true,
            ProtectedAccess::Local => local,
        }
    }
}

/// The configuration: every parameter's current text.
#[derive(Clone, Debug)]
pub struct Config {
    values: BTreeMap<&'static str, String>,
    /// The config file it was loaded from, if any.
    pub file: Option<String>,
    /// `rename-command old new` lines, in order (see [`crate::command_names`]).
    pub renames: Vec<(String, String)>,
}

/// Every parameter: Peregrine's, then Redis's that change nothing here.
fn all_parameters() -> impl Iterator<Item = &'static Parameter> {
    PARAMETERS.iter().chain(redis_only::PARAMETERS)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            values: all_parameters()
                .map(|parameter| (parameter.name, parameter.default.to_owned()))
                .collect(),
            file: None,
            renames: Vec::new(),
        }
    }
}

/// How deep `include` files may nest.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Redis's pre-7.0 names, still accepted (Redis 7 keeps them as aliases).
const ALIASES: &[(&str, &str)] = &[
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("slaveof", "replicaof"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-announce-ip", "replica-announce-ip"),
    ("slave-announce-port", "replica-announce-port"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    (
        "cluster-slave-validity-factor",
        "cluster-replica-validity-factor",
    ),
    ("cluster-slave-no-failover", "cluster-replica-no-failover"),
];

fn find(name: &str) -> Option<&'static Parameter> {
    let lower = name.to_ascii_lowercase();
    let canonical = ALIASES
        .iter()
        .find(|(old, _)| *old == lower)
        .map_or(lower.as_str(), |(_, new)| new);
    all_parameters().find(|parameter| parameter.name == canonical)
}

/// Parses a memory size as redis.conf does: a number with an optional unit (k, kb, m, mb,
/// g, gb; `k` = 1000, `kb` = 1024).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let number: u64 = digits.parse().ok()?;
    let multiplier: u64 = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

impl Config {
    /// Builds the configuration from the command line: an optional config file path first,
    /// then `--name value...` flags (which override the file), as redis-server does.
    pub fn from_args(args: &[String]) -> Result<Config, ConfigError> {
        let mut config = Config::default();
        let mut rest = args;
        if let Some(first) = rest.first() {
            if !first.starts_with("--") {
                let text = std::fs::read_to_string(first).map_err(|error| {
                    ConfigError(format!(
                        "Fatal error, can't open config file '{first}': {error}"
                    ))
                })?;
                config.load_text(&text)?;
                config.file = Some(first.clone());
                rest = &rest[1..];
            }
        }
        let mut index = 0;
        while index < rest.len() {
            let flag = &rest[index];
            let Some(name) = flag.strip_prefix("--") else {
                return Err(ConfigError(format!(
                    "Invalid argument '{flag}': options must be given as --name value"
                )));
            };
            let mut values = Vec::new();
            index += 1;
            while index < rest.len() && !rest[index].starts_with("--") {
                values.push(rest[index].clone());
                index += 1;
            }
            if values.is_empty() {
                return Err(ConfigError(format!("Missing value for option '--{name}'")));
            }
            config
                .set(name, &values.join(" "))
                .map_err(|ConfigError(reason)| {
                    ConfigError(format!("Bad option '--{name}': {reason}"))
                })?;
        }
        match config.unsupported() {
            Some(error) => Err(error),
            None => Ok(config),
        }
    }

    /// Loads redis.conf-style text: one `name value...` per line, `#` comments, and
    /// `include path` lines read in place (see [`Config::include`]).
    pub fn load_text(&mut self, text: &str) -> Result<(), ConfigError> {
        self.load_nested(text, 0)
    }

    fn load_nested(&mut self, text: &str, depth: usize) -> Result<(), ConfigError> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let words = peregrine_resp::split_args(line.as_bytes())
                .ok_or_else(|| ConfigError(format!("line {}: unbalanced quotes", number + 1)))?;
            let mut words = words
                .into_iter()
                .map(|word| String::from_utf8_lossy(&word).into_owned());
            let Some(name) = words.next() else { continue };
            let value = words.collect::<Vec<_>>().join(" ");
            let applied = if name.eq_ignore_ascii_case("include") {
                self.include(&value, depth)
            } else {
                self.set(&name, &value)
            };
            applied.map_err(|ConfigError(reason)| {
                ConfigError(format!("line {}: option '{name}': {reason}", number + 1))
            })?;
        }
        Ok(())
    }

    /// `include path`: loads another file there, as Redis does; a path with `*`, `?` or
    /// `[` in its file name loads every matching file in name order (none matching is no
    /// error). Includes nest up to [`MAX_INCLUDE_DEPTH`] deep (a loop is an error).
    fn include(&mut self, pattern: &str, depth: usize) -> Result<(), ConfigError> {
        if depth >= MAX_INCLUDE_DEPTH {
            return Err(ConfigError(format!(
                "includes nest deeper than {MAX_INCLUDE_DEPTH} (a file including itself?)"
            )));
        }
        let path = std::path::Path::new(pattern);
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files: Vec<std::path::PathBuf> = if file_name.contains(['*', '?', '[']) {
            let directory = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut matching: Vec<_> = std::fs::read_dir(directory)
                .map(|entries| {
                    entries
                        .flatten()
                        .filter(|entry| {
                            peregrine_keyspace::glob_match(
                                file_name.as_bytes(),
                                entry.file_name().as_encoded_bytes(),
                            )
                        })
                        .map(|entry| entry.path())
                        .collect()
                })
                .unwrap_or_default();
            matching.sort();
            matching
        } else {
            vec![path.to_path_buf()]
        };
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|error| {
                ConfigError(format!(
                    "can't open the included file '{}': {error}",
                    file.display()
                ))
            })?;
            self.load_nested(&text, depth + 1)
                .map_err(|ConfigError(reason)| {
                    ConfigError(format!("in '{}': {reason}", file.display()))
                })?;
        }
        Ok(())
    }

    /// Sets a parameter at start-up (any parameter may be set), or records a
    /// `rename-command`.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        if name.eq_ignore_ascii_case("rename-command") {
            let rename = crate::command_names::parse(value).map_err(ConfigError)?;
            self.renames.push(rename);
            return Ok(());
        }
        let parameter = find(name).ok_or_else(|| ConfigError("unknown option".to_owned()))?;
        let normalized = self.validate_against_current(parameter, value)?;
        self.values.insert(parameter.name, normalized);
        Ok(())
    }

    /// CONFIG SET of one parameter at run time; errors carry Redis's texts.
    pub fn set_at_runtime(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some(parameter) = find(name) else {
            return Err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name}'"
            ));
        };
        if !parameter.mutable {
            return Err(format!("CONFIG SET failed (possibly related to argument '{}') - can't set immutable config", parameter.name));
        }
        let normalized =
            self.validate_against_current(parameter, value)
                .map_err(|ConfigError(reason)| {
                    format!(
                        "CONFIG SET failed (possibly related to argument '{}') - {reason}",
                        parameter.name
                    )
                })?;
        self.values.insert(parameter.name, normalized);
        Ok(())
    }

    /// Validates and normalizes `value`; settings made of parts (`client-output-buffer-limit`)
    /// keep the parts `value` does not name.
    fn validate_against_current(
        &self,
        parameter: &Parameter,
        value: &str,
    ) -> Result<String, ConfigError> {
        if parameter.name == "client-output-buffer-limit" {
            return crate::outbox::merge_output_limits(self.get(parameter.name), value)
                .map_err(ConfigError);
        }
        validate(parameter, value)
    }

    /// True when `name` is a known parameter.
    pub fn knows(name: &str) -> bool {
        find(name).is_some()
    }

    /// CONFIG GET: every (name, value) whose name matches one of `patterns`; an old name
    /// is listed too, with its parameter's value, as Redis lists it.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let aliases = ALIASES.iter().map(|&(old, new)| (old, self.get(new)));
        self.values
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain(aliases)
            .filter(|(name, _)| {
                patterns
                    .iter()
                    .any(|pattern| glob_match_nocase(pattern, name.as_bytes()))
            })
            .map(|(name, value)| (name, value.to_owned()))
            .collect()
    }

    /// A setting Peregrine cannot honour yet (it would need replication, TLS, cluster mode
    /// or a Unix socket): start-up refuses it rather than run without what it asks for.
    pub fn unsupported(&self) -> Option<ConfigError> {
        let refuse = |name: &str, missing: &str| {
            Some(ConfigError(format!(
                "option '{name}' is set to '{}', but {missing}",
                self.get(name)
            )))
        };
        if !self.get("replicaof").is_empty() {
            return refuse("replicaof", "Peregrine has no replication yet");
        }
        if self.get("tls-port") != "0" {
            return refuse("tls-port", "Peregrine has no TLS yet");
        }
        if !self.get("unixsocket").is_empty() {
            return refuse("unixsocket", "Peregrine listens on TCP only yet");
        }
        if self.get("cluster-enabled") == "yes" {
            return refuse("cluster-enabled", "Peregrine has no cluster mode yet");
        }
        None
    }

    /// The current text of `name`.
    pub fn get(&self, name: &str) -> &str {
        self.values
            .get(name)
            .map(String::as_str)
            .unwrap_or_default()
    }

    fn number(&self, name: &str) -> u64 {
        let value = self.get(name);
        value
            .parse()
            .ok()
            .or_else(|| parse_memory(value))
            .unwrap_or(0)
    }

    /// The typed snapshot.
    pub fn settings(&self) -> Settings {
        let password = self.get("requirepass");
        Settings {
            port: self.number("port") as u16,
            bind: self
                .get("bind")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            shards: self.number("shards") as u16,
            databases: self.number("databases") as u32,
            maxclients: self.number("maxclients"),
            loglevel: self.get("loglevel").to_owned(),
            logfile: self.get("logfile").to_owned(),
            proto_max_bulk_len: self.number("proto-max-bulk-len"),
            client_query_buffer_limit: self.number("client-query-buffer-limit"),
            protected_mode: self.get("protected-mode") == "yes",
            requirepass: (!password.is_empty()).then(|| password.as_bytes().to_vec()),
            lfu_policy: self.get("maxmemory-policy").contains("lfu"),
            notify_keyspace_events: peregrine_commands::EventFlags::parse(
                self.get("notify-keyspace-events"),
            )
            .unwrap_or_default(),
            hz: self.number("hz").clamp(1, 500),
            spin_before_park_us: self.number("spin-before-park-us").min(10_000),
            busy_reply_threshold_ms: self.number("busy-reply-threshold"),
            undeclared_keys: self.get("script-undeclared-keys") == "allow",
            pubsub_output_limit: crate::outbox::pubsub_output_limit(
                self.get("client-output-buffer-limit"),
            ),
            replica_output_limit: crate::outbox::replica_output_limit(
                self.get("client-output-buffer-limit"),
            ),
            encoding: peregrine_keyspace::EncodingLimits {
                list_max_listpack_size: self.get("list-max-listpack-size").parse().unwrap_or(-2),
                hash_max_listpack_entries: self.number("hash-max-listpack-entries") as usize,
                hash_max_listpack_value: self.number("hash-max-listpack-value") as usize,
                set_max_intset_entries: self.number("set-max-intset-entries") as usize,
                set_max_listpack_entries: self.number("set-max-listpack-entries") as usize,
                set_max_listpack_value: self.number("set-max-listpack-value") as usize,
                zset_max_listpack_entries: self.number("zset-max-listpack-entries") as usize,
                zset_max_listpack_value: self.number("zset-max-listpack-value") as usize,
            },
            hll_sparse_max_bytes: self.number("hll-sparse-max-bytes") as usize,
            stream: peregrine_keyspace::collections::stream::StreamLimits {
                node_max_bytes: self.number("stream-node-max-bytes") as usize,
                node_max_entries: self.number("stream-node-max-entries") as usize,
            },
            auto_snapshot: crate::persistence::schedule::AutoSnapshot {
                save_rules: crate::persistence::schedule::AutoSnapshot::parse_save_rules(
                    self.get("save"),
                )
                .unwrap_or_default(),
                growth_percentage: self.number("auto-aof-rewrite-percentage"),
                growth_min_size: self.number("auto-aof-rewrite-min-size"),
            },
            slowlog: crate::slowlog::SlowLogSettings {
                slower_than_us: self
                    .get("slowlog-log-slower-than")
                    .parse()
                    .unwrap_or(10_000),
                max_len: self.number("slowlog-max-len") as usize,
            },
            latency: crate::latency::LatencySettings {
                monitor_threshold_ms: self.number("latency-monitor-threshold"),
                tracking: self.get("latency-tracking") == "yes",
                percentiles: crate::latency::parse_percentiles(
                    self.get("latency-tracking-info-percentiles"),
                )
                .unwrap_or_default(),
            },
            tracking_table_max_keys: self.number("tracking-table-max-keys") as usize,
            daemonize: self.get("daemonize") == "yes",
            pidfile: self.get("pidfile").to_owned(),
            supervised: crate::process::Supervision::parse(self.get("supervised")),
            tcp_backlog: self.number("tcp-backlog").clamp(1, i32::MAX as u64) as u32,
            debug_command: ProtectedAccess::parse(self.get("enable-debug-command")),
            module_command: ProtectedAccess::parse(self.get("enable-module-command")),
            persistence: crate::persistence::PersistenceSettings {
                enabled: self.get("appendonly") == "yes",
                fsync: crate::persistence::FsyncPolicy::parse(self.get("appendfsync")),
                data_dir: std::path::Path::new(self.get("dir")).join(self.get("appenddirname")),
                segment_size: self.number("aof-segment-size").max(1 << 20),
                key_file: self.get("encryption-key-file").to_owned(),
                load_truncated: self.get("aof-load-truncated") == "yes",
                skip_corrupt: self.get("aof-load-skip-corrupt") == "yes",
            },
        }
    }
}

fn validate(parameter: &Parameter, value: &str) -> Result<String, ConfigError> {
    if parameter.name == "latency-tracking-info-percentiles" {
        return crate::latency::parse_percentiles(value)
            .map(|_| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .map_err(|text| ConfigError(text.to_owned()));
    }
    if parameter.name == "notify-keyspace-events" {
        // Stored as CONFIG GET shows it (Redis's `keyspaceEventsFlagsToString`).
        return peregrine_commands::EventFlags::parse(value)
            .map(peregrine_commands::EventFlags::to_config_string)
            .ok_or_else(|| {
                ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_owned())
            });
    }
    let value = value.trim();
    match parameter.kind {
        Kind::Integer => {
            let number: i64 = value.parse().map_err(|_| {
                ConfigError("argument couldn't be parsed into an integer".to_owned())
            })?;
            if number < 0 {
                return Err(ConfigError(
                    "argument must be a non-negative number".to_owned(),
                ));
            }
            let limits: (i64, i64) = match parameter.name {
                "port" => (0, 65535),
                "databases" => (1, i64::from(i32::MAX)),
                "shards" => (0, 1024),
                "maxclients" => (1, i64::from(u32::MAX)),
                _ => (0, i64::MAX),
            };
            if number < limits.0 || number > limits.1 {
                return Err(ConfigError(format!(
                    "argument must be between {} and {} inclusive",
                    limits.0, limits.1
                )));
            }
            Ok(number.to_string())
        }
        Kind::SignedInteger => {
            let number: i32 = value.parse().map_err(|_| {
                ConfigError("argument couldn't be parsed into an integer".to_owned())
            })?;
            Ok(number.to_string())
        }
        Kind::Memory => {
            let bytes = parse_memory(value)
                .ok_or_else(|| ConfigError("argument must be a memory value".to_owned()))?;
            let minimum: u64 = match parameter.name {
                "proto-max-bulk-len" => 1024 * 1024,
                "client-query-buffer-limit" => 1024 * 1024,
                _ => 0,
            };
            if bytes < minimum || bytes > i64::MAX as u64 {
                return Err(ConfigError(format!(
                    "argument must be between {minimum} and {} inclusive",
                    i64::MAX
                )));
            }
            Ok(bytes.to_string())
        }
        Kind::Bool => match value.to_ascii_lowercase().as_str() {
            "yes" | "no" => Ok(value.to_ascii_lowercase()),
            _ => Err(ConfigError("argument must be 'yes' or 'no'".to_owned())),
        },
        Kind::Text if parameter.name == "save" => {
            crate::persistence::schedule::AutoSnapshot::parse_save_rules(value)
                .map(|_| value.to_owned())
                .ok_or_else(|| ConfigError("Invalid save parameters".to_owned()))
        }
        Kind::Text => Ok(value.to_owned()),
        Kind::OneOf(words) => {
            let lower = value.to_ascii_lowercase();
            if words.contains(&lower.as_str()) {
                Ok(lower)
            } else {
                Err(one_of(words))
            }
        }
        Kind::Words(words) => {
            let lower = value.to_ascii_lowercase();
            let given: Vec<&str> = lower.split_whitespace().collect();
            if !given.is_empty() && given.iter().all(|word| words.contains(word)) {
                Ok(given.join(" "))
            } else {
                Err(one_of(words))
            }
        }
    }
}

/// Redis's error for a value outside an enumeration.
fn one_of(words: &[&str]) -> ConfigError {
    ConfigError(format!(
        "argument(s) must be one of the following: {}",
        words.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn encoding_thresholds_take_their_old_names_too() {
        let mut config = Config::default();
        assert_eq!(config.settings().encoding.hash_max_listpack_entries, 512);
        config.set("hash-max-ziplist-entries", "16").unwrap();
        config
            .set_at_runtime("list-max-ziplist-size", "-3")
            .unwrap();
        config.set("set-max-intset-entries", "4").unwrap();
        let limits = config.settings().encoding;
        assert_eq!(limits.hash_max_listpack_entries, 16);
        assert_eq!(limits.list_max_listpack_size, -3);
        assert_eq!(limits.set_max_intset_entries, 4);
        assert!(config.set("list-max-listpack-size", "abc").is_err());
    }

    #[test]
    fn flags_override_defaults() {
        let config = Config::from_args(&strings(&[
            "--port",
            "7000",
            "--save",
            "900",
            "1",
            "--maxmemory",
            "1gb",
        ]))
        .unwrap();
        assert_eq!(config.get("port"), "7000");
        assert_eq!(config.get("save"), "900 1");
        assert_eq!(config.settings().port, 7000);
        assert_eq!(config.get("maxmemory"), "1073741824");
    }

    #[test]
    fn bad_options_name_the_option() {
        let error = Config::from_args(&strings(&["--nosuch", "1"])).unwrap_err();
        assert!(error.0.contains("--nosuch"), "{error}");
        let error = Config::from_args(&strings(&["--port", "abc"])).unwrap_err();
        assert!(error.0.contains("--port"), "{error}");
        assert!(Config::from_args(&strings(&["--port"])).is_err());
        assert!(Config::from_args(&strings(&["--protected-mode", "maybe"])).is_err());
    }

    #[test]
    fn config_files_load() {
        let mut config = Config::default();
        config
            .load_text("# comment\nport 7001\nrequirepass \"a b\"\n")
            .unwrap();
        assert_eq!(config.settings().requirepass.as_deref(), Some(&b"a b"[..]));
        assert!(config.load_text("bogus 1\n").is_err());
    }

    #[test]
    fn notify_keyspace_events_is_validated_and_normalized() {
        let mut config = Config::default();
        assert!(config.settings().notify_keyspace_events.is_empty());
        config
            .set_at_runtime("notify-keyspace-events", "KEA")
            .unwrap();
        assert_eq!(config.get("notify-keyspace-events"), "AKE");
        assert_eq!(
            config.settings().notify_keyspace_events,
            peregrine_commands::EventFlags::parse("AKE").unwrap()
        );
        assert_eq!(
            config.set_at_runtime("notify-keyspace-events", "KEq"),
            Err(
                "CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - \
                 Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
                    .to_owned()
            )
        );
        assert_eq!(config.get("notify-keyspace-events"), "AKE");
        let error = Config::from_args(&strings(&["--notify-keyspace-events", "x!"])).unwrap_err();
        assert!(error.0.contains("Invalid event class character"), "{error}");
        let started = Config::from_args(&strings(&["--notify-keyspace-events", "mEl"])).unwrap();
        assert_eq!(started.get("notify-keyspace-events"), "lEm");
    }

    #[test]
    fn config_get_uses_globs() {
        let config = Config::default();
        let names: Vec<_> = config
            .get_matching(&[b"maxmemory*", b"maxclients"])
            .into_iter()
            .map(|(name, _)| name)
            .collect();
        assert_eq!(
            names,
            vec![
                "maxclients",
                "maxmemory",
                "maxmemory-clients",
                "maxmemory-eviction-tenacity",
                "maxmemory-policy",
                "maxmemory-samples"
            ]
        );
    }

    #[test]
    fn old_names_are_listed_and_set_through_their_parameter() {
        let mut config = Config::default();
        config.set("slave-read-only", "no").unwrap();
        assert_eq!(config.get("replica-read-only"), "no");
        let listed = config.get_matching(&[b"*-read-only"]);
        assert_eq!(
            listed,
            vec![
                ("replica-read-only", "no".to_owned()),
                ("slave-read-only", "no".to_owned())
            ]
        );
    }

    #[test]
    fn word_lists_take_only_their_words() {
        let mut config = Config::default();
        config.set("shutdown-on-sigterm", "NOW  force").unwrap();
        assert_eq!(config.get("shutdown-on-sigterm"), "now force");
        assert!(config.set("shutdown-on-sigterm", "later").is_err());
        assert!(config.set("shutdown-on-sigterm", "").is_err());
    }

    #[test]
    fn include_reads_files_in_place_and_wildcards_in_name_order() {
        let directory = tempfile::tempdir().unwrap();
        let dir = directory.path();
        std::fs::write(dir.join("a.conf"), "maxclients 100\nhz 20\n").unwrap();
        std::fs::write(dir.join("b.conf"), "maxclients 200\n").unwrap();
        std::fs::write(dir.join("other.txt"), "maxclients 300\n").unwrap();
        let mut config = Config::default();
        config
            .load_text(&format!("hz 5\ninclude {}/*.conf\n", dir.display()))
            .unwrap();
        // b.conf comes after a.conf; the .txt file does not match.
        assert_eq!(config.get("maxclients"), "200");
        assert_eq!(config.get("hz"), "20");
        // A line after the include overrides it.
        config
            .load_text(&format!("include {}/a.conf\nhz 7\n", dir.display()))
            .unwrap();
        assert_eq!((config.get("maxclients"), config.get("hz")), ("100", "7"));
        // No match is no error; a missing plain file and a loop are.
        assert!(config
            .load_text(&format!("include {}/*.none\n", dir.display()))
            .is_ok());
        assert!(config
            .load_text(&format!("include {}/missing.conf\n", dir.display()))
            .is_err());
        let looping = dir.join("loop.conf");
        std::fs::write(&looping, format!("include {}\n", looping.display())).unwrap();
        let error = config
            .load_text(&format!("include {}\n", looping.display()))
            .unwrap_err();
        assert!(error.0.contains("nest deeper"), "{error}");
    }

    #[test]
    fn settings_needing_missing_features_are_refused() {
        assert!(Config::default().unsupported().is_none());
        let error = Config::from_args(&strings(&["--replicaof", "10.0.0.1", "6379"])).unwrap_err();
        assert!(error.0.contains("'replicaof'"), "{error}");
        assert!(Config::from_args(&strings(&["--tls-port", "0"])).is_ok());
    }
}
