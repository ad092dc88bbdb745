// A small SVG line chart of the last minutes: no library, no canvas, readable in a screenshot.

const NS = 'http://www.w3.org/2000/svg';
const W = 560;
const H = 150;
const PAD = { left: 62, right: 10, top: 10, bottom: 22 };

function el(name, attrs = {}, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An empty chart, to be drawn into. */
export function chartElement(id, label) {
  return el('svg', { id, class: 'chart', role: 'img', 'aria-label': label, viewBox: `0 0 ${W} ${H}` });
}

/** Draws `points` ([{t, v}], t in ms) covering `windowMs` up to now into the `svg` element. */
export function drawChart(svg, points, { windowMs = 5 * 60_000, unit = '', digits = 1 } = {}) {
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const now = Date.now();
  const shown = points.filter((p) => p.t >= now - windowMs && Number.isFinite(p.v));
  const max = Math.max(1, ...shown.map((p) => p.v)) * 1.1;
  const x = (t) => PAD.left + ((t - (now - windowMs)) / windowMs) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - (v / max) * (H - PAD.top - PAD.bottom);
  for (const frac of [0, 0.5, 1]) {
    const v = max * frac;
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: 'grid' }));
    svg.append(el('text', { x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, `${v.toFixed(digits)}${unit}`));
  }
  const minutes = Math.round(windowMs / 60_000);
  svg.append(el('text', { x: PAD.left, y: H - 4, class: 'axis' }, `−${minutes} min`));
  svg.append(el('text', { x: W - PAD.right, y: H - 4, 'text-anchor': 'end', class: 'axis' }, 'now'));
  if (shown.length > 1) {
    const d = shown.map((p, i) => `${i ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    svg.append(el('path', { d, class: 'line' }));
  }
  const last = shown.at(-1);
  svg.dataset.last = last ? String(last.v) : '';
}
