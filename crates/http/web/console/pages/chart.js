// Small hand-drawn SVG charts for the statistics page: a series over time
// (lines or bars, with axes, grid and hover values) and a funnel. Text is
// set with textContent, never parsed, like the rest of the console.
import { h } from '../ui.js';

const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...children) {
  const element = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

// A "nice" upper bound and step for an axis from 0 to `max`, about `ticks` ticks.
export function niceScale(max, ticks = 4) {
  if (!(max > 0)) return { top: 1, step: 1 };
  const raw = max / ticks;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * power).find((candidate) => candidate >= raw);
  return { top: Math.ceil(max / step) * step, step };
}

// periods: [{label, tip, values: {key: number}}]; series: [{key, label, color, format?}].
// kind 'line' or 'bar'. Answers an element holding the legend, the SVG and its tooltip.
export function timeChart(periods, series, { kind = 'line', height = 260, width = 760, name = 'series' } = {}) {
  const pad = { left: 56, right: 16, top: 12, bottom: 30 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const max = Math.max(0, ...periods.flatMap((p) => series.map((one) => p.values[one.key] || 0)));
  const { top, step } = niceScale(max);
  const format = series[0]?.format || ((v) => String(v));
  const n = Math.max(periods.length, 1);
  const band = plotW / n;
  const xAt = (i) => pad.left + band * i + band / 2;
  const yAt = (v) => pad.top + plotH - (plotH * (v || 0)) / top;

  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'data-chart': name, 'aria-label': series.map((one) => one.label).join(' / ') });
  const grid = s('g', { class: 'grid' });
  const axis = s('g', { class: 'axis' });
  for (let v = 0; v <= top + 1e-9; v += step) {
    grid.append(s('line', { x1: pad.left, x2: width - pad.right, y1: yAt(v), y2: yAt(v) }));
    axis.append(s('text', { x: pad.left - 8, y: yAt(v) + 4, 'text-anchor': 'end' }, format(v)));
  }
  const every = Math.max(1, Math.ceil(periods.length / 10));
  periods.forEach((p, i) => {
    if (i % every === 0 || i === periods.length - 1) {
      axis.append(s('text', { x: xAt(i), y: height - 10, 'text-anchor': 'middle' }, p.label));
    }
  });
  axis.append(s('line', { x1: pad.left, x2: width - pad.right, y1: yAt(0), y2: yAt(0), stroke: '#c9cdd4' }));
  svg.append(grid, axis);

  const marks = s('g', { class: 'marks' });
  if (kind === 'bar') {
    const inner = Math.min(band * 0.7, 36);
    const each = inner / series.length;
    periods.forEach((p, i) => {
      series.forEach((one, k) => {
        const v = p.values[one.key] || 0;
        const x = xAt(i) - inner / 2 + each * k;
        marks.append(s('rect', { x, y: yAt(v), width: Math.max(each - 1, 1), height: Math.max(yAt(0) - yAt(v), 0), fill: one.color, rx: 2, 'data-value': v },
          s('title', {}, `${p.tip} ${one.label}: ${(one.format || format)(v)}`)));
      });
    });
  } else {
    for (const one of series) {
      const points = periods.map((p, i) => `${xAt(i)},${yAt(p.values[one.key])}`).join(' ');
      if (periods.length > 1) {
        const area = `${xAt(0)},${yAt(0)} ${points} ${xAt(periods.length - 1)},${yAt(0)}`;
        marks.append(s('polygon', { points: area, fill: one.color, opacity: 0.08 }));
      }
      marks.append(s('polyline', { points, fill: 'none', stroke: one.color, 'stroke-width': 2, 'stroke-linejoin': 'round' }));
      periods.forEach((p, i) => marks.append(s('circle', { cx: xAt(i), cy: yAt(p.values[one.key]), r: periods.length > 40 ? 1.5 : 3, fill: '#fff', stroke: one.color, 'stroke-width': 2, 'data-value': p.values[one.key] || 0 },
        s('title', {}, `${p.tip} ${one.label}: ${(one.format || format)(p.values[one.key] || 0)}`))));
    }
  }
  svg.append(marks);

  // Hover: a guide line and a tooltip with every series' value at that period.
  const guide = s('line', { y1: pad.top, y2: pad.top + plotH, stroke: '#86909c', 'stroke-dasharray': '3 3', visibility: 'hidden' });
  const catcher = s('rect', { x: pad.left, y: pad.top, width: plotW, height: plotH, fill: 'transparent' });
  svg.append(guide, catcher);
  const tip = h('div.chart-tip.hidden', { dataset: { tip: '' } });
  const wrap = h('div.chart-wrap', svg, tip);
  const show = (event) => {
    if (!periods.length) return;
    const box = svg.getBoundingClientRect();
    const x = ((event.clientX - box.left) * width) / box.width;
    const i = Math.max(0, Math.min(periods.length - 1, Math.floor((x - pad.left) / band)));
    const p = periods[i];
    guide.setAttribute('x1', xAt(i));
    guide.setAttribute('x2', xAt(i));
    guide.setAttribute('visibility', 'visible');
    tip.replaceChildren(h('div', { style: { marginBottom: '4px', opacity: 0.8 } }, p.tip),
      ...series.map((one) => h('div.row', h('i', { style: { background: one.color } }), `${one.label}: ${(one.format || format)(p.values[one.key] || 0)}`)));
    tip.classList.remove('hidden');
    const maxY = Math.min(...series.map((one) => yAt(p.values[one.key])));
    tip.style.left = `${(xAt(i) / width) * box.width}px`;
    tip.style.top = `${(maxY / height) * box.height}px`;
  };
  catcher.addEventListener('mousemove', show);
  catcher.addEventListener('mouseleave', () => {
    guide.setAttribute('visibility', 'hidden');
    tip.classList.add('hidden');
  });
  const legend = h('div.legend', series.map((one) => h('span', h('i', { style: { background: one.color } }), one.label)));
  return h('div', legend, wrap);
}

// steps: [{label, value, color}]; each bar's width is its share of the first,
// with the conversion from the step before written beside it.
export function funnel(steps, { width = 420, rowHeight = 46, format = String, name = 'funnel' } = {}) {
  const first = Math.max(steps[0]?.value || 0, 1);
  const height = steps.length * rowHeight + 8;
  const barMax = width - 150;
  const svg = s('svg', { viewBox: `0 0 ${width} ${height}`, class: 'funnel', role: 'img', 'data-chart': name });
  steps.forEach((step, i) => {
    const share = Math.max((step.value || 0) / first, 0);
    const w = Math.max(barMax * share, 4);
    const x = 80 + (barMax - w) / 2;
    const y = 4 + i * rowHeight;
    svg.append(s('text', { x: 0, y: y + rowHeight / 2, fill: '#646a73' }, step.label));
    svg.append(s('rect', { x, y: y + 6, width: w, height: rowHeight - 16, rx: 4, fill: step.color, 'data-value': step.value || 0 },
      s('title', {}, `${step.label}: ${format(step.value || 0)}`)));
    const inside = w >= 48;
    svg.append(s('text', {
      x: inside ? 80 + barMax / 2 : x + w + 8, y: y + rowHeight / 2 + 1, 'text-anchor': inside ? 'middle' : 'start', fill: inside ? '#fff' : '#1f2329', 'font-weight': 600,
    }, format(step.value || 0)));
    if (i > 0) {
      const before = steps[i - 1].value || 0;
      const rate = before ? `${((100 * (step.value || 0)) / before).toFixed(1)}%` : '—';
      svg.append(s('text', { x: width, y: y + rowHeight / 2, 'text-anchor': 'end', fill: '#646a73' }, `↓ ${rate}`));
    }
  });
  return h('div.chart-wrap', svg);
}
