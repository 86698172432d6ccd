// Ksana status page. No framework: the DOM is built once per job, run and bar, then updated in place
// (keyed by id) on every refresh, so nothing flickers and open panels stay open. Text from the server
// only ever goes in through textContent or attributes, never through innerHTML.
'use strict';
(() => {
  const KEY_STORE = 'ksana.key';
  const REFRESH_MS = 5000;
  const JOB_PAGE_SIZE = 200;
  const JOB_PAGES_MAX = 5;          // at most 1000 jobs on the page
  const STRIP_CELLS = 20;
  const RUN_FETCHES_AT_ONCE = 4;
  const FAILED_SHOWN = 50;
  const PROBE_EVERY = 12;           // refreshes between re-asking for an endpoint that answered 404

  const $ = (id) => document.getElementById(id);
  const state = {
    key: sessionStorage.getItem(KEY_STORE),
    scope: null,
    jobs: new Map(),      // id → job document
    rows: new Map(),      // id → { el, parts… }
    runs: new Map(),      // id → { sig, runs }
    visible: new Set(),
    expanded: new Set(),
    missing: { stats: 0, failed: 0 }, // refreshes left before asking again; >0 means "answered 404"
    lastOk: 0,
    timer: 0,
    busy: false,
    editing: null,
  };

  // ---- small DOM helpers -------------------------------------------------------------------------

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children) if (c != null) el.append(c);
    return el;
  }
  const svg = (tag, attrs) => {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    return el;
  };
  function setText(el, text) { text = text == null ? '' : String(text); if (el.textContent !== text) el.textContent = text; }
  function setAttr(el, name, value) {
    if (value == null) { if (el.hasAttribute(name)) el.removeAttribute(name); }
    else if (el.getAttribute(name) !== String(value)) el.setAttribute(name, value);
  }
  function setClass(el, cls) { if (el.className !== cls) el.className = cls; }
  function show(el, on) { if (el.hidden === on) el.hidden = !on; }

  // ---- the API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body, message) {
      super(message || (body && (body.detail || body.title)) || (status ? `HTTP ${status}` : 'the server cannot be reached'));
      this.status = status; this.body = body;
    }
  }

  // The key goes only in a header; credentials: 'omit' keeps cookies out of every request.
  async function api(method, path, body, contentType) {
    const headers = { 'X-API-Key': state.key, Accept: 'application/json' };
    const init = { method, headers, credentials: 'omit', cache: 'no-store', redirect: 'error' };
    if (body !== undefined) { headers['Content-Type'] = contentType || 'application/json'; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, init); } catch { throw new ApiError(0, null); }
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: keep the status */ }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  // ---- time and words ----------------------------------------------------------------------------

  const pad = (n) => String(n).padStart(2, '0');
  const utc = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  const utcShort = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
  const formatters = new Map();
  function zoned(d, zone) {
    let f = formatters.get(zone);
    if (f === undefined) {
      try {
        f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
          hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
      } catch { f = null; }
      formatters.set(zone, f);
    }
    if (!f) return null;
    const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName} (${zone})`;
  }
  function relative(at, now) {
    const s = Math.round((at - now) / 1000), a = Math.abs(s);
    let t;
    if (a < 5) return s >= 0 ? 'now' : 'just now';
    if (a < 60) t = `${a} s`;
    else if (a < 3600) t = `${Math.floor(a / 60)} min`;
    else if (a < 86400) { const m = Math.floor(a / 60) % 60; t = `${Math.floor(a / 3600)} h${m ? ` ${m} min` : ''}`; }
    else if (a < 60 * 86400) { const d = Math.floor(a / 86400); t = `${d} day${d === 1 ? '' : 's'}`; }
    else if (a < 730 * 86400) t = `${Math.floor(a / (30.44 * 86400))} months`;
    else t = `${Math.floor(a / (365.25 * 86400))} years`;
    return s >= 0 ? `in ${t}` : `${t} ago`;
  }

  // Go duration ("1h30m0s", "1.5s", "500ms") → milliseconds, or NaN.
  function goMs(text) {
    const units = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
    const re = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/gy;
    if (!text || text === '0') return text === '0' ? 0 : NaN;
    let ms = 0, m, end = 0;
    while ((m = re.exec(text))) { ms += parseFloat(m[1]) * units[m[2]]; end = re.lastIndex; }
    return end === text.length ? ms : NaN;
  }
  const plural = (n, one, many) => n === 1 ? one : `${n} ${many}`;
  function everyWords(text) {
    const ms = goMs(text);
    if (!(ms > 0)) return `every ${text}`;
    const units = [[604800000, 'week', 'weeks'], [86400000, 'day', 'days'], [3600000, 'hour', 'hours'], [60000, 'minute', 'minutes'], [1000, 'second', 'seconds']];
    for (const [size, one, many] of units) if (ms % size === 0) return `every ${plural(ms / size, one, many)}`;
    if (ms >= 60000) { const s = Math.round(ms / 1000); return `every ${Math.floor(s / 60)} min ${s % 60} s`; }
    return `every ${ms >= 1000 ? `${+(ms / 1000).toFixed(3)} seconds` : `${+ms.toFixed(3)} ms`}`;
  }

  const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
  const DAY_NAMES = { SUN: 0, MON: 1, TUE: 2, WED: 3, THU: 4, FRI: 5, SAT: 6 };
  const MACROS = { '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *', '@weekly': '0 0 * * 0',
    '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *' };
  const num = (f, max) => /^\d+$/.test(f) && +f <= max ? +f : null;
  function dayNumber(f) { const u = f.toUpperCase(); if (u in DAY_NAMES) return DAY_NAMES[u]; const n = num(f, 7); return n == null ? null : n % 7; }
  function daysWords(f) {
    if (f === '*' || f === '?') return null;
    const range = f.split('-');
    if (range.length === 2) {
      const a = dayNumber(range[0]), b = dayNumber(range[1]);
      if (a != null && b != null) return a === 1 && b === 5 ? 'on weekdays' : `${DAYS[a].slice(0, 3)}–${DAYS[b].slice(0, 3)}`;
      return undefined;
    }
    const list = f.split(',').map(dayNumber);
    if (list.some((d) => d == null)) return undefined;
    if (list.length === 2 && list.includes(0) && list.includes(6)) return 'at weekends';
    return list.length === 1 ? `every ${DAYS[list[0]]}` : `on ${list.map((d) => DAYS[d].slice(0, 3)).join(', ')}`;
  }
  // Simple expressions in words; anything else falls back to the expression itself.
  function cronWords(expr) {
    const raw = (expr || '').trim();
    const fields = (MACROS[raw.toLowerCase()] || raw).split(/\s+/);
    if (fields.length === 6 && fields[0] === '0') fields.shift();
    if (fields.length !== 5) return null;
    const [mi, ho, dom, mo, dow] = fields;
    if (mo !== '*') return null;
    const step = /^\*\/(\d+)$/;
    if (ho === '*' && dom === '*' && (dow === '*' || dow === '?')) {
      if (mi === '*') return 'every minute';
      if (step.test(mi)) return `every ${plural(+mi.match(step)[1], 'minute', 'minutes')}`;
      if (num(mi, 59) != null) return `every hour at :${pad(+mi)}`;
      return null;
    }
    const m = num(mi, 59), hr = num(ho, 23);
    if (m == null) return null;
    if (hr == null) {
      const s = ho.match(step);
      return s && dom === '*' && (dow === '*' || dow === '?') ? `every ${plural(+s[1], 'hour', 'hours')} at :${pad(m)}` : null;
    }
    const time = `${pad(hr)}:${pad(m)}`;
    if ((dom === '*' || dom === '?') && (dow === '*' || dow === '?')) return `every day at ${time}`;
    if (dom === '*' || dom === '?') { const d = daysWords(dow); return d ? `${d} at ${time}` : null; }
    if (dow === '*' || dow === '?') {
      if (dom === 'L') return `on the last day of every month at ${time}`;
      const d = num(dom, 31);
      return d ? `on day ${d} of every month at ${time}` : null;
    }
    return null;
  }
  function scheduleWords(s) {
    if (!s) return '';
    if (s.kind === 'every') return everyWords(s.every);
    if (s.kind === 'once') return s.run_at ? `once at ${utcShort(new Date(s.run_at))}` : 'once';
    if (s.kind === 'cron') {
      const zone = s.time_zone || 'UTC';
      const words = cronWords(s.cron);
      return words ? `${words}, ${zone}` : `cron ${s.cron} (${zone})`;
    }
    return s.kind || '';
  }

  // ---- connection state, banner, toasts ---------------------------------------------------------

  function banner(text, kind) {
    const b = $('banner');
    setText(b, text || '');
    setClass(b, `banner ${kind || ''}`);
    show(b, !!text);
  }
  function toast(text, kind) {
    const t = h('div', { class: `toast ${kind || ''}`, text });
    $('toasts').append(t);
    setTimeout(() => t.remove(), 4000);
  }
  function failure(e) {
    if (e.status === 401) { forget('That key was not accepted (401). Enter it again.'); return; }
    if (e.status === 403) { setScope('read'); toast('This key may only read (403).', 'bad'); return; }
    if (e.status === 0) { banner('Cannot reach the Ksana server. Retrying…', 'bad'); live(false); return; }
    toast(e.message, 'bad');
  }
  function live(ok) {
    const el = $('live');
    show(el, !!state.key);
    setClass(el, ok ? 'live ok' : 'live down');
    if (ok) state.lastOk = Date.now();
  }

  // ---- the key -----------------------------------------------------------------------------------

  function forget(message) {
    state.key = null;
    state.scope = null;
    sessionStorage.removeItem(KEY_STORE);
    clearTimeout(state.timer);
    state.jobs.clear(); state.runs.clear(); state.expanded.clear();
    for (const r of state.rows.values()) r.el.remove();
    state.rows.clear();
    $('failed').replaceChildren();
    show($('app'), false); show($('forget'), false); show($('new-job'), false); show($('live'), false);
    show($('gate'), true);
    const err = $('key-error');
    setText(err, message || ''); show(err, !!message);
    banner(null);
    $('key-input').value = '';
    $('key-input').focus();
  }

  async function connect() {
    show($('gate'), false); show($('app'), true); show($('forget'), true);
    try {
      const session = await api('GET', '/ui/session');
      setScope(session && session.scope === 'read' ? 'read' : 'admin');
    } catch (e) {
      if (e.status === 404) setScope('admin'); // an older server: actions are offered, a 403 takes them away
      else { failure(e); if (e.status === 401) return; }
    }
    refresh();
  }

  function setScope(scope) {
    if (state.scope === scope) return;
    state.scope = scope;
    document.body.dataset.scope = scope;
    show($('new-job'), scope === 'admin');
    // Rows are rebuilt so that a read key gets no action buttons at all, not merely hidden ones.
    for (const r of state.rows.values()) r.el.remove();
    state.rows.clear();
    $('failed').replaceChildren();
    if (state.jobs.size) renderJobs([...state.jobs.values()]);
  }

  // ---- refresh -----------------------------------------------------------------------------------

  async function refresh() {
    clearTimeout(state.timer);
    if (!state.key) return;
    if (state.busy) { state.timer = setTimeout(refresh, 500); return; }
    state.busy = true;
    try {
      const jobs = await loadJobs();
      banner(null); live(true);
      renderJobs(jobs);
      await Promise.all([loadStats(), loadFailed(), loadRuns()]);
    } catch (e) {
      failure(e);
    } finally {
      state.busy = false;
      if (state.key && !document.hidden) state.timer = setTimeout(refresh, REFRESH_MS);
    }
  }

  async function loadJobs() {
    const all = [];
    let cursor = null, pages = 0, more = false;
    do {
      const q = `/jobs?limit=${JOB_PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await api('GET', q);
      all.push(...(page.jobs || []));
      cursor = page.next_cursor;
      pages++;
      more = !!cursor && pages >= JOB_PAGES_MAX;
    } while (cursor && pages < JOB_PAGES_MAX);
    const note = $('jobs-more');
    setText(note, more ? `Showing the first ${all.length} jobs.` : '');
    show(note, more);
    return all;
  }

  // An endpoint that answers 404 (an older server) hides its section and is asked again now and then.
  async function optional(name, path) {
    if (state.missing[name] > 0) { state.missing[name]--; return undefined; }
    try { return await api('GET', path); } catch (e) {
      if (e.status === 404 || e.status === 405) { state.missing[name] = PROBE_EVERY; return null; }
      throw e;
    }
  }

  // ---- jobs --------------------------------------------------------------------------------------

  const STATUS_MARK = { succeeded: '✓', failed: '✕', skipped: '–', missed: '○', running: '▸', retrying: '↻' };
  const badge = (status) => `${STATUS_MARK[status] || '•'} ${status}`;

  function renderJobs(list) {
    const seen = new Set();
    const container = $('jobs');
    const filter = $('filter').value.trim().toLowerCase();
    let prev = null, shown = 0;
    for (const job of list) {
      seen.add(job.id);
      state.jobs.set(job.id, job);
      let row = state.rows.get(job.id);
      if (!row) { row = buildRow(job.id); state.rows.set(job.id, row); }
      updateRow(row, job);
      const match = !filter || job.name.toLowerCase().includes(filter) || job.http.url.toLowerCase().includes(filter);
      show(row.el, match);
      if (match) shown++;
      // Move a row only when it is out of place, so nothing re-renders (or loses focus) needlessly.
      const want = prev ? prev.nextSibling : container.firstChild;
      if (want !== row.el) container.insertBefore(row.el, want);
      prev = row.el;
    }
    for (const [id, row] of state.rows) {
      if (seen.has(id)) continue;
      row.el.remove(); observer.unobserve(row.el);
      state.rows.delete(id); state.jobs.delete(id); state.runs.delete(id); state.expanded.delete(id);
    }
    show($('jobs-empty'), list.length === 0);
    setText($('jobs-count'), list.length ? (shown === list.length ? `${list.length}` : `${shown} of ${list.length}`) : '');
    renderSummary(list);
  }

  function renderSummary(list) {
    const counts = { scheduled: 0, paused: 0, completed: 0, missed: 0 };
    let failing = 0, running = 0;
    for (const j of list) {
      counts[j.state] = (counts[j.state] || 0) + 1;
      const s = j.last_run && j.last_run.status;
      if (s === 'failed') failing++;
      if (s === 'running' || s === 'retrying') running++;
    }
    const items = [['jobs', list.length, ''], ['scheduled', counts.scheduled, 'scheduled'], ['paused', counts.paused, 'paused'],
      ['running now', running, 'running'], ['last run failed', failing, failing ? 'failed' : ''], ['completed', counts.completed, 'completed']];
    const box = $('summary');
    if (box.children.length !== items.length) box.replaceChildren(...items.map(() => h('div', { class: 'stat' }, h('b'), h('span'))));
    items.forEach(([label, n, cls], i) => {
      const el = box.children[i];
      setClass(el, `stat ${cls}`);
      setText(el.firstChild, n); setText(el.lastChild, label);
    });
  }

  function buildRow(id) {
    const r = { id };
    const admin = state.scope === 'admin';
    r.name = h('button', { type: 'button', class: 'job-name', 'aria-expanded': 'false', onclick: () => toggle(id) });
    r.target = h('div', { class: 'target' });
    r.sched = h('div', { class: 'sched' });
    r.state = h('span');
    r.reason = h('div', { class: 'sub' });
    r.nextRel = h('div', { class: 'rel' });
    r.nextUtc = h('div', { class: 'sub utc' });
    r.nextZone = h('div', { class: 'sub' });
    r.last = h('span');
    r.lastRel = h('div', { class: 'sub' });
    r.strip = h('div', { class: 'strip', role: 'img' });
    r.detail = h('div', { class: 'detail', hidden: true });
    const col = (label, ...kids) => h('div', { class: `col col-${label.toLowerCase().replace(/ /g, '-')}` }, h('div', { class: 'cap', text: label }), ...kids);
    r.el = h('article', { class: 'job', 'data-id': id },
      h('div', { class: 'col col-main' }, r.name, r.target, r.sched),
      col('State', r.state, r.reason),
      col('Next run', r.nextRel, r.nextUtc, r.nextZone),
      col('Last run', r.last, r.lastRel),
      col('Recent runs', r.strip),
      admin ? buildActions(r) : null,
      r.detail);
    observer.observe(r.el);
    return r;
  }

  function buildActions(r) {
    const id = r.id;
    r.run = h('button', { type: 'button', class: 'act', 'data-act': 'run-now', text: 'Run now', onclick: () => act(id, 'run-now') });
    r.pause = h('button', { type: 'button', class: 'act', 'data-act': 'pause', onclick: () => act(id, r.pause.dataset.act) });
    r.edit = h('button', { type: 'button', class: 'act', 'data-act': 'edit', text: 'Edit', onclick: () => openForm(state.jobs.get(id)) });
    r.del = h('button', { type: 'button', class: 'act danger', 'data-act': 'delete', text: 'Delete', onclick: () => confirmDelete(r) });
    return h('div', { class: 'actions' }, r.run, r.pause, r.edit, r.del);
  }

  function updateRow(r, job) {
    const now = Date.now();
    setText(r.name, job.name);
    setAttr(r.name, 'title', `Show the runs of ${job.name}`);
    setText(r.target, `${job.http.method} ${job.http.url}`);
    setText(r.sched, scheduleWords(job.schedule));
    setClass(r.state, `badge state-${job.state}`);
    setText(r.state, job.state);
    setText(r.reason, job.paused_reason || '');
    const zone = (job.schedule && job.schedule.time_zone) || 'UTC';
    if (job.next_run_at) {
      const at = new Date(job.next_run_at);
      r.nextRel.dataset.at = job.next_run_at;
      setText(r.nextRel, relative(at, now));
      setText(r.nextUtc, utc(at));
      setText(r.nextZone, zone === 'UTC' ? '' : zoned(at, zone) || '');
      setAttr(r.nextRel, 'title', `Your time: ${at.toLocaleString()}`);
    } else {
      delete r.nextRel.dataset.at;
      setText(r.nextRel, '—'); setText(r.nextUtc, job.state === 'paused' ? 'paused' : 'no further run'); setText(r.nextZone, '');
    }
    const last = job.last_run;
    if (last) {
      setClass(r.last, `badge st-${last.status}`);
      setText(r.last, badge(last.status));
      const t = last.finished_at || last.scheduled_at;
      r.lastRel.dataset.at = t;
      setText(r.lastRel, relative(new Date(t), now));
      setAttr(r.last, 'title', last.error || `${last.trigger || ''} run ${last.run_id}`);
    } else {
      setClass(r.last, 'badge none'); setText(r.last, 'never run'); setText(r.lastRel, ''); delete r.lastRel.dataset.at;
      setAttr(r.last, 'title', null);
    }
    const cached = state.runs.get(job.id);
    renderStrip(r, cached ? cached.runs : (last ? [last] : []));
    if (r.pause) {
      const paused = job.state === 'paused' || job.enabled === false;
      r.pause.dataset.act = paused ? 'resume' : 'pause';
      setText(r.pause, paused ? 'Resume' : 'Pause');
    }
    if (state.expanded.has(job.id) && cached) renderDetail(r, cached.runs);
  }

  // Oldest on the left, newest on the right; cells differ by shape as well as colour.
  function renderStrip(r, runs) {
    const shown = runs.slice(0, STRIP_CELLS).reverse();
    while (r.strip.children.length < shown.length) r.strip.append(h('span'));
    while (r.strip.children.length > shown.length) r.strip.lastChild.remove();
    const counts = {};
    shown.forEach((run, i) => {
      const cell = r.strip.children[i];
      setClass(cell, `cell st-${run.status}`);
      setAttr(cell, 'title', `${run.status} · ${utc(new Date(run.scheduled_at))}${run.error ? ` · ${run.error}` : ''}`);
      counts[run.status] = (counts[run.status] || 0) + 1;
    });
    setAttr(r.strip, 'aria-label', shown.length
      ? `Last ${shown.length} runs: ${Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ')}`
      : 'No runs yet');
    if (!shown.length && !r.strip.dataset.empty) { r.strip.dataset.empty = '1'; }
    else if (shown.length) delete r.strip.dataset.empty;
  }

  // Runs are fetched only for jobs on screen (or opened), and only when their last run changed.
  const observer = new IntersectionObserver((entries) => {
    let added = false;
    for (const e of entries) {
      const id = e.target.dataset.id;
      if (e.isIntersecting) { if (!state.visible.has(id)) added = true; state.visible.add(id); } else state.visible.delete(id);
    }
    if (added) loadRuns().catch(failure);
  }, { rootMargin: '200px' });

  const runSig = (job) => job.last_run ? `${job.last_run.run_id}/${job.last_run.status}/${job.last_run.attempts ? job.last_run.attempts.length : 0}` : '-';

  async function loadRuns() {
    const wanted = [];
    for (const id of new Set([...state.visible, ...state.expanded])) {
      const job = state.jobs.get(id);
      if (!job) continue;
      const cached = state.runs.get(id);
      const busy = job.last_run && (job.last_run.status === 'running' || job.last_run.status === 'retrying');
      if (!cached || cached.sig !== runSig(job) || busy) wanted.push(job);
    }
    const work = wanted.slice();
    const worker = async () => {
      for (let job; (job = work.shift());) {
        try {
          const res = await api('GET', `/jobs/${encodeURIComponent(job.id)}/runs`);
          state.runs.set(job.id, { sig: runSig(state.jobs.get(job.id) || job), runs: res.runs || [] });
          const row = state.rows.get(job.id);
          if (row) { renderStrip(row, res.runs || []); if (state.expanded.has(job.id)) renderDetail(row, res.runs || []); }
        } catch (e) { if (e.status !== 404) throw e; }
      }
    };
    await Promise.all(Array.from({ length: Math.min(RUN_FETCHES_AT_ONCE, work.length) }, worker));
  }

  function toggle(id) {
    const r = state.rows.get(id);
    const open = !state.expanded.has(id);
    if (open) state.expanded.add(id); else state.expanded.delete(id);
    r.el.classList.toggle('open', open);
    setAttr(r.name, 'aria-expanded', String(open));
    show(r.detail, open);
    if (open) {
      const cached = state.runs.get(id);
      if (cached) renderDetail(r, cached.runs); else setText(r.detail, 'Loading runs…');
      state.runs.delete(id); // ask again now, whatever changed
      loadRuns().catch(failure);
    }
  }

  // ---- one job's runs ----------------------------------------------------------------------------

  function renderDetail(r, runs) {
    if (!r.detailList) {
      r.detailList = h('div', { class: 'runs' });
      r.detailEmpty = h('p', { class: 'hint', text: 'No runs yet.' });
      r.detailRows = new Map();
      r.detail.replaceChildren(r.detailEmpty, r.detailList);
    }
    show(r.detailEmpty, runs.length === 0);
    let prev = null;
    const seen = new Set();
    for (const run of runs) {
      seen.add(run.run_id);
      let row = r.detailRows.get(run.run_id);
      if (!row) { row = buildRun(); r.detailRows.set(run.run_id, row); }
      updateRun(row, run);
      const want = prev ? prev.nextSibling : r.detailList.firstChild;
      if (want !== row.el) r.detailList.insertBefore(row.el, want);
      prev = row.el;
    }
    for (const [id, row] of r.detailRows) if (!seen.has(id)) { row.el.remove(); r.detailRows.delete(id); }
  }

  function buildRun() {
    const x = {};
    x.status = h('span');
    x.when = h('span', { class: 'when' });
    x.meta = h('span', { class: 'meta' });
    x.error = h('span', { class: 'err' });
    x.attempts = h('div', { class: 'attempts' });
    x.el = h('details', { class: 'run' }, h('summary', null, x.status, x.when, x.meta, x.error), x.attempts);
    return x;
  }

  function updateRun(x, run) {
    setClass(x.status, `badge st-${run.status}`);
    setText(x.status, badge(run.status));
    setText(x.when, utc(new Date(run.scheduled_at)));
    const n = (run.attempts || []).length;
    setText(x.meta, `${run.trigger || ''} · ${n} attempt${n === 1 ? '' : 's'}${run.replays ? ` · replayed ${run.replays}×` : ''} · ${run.run_id}`);
    setText(x.error, run.error || '');
    const sig = `${run.status}/${n}/${run.finished_at}`;
    if (x.sig === sig) return;
    x.sig = sig;
    x.attempts.replaceChildren(...(run.attempts || []).map((a) => h('div', { class: 'attempt' },
      h('span', { class: 'num', text: `#${a.attempt}` }),
      h('span', { class: `code ${a.status_code >= 200 && a.status_code < 300 ? 'good' : a.status_code ? 'bad' : ''}`, text: a.status_code ? `HTTP ${a.status_code}` : 'no answer' }),
      h('span', { class: 'when', text: `${utc(new Date(a.started_at))} · ${a.duration_ms} ms` }),
      a.error ? h('span', { class: 'err', text: a.error }) : null,
      a.response ? h('pre', { class: 'response', text: a.response }) : null)));
    if (!n) x.attempts.append(h('p', { class: 'hint', text: run.status === 'skipped' || run.status === 'missed' ? 'Not attempted.' : 'No attempt yet.' }));
  }

  // ---- actions -----------------------------------------------------------------------------------

  async function act(id, action) {
    const job = state.jobs.get(id);
    const r = state.rows.get(id);
    const button = r && r.el.querySelector(`[data-act="${action}"]`);
    if (button) button.disabled = true;
    try {
      if (action === 'delete') {
        await api('DELETE', `/jobs/${encodeURIComponent(id)}`);
        toast(`Deleted ${job.name}`, 'good');
      } else {
        const res = await api('POST', `/jobs/${encodeURIComponent(id)}/${action}`);
        toast(action === 'run-now' ? `Started a run of ${job.name}` : `${action === 'pause' ? 'Paused' : 'Resumed'} ${job.name}`, 'good');
        if (res && res.id) state.jobs.set(id, res);
        state.runs.delete(id);
      }
    } catch (e) { failure(e); } finally { if (button) button.disabled = false; }
    refresh();
  }

  // Two clicks: the first arms the button for a few seconds, the second deletes.
  function confirmDelete(r) {
    if (r.del.dataset.armed) { clearTimeout(r.disarm); delete r.del.dataset.armed; setText(r.del, 'Delete'); act(r.id, 'delete'); return; }
    r.del.dataset.armed = '1';
    setText(r.del, 'Confirm delete');
    r.disarm = setTimeout(() => { delete r.del.dataset.armed; setText(r.del, 'Delete'); }, 4000);
  }

  // ---- failed runs across jobs ------------------------------------------------------------------

  const failedRows = new Map();
  async function loadFailed() {
    const res = await optional('failed', `/runs?status=failed&limit=${FAILED_SHOWN}`);
    if (res === undefined) return;
    show($('failed-card'), res !== null);
    if (!res) return;
    const runs = res.runs || [];
    show($('failed-empty'), runs.length === 0);
    const box = $('failed');
    const seen = new Set();
    let prev = null;
    for (const run of runs) {
      seen.add(run.run_id);
      let x = failedRows.get(run.run_id);
      if (!x || !box.contains(x.el)) {
        x = { job: h('span', { class: 'job-ref' }), when: h('span', { class: 'when' }), err: h('span', { class: 'err' }), meta: h('span', { class: 'meta' }) };
        const id = run.run_id;
        x.replay = state.scope === 'admin' ? h('button', { type: 'button', class: 'act', 'data-act': 'replay', text: 'Replay', onclick: () => replay(id, x.replay) }) : null;
        x.el = h('div', { class: 'failed-run', 'data-run': id }, h('span', { class: 'badge st-failed', text: badge('failed') }), x.job, x.when, x.meta, x.err, x.replay);
        failedRows.set(id, x);
      }
      const job = state.jobs.get(run.job_id);
      setText(x.job, job ? job.name : run.job_id);
      setText(x.when, `${utc(new Date(run.scheduled_at))}`);
      const last = (run.attempts || [])[run.attempts ? run.attempts.length - 1 : 0];
      setText(x.meta, `${(run.attempts || []).length} attempts${last && last.status_code ? ` · last HTTP ${last.status_code}` : ''}${run.replays ? ` · replayed ${run.replays}×` : ''}`);
      setText(x.err, run.error || '');
      const want = prev ? prev.nextSibling : box.firstChild;
      if (want !== x.el) box.insertBefore(x.el, want);
      prev = x.el;
    }
    for (const [id, x] of failedRows) if (!seen.has(id)) { x.el.remove(); failedRows.delete(id); }
  }

  async function replay(runId, button) {
    button.disabled = true;
    try {
      await api('POST', `/runs/${encodeURIComponent(runId)}/replay`);
      toast('Replay started', 'good');
    } catch (e) { failure(e); } finally { button.disabled = false; }
    refresh();
  }

  // ---- runs per minute -------------------------------------------------------------------------

  const OUTCOMES = ['succeeded', 'failed', 'skipped', 'missed'];
  const CHART = { w: 640, h: 150, top: 8, bottom: 2 };
  let bars = null;
  async function loadStats() {
    const res = await optional('stats', '/stats/runs-per-minute');
    if (res === undefined) return;
    show($('chart-card'), !!res);
    if (res) drawChart(res.minutes || []);
  }

  function drawChart(minutes) {
    const chart = $('chart');
    const n = Math.max(minutes.length, 1);
    if (!bars || bars.length !== n) {
      chart.replaceChildren();
      chart.append(svg('line', { x1: 0, x2: CHART.w, y1: CHART.h - CHART.bottom, y2: CHART.h - CHART.bottom, class: 'axis' }));
      chart.gridLine = svg('line', { x1: 0, x2: CHART.w, class: 'gridline' });
      chart.append(chart.gridLine);
      bars = Array.from({ length: n }, () => {
        const g = svg('g', { class: 'bar' });
        const title = svg('title');
        const rects = OUTCOMES.map((o) => svg('rect', { class: `seg st-${o}` }));
        g.append(title, ...rects);
        chart.append(g);
        return { g, title, rects };
      });
    }
    let max = 0;
    const totals = Object.fromEntries(OUTCOMES.map((o) => [o, 0]));
    for (const m of minutes) {
      max = Math.max(max, OUTCOMES.reduce((s, o) => s + (m[o] || 0), 0));
      for (const o of OUTCOMES) totals[o] += m[o] || 0;
    }
    const scale = niceCeil(max);
    const usable = CHART.h - CHART.top - CHART.bottom;
    const slot = CHART.w / n, width = Math.max(slot - 2, 1);
    minutes.forEach((m, i) => {
      const b = bars[i];
      let y = CHART.h - CHART.bottom;
      OUTCOMES.forEach((o, k) => {
        const hgt = scale ? (m[o] || 0) / scale * usable : 0;
        y -= hgt;
        const rect = b.rects[k];
        setAttr(rect, 'x', (i * slot + 1).toFixed(1)); setAttr(rect, 'width', width.toFixed(1));
        setAttr(rect, 'y', y.toFixed(1)); setAttr(rect, 'height', hgt.toFixed(1));
      });
      const at = new Date(m.at);
      setText(b.title, `${pad(at.getUTCHours())}:${pad(at.getUTCMinutes())} UTC: ${OUTCOMES.map((o) => `${m[o] || 0} ${o}`).join(', ')}`);
    });
    const gy = CHART.top;
    setAttr(chart.gridLine, 'y1', gy); setAttr(chart.gridLine, 'y2', gy);
    setText($('chart-scale'), scale ? `${scale} per min` : 'no runs in the last hour');
    const legend = $('legend');
    if (legend.children.length !== OUTCOMES.length)
      legend.replaceChildren(...OUTCOMES.map((o) => h('span', { class: 'key' }, h('i', { class: `swatch st-${o}` }), h('span'))));
    OUTCOMES.forEach((o, i) => setText(legend.children[i].lastChild, `${o} ${totals[o]}`));
  }
  function niceCeil(v) {
    if (v <= 0) return 0;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const f of [1, 2, 5, 10]) if (f * p >= v) return f * p;
    return 10 * p;
  }

  // ---- create and edit -------------------------------------------------------------------------

  const form = () => $('job-form');
  const field = (name) => form().elements.namedItem(name);

  function openForm(job) {
    state.editing = job || null;
    const f = form();
    f.reset();
    clearErrors();
    setText($('form-title'), job ? `Edit ${job.name}` : 'New job');
    setText($('form-submit'), job ? 'Save changes' : 'Create job');
    if (job) {
      field('name').value = job.name;
      field('method').value = job.http.method;
      field('url').value = job.http.url;
      field('headers').value = Object.entries(job.http.headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
      field('body').value = job.http.body || '';
      const s = job.schedule || {};
      for (const radio of f.querySelectorAll('input[name=kind]')) radio.checked = radio.value === s.kind;
      field('every').value = s.every || '';
      field('run_at').value = s.run_at ? s.run_at.replace(/Z$/, '').slice(0, 19) : '';
      field('cron').value = s.cron || '';
      field('time_zone').value = s.time_zone || '';
      field('timeout').value = job.timeout || '';
      field('max_retries').value = job.max_retries == null ? '' : job.max_retries;
      field('retry_backoff').value = job.retry_backoff || '';
    }
    showKind();
    $('job-dialog').showModal();
    field('name').focus();
  }

  function showKind() {
    const kind = form().querySelector('input[name=kind]:checked').value;
    for (const el of form().querySelectorAll('[data-kind]')) show(el, el.dataset.kind === kind);
  }

  function clearErrors() {
    for (const el of form().querySelectorAll('.field-error')) { setText(el, ''); show(el, false); }
    for (const el of form().querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  }

  // Each error goes beside the field its JSON path names ("http.headers.X-Y" beside headers); the
  // rest go at the top of the form.
  function showErrors(errors) {
    let first = null;
    for (const [path, messages] of Object.entries(errors)) {
      let target = null;
      for (let p = path; p && !target; p = p.includes('.') ? p.slice(0, p.lastIndexOf('.')) : '')
        target = form().querySelector(`.field-error[data-for="${CSS.escape(p)}"]`);
      if (!target) target = form().querySelector('.field-error[data-for="$"]');
      const text = (Array.isArray(messages) ? messages : [messages]).join(' ');
      const label = target.dataset.for === '$' || target.dataset.for !== path ? `${path}: ${text}` : text;
      setText(target, target.hidden || !target.textContent ? label : `${target.textContent} ${label}`);
      show(target, true);
      const input = target.parentElement.querySelector('input:not([type=radio]), select, textarea');
      if (input) { input.setAttribute('aria-invalid', 'true'); first = first || input; }
    }
    if (first) first.focus();
  }

  function parseHeaders(text) {
    const headers = {};
    const bad = [];
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      const at = line.indexOf(':');
      if (at <= 0) { bad.push(`line ${i + 1} has no "Name: value"`); return; }
      headers[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    });
    return { headers, bad };
  }

  function readForm() {
    const kind = form().querySelector('input[name=kind]:checked').value;
    const { headers, bad } = parseHeaders(field('headers').value);
    const schedule = { kind };
    if (kind === 'every') schedule.every = field('every').value.trim();
    if (kind === 'once') { const v = field('run_at').value; schedule.run_at = v ? `${v.length === 16 ? `${v}:00` : v}Z` : ''; }
    if (kind === 'cron') {
      schedule.cron = field('cron').value.trim();
      if (field('time_zone').value.trim()) schedule.time_zone = field('time_zone').value.trim();
    }
    const job = { name: field('name').value, http: { method: field('method').value, url: field('url').value.trim(), headers, body: field('body').value }, schedule };
    const optionalText = (name) => { const v = field(name).value.trim(); if (v) job[name] = v; };
    optionalText('timeout'); optionalText('retry_backoff');
    const retries = field('max_retries').value.trim();
    if (retries) job.max_retries = /^\d+$/.test(retries) ? Number(retries) : retries;
    return { job, bad };
  }

  // A merge patch (RFC 7396) of what changed: the schedule is sent only when it changed, because a
  // new schedule restarts the job's grid; removed headers become null; untouched secrets ("****") stay.
  function mergePatch(before, after) {
    const patch = {};
    const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
    if (after.name !== before.name) patch.name = after.name;
    const http = {};
    for (const k of ['method', 'url', 'body']) if ((after.http[k] || '') !== (before.http[k] || '')) http[k] = after.http[k];
    const oldHeaders = before.http.headers || {}, headers = {};
    for (const [k, v] of Object.entries(after.http.headers)) if (oldHeaders[k] !== v) headers[k] = v;
    for (const k of Object.keys(oldHeaders)) if (!(k in after.http.headers)) headers[k] = null;
    if (Object.keys(headers).length) http.headers = headers;
    if (Object.keys(http).length) patch.http = http;
    const s = before.schedule || {};
    const oldSchedule = { kind: s.kind };
    for (const k of ['every', 'run_at', 'cron']) if (s[k] != null && s.kind === ({ every: 'every', run_at: 'once', cron: 'cron' })[k]) oldSchedule[k] = s[k];
    if (s.kind === 'cron' && s.time_zone && s.time_zone !== 'UTC') oldSchedule.time_zone = s.time_zone;
    const norm = (x) => ({ ...x, every: x.every != null ? goMs(x.every) : undefined, run_at: x.run_at ? Date.parse(x.run_at) : undefined });
    if (!same(norm(oldSchedule), norm(after.schedule))) patch.schedule = after.schedule;
    for (const k of ['timeout', 'retry_backoff']) {
      if (after[k] === undefined) { if (before[k]) patch[k] = null; } else if (goMs(after[k]) !== goMs(before[k])) patch[k] = after[k];
    }
    if (after.max_retries === undefined) { if (before.max_retries != null) patch.max_retries = null; } else if (after.max_retries !== before.max_retries) patch.max_retries = after.max_retries;
    return patch;
  }

  async function submitForm(e) {
    e.preventDefault();
    clearErrors();
    const { job, bad } = readForm();
    if (bad.length) { showErrors({ 'http.headers': bad }); return; }
    const button = $('form-submit');
    button.disabled = true;
    try {
      const editing = state.editing;
      if (editing) {
        const patch = mergePatch(editing, job);
        if (Object.keys(patch).length) await api('PATCH', `/jobs/${encodeURIComponent(editing.id)}`, patch, 'application/merge-patch+json');
        toast(`Saved ${job.name}`, 'good');
      } else {
        await api('POST', '/jobs', job);
        toast(`Created ${job.name}`, 'good');
      }
      $('job-dialog').close();
      refresh();
    } catch (err) {
      if (err.status === 400 && err.body && err.body.errors) showErrors(err.body.errors);
      else if (err.status === 401 || err.status === 403) { $('job-dialog').close(); failure(err); }
      else showErrors({ $: [err.message] });
    } finally { button.disabled = false; }
  }

  // ---- start -------------------------------------------------------------------------------------

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll('[data-at]')) setText(el, relative(new Date(el.dataset.at), now));
    if (state.lastOk && state.key) {
      const age = Math.round((now - state.lastOk) / 1000);
      setText($('live-text'), age < 2 ? 'live' : `updated ${age} s ago`);
    }
  }

  function start() {
    $('key-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const key = $('key-input').value.trim();
      if (!key) return;
      state.key = key;
      sessionStorage.setItem(KEY_STORE, key);
      $('key-input').value = '';
      show($('key-error'), false);
      connect();
    });
    $('forget').addEventListener('click', () => forget());
    $('new-job').addEventListener('click', () => openForm(null));
    $('filter').addEventListener('input', () => renderJobs([...state.jobs.values()]));
    form().addEventListener('submit', submitForm);
    form().addEventListener('change', (e) => { if (e.target.name === 'kind') showKind(); });
    for (const b of document.querySelectorAll('[data-close]')) b.addEventListener('click', () => $('job-dialog').close());
    try {
      const zones = $('zones');
      for (const z of ['UTC', ...Intl.supportedValuesOf('timeZone')]) zones.append(h('option', { value: z }));
    } catch { /* an older browser: the field still takes any name */ }
    document.addEventListener('visibilitychange', () => { if (!document.hidden && state.key) refresh(); });
    setInterval(tick, 1000);
    if (state.key) connect(); else forget();
  }

  start();
})();
