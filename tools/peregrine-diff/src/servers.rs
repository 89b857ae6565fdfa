//! Starting, probing and stopping the two servers under comparison.
//!
//! Each server runs as a child process on a free loopback port, with its
//! stdout and stderr sent to a log file in the temporary directory (so a chatty
//! server can never block on a full pipe). A server counts as up once it
//! answers `PING` with `+PONG`. [`ServerProcess`] kills and reaps its child
//! when dropped, so the servers go away on every path out of a run, errors and
//! panics included.

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
    /// `redis-server --port P --bind 127.0.0.1 --save "" --appendonly no --daemonize no`
    Redis,
    /// `peregrine-server --port P --bind 127.0.0.1 --shards N`
    Peregrine {
        /// Number of shards (cores) to start.
        shards: u16,
    },
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
    child: Child,
    port: u16,
    log_path: PathBuf,
    /// Where Peregrine keeps its data (its own, removed with the process).
    data_dir: PathBuf,
}

impl ServerProcess {
    /// Starts `binary` as `kind` on a free loopback port and waits until it answers PING.
    ///
    /// `label` names the server in messages and in its log file name.
    pub fn start(binary: &Path, kind: ServerKind, label: &str) -> anyhow::Result<Self> {
        let mut last_error = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port().context("picking a free loopback port")?;
            let mut server = Self::spawn(binary, kind, label, port)?;
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

    fn spawn(binary: &Path, kind: ServerKind, label: &str, port: u16) -> anyhow::Result<Self> {
        let log_path = std::env::temp_dir().join(format!(
            "peregrine-diff-{}-{label}-{port}.log",
            std::process::id()
        ));
        let log = File::create(&log_path)
            .with_context(|| format!("creating log file {}", log_path.display()))?;
        let log_for_stderr = log.try_clone().context("duplicating the log file handle")?;
        let data_dir = std::env::temp_dir().join(format!(
            "peregrine-diff-{}-{label}-{port}.data",
            std::process::id()
        ));
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("creating data directory {}", data_dir.display()))?;
        let mut command = Command::new(binary);
        command
            .args(launch_arguments(kind, port, &data_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log_for_stderr));
        let child = match command.spawn() {
            Ok(child) => child,
            Err(error) => {
                // Nothing will write to the log: remove it now.
                let _ = std::fs::remove_file(&log_path);
                let _ = std::fs::remove_dir_all(&data_dir);
                return Err(error)
                    .with_context(|| format!("starting {label} from {}", binary.display()));
            }
        };
        Ok(Self {
            label: label.to_owned(),
            child,
            port,
            log_path,
            data_dir,
        })
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
        // Errors here mean the process is already gone; nothing is left to clean up.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log_path);
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

fn startup_limit(kind: ServerKind) -> Duration {
    match kind {
        ServerKind::Redis => REDIS_STARTUP,
        ServerKind::Peregrine { .. } => PEREGRINE_STARTUP,
    }
}

/// The command-line arguments that start a server of `kind` on `port`, Peregrine keeping
/// its data in `data_dir`.
pub fn launch_arguments(kind: ServerKind, port: u16, data_dir: &Path) -> Vec<String> {
    let port = port.to_string();
    match kind {
        ServerKind::Redis => [
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        .iter()
        .map(|arg| (*arg).to_owned())
        .collect(),
        ServerKind::Peregrine { shards } => vec![
            "--port".to_owned(),
            port,
            "--bind".to_owned(),
            "127.0.0.1".to_owned(),
            "--shards".to_owned(),
            shards.to_string(),
            "--dir".to_owned(),
            data_dir.display().to_string(),
        ],
    }
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
        let arguments = launch_arguments(ServerKind::Redis, 6400, Path::new("/tmp/unused"));
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
                "--daemonize",
                "no"
            ]
        );
    }

    #[test]
    fn peregrine_arguments_carry_the_shard_count() {
        let arguments = launch_arguments(
            ServerKind::Peregrine { shards: 4 },
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
                "/tmp/d"
            ]
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
