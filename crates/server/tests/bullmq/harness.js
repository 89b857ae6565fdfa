// The BullMQ side of crates/server/tests/bullmq.rs: a producer, workers, an event listener
// and a final count, using BullMQ (and its client, ioredis) against a server on
// 127.0.0.1:PORT. Every key is under the prefix `{bull}`, so each script's keys share one
// hash tag and so one shard.
//
//   node harness.js listen PORT QUEUE COUNT
//     Reads the queue's event stream from its start with QueueEvents (XREAD BLOCK) until
//     COUNT distinct jobs have completed, then prints one line per completion,
//     "completed ID RETURN_VALUE", and one per retry (a job that goes from active back to
//     waiting after a failed attempt), "retried ID".
//     Logs "listener ready" to stderr once connected.
//   node harness.js work PORT QUEUE NAME
//     Processes jobs (4 at a time) until its stdin closes, then closes the worker. Prints
//     "run ID MARKER NAME ATTEMPTS_MADE" for each run of a job; a job whose data says
//     failFirst throws on its first attempt. Logs "worker NAME ready" to stderr once ready.
//   node harness.js produce PORT QUEUE COUNT
//     Enqueues COUNT jobs with 2 attempts each (some with ids of our choosing, some with a
//     priority, some delayed, some one at a time, the rest with addBulk) and prints one
//     line per job, "job ID MARKER FAIL_FIRST" (FAIL_FIRST is 1 or 0).
//   node harness.js counts PORT QUEUE
//     Prints "counts STATE N ..." from getJobCounts.
'use strict';

const { Queue, QueueEvents, Worker } = require('bullmq');

const [mode, portText, queueName, ...rest] = process.argv.slice(2);
const connection = { host: '127.0.0.1', port: Number(portText), maxRetriesPerRequest: null };
const prefix = '{bull}';

function fail(error) {
  console.error(`harness ${mode}: ${(error && error.stack) || error}`);
  process.exit(1);
}

async function listen(count) {
  const events = new QueueEvents(queueName, { connection, prefix, lastEventId: '0' });
  const completed = new Map();
  const retried = [];
  events.on('error', fail);
  const done = new Promise((resolve) => {
    events.on('completed', ({ jobId, returnvalue }) => {
      completed.set(jobId, returnvalue);
      if (completed.size >= count) resolve();
    });
  });
  events.on('waiting', ({ jobId, prev }) => {
    if (prev === 'active') retried.push(jobId);
  });
  await events.waitUntilReady();
  console.error('listener ready');
  await done;
  await events.close();
  for (const [id, value] of completed) console.log(`completed ${id} ${value}`);
  for (const id of retried) console.log(`retried ${id}`);
  process.exit(0);
}

async function work(name) {
  const worker = new Worker(
    queueName,
    async (job) => {
      const { marker, failFirst } = job.data;
      console.log(`run ${job.id} ${marker} ${name} ${job.attemptsMade}`);
      // A little work, so that jobs overlap across workers.
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
      if (failFirst && job.attemptsMade === 0) throw new Error(`first attempt of ${job.id} fails`);
      return marker;
    },
    { connection, prefix, concurrency: 4 }
  );
  worker.on('error', fail);
  await worker.waitUntilReady();
  console.error(`worker ${name} ready`);

  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  await worker.close();
  process.exit(0);
}

async function produce(count) {
  const queue = new Queue(queueName, { connection, prefix });
  queue.on('error', fail);
  const jobs = [];
  const bulk = [];
  for (let n = 0; n < count; n++) {
    const marker = `m${n}-${Math.random().toString(36).slice(2, 10)}`;
    const failFirst = n % 10 === 3;
    const opts = { attempts: 2 };
    if (n < 5) opts.jobId = `custom-${n}`;
    if (n % 7 === 0) opts.priority = 1 + (n % 3);
    if (n % 11 === 0) opts.delay = 20;
    const data = { n, marker, failFirst };
    if (n < 20) {
      // One script call per job, waiting for each.
      const job = await queue.add('job', data, opts);
      jobs.push([job.id, marker, failFirst]);
    } else {
      bulk.push({ name: 'job', data, opts });
    }
  }
  // The rest in one pipelined batch.
  for (const job of await queue.addBulk(bulk)) {
    jobs.push([job.id, job.data.marker, job.data.failFirst]);
  }
  await queue.close();
  for (const [id, marker, failFirst] of jobs) console.log(`job ${id} ${marker} ${failFirst ? 1 : 0}`);
  process.exit(0);
}

async function counts() {
  const queue = new Queue(queueName, { connection, prefix });
  queue.on('error', fail);
  const states = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'paused', 'failed', 'completed'];
  const found = await queue.getJobCounts(...states);
  await queue.close();
  console.log(`counts ${states.map((state) => `${state} ${found[state]}`).join(' ')}`);
  process.exit(0);
}

if (mode === 'listen') {
  listen(Number(rest[0])).catch(fail);
} else if (mode === 'work') {
  work(rest[0]).catch(fail);
} else if (mode === 'produce') {
  produce(Number(rest[0])).catch(fail);
} else if (mode === 'counts') {
  counts().catch(fail);
} else {
  fail(`unknown mode ${mode}`);
}
