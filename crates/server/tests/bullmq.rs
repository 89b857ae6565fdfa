//! BullMQ, a job queue built on streams and Lua, through its own client, on 2 shards.
//!
//! BullMQ (npm, pinned with ioredis in `bullmq/package-lock.json`) keeps a queue in lists,
//! sorted sets (priorities, delays, completed), a hash per job and a marker key, moves
//! jobs between them only with Lua scripts (EVALSHA, singly and pipelined by `addBulk`),
//! and writes every state change to the queue's event stream (XADD with a MAXLEN trim),
//! which `QueueEvents` follows with XREAD BLOCK. Workers wait for jobs with BZPOPMIN on
//! the marker. The queue's keys share the hash tag of the prefix `{bull}`, so each
//! script's keys sit on one shard; connections arrive on both.
//! `bullmq/harness.js` is its listener, workers, producer and final count. The test
//! proves that with 3 worker processes competing for 200 jobs (some with ids of their
//! own, some prioritized, some delayed, all with 2 attempts):
//! * every job runs exactly once per attempt (once, or twice for the jobs that fail
//!   their first attempt and are retried), with the data it was enqueued with, and every
//!   worker takes part;
//! * the event stream, read from its start by a separate process, reports each job
//!   completed once with its return value, and each retry;
//! * `getJobCounts` ends with every job completed and nothing waiting, active, delayed,
//!   prioritized or failed.
//!
//! No assertion depends on timing; every node process has a time limit.
//!
//! The dependencies are installed once with `npm ci` under the target directory. Without
//! node or npm (or when `npm ci` fails) the test says it did not run and passes, except
//! under CI (`CI=true`), where it fails.

use peregrine_testkit::node::{install_npm_packages, NodeProcess};
use peregrine_testkit::{required_tool, run, TestServer};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_peregrine-server");
const SHARDS: u16 = 2;
const QUEUE: &str = "mq";
const JOBS: usize = 200;
const WORKERS: [&str; 3] = ["w1", "w2", "w3"];
/// How long any one node process may take.
const PROCESS_LIMIT: Duration = Duration::from_secs(60);
const WHAT: &str = "the BullMQ job queue test";

#[test]
fn bullmq_workers_complete_every_job_exactly_once() {
    let (Some(node), Some(npm)) = (required_tool("node", WHAT), required_tool("npm", WHAT)) else {
        return;
    };
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bullmq");
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bullmq");
    let Some(modules) = install_npm_packages(&npm, &source, &prefix, WHAT) else {
        return;
    };

    let server = TestServer::start(BIN, SHARDS);
    let port = server.port().to_string();
    let script = source.join("harness.js");
    let spawn = |args: &[&str], name: &str| {
        let mut command = Command::new(&node);
        command
            .arg(&script)
            .args([args[0], &port, QUEUE])
            .args(&args[1..])
            .env("NODE_PATH", &modules);
        NodeProcess::spawn(command, name, PROCESS_LIMIT)
    };

    let jobs_text = JOBS.to_string();
    let mut listener = spawn(&["listen", &jobs_text], "listener");
    listener.wait_for_stderr_line("listener ready");
    let mut workers: Vec<NodeProcess> = WORKERS
        .iter()
        .map(|name| spawn(&["work", name], name))
        .collect();
    for worker in &mut workers {
        let ready = format!("worker {} ready", worker.name());
        worker.wait_for_stderr_line(&ready);
    }
    let produced = spawn(&["produce", &jobs_text], "producer").finish();
    // The listener exits once it has seen every job complete.
    let events = listener.finish();
    let mut runs_output = Vec::new();
    for mut worker in workers {
        worker.close_stdin();
        runs_output.push(worker.finish());
    }
    let counts = spawn(&["counts"], "counts").finish();

    // What the producer enqueued: id -> (marker, whether its first attempt fails).
    let mut jobs: BTreeMap<String, (String, bool)> = BTreeMap::new();
    for line in produced.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let ["job", id, marker, fail_first] = fields.as_slice() else {
            panic!("unexpected producer line {line:?}");
        };
        let earlier = jobs.insert(id.to_string(), (marker.to_string(), *fail_first == "1"));
        assert!(earlier.is_none(), "job id {id} given twice");
    }
    assert_eq!(jobs.len(), JOBS, "the producer's jobs");
    assert!(
        jobs.keys().any(|id| id.starts_with("custom-")),
        "some jobs were given ids of their own"
    );
    let retried_jobs: BTreeSet<&String> = jobs
        .iter()
        .filter(|(_, (_, fail_first))| *fail_first)
        .map(|(id, _)| id)
        .collect();
    assert!(
        !retried_jobs.is_empty(),
        "some jobs fail their first attempt"
    );

    // Every run the workers made: id -> [(marker, attempts made before it)].
    let mut runs_by_job: BTreeMap<String, Vec<(String, u32)>> = BTreeMap::new();
    let mut runs_by_worker: BTreeMap<String, usize> = BTreeMap::new();
    for line in runs_output.iter().flat_map(|output| output.lines()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let ["run", id, marker, worker, attempts_made] = fields.as_slice() else {
            panic!("unexpected worker line {line:?}");
        };
        assert!(WORKERS.contains(worker), "run {line:?} names no worker");
        let attempts_made = attempts_made.parse().unwrap_or_else(|_| panic!("{line:?}"));
        runs_by_job
            .entry(id.to_string())
            .or_default()
            .push((marker.to_string(), attempts_made));
        *runs_by_worker.entry(worker.to_string()).or_default() += 1;
    }
    assert_eq!(
        runs_by_job.keys().collect::<BTreeSet<_>>(),
        jobs.keys().collect::<BTreeSet<_>>(),
        "the jobs that ran"
    );
    for (id, (marker, fail_first)) in &jobs {
        let mut attempts = runs_by_job[id].clone();
        attempts.sort_by_key(|(_, attempts_made)| *attempts_made);
        let expected: Vec<(String, u32)> = if *fail_first {
            vec![(marker.clone(), 0), (marker.clone(), 1)]
        } else {
            vec![(marker.clone(), 0)]
        };
        assert_eq!(attempts, expected, "the runs of job {id}");
    }
    assert_eq!(
        runs_by_worker.len(),
        WORKERS.len(),
        "every worker ran jobs: {runs_by_worker:?}"
    );

    // What the event stream said: each completion once, with its return value (the
    // job's marker), and each retry.
    let mut completed: BTreeMap<String, String> = BTreeMap::new();
    let mut retried: BTreeSet<&String> = BTreeSet::new();
    for line in events.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["completed", id, value] => {
                let earlier = completed.insert(id.to_string(), value.to_string());
                assert!(earlier.is_none(), "job {id} completed twice");
            }
            ["retried", id] => {
                let job = jobs.get_key_value(*id).map(|(id, _)| id);
                let job = job.unwrap_or_else(|| panic!("unknown job {id} retried"));
                assert!(retried.insert(job), "job {id} retried twice");
            }
            _ => panic!("unexpected listener line {line:?}"),
        }
    }
    let expected: BTreeMap<String, String> = jobs
        .iter()
        .map(|(id, (marker, _))| (id.clone(), marker.clone()))
        .collect();
    assert_eq!(completed, expected, "completions in the event stream");
    assert_eq!(retried, retried_jobs, "retries in the event stream");

    assert_eq!(
        counts.trim(),
        format!(
            "counts waiting 0 active 0 delayed 0 prioritized 0 waiting-children 0 paused 0 \
             failed 0 completed {JOBS}"
        ),
        "BullMQ's own view of the queue at the end"
    );
    let mut connection = server.client();
    let completed_set: usize = run(
        &mut connection,
        &["ZCARD", &format!("{{bull}}:{QUEUE}:completed")],
    );
    assert_eq!(completed_set, JOBS, "the completed set");
}
