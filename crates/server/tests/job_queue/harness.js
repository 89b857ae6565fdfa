// The bee-queue side of crates/server/tests/job_queue.rs: a producer and workers that use
// bee-queue (and its own client, node `redis` 3) against a server on 127.0.0.1:PORT.
//
//   node harness.js produce PORT QUEUE COUNT REMOVE
//     Enqueues COUNT jobs (a few with ids of our choosing, some one at a time, the rest in
//     pipelined batches), waits until every one has succeeded, removes the first REMOVE
//     of them, and prints one line per job, "job ID MARKER FAIL_FIRST" (FAIL_FIRST is 1
//     or 0), one per removed job, "removed ID", and the final "health waiting W active A
//     succeeded S failed F delayed D".
//   node harness.js work PORT QUEUE NAME
//     Processes jobs (4 at a time) until its stdin closes, then closes the queue and
//     prints "worker NAME ran N". It logs "worker NAME ready" to stderr once its queue is
//     ready. Each run of a job appends
//     "ID MARKER NAME RETRIES_LEFT" to the list `QUEUE:runs`; a job whose data says
//     failFirst throws while it still has a retry left.
//
// bee-queue's pub/sub features stay off (getEvents, sendEvents, activateDelayedJobs):
// they need SUBSCRIBE and PUBLISH, which the server does not implement.
'use strict';

const Queue = require('bee-queue');
const redis = require('redis');

const [mode, portText, queueName, ...rest] = process.argv.slice(2);
const port = Number(portText);
const settings = {
  redis: { host: '127.0.0.1', port },
  getEvents: false,
  sendEvents: false,
  activateDelayedJobs: false,
  storeJobs: false,
  removeOnSuccess: false,
  removeOnFailure: false,
};

function fail(error) {
  console.error(`harness ${mode}: ${(error && error.stack) || error}`);
  process.exit(1);
}

function call(client, command, ...args) {
  return new Promise((resolve, reject) =>
    client.send_command(command, args, (error, reply) => (error ? reject(error) : resolve(reply)))
  );
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function produce(count, remove) {
  const queue = new Queue(queueName, { ...settings, isWorker: false });
  queue.on('error', fail);
  await queue.ready();
  const jobs = new Map();
  const pending = [];
  for (let n = 0; n < count; n++) {
    const marker = `m${n}-${Math.random().toString(36).slice(2, 10)}`;
    const failFirst = n % 10 === 3;
    const job = queue.createJob({ n, marker, failFirst }).retries(1);
    if (n < 5) job.setId(`custom-${n}`);
    if (n < 20) {
      // One script call per job, waiting for each.
      const saved = await job.save();
      jobs.set(saved.id, [marker, failFirst]);
    } else {
      pending.push([job, marker, failFirst]);
    }
  }
  // The rest in batches: many EVALSHA calls pipelined on one connection.
  for (let at = 0; at < pending.length; at += 50) {
    const batch = pending.slice(at, at + 50);
    const errors = await queue.saveAll(batch.map(([job]) => job));
    if (errors.size > 0) throw [...errors.values()][0];
    for (const [job, marker, failFirst] of batch) jobs.set(job.id, [marker, failFirst]);
  }
  if (jobs.size !== count) throw new Error(`saved ${jobs.size} distinct jobs, not ${count}`);

  const deadline = Date.now() + 20000;
  for (;;) {
    const health = await queue.checkHealth();
    if (health.succeeded >= count) break;
    if (Date.now() > deadline) throw new Error(`not done: ${JSON.stringify(health)}`);
    await sleep(20);
  }

  const removed = [...jobs.keys()].slice(0, remove);
  for (const id of removed) await queue.removeJob(id);
  const health = await queue.checkHealth();
  await queue.close();
  for (const [id, [marker, failFirst]] of jobs) console.log(`job ${id} ${marker} ${failFirst ? 1 : 0}`);
  for (const id of removed) console.log(`removed ${id}`);
  const { waiting, active, succeeded, failed, delayed } = health;
  console.log(`health waiting ${waiting} active ${active} succeeded ${succeeded} failed ${failed} delayed ${delayed}`);
}

async function work(name) {
  const queue = new Queue(queueName, { ...settings, isWorker: true });
  const results = redis.createClient({ host: '127.0.0.1', port });
  queue.on('error', fail);
  results.on('error', fail);
  let ran = 0;
  queue.process(4, async (job) => {
    ran += 1;
    const { marker, failFirst } = job.data;
    const retriesLeft = job.options.retries;
    await call(results, 'RPUSH', `${queueName}:runs`, `${job.id} ${marker} ${name} ${retriesLeft}`);
    // A little work, so that jobs overlap across workers.
    await sleep(Math.floor(Math.random() * 3));
    if (failFirst && retriesLeft > 0) throw new Error(`first attempt of ${job.id} fails`);
    return marker;
  });
  await queue.ready();
  console.error(`worker ${name} ready`);

  process.stdin.resume();
  await new Promise((resolve) => process.stdin.on('end', resolve));
  await queue.close(5000);
  await new Promise((resolve) => results.quit(resolve));
  console.log(`worker ${name} ran ${ran}`);
  process.exit(0);
}

if (mode === 'produce') {
  produce(Number(rest[0]), Number(rest[1])).catch(fail);
} else if (mode === 'work') {
  work(rest[0]).catch(fail);
} else {
  fail(`unknown mode ${mode}`);
}
