// Alert Publisher web console: one page, four views (#/overview, #/targets, #/alerts,
// #/dlq), plain DOM and SVG, no dependencies. Every call goes to this origin's JSON API; the
// API key (when the service needs one) is kept for this tab only (sessionStorage) and sent as
// `Authorization: Bearer`.
'use strict';

const API = '/api/v2/publishing';
const KEY_SLOT = 'alert-publisher.key';
const ROLES = ['viewer', 'operator', 'admin'];
const SVG_NS = 'http://www.w3.org/2000/svg';

const state = {
  key: sessionStorage.getItem(KEY_SLOT),
  session: null,
  timer: null,
  page: null,
  generation: 0,
  range: '1h',
  results: {},
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------
// DOM helpers: text is always set as text, never parsed as HTML.

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of [children].flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
}

function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

function badge(status) {
  const s = status === null || status === undefined ? 'unknown' : String(status);
  return h('span', { class: 'badge s-' + s.replace(/[^a-z_]/g, '') }, s.replace('_', ' '));
}

function when(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

function num(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  return Number(x).toFixed(digits === undefined ? 0 : digits);
}

function pct(x) {
  return x === null || x === undefined ? '–' : num(x, 1) + ' %';
}

function kv(pairs) {
  const dl = h('dl', { class: 'kv' });
  for (const [k, v] of pairs) append(dl, [h('dt', null, k), h('dd', null, v)]);
  return dl;
}

function toast(text) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

function can(role) {
  const mine = state.session ? state.session.role : 'viewer';
  return ROLES.indexOf(mine) >= ROLES.indexOf(role);
}

// ---------------------------------------------------------------------------------------
// The API.

async function api(method, path, body, allow) {
  const headers = { Accept: 'application/json' };
  if (state.key) headers.Authorization = 'Bearer ' + state.key;
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path.startsWith('/') ? path : API + '/' + path, init);
  } catch (e) {
    throw new ApiError(0, 'network', 'cannot reach the service (' + e.message + ')');
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = text;
  }
  if (resp.status === 401) {
    askForKey(state.key ? 'The key was refused; enter a valid API key.' : '');
    throw new ApiError(401, 'unauthorized', 'an API key is needed');
  }
  if (!resp.ok && !(allow || []).includes(resp.status)) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(resp.status, err.code || 'http_' + resp.status,
      err.message || resp.status + ' ' + resp.statusText);
  }
  return data;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (Array.isArray(v)) v.forEach((x) => { if (x) q.append(k, x); });
    else if (v !== '' && v !== null && v !== undefined) q.append(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// Runs an async action; shows its failure where asked (or as a toast). A 401 is handled by the
// key form.
function guarded(fn, where) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      // Not an answer of the API: a fault of this page, reported as one.
      if (!(e instanceof ApiError)) console.error(e);
      const text = e instanceof ApiError ? e.message + ' (' + e.status + ')' : String(e);
      if (where) replace(where, h('p', { class: 'error', role: 'alert' }, text));
      else toast(text);
    }
  };
}

// ---------------------------------------------------------------------------------------
// Session and the key form.

function askForKey(message) {
  stopPolling();
  const box = document.getElementById('login');
  document.getElementById('login-error').textContent = message || '';
  if (box.hidden) {
    box.hidden = false;
    document.getElementById('login-key').focus();
  }
}

async function loadSession() {
  state.session = await api('GET', 'session');
  const who = document.getElementById('who');
  const s = state.session;
  replace(who,
    s.keys_enabled ? h('span', null, 'key ', h('strong', null, s.key), ' · ', s.role)
      : h('span', null, 'open API (no keys) · ' + s.role),
    s.keys_enabled ? h('button', { class: 'secondary', type: 'button', onclick: signOut }, 'Sign out') : null);
}

function signOut() {
  state.key = null;
  state.session = null;
  sessionStorage.removeItem(KEY_SLOT);
  replace(document.getElementById('who'));
  replace(document.getElementById('view'));
  askForKey('');
}

async function start() {
  document.getElementById('login-form').addEventListener('submit', guarded(async (ev) => {
    ev.preventDefault();
    const input = document.getElementById('login-key');
    state.key = input.value.trim();
    input.value = '';
    try {
      await loadSession();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        state.key = null;
        throw e;
      }
      throw e;
    }
    sessionStorage.setItem(KEY_SLOT, state.key);
    document.getElementById('login').hidden = true;
    route();
  }, document.getElementById('login-error')));
  window.addEventListener('hashchange', route);
  try {
    await loadSession();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return;
    replace(document.getElementById('view'), h('p', { class: 'error', role: 'alert' }, e.message));
    return;
  }
  route();
}

// ---------------------------------------------------------------------------------------
// Routing and polling.

const PAGES = {};

function stopPolling() {
  clearTimeout(state.timer);
  state.timer = null;
  state.generation += 1;
}

// Calls `fn` now and every `ms` while this page stays open.
function poll(fn, ms) {
  const gen = state.generation;
  const tick = async () => {
    if (gen !== state.generation) return;
    await fn();
    if (gen === state.generation) state.timer = setTimeout(tick, ms);
  };
  tick();
}

function route() {
  if (!state.session) return;
  stopPolling();
  const hash = location.hash.replace(/^#\/?/, '');
  const [name, ...rest] = hash.split('/');
  const page = PAGES[name] ? name : 'overview';
  if (!PAGES[name]) {
    history.replaceState(null, '', '#/overview');
  }
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  state.page = page;
  const view = document.getElementById('view');
  view.replaceChildren();
  view.dataset.page = page;
  PAGES[page](view, rest.map(decodeURIComponent).join('/'));
}

// ---------------------------------------------------------------------------------------
// Charts: a line over time in SVG, drawn from the points given.

function lineChart(title, points, unit, opts) {
  const o = opts || {};
  // One series (an array of points) or several, by name ({p50: [...], p95: [...]}).
  const series = Array.isArray(points) ? [{ name: null, points }]
    : Object.entries(points).map(([name, pts]) => ({ name, points: pts }));
  const finite = (p) => p.v !== null && p.v !== undefined && Number.isFinite(p.v);
  const W = 600;
  const H = 140;
  const pad = 4;
  const drawn = series.flatMap((s) => s.points.filter(finite));
  const lastOf = (s) => { const d = s.points.filter(finite); return d.length ? d[d.length - 1].v : null; };
  const figure = h('figure', { class: 'card chart', 'data-chart': o.id || title, 'data-points': drawn.length });
  const label = h('figcaption', null, h('h2', null, title));
  const box = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img' });
  const values = drawn.map((p) => p.v);
  const last = lastOf(series[series.length - 1]);
  box.setAttribute('aria-label', `${title}: ${drawn.length} points, latest ${series.map((s) => (s.name ? s.name + ' ' : '') + (lastOf(s) === null ? 'none' : num(lastOf(s), 1) + ' ' + unit)).join(', ')}`);
  box.append(svg('line', { class: 'axis', x1: 0, y1: H - pad, x2: W, y2: H - pad }));
  const times = drawn.map((p) => p.t);
  if (drawn.length) {
    const t0 = Math.min(...times);
    const t1 = Math.max(o.to || 0, ...times);
    const lo = o.min !== undefined ? Math.min(o.min, ...values) : Math.min(...values);
    let hi = o.max !== undefined ? Math.max(o.max, ...values) : Math.max(...values);
    if (hi === lo) hi = lo + 1;
    const x = (t) => (t1 === t0 ? W : ((t - t0) / (t1 - t0)) * W);
    const y = (v) => H - pad - ((v - lo) / (hi - lo)) * (H - 2 * pad);
    series.forEach((s, i) => {
      let d = '';
      let prev = null;
      let n = 0;
      for (const p of s.points) {
        if (!finite(p)) {
          prev = null;
          continue;
        }
        d += (prev === null ? 'M' : 'L') + x(p.t).toFixed(1) + ',' + y(p.v).toFixed(1) + ' ';
        prev = p;
        n += 1;
      }
      if (n === 1) d += 'l-4,0 l8,0';
      if (n) box.append(svg('path', { class: 'line line-' + i, d: d.trim(), 'data-series': s.name || '' }));
    });
  }
  const span = drawn.length ? h('div', { class: 'legend' },
    h('span', null, new Date(Math.min(...times)).toLocaleTimeString()),
    h('span', null, new Date(Math.max(o.to || 0, ...times)).toLocaleTimeString())) : null;
  const latest = series.length > 1
    ? series.map((s, i) => h('span', { class: 'key key-' + i }, s.name + ' ' + (lastOf(s) === null ? '–' : num(lastOf(s), 1) + ' ' + unit)))
    : [h('span', null, 'latest ' + (last === null ? '–' : num(last, 1) + ' ' + unit))];
  append(figure, [label, box, span, h('div', { class: 'legend' },
    h('span', null, drawn.length ? 'min ' + num(Math.min(...values), 1) + ' · max ' + num(Math.max(...values), 1) + ' ' + unit : 'no data yet'),
    ...latest)]);
  return figure;
}

// ---------------------------------------------------------------------------------------
// Overview.

PAGES.overview = (view) => {
  const rangeSelect = h('select', { id: 'range', 'aria-label': 'Time range of the charts' },
    h('option', { value: '1h', selected: state.range === '1h' }, 'Last hour'),
    h('option', { value: '24h', selected: state.range === '24h' }, 'Last day'));
  const health = h('section', { class: 'card', id: 'health', 'aria-label': 'System health' }, 'Loading…');
  const queue = h('section', { class: 'card', id: 'queue', 'aria-label': 'Queue' }, 'Loading…');
  const latency = h('section', { class: 'card', id: 'latency', 'aria-label': 'Latency' }, 'Loading…');
  const charts = h('div', { class: 'grid', id: 'charts' });
  const problem = h('div', { id: 'overview-error' });
  append(view, [
    h('h1', null, 'Overview'),
    problem,
    h('div', { class: 'grid' }, health, queue, latency),
    h('div', { class: 'toolbar' }, h('h2', null, 'Trends'), h('label', null, 'Range', rangeSelect)),
    charts,
  ]);
  const refresh = guarded(async () => {
    const [hb, qs, st, tr] = await Promise.all([
      api('GET', 'health', undefined, [503]),
      api('GET', 'queue/stats'),
      api('GET', 'stats'),
      api('GET', 'trends' + query({ history: state.range })),
    ]);
    if (hb && hb.error) throw new ApiError(503, hb.error.code, hb.error.message);
    replace(problem);
    replace(health, h('h2', null, 'Health'),
      h('p', null, badge(hb.status), ' ', h('span', { class: 'big' }, num(hb.score, 0)), h('span', { class: 'muted' }, ' / 100')),
      h('p', { class: 'muted' }, hb.message),
      h('ul', null, (hb.checks || []).map((c) => h('li', null, c.target, ' ', badge(c.status),
        c.success_rate === null ? '' : ' ' + pct(c.success_rate)))));
    const by = qs.pending_by_priority || {};
    const maxq = Math.max(1, ...['high', 'medium', 'low'].map((p) => by[p] || 0));
    replace(queue, h('h2', null, 'Queue'),
      h('table', { class: 'bars' }, h('tbody', null, ['high', 'medium', 'low'].map((p) => {
        const bar = h('div', { class: 'bar' });
        bar.style.width = ((by[p] || 0) / maxq) * 100 + '%';
        bar.style.height = '.6rem';
        bar.style.background = 'var(--accent)';
        bar.style.minWidth = '1px';
        return h('tr', null, h('th', { scope: 'row' }, p), h('td', { class: 'mono', 'data-priority': p }, by[p] || 0), h('td', { class: 'wrap' }, bar));
      }))),
      kv([['in flight', qs.in_flight], ['delivered', qs.done], ['dead letters', qs.dead],
        ['workers', (qs.workers ? qs.workers.active + ' / ' + qs.workers.concurrency : '–')]]));
    const lat = st.system && st.system.latency ? st.system.latency : {};
    const jobs = st.system && st.system.jobs ? st.system.jobs : {};
    replace(latency, h('h2', null, 'Deliveries since start'),
      kv([['attempts', jobs.processed], ['success rate', pct(jobs.success_rate)],
        ['latency p50', num(lat.p50_ms, 0) + ' ms'], ['latency p95', num(lat.p95_ms, 0) + ' ms'],
        ['latency p99', num(lat.p99_ms, 0) + ' ms']]));
    const pts = tr.history || [];
    const step = tr.interval_seconds || 10;
    const to = Date.now();
    const series = (f) => pts.map((p) => ({ t: Date.parse(p.at), v: f(p) }));
    replace(charts,
      lineChart('Delivery rate', series((p) => (p.delivered || 0) * 60 / step), 'per min', { id: 'delivery-rate', min: 0, to }),
      lineChart('Error rate', series((p) => 100 - p.success_rate), '%', { id: 'error-rate', min: 0, max: 100, to }),
      lineChart('Failed attempts', series((p) => p.errors), 'per sample', { id: 'errors', min: 0, to }),
      lineChart('Latency percentiles', {
        p50: series((p) => p.p50_ms), p95: series((p) => p.p95_ms), p99: series((p) => p.p99_ms),
      }, 'ms', { id: 'latency', min: 0, to }),
      lineChart('Mean latency', series((p) => p.latency_ms), 'ms', { id: 'mean-latency', min: 0, to }),
      lineChart('Queue size', series((p) => p.queue_size), 'jobs', { id: 'queue-size', min: 0, to }));
  }, problem);
  rangeSelect.addEventListener('change', () => {
    state.range = rangeSelect.value;
    refresh();
  });
  poll(refresh, 5000);
};

// ---------------------------------------------------------------------------------------
// Targets.

function track(name, t) {
  if (!t || !t.total) return h('div', null, h('strong', null, name + ': '), h('span', { class: 'muted' }, 'none yet'));
  return h('div', null, h('strong', null, name + ': '),
    badge(t.last_ok ? 'delivered' : 'failed'), ' ', when(t.last_at),
    t.last_latency_ms === null || t.last_latency_ms === undefined ? '' : ' · ' + t.last_latency_ms + ' ms',
    ' · ' + t.total + ' seen',
    t.consecutive_failures ? ' · ' + t.consecutive_failures + ' failing in a row' : '',
    t.last_error ? h('div', { class: 'error' }, t.last_error) : '');
}

function rateLimit(target) {
  const rl = target.options && target.options.rate_limit;
  if (!rl) return target.type === 'webhook' ? 'none' : 'vendor default';
  return typeof rl === 'object' ? Object.entries(rl).map(([k, v]) => k + ' ' + v).join(', ') : String(rl);
}

PAGES.targets = (view) => {
  const list = h('div', { class: 'grid', id: 'target-list' }, 'Loading…');
  const problem = h('div');
  append(view, [h('h1', null, 'Targets'), problem, list]);
  const refresh = guarded(async () => {
    const [tl, hl] = await Promise.all([api('GET', 'targets?limit=1000'), api('GET', 'targets/health')]);
    replace(problem);
    const health = new Map((hl.targets || []).map((t) => [t.target, t]));
    if (!tl.targets.length) {
      replace(list, h('p', { class: 'muted' }, 'No targets are defined.'));
      return;
    }
    replace(list, tl.targets.map((t) => targetCard(t, health.get(t.name) || {})));
    if (tl.invalid && tl.invalid.length) {
      append(list, h('section', { class: 'card' }, h('h2', null, 'Invalid definitions'),
        h('ul', null, tl.invalid.map((i) => h('li', null, JSON.stringify(i))))));
    }
  }, problem);
  poll(refresh, 5000);
};

function targetCard(t, hh) {
  const result = h('div', { class: 'result', 'aria-live': 'polite', 'data-result': t.name });
  if (state.results[t.name]) append(result, state.results[t.name]);
  const show = (node) => {
    state.results[t.name] = node;
    replace(result, node);
  };
  const check = guarded(async () => {
    show(h('span', { class: 'muted' }, 'checking…'));
    const r = await api('POST', 'targets/' + encodeURIComponent(t.name) + '/check');
    const p = r.probe || {};
    show(h('span', null, 'Check: ', badge(p.last_ok ? 'healthy' : 'unhealthy'), ' ',
      p.last_latency_ms === null || p.last_latency_ms === undefined ? '' : p.last_latency_ms + ' ms',
      p.last_error ? h('span', { class: 'error' }, ' ' + p.last_error) : ''));
  }, result);
  const test = guarded(async () => {
    show(h('span', { class: 'muted' }, 'sending a test alert…'));
    const r = await api('POST', 'targets/' + encodeURIComponent(t.name) + '/test', {});
    show(h('span', null, 'Test send: ', badge(r.success ? 'delivered' : 'failed'),
      ' ' + (r.status_code === null || r.status_code === undefined ? '' : 'HTTP ' + r.status_code + ' · ') + r.latency_ms + ' ms',
      r.error ? h('span', { class: 'error' }, ' ' + r.error.kind + ': ' + r.error.reason) : ''));
  }, result);
  const actions = can('operator') ? h('div', { class: 'actions' },
    h('button', { type: 'button', onclick: check, 'aria-label': 'Check ' + t.name }, 'Check'),
    h('button', { type: 'button', class: 'secondary', onclick: test, 'aria-label': 'Test send to ' + t.name }, 'Test send')) : null;
  return h('section', { class: 'card target', 'data-target': t.name, 'aria-label': 'Target ' + t.name },
    h('h2', null, t.name, ' ', badge(hh.status || t.health)),
    kv([
      ['type', t.type + (t.enabled ? '' : ' (disabled)')],
      ['url', h('span', { class: 'mono' }, t.url || '–')],
      ['success rate', hh.success_rate === null || hh.success_rate === undefined ? '–' : pct(hh.success_rate * 100)],
      ['circuit', badge(t.circuit_breaker)],
      ['rate limit', rateLimit(t)],
    ]),
    h('div', { class: 'tracks' }, track('Deliveries', hh.delivery), track('Probes', hh.probe)),
    hh.last_error ? h('p', { class: 'error' }, 'Last error: ' + hh.last_error) : null,
    actions, result);
}

// ---------------------------------------------------------------------------------------
// Alerts: search and one alert's timeline (the alert history API).

const alertForm = { alertname: '', label: '', target: '', state: '', since: '', until: '' };

function isoFromLocal(v) {
  if (!v) return '';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

PAGES.alerts = (view, fingerprint) => {
  if (fingerprint) {
    alertTimeline(view, fingerprint);
    return;
  }
  const field = (name, label, input) => {
    input.id = 'alerts-' + name;
    input.name = name;
    input.value = alertForm[name];
    input.addEventListener('input', () => { alertForm[name] = input.value; });
    return h('label', { for: input.id }, label, input);
  };
  const results = h('div', { id: 'alert-results' });
  const form = h('form', { class: 'toolbar', role: 'search', 'aria-label': 'Search alerts' },
    field('alertname', 'Alert name', h('input', { type: 'text' })),
    field('label', 'Labels (k=v, …)', h('input', { type: 'text', placeholder: 'severity=critical' })),
    field('target', 'Target', h('input', { type: 'text' })),
    field('state', 'Delivery state', h('select', null, ['', 'pending', 'in_flight', 'delivered', 'dead', 'superseded', 'deduplicated'].map((s) => h('option', { value: s }, s || 'any')))),
    field('since', 'Since', h('input', { type: 'datetime-local' })),
    field('until', 'Until', h('input', { type: 'datetime-local' })),
    h('button', { type: 'submit' }, 'Search'));
  append(view, [h('h1', null, 'Alerts'), form, results]);
  const search = guarded(async (cursor) => {
    const params = {
      alertname: alertForm.alertname.trim(),
      label: alertForm.label.split(',').map((l) => l.trim()).filter(Boolean),
      target: alertForm.target.trim(),
      state: alertForm.state,
      since: isoFromLocal(alertForm.since),
      until: isoFromLocal(alertForm.until),
      limit: 50,
      cursor: cursor || '',
    };
    const r = await api('GET', 'alerts' + query(params));
    const rows = (r.alerts || []).map((a) => h('tr', { 'data-fingerprint': a.fingerprint },
      h('td', null, when(a.received_at)),
      h('td', null, h('a', { href: '#/alerts/' + encodeURIComponent(a.fingerprint) }, a.alertname || a.fingerprint)),
      h('td', null, badge(a.status)),
      h('td', { class: 'wrap' }, Object.entries(a.labels || {}).filter(([k]) => k !== 'alertname').map(([k, v]) => k + '=' + v).join(', ')),
      h('td', null, (a.targets || []).map((t) => h('div', null, t.target, ' ', badge(t.state))),
        (a.filtered || []).map((f) => h('div', { class: 'muted' }, f.target + ' filtered: ' + f.reason)),
        (a.deduplicated || []).map((t) => h('div', { class: 'muted' }, t + ' deduplicated')))));
    const table = h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('thead', null, h('tr', null, ['Received', 'Alert', 'Status', 'Labels', 'Targets'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows)));
    if (!cursor) replace(results);
    const old = results.querySelector('.more');
    if (old) old.remove();
    append(results, rows.length || cursor ? table : h('p', { class: 'muted' }, 'No alerts match.'));
    if (r.next_cursor) {
      append(results, h('button', { type: 'button', class: 'secondary more', onclick: () => search(r.next_cursor) }, 'More'));
    }
  }, results);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    search();
  });
  search();
};

function alertTimeline(view, fingerprint) {
  const body = h('div', { id: 'timeline' }, 'Loading…');
  append(view, [h('p', null, h('a', { href: '#/alerts' }, '← All alerts')), body]);
  guarded(async () => {
    const a = await api('GET', 'alerts/' + encodeURIComponent(fingerprint));
    const events = [];
    for (const n of a.notifications || []) {
      const r = n.receipt || {};
      events.push({ at: r.received_at, node: h('span', null, 'Received ', badge(r.status), ' from ' + (r.source || '?') + (r.receiver ? ' (' + r.receiver + ')' : '')) });
      for (const f of r.filtered || []) events.push({ at: r.received_at, node: h('span', { class: 'muted' }, f.target + ': filtered (' + f.reason + ')') });
      for (const t of r.deduplicated || []) events.push({ at: r.received_at, node: h('span', { class: 'muted' }, t + ': deduplicated') });
      for (const d of n.deliveries || []) {
        for (const at of d.attempts || []) {
          events.push({ at: at.at, node: h('span', null, d.target + ' attempt ' + at.attempt + ': ', badge(at.outcome),
            at.status_code ? ' HTTP ' + at.status_code : '', at.latency_ms === null || at.latency_ms === undefined ? '' : ' · ' + at.latency_ms + ' ms',
            at.error ? h('span', { class: 'error' }, ' ' + (at.error_kind ? at.error_kind + ': ' : '') + at.error) : '') });
        }
        const notes = [];
        if (d.superseded_by) notes.push('superseded by job ' + d.superseded_by);
        if (d.replay_of) notes.push('replay of job ' + d.replay_of);
        if (d.replayed_as) notes.push('replayed as job ' + d.replayed_as);
        if (d.retry_at) notes.push('next try ' + when(d.retry_at));
        events.push({ at: (d.attempts && d.attempts.length ? d.attempts[d.attempts.length - 1].at : r.received_at), late: true,
          node: h('span', null, d.target + ' job ' + d.job_id + ' is ', badge(d.state), notes.length ? ' · ' + notes.join(' · ') : '') });
      }
    }
    events.sort((x, y) => (Date.parse(x.at) - Date.parse(y.at)) || ((x.late ? 1 : 0) - (y.late ? 1 : 0)));
    replace(body,
      h('h1', null, a.alertname || fingerprint),
      h('section', { class: 'card' }, kv([
        ['fingerprint', h('span', { class: 'mono' }, a.fingerprint)],
        ['labels', Object.entries(a.labels || {}).map(([k, v]) => k + '=' + v).join(', ')],
        ['annotations', Object.entries(a.annotations || {}).map(([k, v]) => k + ': ' + v).join(' · ') || '–'],
        ['notifications', (a.notifications || []).length],
      ])),
      h('h2', null, 'Timeline'),
      h('ol', { class: 'timeline card', 'aria-label': 'Timeline' }, events.map((e) => h('li', null, h('time', { datetime: e.at || '' }, when(e.at)), ' ', e.node))));
  }, body)();
}

// ---------------------------------------------------------------------------------------
// Dead letters.

const dlqFilter = { target: '', error_kind: '', priority: '', replayed: 'false' };
const ERROR_KINDS = ['auth', 'invalid', 'not_found', 'client', 'config', 'server', 'rate_limited', 'timeout', 'connect', 'io', 'other'];

PAGES.dlq = (view, id) => {
  const selected = new Set();
  const field = (name, label, input) => {
    input.id = 'dlq-' + name.replace('_', '-');
    input.name = name;
    input.value = dlqFilter[name];
    input.addEventListener('change', () => { dlqFilter[name] = input.value; load(); });
    return h('label', { for: input.id }, label, input);
  };
  const list = h('div', { id: 'dlq-list' }, 'Loading…');
  const detail = h('div', { id: 'dlq-detail' });
  const outcome = h('div', { class: 'result', id: 'dlq-outcome', 'aria-live': 'polite' });
  const confirmBox = h('div', { id: 'purge-confirm' });
  const olderThan = h('input', { type: 'text', id: 'purge-older', value: '0s', size: 6, 'aria-label': 'Purge dead letters older than' });
  const hasFilter = () => dlqFilter.target || dlqFilter.error_kind || dlqFilter.priority;
  const replaySelected = guarded(async () => {
    const r = await api('POST', 'dlq/replay', { ids: [...selected] });
    reportReplay(r);
    selected.clear();
    await load();
  }, outcome);
  const replayMatching = guarded(async () => {
    const body = {};
    for (const k of ['target', 'error_kind', 'priority']) if (dlqFilter[k]) body[k] = dlqFilter[k];
    const r = await api('POST', 'dlq/replay', body);
    reportReplay(r);
    await load();
  }, outcome);
  const purge = guarded(async () => {
    const r = await api('DELETE', 'dlq/purge' + query({ older_than: olderThan.value.trim() || '0s', target: dlqFilter.target, error_kind: dlqFilter.error_kind }));
    replace(confirmBox);
    replace(outcome, h('span', null, 'Purged ' + r.purged + ' dead letters.'));
    await load();
  }, outcome);
  const askPurge = () => {
    const what = [dlqFilter.target && 'target ' + dlqFilter.target, dlqFilter.error_kind && 'error kind ' + dlqFilter.error_kind].filter(Boolean).join(', ') || 'every target';
    replace(confirmBox, h('div', { class: 'card', role: 'alertdialog', 'aria-label': 'Confirm purge' },
      h('p', null, 'Delete the dead letters of ' + what + ' last changed more than ' + (olderThan.value.trim() || '0s') + ' ago? This cannot be undone.'),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', id: 'purge-confirm-button', onclick: purge }, 'Delete them'),
        h('button', { type: 'button', class: 'secondary', onclick: () => replace(confirmBox) }, 'Cancel'))));
  };
  const replaySelectedButton = h('button', { type: 'button', id: 'replay-selected', onclick: replaySelected, disabled: true }, 'Replay selected');
  const replayMatchingButton = h('button', { type: 'button', class: 'secondary', id: 'replay-matching', onclick: replayMatching, disabled: !hasFilter(), title: 'Choose a target, error kind or priority first' }, 'Replay all matching');
  const actions = [];
  if (can('operator')) actions.push(replaySelectedButton, replayMatchingButton);
  if (can('admin')) actions.push(h('label', { for: 'purge-older' }, 'Older than', olderThan), h('button', { type: 'button', class: 'danger', id: 'purge', onclick: askPurge }, 'Purge…'));
  append(view, [
    h('h1', null, 'Dead letters'),
    h('form', { class: 'toolbar', 'aria-label': 'Filter dead letters', onsubmit: (ev) => ev.preventDefault() },
      field('target', 'Target', h('input', { type: 'text' })),
      field('error_kind', 'Error kind', h('select', null, ['', ...ERROR_KINDS].map((k) => h('option', { value: k }, k || 'any')))),
      field('priority', 'Priority', h('select', null, ['', 'high', 'medium', 'low'].map((k) => h('option', { value: k }, k || 'any')))),
      field('replayed', 'Replayed', h('select', null, h('option', { value: '' }, 'any'), h('option', { value: 'false' }, 'not yet'), h('option', { value: 'true' }, 'replayed'))),
      h('button', { type: 'button', class: 'secondary', onclick: () => load() }, 'Refresh')),
    actions.length ? h('div', { class: 'toolbar' }, actions) : null,
    confirmBox, outcome, list, detail,
  ]);

  function reportReplay(r) {
    replace(outcome, h('div', null, 'Replayed ' + r.replayed.length + ', skipped ' + r.skipped.length + '.',
      h('ul', null, r.replayed.map((x) => h('li', null, 'dead letter ' + x.id + ' → job ' + x.new_job_id)),
        r.skipped.map((x) => h('li', { class: 'muted' }, 'dead letter ' + x.id + ': ' + x.reason)))));
  }

  const sync = () => {
    replaySelectedButton.disabled = selected.size === 0;
    replayMatchingButton.disabled = !hasFilter();
  };

  const load = guarded(async () => {
    const r = await api('GET', 'dlq' + query({ ...dlqFilter, limit: 200 }));
    sync();
    if (!r.jobs.length) {
      replace(list, h('p', { class: 'muted', id: 'dlq-empty' }, 'No dead letters match.'));
      return;
    }
    const replayOne = (job) => guarded(async () => {
      const res = await api('POST', 'dlq/' + job.id + '/replay');
      reportReplay(res);
      await load();
    }, outcome);
    replace(list, h('div', { class: 'table-wrap' }, h('table', { class: 'stack' },
      h('thead', null, h('tr', null,
        can('operator') ? h('th', { scope: 'col' }, h('span', { class: 'hide-narrow' }, 'Select')) : null,
        ['Id', 'Died', 'Target', 'Alert', 'Error'].map((c) => h('th', { scope: 'col' }, c)),
        can('operator') ? h('th', { scope: 'col' }, 'Replay') : null)),
      h('tbody', null, r.jobs.map((j) => {
        const box = h('input', { type: 'checkbox', 'aria-label': 'Select dead letter ' + j.id, checked: selected.has(j.id), disabled: !!j.replayed_as });
        box.addEventListener('change', () => {
          if (box.checked) selected.add(j.id); else selected.delete(j.id);
          sync();
        });
        return h('tr', { 'data-id': j.id },
          can('operator') ? h('td', null, box) : null,
          h('td', null, h('a', { href: '#/dlq/' + j.id }, j.id)),
          h('td', null, when(j.updated_at)),
          h('td', null, j.target),
          h('td', null, j.alertname, ' ', badge(j.status)),
          h('td', { class: 'wrap' }, j.last_error_kind ? h('strong', null, j.last_error_kind + ' ') : '', j.last_error || '',
            j.replayed_as ? h('div', { class: 'muted' }, 'replayed as job ' + j.replayed_as) : ''),
          can('operator') ? h('td', null, j.replayed_as ? '' : h('button', { type: 'button', class: 'secondary', 'aria-label': 'Replay dead letter ' + j.id, onclick: replayOne(j) }, 'Replay')) : null);
      })))));
  }, list);

  if (id) {
    guarded(async () => {
      const j = await api('GET', 'dlq/' + encodeURIComponent(id));
      replace(detail, h('section', { class: 'card', id: 'dlq-job', 'aria-label': 'Dead letter ' + j.id },
        h('h2', null, 'Dead letter ' + j.id + ' · ' + j.alertname + ' → ' + j.target),
        kv([['fingerprint', h('a', { href: '#/alerts/' + encodeURIComponent(j.fingerprint), class: 'mono' }, j.fingerprint)],
          ['status', badge(j.status)], ['priority', j.priority], ['created', when(j.created_at)],
          ['last error', (j.last_error_kind || '') + ' ' + (j.last_error || '')],
          ['replayed', j.replayed_as ? 'as job ' + j.replayed_as + ' at ' + when(j.replayed_at) : 'no']]),
        h('h2', null, 'Attempts'),
        h('div', { class: 'table-wrap' }, h('table', null,
          h('thead', null, h('tr', null, ['#', 'At', 'Outcome', 'HTTP', 'Latency', 'Error'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', null, (j.history || []).map((a) => h('tr', null,
            h('td', null, a.attempt), h('td', null, when(a.at)), h('td', null, badge(a.outcome)),
            h('td', null, a.status_code || '–'), h('td', null, a.latency_ms === null || a.latency_ms === undefined ? '–' : a.latency_ms + ' ms'),
            h('td', { class: 'wrap' }, (a.error_kind ? a.error_kind + ': ' : '') + (a.error || '')))))))));
    }, detail)();
  }
  load();
};

start();
