//! Starting and stopping the server: limits, logging, one pinned executor per shard,
//! listeners, signals.

use crate::config::{Config, Settings};
use crate::shard_state::{ServerShared, ShardState};
use anyhow::Context as _;
use glommio::{LocalExecutorBuilder, Placement, Shares};
use peregrine_shard::RouterBuilder;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// SIGTERM and SIGINT received so far.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// How many SIGTERM or SIGINT signals the process has received.
pub(crate) fn signals_received() -> u32 {
    SIGNALS.load(Ordering::SeqCst)
}

/// How long start-up (loading the data included) may take before it is reported as failed.
const STARTUP_LIMIT: Duration = Duration::from_secs(3600);

extern "C" fn on_signal(_signal: libc::c_int) {
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

fn install_signal_handlers() {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: sched_getaffinity writes into the zeroed set we pass with its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let result =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if result != 0 {
        return (0..std::thread::available_parallelism().map_or(1, |count| count.get())).collect();
    }
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Raises the open-files limit to fit `maxclients` (as Redis does) and reports the result.
fn raise_open_files_limit(maxclients: u64) -> u64 {
    let wanted = maxclients + 32;
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < wanted {
            let target = wanted.min(limit.rlim_max);
            let raised = libc::rlimit {
                rlim_cur: target,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit.rlim_cur = target;
            }
        }
        limit.rlim_cur
    }
}

fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let level = match settings.loglevel.as_str() {
        "debug" => "debug",
        "verbose" => "info",
        "notice" => "info",
        "warning" => "warn",
        _ => "error",
    };
    let builder = tracing_subscriber::fmt().with_target(false).with_max_level(
        level
            .parse::<tracing::Level>()
            .unwrap_or(tracing::Level::INFO),
    );
    if settings.logfile.is_empty() {
        builder.with_writer(std::io::stdout).init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&settings.logfile)
            .with_context(|| format!("can't open the log file '{}'", settings.logfile))?;
        builder
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file))
            .init();
    }
    Ok(())
}

/// The addresses of `bind` on `port`. An address written with a leading `-` is optional,
/// as in Redis: skipped (with a warning) when this host does not have it, e.g. `-::1`
/// where IPv6 is disabled.
fn resolve(settings: &Settings, port: u16) -> anyhow::Result<Vec<SocketAddr>> {
    let mut addresses = Vec::new();
    for written in &settings.bind {
        let host = written.trim_start_matches('-');
        let optional = host.len() < written.len();
        let host = if host == "*" { "0.0.0.0" } else { host };
        let found = (host, port)
            .to_socket_addrs()
            .with_context(|| format!("can't resolve bind address '{host}'"))?;
        for address in found {
            if optional && !host_has(address) {
                tracing::warn!("skipping the optional bind address {host}: not available here");
                continue;
            }
            addresses.push(address);
        }
    }
    if addresses.is_empty() {
        anyhow::bail!("no address to bind: check the 'bind' option");
    }
    Ok(addresses)
}

/// Whether this host can bind `address`'s IP (tried on a free port).
fn host_has(address: SocketAddr) -> bool {
    let mut probe = address;
    probe.set_port(0);
    std::net::TcpListener::bind(probe).is_ok()
}

/// A TCP socket for `address`'s family with SO_REUSEADDR, as listeners have it (a port
/// whose earlier connections linger in TIME_WAIT can be bound at once).
fn reusable_socket(address: SocketAddr) -> std::io::Result<socket2::Socket> {
    let domain = if address.is_ipv6() {
        socket2::Domain::IPV6
    } else {
        socket2::Domain::IPV4
    };
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    Ok(socket)
}

/// Reserves a free port (for `--port 0`) with a bound, non-listening SO_REUSEPORT socket
/// that the shards' listeners can share; it is dropped once they are listening.
fn reserve_port(address: SocketAddr) -> anyhow::Result<(socket2::Socket, u16)> {
    let socket = reusable_socket(address)?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    let port = socket
        .local_addr()?
        .as_socket()
        .map(|bound| bound.port())
        .context("the reserved socket has no port")?;
    Ok((socket, port))
}

/// Fails when another process listens on `address`. The shards' listeners share their
/// port through SO_REUSEPORT, which would as gladly share it with another server of the
/// same user (each getting some of the connections); a socket bound without it conflicts
/// with any listener there, as redis-server's bind does. The probe is closed at once: the
/// shards bind a few milliseconds later.
///
/// A process that has just exited may hold its listener a little longer: the kernel closes
/// the sockets of an io_uring ring in the background after the process is gone (a
/// supervisor restarting Peregrine after a crash meets this). So a taken port is tried
/// again for up to [`PORT_RELEASE_WAIT`] before start-up fails.
fn refuse_a_taken_port(address: SocketAddr) -> anyhow::Result<()> {
    let deadline = std::time::Instant::now() + PORT_RELEASE_WAIT;
    loop {
        match reusable_socket(address)?.bind(&address.into()) {
            Ok(()) => return Ok(()),
            Err(error)
                if error.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(error) => return Err(error).with_context(|| format!("can't listen on {address}")),
        }
    }
}

/// How long start-up waits for a port held by a process that has exited (see
/// [`refuse_a_taken_port`]).
const PORT_RELEASE_WAIT: Duration = Duration::from_secs(2);

/// Runs the server until SHUTDOWN, SIGTERM or SIGINT.
pub fn run(config: Config) -> anyhow::Result<()> {
    let settings = config.settings();
    crate::command_names::install(&config.renames);
    crate::ticks::init();
    init_logging(&settings)?;
    install_signal_handlers();
    let files = raise_open_files_limit(settings.maxclients);
    tracing::info!(
        "open files limit: {files} (maxclients {})",
        settings.maxclients
    );
    let cpus = allowed_cpus();
    let shard_count = if settings.shards == 0 {
        cpus.len().max(1) as u16
    } else {
        settings.shards
    };
    let mut addresses = resolve(&settings, settings.port)?;
    let (reservation, port) = if settings.port == 0 {
        let (socket, port) = reserve_port(addresses[0])?;
        addresses
            .iter_mut()
            .for_each(|address| address.set_port(port));
        (Some(socket), port)
    } else {
        (None, settings.port)
    };
    let mut config = config;
    // CONFIG GET port reports the port actually bound (it differs with --port 0).
    config
        .set("port", &port.to_string())
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let plan = Arc::new(
        crate::persistence::RecoveryPlan::prepare(
            &settings.persistence,
            peregrine_commands::CommandLimits {
                proto_max_bulk_len: settings.proto_max_bulk_len,
                lfu_policy: settings.lfu_policy,
                encoding: settings.encoding,
                hll_sparse_max_bytes: settings.hll_sparse_max_bytes,
                stream: settings.stream,
            },
            settings.databases,
            shard_count,
        )
        .map_err(|reason| anyhow::anyhow!(reason))?,
    );
    let server = Arc::new(ServerShared::new(config));
    server.port.store(u64::from(port), Ordering::Relaxed);
    let loading = &server.persistence;
    let _ = loading.block_cipher.set(plan.cipher.clone());
    loading.generation.store(
        plan.layout
            .manifest
            .as_ref()
            .map_or(0, |manifest| manifest.generation),
        Ordering::SeqCst,
    );
    // One more than the shards: shard 0 lets clients in once recovery is complete (see
    // persistence::finish_loading).
    loading
        .shards_loading
        .store(u32::from(shard_count) + 1, Ordering::Relaxed);
    loading
        .loading_total_bytes
        .store(plan.layout.total_bytes(), Ordering::Relaxed);
    loading
        .loading_start_time
        .store(crate::shard_state::unix_millis() / 1000, Ordering::Relaxed);
    let listening: Vec<String> = addresses.iter().map(ToString::to_string).collect();
    tracing::info!(
        "Peregrine {} (Redis {} compatible) starting: pid={}, shards={}, listening on {}",
        env!("CARGO_PKG_VERSION"),
        crate::info::REDIS_VERSION,
        std::process::id(),
        shard_count,
        listening.join(" ")
    );
    if reservation.is_none() {
        addresses
            .iter()
            .try_for_each(|&address| refuse_a_taken_port(address))?;
    }
    let builder = RouterBuilder::<ShardState>::new(shard_count);
    let dedicated_cores = usize::from(shard_count) <= cpus.len();
    let (ready_sender, ready_receiver) = mpsc::channel::<Result<(), String>>();
    let mut handles = Vec::new();
    for index in 0..shard_count {
        let cpu = cpus[usize::from(index) % cpus.len().max(1)];
        let (builder, server, addresses, ready, plan) = (
            builder.clone(),
            server.clone(),
            addresses.clone(),
            ready_sender.clone(),
            plan.clone(),
        );
        let mut executor = LocalExecutorBuilder::new(Placement::Fixed(cpu))
            .name(&format!("shard-{index}"))
            .io_memory(1 << 20);
        if dedicated_cores && settings.spin_before_park_us > 0 {
            // A shard with a core of its own may spin briefly after work before sleeping
            // in the kernel: a cross-shard reply arriving within that window costs no
            // wake-up. Off by default: it only pays on hosts where shards own their cores
            // and nothing else runs there; shards that share a core never spin.
            executor =
                executor.spin_before_park(Duration::from_micros(settings.spin_before_park_us));
        }
        let handle = executor
            .spawn(move || async move { shard_main(builder, server, addresses, ready, plan).await })
            .map_err(|error| {
                anyhow::anyhow!("can't start the executor of shard {index} on CPU {cpu}: {error}")
            })?;
        handles.push(handle);
    }
    drop(ready_sender);
    let started = std::time::Instant::now();
    let mut ready = 0;
    while ready < shard_count {
        if signals_received() > 0 {
            anyhow::bail!("interrupted during start-up");
        }
        if started.elapsed() > STARTUP_LIMIT {
            anyhow::bail!(
                "only {ready} of {shard_count} shards became ready within {STARTUP_LIMIT:?}"
            );
        }
        match ready_receiver.recv_timeout(Duration::from_millis(50)) {
            Ok(Ok(())) => ready += 1,
            Ok(Err(reason)) => anyhow::bail!(reason),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                anyhow::bail!("a shard stopped during start-up")
            }
        }
    }
    drop(reservation);
    tracing::info!("Ready to accept connections tcp port={port} shards={shard_count}");
    let pidfile = crate::process::PidFile::create(&settings.pidfile, settings.daemonize);
    server
        .memory_startup
        .store(crate::info::record_memory_peak(&server), Ordering::Relaxed);
    // The supervisor hears "ready" once the data set is loaded, as from redis-server.
    let mut supervisor_told = false;
    // The memory peak is sampled every other turn (100 ms, as Redis's cron): reading
    // jemalloc's statistics merges every arena's.
    let mut turn = 0_u64;
    // Shard 0 answers the first signal (a final snapshot, then the stop); a second one
    // while it runs stops the server at once.
    while signals_received() < 2 && !server.shutting_down.load(Ordering::SeqCst) {
        turn += 1;
        if turn.is_multiple_of(2) {
            crate::info::record_memory_peak(&server);
        }
        if !supervisor_told && !server.persistence.loading() {
            settings.supervised.notify_ready();
            supervisor_told = true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    tracing::info!("Received shutdown request, shutting down.");
    settings.supervised.notify_stopping();
    server.shutting_down.store(true, Ordering::SeqCst);
    let persistence = &server.persistence;
    let flushing = std::time::Instant::now();
    while persistence.shards_closed.load(Ordering::SeqCst)
        < persistence.shards_logging.load(Ordering::SeqCst)
        && flushing.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(pidfile);
    tracing::info!("Peregrine is now ready to exit, bye bye...");
    Ok(())
}

async fn shard_main(
    builder: RouterBuilder<ShardState>,
    server: Arc<ServerShared>,
    addresses: Vec<SocketAddr>,
    ready: mpsc::Sender<Result<(), String>>,
    plan: Arc<crate::persistence::RecoveryPlan>,
) {
    let router = builder.join(|id| ShardState::new(id, server.clone())).await;
    router.state().set_router(&router);
    let backlog = server.settings().tcp_backlog;
    let mut listeners = Vec::new();
    for address in &addresses {
        match glommio::net::TcpListener::bind_with_backlog(address, backlog) {
            Ok(listener) => listeners.push(listener),
            Err(error) => {
                let _ = ready.send(Err(format!("can't listen on {address}: {error}")));
                return;
            }
        }
    }
    let background = glommio::executor().create_task_queue(
        Shares::Static(100),
        glommio::Latency::NotImportant,
        "background",
    );
    let state = router.state().clone();
    glommio::spawn_local(crate::blocking::serve_deferred(router.state().clone())).detach();
    let mut accepting = Vec::new();
    for listener in listeners {
        let router = router.clone();
        accepting.push(glommio::spawn_local(async move {
            loop {
                match listener.accept().await {
                    Ok(stream) => {
                        glommio::spawn_local(crate::connection::serve(router.clone(), stream))
                            .detach();
                    }
                    Err(error) => {
                        tracing::warn!("accept failed: {error}");
                        glommio::timer::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
        }));
    }
    // Clients connecting while the data loads get -LOADING, as from Redis.
    let loaded = crate::persistence::start_shard(&state, &plan, router.shard_count()).await;
    state
        .server
        .persistence
        .shards_loading
        .fetch_sub(1, Ordering::Relaxed);
    // Active expiry starts once the data is loaded: replay applies the expiries the log
    // recorded, at the times they happened.
    let _ = glommio::spawn_local_into(crate::metrics::sample_rates(state.clone()), background)
        .map(|task| task.detach());
    let _ = glommio::spawn_local_into(crate::expiry::run_background(state.clone()), background)
        .map(|task| task.detach());
    if state.id.0 == 0 {
        glommio::spawn_local(crate::shutdown::on_signals(router.clone())).detach();
        crate::persistence::finish_loading(router.clone()).await;
        glommio::spawn_local(crate::persistence::schedule::run(router.clone())).detach();
    }
    let _ = ready.send(loaded.map_err(|reason| format!("shard {}: {reason}", state.id.0)));
    for task in accepting {
        task.await;
    }
}
