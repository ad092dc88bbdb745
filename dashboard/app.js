// The dashboard's shell: session, navigation between pages (#overview, #connections, ...), and the
// sampler that polls /stats, /metrics and /health for the live numbers and the charts.

import { get, logout, startSession } from './api.js';
import { pages } from './pages.js';

const SAMPLE_MS = 2000;
const KEEP_MS = 5 * 60_000;

const ctx = {
  session: null,
  samples: [],
  statsError: null,
  health: null,
  features: { tenants: false, nodes: false },
  listeners: new Set(),
};

/** Prometheus text → the few series the charts use. */
function readMetrics(text) {
  const value = (name) => {
    const m = typeof text === 'string' ? text.match(new RegExp(`^${name} ([0-9.eE+-]+)$`, 'm')) : null;
    return m ? Number(m[1]) : undefined;
  };
  return {
    latencySum: value('ara_delivery_latency_seconds_sum'),
    latencyCount: value('ara_delivery_latency_seconds_count'),
  };
}

async function sample() {
  const [stats, metrics] = await Promise.all([get('/stats'), get('/metrics')]);
  if (!stats.ok) {
    // Shown by the pages over the last good numbers, which would otherwise look current.
    ctx.statsError = { code: stats.body?.error?.code ?? `HTTP_${stats.status}`, message: stats.body?.error?.message ?? '' };
    setStatus(`/stats: ${ctx.statsError.code}`);
    return;
  }
  ctx.statsError = null;
  const s = stats.body;
  const m = readMetrics(metrics.body);
  const now = Date.now();
  const prev = ctx.samples.at(-1);
  const point = {
    t: now,
    stats: s,
    delivered: s.notifications_delivered,
    acknowledged: s.acks?.acknowledged ?? 0,
    latencySum: m.latencySum,
    latencyCount: m.latencyCount,
  };
  if (prev) {
    const dt = (now - prev.t) / 1000;
    point.deliveryRate = Math.max(0, (point.delivered - prev.delivered) / dt);
    point.ackRate = Math.max(0, (point.acknowledged - prev.acknowledged) / dt);
    const dc = (point.latencyCount ?? 0) - (prev.latencyCount ?? 0);
    point.latencyMs = dc > 0 ? ((point.latencySum - prev.latencySum) / dc) * 1000 : 0;
  }
  ctx.samples.push(point);
  while (ctx.samples.length && ctx.samples[0].t < now - KEEP_MS) ctx.samples.shift();
  setStatus(`updated ${new Date(now).toLocaleTimeString()}`);
}

async function checkHealth() {
  const health = await get('/health');
  ctx.health = health.body;
  const badge = document.getElementById('health');
  badge.textContent = health.body?.status ?? `HTTP ${health.status}`;
  badge.dataset.status = health.body?.status ?? 'down';
}

/** Tenants and nodes panels appear when the server has those features (their routes answer). */
async function detectFeatures() {
  const [tenants, nodes] = await Promise.all([get('/api/v1/tenants'), get('/api/v1/cluster/status')]);
  ctx.features.tenants = tenants.ok;
  ctx.features.nodes = nodes.ok;
}

function setStatus(text) {
  document.getElementById('status').textContent = text;
}

let current;

function show() {
  const name = location.hash.replace('#', '') || 'overview';
  const page = pages[name] ?? pages.overview;
  current?.stop?.();
  const main = document.getElementById('page');
  main.replaceChildren();
  document.querySelectorAll('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.page === name));
  current = page(ctx);
  main.append(current.el);
  document.title = `Ara admin · ${name}`;
  current.refresh?.();
}

async function tick() {
  try {
    await sample();
    current?.refresh?.();
  } catch (e) {
    setStatus(`server unreachable: ${e.message}`);
  }
}

async function main() {
  ctx.session = await startSession();
  document.getElementById('version').textContent = `v${ctx.session.version}`;
  document.getElementById('logout').addEventListener('click', () => logout());
  await Promise.all([detectFeatures(), checkHealth(), sample()]);
  window.addEventListener('hashchange', show);
  show();
  document.body.dataset.ready = 'true';
  setInterval(tick, SAMPLE_MS);
  setInterval(() => checkHealth().catch(() => undefined), 5000);
}

main().catch((e) => setStatus(`dashboard failed to start: ${e.message}`));
