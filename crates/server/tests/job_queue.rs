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
//! bee-queue's pub/sub features (job events, delayed jobs) stay off here. `bullmq.rs`
//! runs BullMQ, whose scripts keep a queue's events in a stream.
//!
//! The dependencies are installed once with `npm ci` under the target directory. Without
//! node or npm (or when `npm ci` fails) the test says it did not run and passes, except
//! under CI (`CI=true`), where it fails.

use peregrine_shard::ShardId;
use peregrine_testkit::node::{install_npm_packages, NodeProcess};
use peregrine_testkit::{required_tool, run, TestServer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
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
        .map(|name| {
            NodeProcess::spawn(
                node_command(&["work", &port, QUEUE, name]),
                name,
                PROCESS_LIMIT,
            )
        })
        .collect();
    for worker in &mut workers {
        let ready = format!("worker {} ready", worker.name());
        worker.wait_for_stderr_line(&ready);
    }
    let jobs_text = JOBS.to_string();
    let removed_text = REMOVED.to_string();
    let producer = NodeProcess::spawn(
        node_command(&["produce", &port, QUEUE, &jobs_text, &removed_text]),
        "producer",
        PROCESS_LIMIT,
    )
    .finish();
    let mut ran_by_worker = BTreeMap::new();
    for mut worker in workers {
        worker.close_stdin();
        let name = worker.name().to_owned();
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

/// Installs `job_queue/package-lock.json` under the target directory; its `node_modules`.
fn install_dependencies(npm: &Path) -> Option<PathBuf> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/job_queue");
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("job_queue");
    install_npm_packages(npm, &source, &prefix, WHAT)
}
