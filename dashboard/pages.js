// The dashboard's pages. Each is a function of the shared context returning `{el, refresh, stop}`;
// every value from the server goes into the page as text, never as HTML.

import { errorOf, get, post } from './api.js';
import { chartElement, drawChart } from './chart.js';

/** `h('td', {class: 'x'}, 'text', child)`: an element with attributes and children. */
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

const fmt = (n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits }) : '–');

function card(label, value, id) {
  return h('div', { class: 'card', 'data-metric': id }, h('div', { class: 'card-label' }, label), h('div', { class: 'card-value' }, value));
}

function table(headers, rows, empty = 'nothing yet') {
  return h(
    'table',
    {},
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', {}, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, empty))),
  );
}

function panel(title, ...body) {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...body);
}

function message(el, text, kind = 'info') {
  el.className = `message ${kind}`;
  el.textContent = text;
}

/** A warning that the counters are the last good ones, while /stats fails (a store is down). */
function staleNote(ctx) {
  if (!ctx.statsError) return [];
  const at = ctx.samples.at(-1)?.t;
  const since = at ? ` The numbers below are from ${new Date(at).toLocaleTimeString()}.` : '';
  return [h('p', { class: 'message warn stale' }, `/stats is unavailable (${ctx.statsError.code}: ${ctx.statsError.message}).${since}`)];
}

// --- Overview -------------------------------------------------------------------------------------

function overview(ctx) {
  const cards = h('div', { class: 'cards' });
  const stale = h('div');
  const rate = chartElement('chart-rate', 'delivery rate');
  const latency = chartElement('chart-latency', 'delivery latency');
  const acks = chartElement('chart-acks', 'ACK rate');
  const el = h(
    'div',
    { class: 'page', id: 'overview' },
    h('h1', {}, 'Overview'),
    stale,
    cards,
    h('div', { class: 'charts' },
      panel('Deliveries per second', rate),
      panel('Delivery latency (ms, average)', latency),
      panel('ACKs per second', acks)),
  );
  return {
    el,
    refresh() {
      const last = ctx.samples.at(-1);
      const s = last?.stats ?? {};
      stale.replaceChildren(...staleNote(ctx));
      cards.replaceChildren(
        card('Connections', fmt(s.connections), 'connections'),
        card('Users', fmt(s.users), 'users'),
        card('Channels', fmt(s.channels), 'channels'),
        card('Sent', fmt(s.notifications_sent), 'sent'),
        card('Delivered', fmt(s.notifications_delivered), 'delivered'),
        card('Delivered / s', fmt(last?.deliveryRate, 1), 'delivery-rate'),
        card('Offline queue', s.queue ? `${fmt(s.queue.queued_messages)} for ${fmt(s.queue.users_with_queue)} users` : 'off', 'queue'),
        card('ACKs pending', s.acks ? fmt(s.acks.pending) : 'off', 'acks-pending'),
        card('ACKed', s.acks ? fmt(s.acks.acknowledged) : 'off', 'acks-acknowledged'),
        card('ACK time', s.acks ? `${fmt(s.acks.average_ack_time_ms, 1)} ms` : 'off', 'ack-time'),
        card('Slow consumers', fmt(s.slow_consumers_disconnected), 'slow'),
        card('Dropped', fmt(s.notifications_dropped), 'dropped'),
      );
      const series = (key) => ctx.samples.filter((p) => p[key] !== undefined).map((p) => ({ t: p.t, v: p[key] }));
      drawChart(rate, series('deliveryRate'), { unit: '/s' });
      drawChart(latency, series('latencyMs'), { unit: ' ms', digits: 2 });
      drawChart(acks, series('ackRate'), { unit: '/s' });
    },
  };
}

// --- Connections and the inspector ----------------------------------------------------------------

function connections(ctx) {
  const tenant = h('input', { id: 'tenant', value: 'default', size: 12, 'aria-label': 'tenant' });
  const user = h('input', { id: 'inspect-user', placeholder: 'user id', size: 20, 'aria-label': 'user id' });
  const note = h('div', { class: 'message', id: 'connections-message' });
  const list = h('div', { id: 'connection-list' });
  const summary = h('p', { class: 'muted', id: 'connections-summary' });
  let filter = '';

  async function disconnect(row) {
    const r = await post(`/api/v1/users/${encodeURIComponent(row.user_id)}/disconnect`, { connection_id: row.connection_id });
    if (r.ok) return message(note, `Connection ${row.connection_id} of ${row.user_id} is being closed.`, 'ok');
    const e = errorOf(r);
    if (r.status === 404 && e.code === 'NOT_FOUND') {
      return message(note, 'Disconnecting is not available on this server: it has no disconnect API yet (POST /api/v1/users/{id}/disconnect).', 'warn');
    }
    message(note, `Disconnect refused: ${e.code}: ${e.message}`, 'error');
  }

  async function refresh() {
    const q = new URLSearchParams({ tenant: tenant.value.trim() || 'default' });
    if (filter) q.set('user_id', filter);
    const r = await get(`/admin/api/connections?${q}`);
    if (!r.ok) return message(note, `${errorOf(r).code}: ${errorOf(r).message}`, 'error');
    const data = r.body;
    summary.textContent = filter
      ? `${data.total} live connection(s) of ${filter} in tenant ${data.tenant_id} on this node`
      : `${data.total} live connection(s) in tenant ${data.tenant_id} on this node${data.truncated ? ' (newest 500 shown)' : ''}`;
    const rows = data.connections.map((c) =>
      h('tr', { 'data-connection': c.connection_id, 'data-user': c.user_id },
        h('td', {}, String(c.connection_id)),
        h('td', {}, h('a', { href: '#connections', onclick: (ev) => (ev.preventDefault(), inspect(c.user_id)) }, c.user_id)),
        h('td', {}, c.transport),
        h('td', {}, new Date(c.connected_at).toLocaleString()),
        h('td', {}, `${fmt(c.idle_ms / 1000, 1)} s`),
        h('td', {}, c.channels.join(', ') || '–'),
        h('td', {}, h('button', { class: 'small danger', type: 'button', onclick: () => disconnect(c) }, 'Disconnect'))),
    );
    list.replaceChildren(table(['Id', 'User', 'Transport', 'Connected', 'Idle', 'Channels', ''], rows, 'no live connection'));
  }

  function inspect(id) {
    user.value = id;
    filter = id.trim();
    refresh();
  }

  const el = h('div', { class: 'page', id: 'connections' },
    h('h1', {}, 'Connections'),
    h('form', { class: 'inline', onsubmit: (ev) => (ev.preventDefault(), inspect(user.value)) },
      h('label', {}, 'Tenant ', tenant), h('label', {}, 'User ', user),
      h('button', { type: 'submit' }, 'Inspect'),
      h('button', { type: 'button', class: 'secondary', onclick: () => inspect('') }, 'All')),
    note, summary, list);
  return { el, refresh };
}

// --- Channels -------------------------------------------------------------------------------------

function channels() {
  const list = h('div', { id: 'channel-list' });
  async function refresh() {
    const [r, conns] = await Promise.all([get('/api/v1/channels'), get('/admin/api/connections')]);
    if (!r.ok) return list.replaceChildren(h('p', { class: 'message error' }, `${errorOf(r).code}: ${errorOf(r).message}`));
    const byChannel = new Map();
    for (const c of conns.ok ? conns.body.connections : []) {
      for (const name of c.channels) byChannel.set(name, [...(byChannel.get(name) ?? []), c]);
    }
    const rows = r.body.channels.map((c) =>
      h('tr', { 'data-channel': c.name },
        h('td', {}, c.name),
        h('td', {}, fmt(c.subscriber_count)),
        h('td', {}, (byChannel.get(c.name) ?? []).map((x) => `${x.user_id} (#${x.connection_id})`).join(', ') || '–')),
    );
    list.replaceChildren(
      h('p', { class: 'muted' }, `${r.body.total} channel(s) with subscribers in tenant default on this node`),
      table(['Channel', 'Subscribers', 'Subscribed connections'], rows, 'no channel has a subscriber'),
    );
  }
  return { el: h('div', { class: 'page', id: 'channels' }, h('h1', {}, 'Channels'), list), refresh };
}

// --- Send -----------------------------------------------------------------------------------------

const TARGETS = {
  user: { path: '/api/v1/notifications/send', field: 'target_user_id', hint: 'user id' },
  users: { path: '/api/v1/notifications/send-to-users', field: 'target_user_ids', hint: 'user ids, comma-separated', list: true },
  channel: { path: '/api/v1/notifications/channel', field: 'channel', hint: 'channel name' },
  channels: { path: '/api/v1/notifications/channels', field: 'channels', hint: 'channel names, comma-separated', list: true },
  broadcast: { path: '/api/v1/notifications/broadcast', hint: 'every connection of the tenant' },
};

function send() {
  const kind = h('select', { id: 'send-kind', name: 'kind' }, Object.keys(TARGETS).map((k) => h('option', { value: k }, k)));
  const target = h('input', { id: 'send-target', name: 'target', placeholder: TARGETS.user.hint });
  const eventType = h('input', { id: 'send-event', name: 'event_type', value: 'admin.message', required: true });
  const payload = h('textarea', { id: 'send-payload', name: 'payload', rows: 5 }, '{"text": "Hello from the dashboard"}');
  const priority = h('select', { id: 'send-priority', name: 'priority' }, ['Normal', 'Low', 'High', 'Critical'].map((p) => h('option', {}, p)));
  const ttl = h('input', { id: 'send-ttl', name: 'ttl', type: 'number', min: 1, max: 604800, placeholder: 'seconds (optional)' });
  const result = h('div', { id: 'send-result', class: 'message' });
  kind.addEventListener('change', () => {
    target.placeholder = TARGETS[kind.value].hint;
    target.disabled = kind.value === 'broadcast';
  });

  async function submit(ev) {
    ev.preventDefault();
    const t = TARGETS[kind.value];
    let body;
    try {
      body = { event_type: eventType.value.trim(), payload: payload.value.trim() ? JSON.parse(payload.value) : {}, priority: priority.value };
    } catch (e) {
      return message(result, `The payload is not JSON: ${e.message}`, 'error');
    }
    if (ttl.value) body.ttl = Number(ttl.value);
    if (t.field) {
      const raw = target.value.trim();
      body[t.field] = t.list ? raw.split(',').map((x) => x.trim()).filter(Boolean) : raw;
    }
    const r = await post(t.path, body);
    if (r.ok) {
      const b = r.body;
      message(result, `Sent ${b.notification_id}: delivered to ${b.delivered_to} connection(s), ${b.offline_users} user(s) offline, ${b.queued} queued.`, 'ok');
      result.dataset.notificationId = b.notification_id;
    } else {
      const e = errorOf(r);
      message(result, `Refused: ${e.code}: ${e.message}`, 'error');
    }
  }

  const row = (label, input) => h('label', { class: 'field' }, h('span', {}, label), input);
  const el = h('div', { class: 'page', id: 'send' },
    h('h1', {}, 'Send a notification'),
    h('form', { id: 'send-form', class: 'stack', onsubmit: submit },
      row('Target', kind), row('To', target), row('Event type', eventType), row('Payload (JSON)', payload),
      row('Priority', priority), row('TTL', ttl),
      h('div', {}, h('button', { type: 'submit', id: 'send-submit' }, 'Send'))),
    result);
  return { el };
}

// --- System ---------------------------------------------------------------------------------------

const CORE_STATS = new Set([
  'connections', 'users', 'channels', 'notifications_sent', 'notifications_delivered', 'notifications_queued',
  'slow_consumers_disconnected', 'notifications_dropped', 'notifications_replayed', 'queue_dropped', 'queue_expired',
  'queue_failures', 'notifications_redelivered', 'acks_tracked', 'acks_untracked', 'acks_expired', 'queue', 'acks',
  'uptime_seconds',
]);

function flatten(value, prefix = '') {
  if (value === null || typeof value !== 'object') return [[prefix, value]];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

function system(ctx) {
  const deps = h('div', { id: 'dependencies' });
  const counters = h('div', { id: 'resilience' });
  const tenants = h('div', { id: 'tenants' });
  const nodes = h('div', { id: 'nodes' });

  async function refresh() {
    const health = (await get('/health')).body ?? {};
    const depRows = Object.entries(health.dependencies ?? {}).map(([name, v]) => {
      const status = typeof v === 'string' ? v : v?.status ?? '?';
      const detail = typeof v === 'object' && v ? flatten(v).filter(([k]) => k !== 'status').map(([k, x]) => `${k}: ${x}`).join(', ') : '';
      return h('tr', { 'data-dependency': name }, h('td', {}, name), h('td', {}, h('span', { class: 'badge', 'data-status': status }, status)), h('td', {}, detail));
    });
    deps.replaceChildren(
      h('p', {}, 'Status ', h('span', { class: 'badge', 'data-status': health.status }, health.status ?? '?'),
        ` · version ${health.version ?? '?'} · up ${fmt(health.uptime_seconds)} s`),
      table(['Dependency', 'State', 'Details'], depRows),
    );
    const stats = ctx.samples.at(-1)?.stats ?? {};
    const extra = flatten(Object.fromEntries(Object.entries(stats).filter(([k]) => !CORE_STATS.has(k))));
    counters.replaceChildren(...staleNote(ctx), table(['Counter', 'Value'], extra.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, String(v)))), 'Redis features are off'));

    if (ctx.features.tenants) {
      const r = await get('/api/v1/tenants');
      const list = r.body?.tenants ?? (Array.isArray(r.body) ? r.body : []);
      const rows = list.map((t) =>
        h('tr', { 'data-tenant': t.tenant_id ?? t.id ?? '' },
          h('td', {}, t.tenant_id ?? t.id ?? ''), h('td', {}, t.status ?? ''),
          h('td', {}, fmt(t.connections)), h('td', {}, fmt(t.users)), h('td', {}, fmt(t.channels))));
      tenants.replaceChildren(panel('Tenants', table(['Tenant', 'Status', 'Connections', 'Users', 'Channels'], rows)));
    }
    if (ctx.features.nodes) {
      const r = await get('/api/v1/cluster/status');
      const c = r.body ?? {};
      const rows = (c.nodes ?? []).map((n) => h('tr', {}, h('td', {}, typeof n === 'string' ? n : n.node_id ?? JSON.stringify(n))));
      nodes.replaceChildren(panel('Nodes',
        h('p', {}, `This node: ${c.node_id ?? '?'} · healthy nodes: ${fmt(c.healthy_nodes)} · connections: ${fmt(c.total_connections)}`),
        table(['Node'], rows)));
    }
  }

  const el = h('div', { class: 'page', id: 'system' },
    h('h1', {}, 'System'),
    panel('Stores, Redis and circuit breaker', deps),
    panel('Redis, Pub/Sub and rate-limit counters', counters),
    tenants, nodes);
  return { el, refresh };
}

export const pages = { overview, connections, channels, send, system };
