//! Starting, probing and stopping the two servers under comparison.
//!
//! Each server runs as a child process on a free loopback port, with its
//! stdout and stderr sent to a log file in the temporary directory (so a chatty
//! server can never block on a full pipe). A server counts as up once it
//! answers `PING` with `+PONG`. [`ServerProcess`] kills and reaps its child
//! when dropped, so the servers go away on every path out of a run, errors and
//! panics included.
//!
//! A server started with [`Durability::EveryWrite`] can be killed with SIGKILL
//! and started again on the same data directory
//! ([`ServerProcess::kill_and_restart`]), to check that it replays its log.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::resp::{Connection, Reply};

/// How to launch a server binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerKind {
    /// `redis-server --port P --bind 127.0.0.1 --save "" --appendonly no
    /// --enable-debug-command local --daemonize no`
    Redis,
    /// `peregrine-server --port P --bind 127.0.0.1 --shards N`
    Peregrine {
        /// Number of shards (cores) to start.
        shards: u16,
    },
}

/// How much of its data a server keeps on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// A plain run: Redis keeps nothing, Peregrine uses its defaults.
    Default,
    /// Every write is on disk before its reply (`appendfsync always`; Redis also
    /// turns its append-only file on), so the server survives `kill -9`.
    EveryWrite,
}

/// How long a redis-server may take to answer its first PING.
const REDIS_STARTUP: Duration = Duration::from_secs(5);

/// How long a peregrine-server may take to answer its first PING (a debug build
/// starting many shards is slower than redis-server).
const PEREGRINE_STARTUP: Duration = Duration::from_secs(10);

/// Attempts with a fresh port when a server exits during startup (another
/// process may have taken the port between picking and binding it).
const START_ATTEMPTS: usize = 3;

/// A running server process, killed when dropped.
#[derive(Debug)]
pub struct ServerProcess {
    label: String,
    binary: PathBuf,
    kind: ServerKind,
    durability: Durability,
    child: Child,
    port: u16,
    log_path: PathBuf,
    /// Where the server keeps its data (its own, removed with the process).
    data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts `binary` as `kind` on a free loopback port and waits until it answers PING.
    ///
    /// `label` names the server in messages and in its log file name.
    pub fn start(
        binary: &Path,
        kind: ServerKind,
        durability: Durability,
        label: &str,
    ) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port().context("picking a free loopback port")?;
            let mut server = Self::spawn(binary, kind, durability, label, port)?;
            match server.wait_until_ready(startup_limit(kind)) {
                Ok(()) => return Ok(server),
                Err(error) => last_error = Some(error),
            }
        }
        match last_error {
            Some(error) => Err(error),
            None => bail!("{label} was not started"),
        }
    }

    fn spawn(
        binary: &Path,
        kind: ServerKind,
        durability: Durability,
        label: &str,
        port: u16,
    ) -> anyhow::Result<Self> {
        let name = format!("peregrine-diff-{}-{label}-{port}", std::process::id());
        let log_path = std::env::temp_dir().join(format!("{name}.log"));
        let data_dir = std::env::temp_dir().join(format!("{name}.data"));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let launch = Launch {
            binary,
            kind,
            durability,
            label,
            port,
            log_path: &log_path,
            data_dir: &data_dir,
        };
        let child = match launch.spawn(File::create(&log_path)) {
            Ok(child) => child,
            Err(error) => {
                // Nothing will write to the log or the data directory: remove them now.
                let _ = std::fs::remove_file(&log_path);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(error);
            }
        };
        Ok(Self {
            label: label.to_owned(),
            binary: binary.to_owned(),
            kind,
            durability,
            child,
            port,
            log_path,
            data_dir,
        })
    }

    /// Kills the server with SIGKILL (no chance to flush or shut down), then
    /// starts it again on the same data directory and waits until it answers
    /// PING. It keeps its port when it can; otherwise it moves to a fresh one
    /// (see [`ServerProcess::address`]). Its output goes on in the same log.
    ///
    /// Errors when the server does not come back, with what it printed.
    pub fn kill_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        let mut last_error = None;
        for attempt in 0..START_ATTEMPTS {
            let port = if attempt == 0 {
                self.port
            } else {
                free_port().context("picking a free loopback port")?
            };
            let launch = Launch {
                binary: &self.binary,
                kind: self.kind,
                durability: self.durability,
                label: &self.label,
                port,
                log_path: &self.log_path,
                data_dir: &self.data_dir,
            };
            let log = File::options().append(true).open(&self.log_path);
            self.child = launch.spawn(log)?;
            self.port = port;
            match self.wait_until_ready(startup_limit(self.kind)) {
                Ok(()) => return Ok(()),
                Err(error) => {
                    self.kill();
                    last_error = Some(error);
                }
            }
        }
        match last_error {
            Some(error) => Err(error.context(format!("restarting {} after kill -9", self.label))),
            None => bail!("{} was not restarted", self.label),
        }
    }

    /// Sends SIGKILL and reaps the process (a no-op when it is already gone).
    fn kill(&mut self) {
        // Errors here mean the process is already gone.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The name the server goes by in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The loopback address the server listens on.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port))
    }

    /// A new client connection to this server.
    pub fn connect(&self) -> anyhow::Result<Connection> {
        Connection::connect(self.address(), Duration::from_secs(5))
            .with_context(|| format!("connecting to {} on port {}", self.label, self.port))
    }

    /// The last `lines` lines the server wrote to stdout or stderr.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read(&self.log_path)
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all.get(all.len().saturating_sub(lines)..)
            .unwrap_or_default()
            .join("\n")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn wait_until_ready(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!(
                    "{} exited during startup ({status}); its output:\n{}",
                    self.label,
                    self.log_tail(20)
                );
            }
            if self.answers_ping() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not answer PING on port {} within {:?}; its output:\n{}",
                    self.label,
                    self.port,
                    limit,
                    self.log_tail(20)
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn answers_ping(&self) -> bool {
        let Ok(mut connection) = Connection::connect(self.address(), Duration::from_millis(200))
        else {
            return false;
        };
        matches!(
            connection.call(&[b"PING".to_vec()]),
            Ok(reply) if reply.value == Reply::Simple(b"PONG".to_vec())
        )
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
        // Errors here mean there is nothing left to clean up.
        let _ = std::fs::remove_file(&self.log_path);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// Everything one launch of a server process needs.
struct Launch<'a> {
    binary: &'a Path,
    kind: ServerKind,
    durability: Durability,
    label: &'a str,
    port: u16,
    log_path: &'a Path,
    data_dir: &'a Path,
}

impl Launch<'_> {
    /// Starts the process with its stdout and stderr going to `log` (the log
    /// file, opened by the caller).
    fn spawn(&self, log: std::io::Result<File>) -> anyhow::Result<Child> {
        let log = log.with_context(|| format!("opening log file {}", self.log_path.display()))?;
        let log_for_stderr = log.try_clone().context("duplicating the log file handle")?;
        Command::new(self.binary)
            .args(launch_arguments(
                self.kind,
                self.durability,
                self.port,
                self.data_dir,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_for_stderr))
            .spawn()
            .with_context(|| format!("starting {} from {}", self.label, self.binary.display()))
    }
}

fn startup_limit(kind: ServerKind) -> Duration {
    match kind {
        ServerKind::Redis => REDIS_STARTUP,
        ServerKind::Peregrine { .. } => PEREGRINE_STARTUP,
    }
}

/// The command-line arguments that start a server of `kind` on `port`, keeping
/// its data (if any) in `data_dir`.
pub fn launch_arguments(
    kind: ServerKind,
    durability: Durability,
    port: u16,
    data_dir: &Path,
) -> Vec<String> {
    let port = port.to_string();
    let data_dir = data_dir.display().to_string();
    let mut arguments: Vec<&str> = vec!["--port", &port, "--bind", "127.0.0.1"];
    let shards;
    match kind {
        ServerKind::Redis => {
            arguments.extend(["--save", ""]);
            match durability {
                Durability::Default => arguments.extend(["--appendonly", "no"]),
                Durability::EveryWrite => arguments.extend([
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--dir",
                    &data_dir,
                ]),
            }
            // DEBUG SET-ACTIVE-EXPIRE, sent when keyspace notifications are on
            // (Redis 7.0 refuses DEBUG unless enabled).
            arguments.extend(["--enable-debug-command", "local", "--daemonize", "no"]);
        }
        ServerKind::Peregrine { shards: count } => {
            shards = count.to_string();
            // DEBUG (RELOAD, SET-ACTIVE-EXPIRE) is refused by default, as by Redis.
            arguments.extend(["--shards", &shards, "--dir", &data_dir]);
            arguments.extend(["--enable-debug-command", "local"]);
            if durability == Durability::EveryWrite {
                arguments.extend(["--appendfsync", "always"]);
            }
        }
    }
    arguments.into_iter().map(str::to_owned).collect()
}

/// A loopback port that was free a moment ago: binds port 0, reads the port
/// the kernel chose, and releases it.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Looks `redis-server` up in the directories of `PATH`.
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(program))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path)
        .map(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_arguments_disable_persistence() {
        let arguments = launch_arguments(
            ServerKind::Redis,
            Durability::Default,
            6400,
            Path::new("/tmp/unused"),
        );
        assert_eq!(
            arguments,
            [
                "--port",
                "6400",
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
                "--daemonize",
                "no"
            ]
        );
    }

    #[test]
    fn peregrine_arguments_carry_the_shard_count() {
        let arguments = launch_arguments(
            ServerKind::Peregrine { shards: 4 },
            Durability::Default,
            6401,
            Path::new("/tmp/d"),
        );
        assert_eq!(
            arguments,
            [
                "--port",
                "6401",
                "--bind",
                "127.0.0.1",
                "--shards",
                "4",
                "--dir",
                "/tmp/d",
                "--enable-debug-command",
                "local"
            ]
        );
    }

    #[test]
    fn every_write_durability_syncs_each_write_to_the_data_directory() {
        let peregrine = launch_arguments(
            ServerKind::Peregrine { shards: 1 },
            Durability::EveryWrite,
            6402,
            Path::new("/tmp/d"),
        );
        assert_eq!(
            peregrine.get(6..),
            Some(
                [
                    "--dir",
                    "/tmp/d",
                    "--enable-debug-command",
                    "local",
                    "--appendfsync",
                    "always"
                ]
                .map(String::from)
                .as_slice()
            )
        );
        let redis = launch_arguments(
            ServerKind::Redis,
            Durability::EveryWrite,
            6403,
            Path::new("/tmp/r"),
        );
        assert_eq!(
            redis.get(4..),
            Some(
                [
                    "--save",
                    "",
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--dir",
                    "/tmp/r",
                    "--enable-debug-command",
                    "local",
                    "--daemonize",
                    "no"
                ]
                .map(String::from)
                .as_slice()
            )
        );
    }

    #[test]
    fn free_port_is_not_zero() {
        assert!(matches!(free_port(), Ok(port) if port != 0));
    }

    #[test]
    fn path_lookup_misses_unknown_programs() {
        assert_eq!(find_in_path("peregrine-diff-no-such-program"), None);
    }
}
