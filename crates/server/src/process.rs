//! The server process's dealings with whoever started it, as redis-server has them:
//! `daemonize` (run in the background), `pidfile`, and `supervised` (tell systemd or
//! upstart when the data set is loaded and clients are served).

use std::path::PathBuf;

/// Where a daemonized server writes its pid when `pidfile` is not set (as Redis).
const DEFAULT_DAEMON_PIDFILE: &str = "/var/run/redis.pid";

/// How the server reports readiness (`supervised`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Supervision {
    /// Nobody to tell.
    No,
    /// systemd: `READY=1` on `$NOTIFY_SOCKET`.
    Systemd,
    /// upstart: the process stops itself with SIGSTOP once ready.
    Upstart,
    /// systemd when `$NOTIFY_SOCKET` is set, upstart when `$UPSTART_JOB` is.
    Auto,
}

impl Supervision {
    /// Reads `supervised`'s value (validated already: anything else is `No`).
    pub fn parse(text: &str) -> Supervision {
        match text {
            "systemd" => Supervision::Systemd,
            "upstart" => Supervision::Upstart,
            "auto" => Supervision::Auto,
            _ => Supervision::No,
        }
    }

    /// INFO's `process_supervised`: the supervisor in effect.
    pub fn name(self) -> &'static str {
        match self.resolved() {
            Supervision::Systemd => "systemd",
            Supervision::Upstart => "upstart",
            Supervision::No | Supervision::Auto => "no",
        }
    }

    /// Whether a supervisor is present: then `daemonize` has no effect, as in Redis (the
    /// supervisor tracks the process it started).
    pub fn is_supervised(self) -> bool {
        self.resolved() != Supervision::No
    }

    /// The supervisor actually present.
    fn resolved(self) -> Supervision {
        match self {
            Supervision::Auto if std::env::var_os("NOTIFY_SOCKET").is_some() => {
                Supervision::Systemd
            }
            Supervision::Auto if std::env::var_os("UPSTART_JOB").is_some() => Supervision::Upstart,
            Supervision::Auto => Supervision::No,
            other => other,
        }
    }

    /// Tells the supervisor the server is ready (the data loaded, clients served).
    pub fn notify_ready(self) {
        match self.resolved() {
            Supervision::Systemd => {
                notify_systemd("STATUS=Ready to accept connections\nREADY=1\n");
            }
            Supervision::Upstart => {
                // Upstart's `expect stop`: the job is ready when the process stops.
                // SAFETY: raise only sends a signal to this process.
                unsafe {
                    libc::raise(libc::SIGSTOP);
                }
            }
            Supervision::No | Supervision::Auto => {}
        }
    }

    /// Tells systemd the server is stopping.
    pub fn notify_stopping(self) {
        if self.resolved() == Supervision::Systemd {
            notify_systemd("STOPPING=1\n");
        }
    }
}

/// Sends `message` to `$NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace).
fn notify_systemd(message: &str) {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        tracing::warn!("supervised by systemd, but NOTIFY_SOCKET is not set");
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let address = match target.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes()),
        None => SocketAddr::from_pathname(&target),
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        let address = address?;
        socket.send_to_addr(message.as_bytes(), &address)
    });
    if let Err(error) = sent {
        tracing::warn!("can't notify systemd at {target}: {error}");
    }
}

/// Detaches from the terminal as redis-server's `daemonize yes` does: forks (the parent
/// exits), starts a new session, and points standard input and output at /dev/null.
/// Must run while the process has one thread.
pub fn daemonize() -> std::io::Result<()> {
    // SAFETY: called before any thread is started, so the child is a complete copy;
    // the parent only exits.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: plain system calls on this process and descriptors it owns.
    unsafe {
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for descriptor in [libc::STDIN_FILENO, libc::STDOUT_FILENO, libc::STDERR_FILENO] {
                libc::dup2(null, descriptor);
            }
            if null > libc::STDERR_FILENO {
                libc::close(null);
            }
        }
    }
    Ok(())
}

/// The pid file this server wrote; removed again when dropped (at shutdown).
pub struct PidFile {
    path: PathBuf,
}

impl PidFile {
    /// Writes the pid to `pidfile`, or to Redis's default path when daemonized without
    /// one; `None` when neither applies. A file that can't be written is only logged, as
    /// Redis does.
    pub fn create(pidfile: &str, daemonized: bool) -> Option<PidFile> {
        let path = match (pidfile.is_empty(), daemonized) {
            (false, _) => PathBuf::from(pidfile),
            (true, true) => PathBuf::from(DEFAULT_DAEMON_PIDFILE),
            (true, false) => return None,
        };
        match std::fs::write(&path, format!("{}\n", std::process::id())) {
            Ok(()) => Some(PidFile { path }),
            Err(error) => {
                tracing::warn!("failed to write the PID file {}: {error}", path.display());
                None
            }
        }
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
