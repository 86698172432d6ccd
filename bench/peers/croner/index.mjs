// croner peer for Ksana's comparison benchmarks (see README.md).
// One croner job per POST /jobs ("* * * * * *" for every 1 s); the sub-second phase of start_at is
// kept by a setTimeout inside the tick. Calls go through undici's fetch on one Agent with
// MAX_CONCURRENCY connections, behind a limiter of MAX_CONCURRENCY requests in flight.
// UNDICI_API=request uses undici.request instead of fetch (about 3x the calls per CPU second here).
import http from 'node:http';
import { Cron } from 'croner';
import { Agent, fetch, request } from 'undici';

const PORT = Number(process.env.PORT ?? 18103);
const MAX_CONCURRENCY = Number(process.env.MAX_CONCURRENCY ?? 64);
const TIMEOUT_MS = 10_000;

const USE_REQUEST = process.env.UNDICI_API === 'request';

// The 10 s per-request timeout is the Agent's (connect, headers and body timeouts): cheaper than an
// AbortSignal.timeout per call, and the same bound for a callee that answers with a short body.
const agent = new Agent({
  connections: MAX_CONCURRENCY,
  connectTimeout: TIMEOUT_MS,
  headersTimeout: TIMEOUT_MS,
  bodyTimeout: TIMEOUT_MS,
});

// At most MAX_CONCURRENCY requests in flight; the rest wait in FIFO order.
let inFlight = 0;
const waiting = [];
function call(url) {
  if (inFlight >= MAX_CONCURRENCY) { waiting.push(url); return; }
  inFlight++;
  get(url).finally(() => {
    inFlight--;
    if (waiting.length > 0) call(waiting.shift());
  });
}
async function get(url) {
  try {
    if (USE_REQUEST) {
      const res = await request(url, { dispatcher: agent });
      await res.body.dump();
    } else {
      const res = await fetch(url, { dispatcher: agent });
      await res.arrayBuffer(); // drain so the connection goes back to the pool
    }
  } catch {
    // no retries (max_retries 0): a failed or timed-out call is lost
  }
}

// A 6-field pattern (with seconds) for "every N s" on the grid of start_at: N dividing 60 → seconds
// field ("* * * * * *" for 1 s, "3-59/5 * * * * *" for 5 s), N = m minutes with m dividing 60, or
// h hours with h dividing 24 (e.g. 3600 s). Anything else → null (400).
function patternFor(everyS, startMs) {
  const t = Math.floor(startMs / 1000);
  const step = (v, n, max) => (n === 1 ? '*' : n === max + 1 ? `${v % n}` : `${v % n}-${max}/${n}`);
  if (60 % everyS === 0) return `${step(t, everyS, 59)} * * * * *`;
  const m = everyS / 60, h = everyS / 3600;
  if (Number.isInteger(m) && 60 % m === 0) return `${t % 60} ${step(Math.floor(t / 60), m, 59)} * * * *`;
  if (Number.isInteger(h) && 24 % h === 0) return `${t % 60} ${Math.floor(t / 60) % 60} ${step(Math.floor(t / 3600), h, 23)} * * *`;
  return null;
}

const jobs = new Map();
let nextId = 0;

function createJob(body) {
  const url = body?.http?.url;
  const sch = body?.schedule;
  const m = /^(\d+)s$/.exec(sch?.every ?? '');
  if (body?.type !== 'http' || typeof url !== 'string' || sch?.kind !== 'every' || !m) return null;
  const everyS = Number(m[1]);
  const startMs = sch.start_at ? Date.parse(sch.start_at) : Date.now() + everyS * 1000;
  const pattern = everyS >= 1 && !Number.isNaN(startMs) ? patternFor(everyS, startMs) : null;
  if (!pattern) return null;

  const phaseMs = ((startMs % 1000) + 1000) % 1000; // croner fires on whole seconds
  const fire = () => call(url);
  const tick = phaseMs === 0
    ? fire
    : () => setTimeout(fire, Math.max(0, phaseMs - (Date.now() % 1000)));
  const id = String(++nextId);
  // startAt is the whole second of the first slot (croner rounds a fractional startAt up).
  // utcOffset 0: the grid is UTC; it is also croner's cheapest date path (a named timezone costs ~10x).
  jobs.set(id, new Cron(pattern, { startAt: new Date(startMs - phaseMs), utcOffset: 0 }, tick));
  return id;
}

function send(res, status, obj) {
  const s = JSON.stringify(obj);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s) });
  res.end(s);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') return send(res, 200, { status: 'ok' });
  // spread=true: the phase is kept by the setTimeout above, not by croner itself.
  if (req.method === 'GET' && req.url === '/capabilities') return send(res, 200, { spread: true });
  if (req.method === 'POST' && req.url === '/jobs') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      let body;
      try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return send(res, 400, { error: 'bad json' }); }
      const id = createJob(body);
      return id ? send(res, 201, { id }) : send(res, 400, { error: 'unsupported job' });
    });
    return;
  }
  send(res, 404, { error: 'not found' });
});
server.keepAliveTimeout = 60_000;
server.listen(PORT, '127.0.0.1');

const stop = () => { for (const j of jobs.values()) j.stop(); server.close(); agent.close(); process.exit(0); };
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
