//! INFO: the sections Redis tools read, gathered from every shard.

use crate::dispatch::Session;
use crate::server_commands::collect_from_shards;
use crate::shard_state::CommandStat;
use peregrine_resp::Argv;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The Redis version Peregrine reports for tools that gate features on it.
pub const REDIS_VERSION: &str = "7.2.4";

/// One shard's figures for INFO.
struct ShardFigures {
    keys: Vec<(usize, usize)>,
    hits: u64,
    misses: u64,
    expired: u64,
    commands: u64,
    connections: u64,
    rejected: u64,
    panics: u64,
    input_bytes: u64,
    output_bytes: u64,
    reads: u64,
    writes: u64,
    command_stats: Vec<(&'static str, CommandStat)>,
    clients: usize,
    tracking_clients: usize,
    tracking_keys: usize,
    tracking_items: usize,
    tracking_prefixes: usize,
    busy_seconds: f64,
    log: crate::persistence::info::ShardLogFigures,
    rates: crate::metrics::RateFigures,
    errors_total: u64,
    errors_by_code: Vec<(Box<str>, u64)>,
}

/// INFO's sections without arguments, in Redis's order (`shards` is Peregrine's).
const DEFAULT_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "shards",
];
/// INFO ALL's sections.
const ALL_SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
    "shards",
];

/// The allocator's and the kernel's view of the server's memory, in bytes.
pub(crate) struct MemorySample {
    /// Bytes allocated (`used_memory`).
    pub allocated: u64,
    /// Bytes in the allocator's active pages.
    pub active: u64,
    /// Bytes the allocator holds resident.
    pub allocator_resident: u64,
    /// The process's resident set (`used_memory_rss`).
    pub rss: u64,
}

/// One layer's overhead over the layer below: `over / under` and `over - under`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Overhead {
    /// The ratio (0 when the layer below is empty).
    pub ratio: f64,
    /// The difference in bytes (negative when the upper layer is the smaller).
    pub bytes: i64,
}

impl Overhead {
    fn of(over: u64, under: u64) -> Overhead {
        Overhead {
            ratio: ratio(over, under),
            bytes: over as i64 - under as i64,
        }
    }
}

impl MemorySample {
    /// Redis's four fragmentation figures, as INFO memory and MEMORY STATS report them:
    /// allocator fragmentation (active over allocated), allocator RSS (resident over
    /// active), RSS overhead (the process's RSS over the allocator's resident pages) and
    /// the whole (RSS over allocated).
    pub fn overheads(&self) -> [Overhead; 4] {
        [
            Overhead::of(self.active, self.allocated),
            Overhead::of(self.allocator_resident, self.active),
            Overhead::of(self.rss, self.allocator_resident),
            Overhead::of(self.rss, self.allocated),
        ]
    }
}

/// Reads the allocated bytes, raises the recorded peak to them, and returns them (the
/// main thread's 100 ms sample; INFO memory reads the rest with [`sample_memory`]).
pub fn record_memory_peak(server: &crate::shard_state::ServerShared) -> u64 {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    let allocated = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64;
    server.memory_peak.fetch_max(allocated, Ordering::Relaxed);
    allocated
}

/// Reads every memory figure INFO reports, raising the recorded peak on the way.
pub(crate) fn sample_memory(server: &crate::shard_state::ServerShared) -> MemorySample {
    let allocated = record_memory_peak(server);
    let read = |value: tikv_jemalloc_ctl::Result<usize>| value.unwrap_or(0) as u64;
    let rss = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| {
            text.split_whitespace()
                .nth(1)
                .and_then(|pages| pages.parse::<u64>().ok())
        })
        .map_or(0, |pages| pages * 4096);
    MemorySample {
        allocated,
        active: read(tikv_jemalloc_ctl::stats::active::read()),
        allocator_resident: read(tikv_jemalloc_ctl::stats::resident::read()),
        rss,
    }
}

/// The machine's physical memory (`total_system_memory`).
fn total_system_memory() -> u64 {
    // SAFETY: sysconf only reads system parameters.
    let (pages, page_size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    (pages.max(0) as u64).saturating_mul(page_size.max(0) as u64)
}

/// `part / whole`, 0 when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole > 0 {
        part as f64 / whole as f64
    } else {
        0.0
    }
}

fn human(bytes: u64) -> String {
    let units = [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)];
    for (unit, size) in units {
        if bytes >= size {
            return format!("{:.2}{unit}", bytes as f64 / size as f64);
        }
    }
    format!("{bytes}B")
}

/// (user, system) CPU seconds of the process (`RUSAGE_SELF`) or of the calling thread
/// (`RUSAGE_THREAD`).
fn cpu_times(who: libc::c_int) -> (f64, f64) {
    // SAFETY: getrusage only writes into the zeroed struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Renders INFO [section ...] (`default`, `all`, `everything`, or section names).
pub async fn render(session: &mut Session, argv: &Argv) -> String {
    let requested: Vec<String> = argv
        .iter()
        .skip(1)
        .map(|arg| String::from_utf8_lossy(arg).to_ascii_lowercase())
        .collect();
    let sections: Vec<&str> =
        if requested.is_empty() || requested.iter().any(|name| name == "default") {
            DEFAULT_SECTIONS.to_vec()
        } else if requested
            .iter()
            .any(|name| name == "all" || name == "everything")
        {
            ALL_SECTIONS.to_vec()
        } else {
            ALL_SECTIONS
                .iter()
                .copied()
                .filter(|section| requested.iter().any(|name| name == section))
                .collect()
        };
    let databases = session.settings().databases;
    let figures = collect_from_shards(session, move |state| {
        let keyspace = state.keyspace.borrow();
        let stats = state.stats.borrow();
        let busy = glommio::executor()
            .executor_stats()
            .total_runtime()
            .as_secs_f64();
        ShardFigures {
            keys: (0..databases)
                .map(|index| {
                    let db = keyspace.db_ref(peregrine_keyspace::DbIndex(index));
                    (db.len(), db.expires_len())
                })
                .collect(),
            hits: stats.keyspace_hits,
            misses: stats.keyspace_misses,
            expired: keyspace.iter().map(|(_, db)| db.expired_keys).sum(),
            commands: state.commands_processed.get(),
            connections: state.connections_received.get(),
            rejected: state.rejected_connections.get(),
            panics: state.command_panics.get(),
            input_bytes: state.net_input_bytes.get(),
            output_bytes: state.net_output_bytes.get(),
            reads: state.reads_processed.get(),
            writes: state.writes_processed.get(),
            command_stats: state
                .command_stats
                .borrow()
                .iter()
                .map(|(name, stat)| {
                    let counts = CommandStat {
                        latency: Default::default(),
                        ..*stat
                    };
                    (*name, counts)
                })
                .collect(),
            clients: state.clients.borrow().len(),
            tracking_clients: state.tracking.borrow().tracking_clients(),
            tracking_keys: state.watched.borrow().tracking.key_count(),
            tracking_items: state.watched.borrow().tracking.item_count(),
            tracking_prefixes: state.watched.borrow().tracking.prefix_count(),
            busy_seconds: busy,
            rates: state.rates.borrow().figures(),
            errors_total: state.errors.borrow().total,
            errors_by_code: state.errors.borrow().by_code.clone(),
            log: crate::persistence::info::ShardLogFigures {
                pending: state.journal.borrow().buffered() as u64,
                unsynced: state
                    .persistence
                    .written_lsn
                    .get()
                    .saturating_sub(state.persistence.durable_lsn.get()),
            },
        }
    })
    .await;
    let server = session.shard().server.clone();
    let settings = session.settings();
    let histograms = match sections.contains(&"latencystats") {
        true => crate::latency::all_histograms(session).await,
        false => Default::default(),
    };
    let mut out = String::new();
    let uptime = server.started.elapsed().as_secs();
    let sum = |pick: fn(&ShardFigures) -> u64| figures.iter().map(pick).sum::<u64>();
    for section in sections {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match section {
            "server" => {
                let _ = write!(
                    out,
                    "# Server\r\nredis_version:{REDIS_VERSION}\r\nperegrine_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{uptime}\r\nuptime_in_days:{}\r\nhz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:{}\r\nconfig_file:{}\r\nio_threads_active:0\r\nredis_build_id:0\r\natomicvar_api:c11-builtin\r\ngcc_version:0.0.0\r\nmonotonic_clock:{}\r\nprocess_supervised:{}\r\nshards:{}\r\n",
                    env!("CARGO_PKG_VERSION"),
                    std::env::consts::OS,
                    std::env::consts::ARCH,
                    std::process::id(),
                    server.run_id,
                    server.port.load(Ordering::Relaxed),
                    crate::shard_state::unix_millis() * 1000,
                    uptime / 86400,
                    settings.hz,
                    settings.hz,
                    // Redis's LRU clock: seconds, in 24 bits.
                    (crate::shard_state::unix_millis() / 1000) & ((1 << 24) - 1),
                    std::env::current_exe().map(|path| path.display().to_string()).unwrap_or_default(),
                    server.config.read().ok().and_then(|config| config.file.clone()).unwrap_or_default(),
                    crate::ticks::describe(),
                    settings.supervised.name(),
                    figures.len(),
                );
            }
            "clients" => {
                let _ = write!(
                    out,
                    "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\nblocked_clients:{}\r\ntracking_clients:{}\r\n",
                    figures.iter().map(|shard| shard.clients).sum::<usize>(),
                    settings.maxclients,
                    server.blocked_clients.load(std::sync::atomic::Ordering::Relaxed),
                    figures.iter().map(|shard| shard.tracking_clients).sum::<usize>(),
                );
            }
            "memory" => {
                let memory = sample_memory(&server);
                let (allocated, resident) = (memory.allocated, memory.rss);
                let [fragmentation, allocator_rss, rss_overhead, total] = memory.overheads();
                let peak = server.memory_peak.load(Ordering::Relaxed);
                let startup = server.memory_startup.load(Ordering::Relaxed);
                let system = total_system_memory();
                let pending_log: u64 = figures.iter().map(|shard| shard.log.pending).sum();
                let overhead = crate::memory::overhead(
                    startup,
                    pending_log,
                    figures.iter().flat_map(|shard| shard.keys.iter().copied()),
                );
                let dataset = allocated.saturating_sub(overhead);
                let maxmemory = server
                    .config
                    .read()
                    .map(|config| config.get("maxmemory").to_owned())
                    .unwrap_or_default();
                let policy = server
                    .config
                    .read()
                    .map(|config| config.get("maxmemory-policy").to_owned())
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "# Memory\r\nused_memory:{allocated}\r\nused_memory_human:{}\r\nused_memory_rss:{resident}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_peak_perc:{:.2}%\r\nused_memory_overhead:{overhead}\r\nused_memory_startup:{startup}\r\nused_memory_dataset:{dataset}\r\nused_memory_dataset_perc:{:.2}%\r\ntotal_system_memory:{system}\r\ntotal_system_memory_human:{}\r\nmaxmemory:{maxmemory}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{policy}\r\nallocator_allocated:{allocated}\r\nallocator_active:{}\r\nallocator_resident:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_aof_buffer:{pending_log}\r\nmem_allocator:jemalloc\r\nactive_defrag_running:0\r\nlazyfree_pending_objects:{}\r\nlazyfreed_objects:{}\r\nnumber_of_cached_scripts:{}\r\nnumber_of_functions:{}\r\nnumber_of_libraries:{}\r\n",
                    human(allocated),
                    human(resident),
                    human(peak),
                    ratio(allocated * 100, peak),
                    ratio(dataset * 100, allocated.saturating_sub(startup)),
                    human(system),
                    human(maxmemory.parse().unwrap_or(0)),
                    memory.active,
                    memory.allocator_resident,
                    fragmentation.ratio,
                    fragmentation.bytes,
                    allocator_rss.ratio,
                    allocator_rss.bytes,
                    rss_overhead.ratio,
                    rss_overhead.bytes,
                    total.ratio,
                    total.bytes,
                    peregrine_keyspace::lazyfree_pending_objects(),
                    peregrine_keyspace::lazyfreed_objects(),
                    server.scripts.script_count(),
                    server
                        .scripts
                        .libraries()
                        .iter()
                        .map(|library| library.functions.len())
                        .sum::<usize>(),
                    server.scripts.libraries().len(),
                );
            }
            "persistence" => {
                let logs: Vec<_> = figures.iter().map(|shard| shard.log).collect();
                out.push_str(&crate::persistence::info::section(
                    &server.persistence,
                    server.last_save.load(Ordering::Relaxed),
                    settings.persistence.enabled,
                    &logs,
                ));
            }
            "stats" => {
                // Every core's directory copy counts the whole node's subscriptions.
                let pubsub = session.shard().pubsub.borrow();
                let _ = write!(
                    out,
                    "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\ntracking_total_keys:{}\r\ntracking_total_items:{}\r\ntracking_total_prefixes:{}\r\ncommand_panics:{}\r\ninstantaneous_ops_per_sec:{}\r\ninstantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\ninstantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\ntotal_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\nsync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\nevicted_clients:0\r\ntotal_forks:0\r\nlatest_fork_usec:0\r\nmigrate_cached_sockets:0\r\nslave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\nactive_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\ncurrent_active_defrag_time:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\nio_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\ntotal_error_replies:{}\r\nunexpected_error_replies:0\r\n",
                    sum(|shard| shard.connections),
                    sum(|shard| shard.commands),
                    sum(|shard| shard.input_bytes),
                    sum(|shard| shard.output_bytes),
                    sum(|shard| shard.rejected),
                    sum(|shard| shard.expired),
                    sum(|shard| shard.hits),
                    sum(|shard| shard.misses),
                    pubsub.count(crate::pubsub::Kind::Channel),
                    pubsub.count(crate::pubsub::Kind::Pattern),
                    pubsub.count(crate::pubsub::Kind::ShardChannel),
                    figures.iter().map(|shard| shard.tracking_keys).sum::<usize>(),
                    figures.iter().map(|shard| shard.tracking_items).sum::<usize>(),
                    // Every core holds every prefix.
                    figures.iter().map(|shard| shard.tracking_prefixes).max().unwrap_or(0),
                    sum(|shard| shard.panics),
                    sum(|shard| shard.rates.ops_per_sec),
                    sum(|shard| shard.rates.input_bytes_per_sec) as f64 / 1024.0,
                    sum(|shard| shard.rates.output_bytes_per_sec) as f64 / 1024.0,
                    sum(|shard| shard.reads),
                    sum(|shard| shard.writes),
                    sum(|shard| shard.errors_total),
                );
            }
            "replication" => {
                let backlog = server
                    .config
                    .read()
                    .map(|config| config.get("repl-backlog-size").to_owned())
                    .unwrap_or_default();
                let _ = write!(out, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:{backlog}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n", server.run_id);
            }
            "cpu" => {
                let (user, system) = cpu_times(libc::RUSAGE_SELF);
                // The thread answering: this connection's shard.
                let (thread_user, thread_system) = cpu_times(libc::RUSAGE_THREAD);
                let _ = write!(
                    out,
                    "# CPU\r\nused_cpu_sys:{system:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{thread_system:.6}\r\nused_cpu_user_main_thread:{thread_user:.6}\r\n"
                );
            }
            "modules" => out.push_str("# Modules\r\n"),
            "errorstats" => {
                out.push_str("# Errorstats\r\n");
                let mut merged: BTreeMap<&str, u64> = BTreeMap::new();
                for (code, count) in figures.iter().flat_map(|shard| &shard.errors_by_code) {
                    *merged.entry(code).or_default() += count;
                }
                for (code, count) in merged {
                    let _ = write!(out, "errorstat_{code}:count={count}\r\n");
                }
            }
            "cluster" => out.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
            "latencystats" => {
                crate::latency::info_section(&mut out, &histograms, &settings.latency.percentiles)
            }
            "commandstats" => {
                out.push_str("# Commandstats\r\n");
                let mut merged: BTreeMap<&str, CommandStat> = BTreeMap::new();
                for shard in &figures {
                    for (name, stat) in &shard.command_stats {
                        let total = merged.entry(name).or_default();
                        total.calls += stat.calls;
                        total.usec += stat.usec;
                        total.failed += stat.failed;
                    }
                }
                for (name, stat) in merged {
                    let per_call = if stat.calls > 0 {
                        stat.usec as f64 / stat.calls as f64
                    } else {
                        0.0
                    };
                    let _ = write!(out, "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls=0,failed_calls={}\r\n", stat.calls, stat.usec, stat.failed);
                }
            }
            "keyspace" => {
                out.push_str("# Keyspace\r\n");
                for index in 0..databases as usize {
                    let keys: usize = figures.iter().map(|shard| shard.keys[index].0).sum();
                    let expires: usize = figures.iter().map(|shard| shard.keys[index].1).sum();
                    if keys > 0 {
                        let _ =
                            write!(out, "db{index}:keys={keys},expires={expires},avg_ttl=0\r\n");
                    }
                }
            }
            "shards" => {
                out.push_str("# Shards\r\n");
                for (index, shard) in figures.iter().enumerate() {
                    let keys: usize = shard.keys.iter().map(|(keys, _)| keys).sum();
                    let _ = write!(
                        out,
                        "shard{index}:keys={keys},clients={},commands={},connections_received={},busy_seconds={:.3}\r\n",
                        shard.clients, shard.commands, shard.connections, shard.busy_seconds
                    );
                }
            }
            _ => {}
        }
    }
    out
}
