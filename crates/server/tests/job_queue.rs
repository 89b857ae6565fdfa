//! A real job-queue library's Lua scripts, through its own client, on 2 shards.
//!
//! bee-queue (npm, pinned in `job_queue/package-lock.json`) keeps a queue in a counter,
//! a hash of jobs, waiting and active lists and succeeded/failed/stalling sets, spread by
//! key over both shards, and moves jobs between them with Lua scripts (`addJob`,
//! `checkStalledJobs`, `removeJob`: SCRIPT EXISTS/LOAD, then EVALSHA, singly and
//! pipelined in batches) and MULTI/EXEC, while workers take jobs with BRPOPLPUSH.
//! `job_queue/harness.js` is its producer and workers. The test proves that with 3
//! worker processes competing for 200 jobs:
//! * every job runs exactly once per attempt (once, or twice for the jobs that fail
//!   their first attempt and are retried), with the data it was enqueued with;
//! * every worker takes part, and the queue ends with nothing waiting, active, stalled
//!   or failed, every job succeeded, and the jobs removed afterwards gone.
//!
//! bee-queue's pub/sub features (job events, delayed jobs) stay off: the server has no
//! PUBLISH/SUBSCRIBE yet. BullMQ cannot run here at all: its scripts write events with
//! XADD/XTRIM (streams).
//!
//! The dependencies are installed once with `npm ci` under the target directory. Without
//! node or npm (or when `npm ci` fails) the test says it did not run and passes, except
//! under CI (`CI=true`), where it fails.

use peregrine_shard::ShardId;
use peregrine_testkit::{poll_until, required_tool, run, under_ci, TestServer};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");
const SHARDS: u16 = 2;
const QUEUE: &str = "jq";
const JOBS: usize = 200;
const WORKERS: [&str; 3] = ["w1", "w2", "w3"];
/// Jobs the producer removes once all have succeeded.
const REMOVED: usize = 5;
/// How long any one node process may take.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);
const WHAT: &str = "the bee-queue job queue test";

#[test]
fn bee_queue_workers_run_every_job_exactly_once() {
    let (Some(node), Some(npm)) = (required_tool("node", WHAT), required_tool("npm", WHAT)) else {
        return;
    };
    let Some(modules) = install_dependencies(&npm) else {
        return;
    };
    let key = |name: &str| format!("bq:{QUEUE}:{name}");
    let shards: BTreeSet<ShardId> = ["id", "jobs", "waiting", "active", "succeeded"]
        .iter()
        .map(|name| ShardId::for_key(key(name).as_bytes(), SHARDS))
        .collect();
    assert_eq!(
        shards.len(),
        usize::from(SHARDS),
        "the queue's keys must span both shards"
    );

    let server = TestServer::start(BIN, SHARDS);
    let port = server.port().to_string();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/job_queue/harness.js");
    let node_command = |args: &[&str]| {
        let mut command = Command::new(&node);
        command.arg(&script).args(args).env("NODE_PATH", &modules);
        command
    };

    let mut workers: Vec<NodeProcess> = WORKERS
        .iter()
        .map(|name| NodeProcess::spawn(node_command(&["work", &port, QUEUE, name]), name))
        .collect();
    for worker in &mut workers {
        worker.wait_for_stderr_line(&format!("worker {} ready", worker.name));
    }
    let jobs_text = JOBS.to_string();
    let removed_text = REMOVED.to_string();
    let producer = NodeProcess::spawn(
        node_command(&["produce", &port, QUEUE, &jobs_text, &removed_text]),
        "producer",
    )
    .finish();
    let mut ran_by_worker = BTreeMap::new();
    for mut worker in workers {
        worker.close_stdin();
        let name = worker.name.clone();
        let output = worker.finish();
        let ran: usize = output
            .strip_prefix(&format!("worker {name} ran "))
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or_else(|| panic!("worker {name} printed {output:?}"));
        ran_by_worker.insert(name, ran);
    }

    // What the producer enqueued: id -> (marker, whether its first attempt fails).
    let mut jobs: BTreeMap<String, (String, bool)> = BTreeMap::new();
    let mut removed = BTreeSet::new();
    let mut health = None;
    for line in producer.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["job", id, marker, fail_first] => {
                let earlier = jobs.insert(id.to_string(), (marker.to_string(), *fail_first == "1"));
                assert!(earlier.is_none(), "job id {id} given twice");
            }
            ["removed", id] => {
                removed.insert(id.to_string());
            }
            ["health", rest @ ..] => health = Some(rest.join(" ")),
            _ => panic!("unexpected producer line {line:?}"),
        }
    }
    assert_eq!(jobs.len(), JOBS, "the producer's jobs");
    assert_eq!(removed.len(), REMOVED, "the producer's removed jobs");
    let kept = JOBS - REMOVED;
    assert_eq!(
        health.as_deref(),
        Some(format!("waiting 0 active 0 succeeded {kept} failed 0 delayed 0").as_str()),
        "bee-queue's own view of the queue at the end"
    );

    // Every run each worker recorded: id -> [(marker, retries left)].
    let mut connection = server.client();
    let runs: Vec<String> = run(
        &mut connection,
        &["LRANGE", &format!("{QUEUE}:runs"), "0", "-1"],
    );
    let mut runs_by_job: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    for entry in &runs {
        let fields: Vec<&str> = entry.split(' ').collect();
        let [id, marker, worker, retries_left] = fields.as_slice() else {
            panic!("unexpected run entry {entry:?}");
        };
        assert!(WORKERS.contains(worker), "run {entry:?} names no worker");
        let retries_left = retries_left.parse().unwrap_or_else(|_| panic!("{entry:?}"));
        runs_by_job
            .entry(id.to_string())
            .or_default()
            .push((marker.to_string(), retries_left));
    }
    let ids: BTreeSet<&String> = jobs.keys().collect();
    assert_eq!(
        runs_by_job.keys().collect::<BTreeSet<_>>(),
        ids,
        "the jobs that ran"
    );
    for (id, (marker, fail_first)) in &jobs {
        let mut attempts = runs_by_job[id].clone();
        attempts.sort_by_key(|(_, retries_left)| std::cmp::Reverse(*retries_left));
        let expected: Vec<(String, u32)> = if *fail_first {
            vec![(marker.clone(), 1), (marker.clone(), 0)]
        } else {
            vec![(marker.clone(), 1)]
        };
        assert_eq!(attempts, expected, "the runs of job {id}");
    }
    let retried = jobs.values().filter(|(_, fail_first)| *fail_first).count();
    assert_eq!(runs.len(), JOBS + retried, "runs recorded");
    assert_eq!(
        ran_by_worker.values().sum::<usize>(),
        runs.len(),
        "runs the workers counted ({ran_by_worker:?})"
    );
    assert!(
        ran_by_worker.values().all(|&ran| ran > 0),
        "every worker ran jobs: {ran_by_worker:?}"
    );

    // The queue's own keys at the end.
    for list in ["waiting", "active"] {
        let length: usize = run(&mut connection, &["LLEN", &key(list)]);
        assert_eq!(length, 0, "{list} jobs left");
    }
    for set in ["failed", "stalling"] {
        let size: usize = run(&mut connection, &["SCARD", &key(set)]);
        assert_eq!(size, 0, "{set} jobs left");
    }
    let expected: BTreeSet<String> = jobs
        .keys()
        .filter(|id| !removed.contains(*id))
        .cloned()
        .collect();
    let succeeded: BTreeSet<String> = run(&mut connection, &["SMEMBERS", &key("succeeded")]);
    assert_eq!(succeeded, expected, "succeeded jobs");
    let stored: BTreeMap<String, String> = run(&mut connection, &["HGETALL", &key("jobs")]);
    assert_eq!(
        stored.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "stored jobs"
    );
    for (id, data) in &stored {
        assert!(
            data.contains("\"status\":\"succeeded\"") && data.contains(&jobs[id].0),
            "job {id} is stored as {data}"
        );
    }
    let own_ids = jobs.keys().filter(|id| id.starts_with("custom-")).count();
    assert!(own_ids > 0, "some jobs were given ids of their own");
    let last_id: usize = run(&mut connection, &["GET", &key("id")]);
    assert_eq!(last_id, JOBS - own_ids, "the id counter");
}

/// Installs `job_queue/package-lock.json` with `npm ci` into a directory under the target
/// directory, unless the same lock file is installed there already; returns its
/// `node_modules`. `None` (after a note) when npm fails outside CI.
fn install_dependencies(npm: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/job_queue");
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("job_queue");
    let lock = std::fs::read(source.join("package-lock.json")).expect("package-lock.json");
    let stamp = prefix.join("installed-package-lock.json");
    let modules = prefix.join("node_modules");
    if std::fs::read(&stamp).is_ok_and(|installed| installed == lock) && modules.is_dir() {
        return Some(modules);
    }
    std::fs::create_dir_all(&prefix).expect("create the npm prefix");
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
        .arg(&prefix)
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
        println!("{WHAT} did NOT run: {text}");
        return None;
    }
    std::fs::write(&stamp, &lock).expect("write the install stamp");
    Some(modules)
}

/// A node process whose stdout is collected and whose stderr lines are collected and
/// passed on, killed when dropped.
struct NodeProcess {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<JoinHandle<String>>,
    stderr: Arc<Mutex<String>>,
    stderr_lines: mpsc::Receiver<String>,
}

impl NodeProcess {
    fn spawn(mut command: Command, name: &str) -> NodeProcess {
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
            child,
            stdin,
            stdout: Some(stdout),
            stderr,
            stderr_lines,
        }
    }

    fn wait_for_stderr_line(&mut self, wanted: &str) {
        loop {
            match self.stderr_lines.recv_timeout(PROCESS_LIMIT) {
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

    fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Waits for the process to exit successfully and returns its stdout.
    fn finish(mut self) -> String {
        let mut status = None;
        let exited = poll_until(PROCESS_LIMIT, || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        assert!(
            exited,
            "{} did not exit within {PROCESS_LIMIT:?}; stderr:\n{}",
            self.name,
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

    fn stderr(&self) -> String {
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
