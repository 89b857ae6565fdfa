//! Node.js programs in end-to-end tests: npm dependencies pinned by a lock file and
//! installed once under the target directory, and node processes with time limits.
//!
//! A suite that drives a real client library (a job queue, say) keeps a `package.json`,
//! a `package-lock.json` and its script in one directory under `tests/`, installs them
//! with [`install_npm_packages`] and runs the script as [`NodeProcess`]es. Every wait on
//! a process has a limit, so a hung library fails the test instead of blocking it.

use crate::{poll_until, under_ci};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Installs `source`'s `package-lock.json` with `npm ci` into `prefix` (a directory under
/// the target directory), unless the same lock file is installed there already; returns
/// its `node_modules`. When npm fails: under CI (`CI=true`) panic; otherwise print a note
/// saying that `what` did not run and return `None`.
pub fn install_npm_packages(
    npm: &Path,
    source: &Path,
    prefix: &Path,
    what: &str,
) -> Option<PathBuf> {
    let lock = std::fs::read(source.join("package-lock.json")).expect("package-lock.json");
    let stamp = prefix.join("installed-package-lock.json");
    let modules = prefix.join("node_modules");
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) && modules.is_dir() {
        return Some(modules);
    }
    std::fs::create_dir_all(prefix).expect("create the npm prefix");
    for file in ["package.json", "package-lock.json"] {
        std::fs::copy(source.join(file), prefix.join(file)).expect("copy the npm manifest");
    }
    let output = Command::new(npm)
        .args([
            "ci",
            "--ignore-scripts",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(prefix)
        .stdin(Stdio::null())
        .output()
        .expect("run npm ci");
    if !output.status.success() {
        let text = format!(
            "npm ci in {} failed ({}):\n{}{}",
            prefix.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!under_ci(), "{text}");
        println!("{what} did NOT run: {text}");
        return None;
    }
    std::fs::write(&stamp, &lock).expect("write the install stamp");
    Some(modules)
}

/// A node process whose stdout is collected and whose stderr lines are collected and
/// passed on, killed when dropped. Each wait on it gives up after its `limit`.
pub struct NodeProcess {
    name: String,
    limit: Duration,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<String>>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    /// Starts `command` with piped stdio; `name` labels its failures.
    pub fn spawn(mut command: Command, name: &str, limit: Duration) -> NodeProcess {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("can't start {name}: {error}"));
        let stdin = child.stdin.take();
        let mut stdout = child.stdout.take().expect("piped stdout");
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let (sender, stderr_lines) = mpsc::channel();
        let reader = BufReader::new(child.stderr.take().expect("piped stderr"));
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in reader.lines().map_while(Result::ok) {
                if let Ok(mut text) = collected.lock() {
                    text.push_str(&line);
                    text.push('\n');
                }
                let _ = sender.send(line);
            }
        });
        NodeProcess {
            name: name.to_owned(),
            limit,
            child,
            stdin,
            stdout: Some(stdout),
            stderr,
            stderr_lines,
        }
    }

    /// The name it was started with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Waits until the process logs `wanted` as a whole stderr line.
    pub fn wait_for_stderr_line(&mut self, wanted: &str) {
        loop {
            match self.stderr_lines.recv_timeout(self.limit) {
                Ok(line) if line == wanted => return,
                Ok(_) => {}
                Err(_) => panic!(
                    "{} did not log {wanted:?}; stderr:\n{}",
                    self.name,
                    self.stderr()
                ),
            }
        }
    }

    /// Closes the process's stdin (the harnesses' signal to finish).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Waits for the process to exit successfully and returns its stdout.
    pub fn finish(mut self) -> String {
        let mut status = None;
        let exited = poll_until(self.limit, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(
            exited,
            "{} did not exit within {:?}; stderr:\n{}",
            self.name,
            self.limit,
            self.stderr()
        );
        let stdout = self
            .stdout
            .take()
            .and_then(|handle| handle.join().ok())
            .unwrap_or_default();
        assert!(
            status.is_some_and(|status| status.success()),
            "{} failed ({status:?}); stdout:\n{stdout}\nstderr:\n{}",
            self.name,
            self.stderr()
        );
        stdout
    }

    /// Everything it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|text| text.clone())
            .unwrap_or_default()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
