// BullMQ peer for Ksana's comparison benchmarks (see README.md).
// One job scheduler per POST /jobs (Queue.upsertJobScheduler, `every` in ms, `startDate` on the
// job's grid); a Worker with concurrency MAX_CONCURRENCY runs each produced job: one GET of its URL
// through undici. Redis runs with appendonly yes and appendfsync always (bench/run.sh), so a reply
// (the 201 here) comes after the AOF is fsync'd.
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import crypto from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { Agent, request } from 'undici';

const PORT = Number(process.env.PORT ?? 18105);
const MAX_CONCURRENCY = Number(process.env.MAX_CONCURRENCY ?? 64);
const REDIS_PORT = Number(process.env.BENCH_REDIS_PORT ?? 6379);
const DATA_DIR = process.env.DATA_DIR ?? path.resolve('data');
const TIMEOUT_MS = 10_000;
const QUEUE = 'hooks';

// The key prefix of this instance, kept in DATA_DIR so that a restart finds its schedulers. A fresh
// instance empties Redis first: earlier instances' keys would only cost the server memory and AOF
// work, and the suite runs one system at a time.
fs.mkdirSync(DATA_DIR, { recursive: true });
const marker = path.join(DATA_DIR, 'redis-prefix');
const connection = { host: '127.0.0.1', port: REDIS_PORT, maxRetriesPerRequest: null };
let prefix;
if (fs.existsSync(marker)) prefix = fs.readFileSync(marker, 'utf8').trim();
else {
  prefix = 'bq' + crypto.randomBytes(6).toString('hex');
  const admin = new IORedis(connection);
  await admin.flushall();
  const cfg = await admin.config('GET', 'appendfsync');
  await admin.quit();
  if (cfg[1] !== 'always') throw new Error(`redis appendfsync is ${cfg[1]}, not always`);
  fs.writeFileSync(marker, prefix);
}

const agent = new Agent({
  connections: MAX_CONCURRENCY,
  connectTimeout: TIMEOUT_MS,
  headersTimeout: TIMEOUT_MS,
  bodyTimeout: TIMEOUT_MS,
});

const queue = new Queue(QUEUE, { connection, prefix });
// At most MAX_CONCURRENCY jobs run at once, each holding its slot for its call.
const worker = new Worker(QUEUE, async (job) => {
  try {
    const res = await request(job.data.url, { dispatcher: agent });
    await res.body.dump();
  } catch {
    // no retries (attempts 1): a failed or timed-out call is lost
  }
}, { connection, prefix, concurrency: MAX_CONCURRENCY });
worker.on('error', () => {});
await queue.waitUntilReady();
await worker.waitUntilReady();

// First slot start_at + k·every that is not in the past (start_at absent: now + every, as Ksana).
function firstSlot(startMs, everyMs, now) {
  if (Number.isNaN(startMs)) return now + everyMs;
  if (startMs >= now) return startMs;
  return startMs + Math.ceil((now - startMs) / everyMs) * everyMs;
}

const idPrefix = crypto.randomBytes(4).toString('hex');
let nextId = 0;

async function createJob(body) {
  const url = body?.http?.url;
  const sch = body?.schedule;
  const m = /^(\d+)s$/.exec(sch?.every ?? '');
  if (body?.type !== 'http' || typeof url !== 'string' || sch?.kind !== 'every' || !m || Number(m[1]) < 1) return null;
  const everyMs = Number(m[1]) * 1000;
  const now = Date.now();
  const start = firstSlot(sch.start_at ? Date.parse(sch.start_at) : NaN, everyMs, now);
  const id = `${idPrefix}-${++nextId}`;
  // startDate fixes the first run and, with it, the phase (BullMQ keeps startDate mod every as
  // the scheduler's offset); later runs are prevMillis + every.
  await queue.upsertJobScheduler(id, { every: everyMs, startDate: start },
    { name: 'hook', data: { url }, opts: { attempts: 1, removeOnComplete: true, removeOnFail: true } });
  return id;
}

function send(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

const server = http.createServer((req, res) => {
  const url = req.url.split('?')[0]; // GET /jobs?limit=… is answered in one page
  if (req.method === 'GET' && url === '/health') return send(res, 200, { status: 'ok' });
  if (req.method === 'GET' && url === '/capabilities') return send(res, 200, { spread: true });
  if (req.method === 'POST' && url === '/jobs') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      let body;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return send(res, 400, { error: 'bad json' }); }
      try {
        const id = await createJob(body);
        return id ? send(res, 201, { id }) : send(res, 400, { error: 'unsupported job' });
      } catch (e) { return send(res, 503, { error: String(e?.message ?? e) }); }
    });
    return;
  }
  // For the kill -9 check: every scheduler (one page), and one by id.
  if (req.method === 'GET' && url === '/jobs') {
    queue.getJobSchedulers(0, -1).then(
      (list) => send(res, 200, { jobs: list.map((s) => ({ id: s.id ?? s.key })), next_cursor: null }),
      (e) => send(res, 503, { error: String(e) }));
    return;
  }
  const one = req.method === 'GET' && /^\/jobs\/([^/]+)$/.exec(url);
  if (one) {
    queue.getJobScheduler(decodeURIComponent(one[1])).then(
      (s) => (s ? send(res, 200, { id: one[1] }) : send(res, 404, { error: 'not found' })),
      (e) => send(res, 503, { error: String(e) }));
    return;
  }
  send(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 60_000;
server.listen(PORT, '127.0.0.1');

const stop = async () => {
  server.close();
  try { await worker.close(true); await queue.close(); } catch { /* exiting anyway */ }
  agent.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
