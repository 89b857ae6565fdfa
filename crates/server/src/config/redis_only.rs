//! Redis's parameters that Peregrine accepts for compatibility but that do not change what
//! it does: a stock `redis.conf` loads unchanged, CONFIG GET reports them as Redis would,
//! and CONFIG SET validates them as Redis does.
//!
//! Each row is here for one of these reasons:
//! - the feature is Redis's own machinery that Peregrine's design replaces: RDB and AOF
//!   file tuning (Peregrine persists per-core log segments and fork-less snapshots),
//!   `io-threads` (every shard is a thread), fork CPU lists and `disable-thp` (nothing
//!   forks), active defragmentation, `activerehashing` and `dynamic-hz` (tables rehash
//!   incrementally, expiry is bounded per step), `jemalloc-bg-thread` (always on);
//! - the feature has not been built yet, and its defaults describe exactly what Peregrine
//!   does meanwhile: replication, cluster mode, TLS, ACLs, eviction tuning, latency
//!   monitoring, syslog, process titles. Values that would need the missing feature
//!   (a `replicaof` master, a `tls-port`, a `unixsocket`, `cluster-enabled yes`) are
//!   refused at start-up rather than ignored (see [`super::Config::unsupported`]).

use super::{Kind, Parameter};

const YES_NO_LOCAL: &[&str] = &["no", "yes", "local"];

#[rustfmt::skip]
pub(super) const PARAMETERS: &[Parameter] = &[
    // Processes, logging and start-up.
    Parameter { name: "always-show-logo",                 default: "no",            kind: Kind::Bool,    mutable: false },
    Parameter { name: "set-proc-title",                   default: "yes",           kind: Kind::Bool,    mutable: false },
    Parameter { name: "proc-title-template",              default: "{title} {listen-addr} {server-mode}", kind: Kind::Text, mutable: true },
    Parameter { name: "syslog-enabled",                   default: "no",            kind: Kind::Bool,    mutable: false },
    Parameter { name: "syslog-ident",                     default: "redis",         kind: Kind::Text,    mutable: false },
    Parameter { name: "syslog-facility",                  default: "local0",        kind: Kind::OneOf(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]), mutable: false },
    Parameter { name: "crash-log-enabled",                default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "crash-memcheck-enabled",           default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "ignore-warnings",                  default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "locale-collate",                   default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "oom-score-adj",                    default: "no",            kind: Kind::OneOf(&["no", "yes", "relative", "absolute"]), mutable: true },
    Parameter { name: "oom-score-adj-values",             default: "0 200 800",     kind: Kind::Text,    mutable: true },
    Parameter { name: "disable-thp",                      default: "yes",           kind: Kind::Bool,    mutable: false },
    Parameter { name: "jemalloc-bg-thread",               default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "shutdown-on-sigint",               default: "default",       kind: Kind::Words(&["default", "save", "nosave", "now", "force"]), mutable: true },
    Parameter { name: "shutdown-on-sigterm",              default: "default",       kind: Kind::Words(&["default", "save", "nosave", "now", "force"]), mutable: true },
    Parameter { name: "shutdown-timeout",                 default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "enable-protected-configs",         default: "no",            kind: Kind::OneOf(YES_NO_LOCAL), mutable: false },
    // Threads and CPUs: Peregrine's shards are its threads (see `shards`).
    Parameter { name: "io-threads",                       default: "1",             kind: Kind::Integer, mutable: false },
    Parameter { name: "io-threads-do-reads",              default: "no",            kind: Kind::Bool,    mutable: false },
    Parameter { name: "server_cpulist",                   default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "bio_cpulist",                      default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "aof_rewrite_cpulist",              default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "bgsave_cpulist",                   default: "",              kind: Kind::Text,    mutable: false },
    // Connections.
    Parameter { name: "unixsocket",                       default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "unixsocketperm",                   default: "0",             kind: Kind::Integer, mutable: false },
    Parameter { name: "socket-mark-id",                   default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "bind-source-addr",                 default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "maxmemory-clients",                default: "0",             kind: Kind::Text,    mutable: true },
    // RDB and AOF file tuning, and Redis's own memory housekeeping.
    Parameter { name: "stop-writes-on-bgsave-error",      default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "rdbcompression",                   default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "rdbchecksum",                      default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "rdb-del-sync-files",               default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "rdb-save-incremental-fsync",       default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "sanitize-dump-payload",            default: "no",            kind: Kind::OneOf(&["no", "yes", "clients"]), mutable: true },
    Parameter { name: "aof-use-rdb-preamble",             default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "aof-timestamp-enabled",            default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "aof-rewrite-incremental-fsync",    default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "aof-disable-auto-gc",              default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "no-appendfsync-on-rewrite",        default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "activerehashing",                  default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "dynamic-hz",                       default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "active-expire-effort",             default: "1",             kind: Kind::Integer, mutable: true },
    Parameter { name: "activedefrag",                     default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "active-defrag-ignore-bytes",       default: "104857600",     kind: Kind::Memory,  mutable: true },
    Parameter { name: "active-defrag-threshold-lower",    default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "active-defrag-threshold-upper",    default: "100",           kind: Kind::Integer, mutable: true },
    Parameter { name: "active-defrag-cycle-min",          default: "1",             kind: Kind::Integer, mutable: true },
    Parameter { name: "active-defrag-cycle-max",          default: "25",            kind: Kind::Integer, mutable: true },
    Parameter { name: "active-defrag-max-scan-fields",    default: "1000",          kind: Kind::Integer, mutable: true },
    Parameter { name: "lazyfree-lazy-eviction",           default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "lazyfree-lazy-expire",             default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "lazyfree-lazy-server-del",         default: "no",            kind: Kind::Bool,    mutable: true },
    // Eviction tuning (maxmemory-policy is in the main table).
    Parameter { name: "maxmemory-samples",                default: "5",             kind: Kind::Integer, mutable: true },
    Parameter { name: "maxmemory-eviction-tenacity",      default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "lfu-log-factor",                   default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "lfu-decay-time",                   default: "1",             kind: Kind::Integer, mutable: true },
    // Latency monitoring.
    // ACLs.
    Parameter { name: "aclfile",                          default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "acllog-max-len",                   default: "128",           kind: Kind::Integer, mutable: true },
    Parameter { name: "acl-pubsub-default",               default: "resetchannels", kind: Kind::OneOf(&["allchannels", "resetchannels"]), mutable: true },
    // Replication.
    Parameter { name: "replicaof",                        default: "",              kind: Kind::Text,    mutable: false },
    Parameter { name: "masterauth",                       default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "masteruser",                       default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "replica-serve-stale-data",         default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "replica-ignore-maxmemory",         default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "replica-ignore-disk-write-errors", default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "replica-lazy-flush",               default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "replica-priority",                 default: "100",           kind: Kind::Integer, mutable: true },
    Parameter { name: "replica-announced",                default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "replica-announce-ip",              default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "replica-announce-port",            default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "repl-diskless-sync",               default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "repl-diskless-sync-delay",         default: "5",             kind: Kind::Integer, mutable: true },
    Parameter { name: "repl-diskless-sync-max-replicas",  default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "repl-diskless-load",               default: "disabled",      kind: Kind::OneOf(&["disabled", "on-empty-db", "swapdb"]), mutable: true },
    Parameter { name: "repl-disable-tcp-nodelay",         default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "repl-ping-replica-period",         default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "repl-timeout",                     default: "60",            kind: Kind::Integer, mutable: true },
    Parameter { name: "repl-backlog-size",                default: "1048576",       kind: Kind::Memory,  mutable: true },
    Parameter { name: "repl-backlog-ttl",                 default: "3600",          kind: Kind::Integer, mutable: true },
    Parameter { name: "min-replicas-to-write",            default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "min-replicas-max-lag",             default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "propagation-error-behavior",       default: "ignore",        kind: Kind::OneOf(&["ignore", "panic", "panic-on-replicas"]), mutable: true },
    // Cluster mode (cluster-enabled is in the main table).
    Parameter { name: "cluster-config-file",              default: "nodes.conf",    kind: Kind::Text,    mutable: false },
    Parameter { name: "cluster-port",                     default: "0",             kind: Kind::Integer, mutable: false },
    Parameter { name: "cluster-node-timeout",             default: "15000",         kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-replica-validity-factor",  default: "10",            kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-migration-barrier",        default: "1",             kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-allow-replica-migration",  default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "cluster-require-full-coverage",    default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "cluster-replica-no-failover",      default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "cluster-allow-reads-when-down",    default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "cluster-allow-pubsubshard-when-down", default: "yes",        kind: Kind::Bool,    mutable: true },
    Parameter { name: "cluster-link-sendbuf-limit",       default: "0",             kind: Kind::Memory,  mutable: true },
    Parameter { name: "cluster-announce-ip",              default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "cluster-announce-hostname",        default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "cluster-announce-human-nodename",  default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "cluster-announce-port",            default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-announce-bus-port",        default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-announce-tls-port",        default: "0",             kind: Kind::Integer, mutable: true },
    Parameter { name: "cluster-preferred-endpoint-type",  default: "ip",            kind: Kind::OneOf(&["ip", "hostname", "unknown-endpoint"]), mutable: true },
    // TLS.
    Parameter { name: "tls-port",                         default: "0",             kind: Kind::Integer, mutable: false },
    Parameter { name: "tls-cert-file",                    default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-key-file",                     default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-key-file-pass",                default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-client-cert-file",             default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-client-key-file",              default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-client-key-file-pass",         default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-dh-params-file",               default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-ca-cert-file",                 default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-ca-cert-dir",                  default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-auth-clients",                 default: "yes",           kind: Kind::OneOf(&["no", "yes", "optional"]), mutable: true },
    Parameter { name: "tls-replication",                  default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "tls-cluster",                      default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "tls-protocols",                    default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-ciphers",                      default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-ciphersuites",                 default: "",              kind: Kind::Text,    mutable: true },
    Parameter { name: "tls-prefer-server-ciphers",        default: "no",            kind: Kind::Bool,    mutable: true },
    Parameter { name: "tls-session-caching",              default: "yes",           kind: Kind::Bool,    mutable: true },
    Parameter { name: "tls-session-cache-size",           default: "20480",         kind: Kind::Integer, mutable: true },
    Parameter { name: "tls-session-cache-timeout",        default: "300",           kind: Kind::Integer, mutable: true },
];
