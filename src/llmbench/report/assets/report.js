/* llmbench report: charts (inline SVG) and the record table, drawn from the JSON data block.
   Plain ES2017, no libraries. Text from a model or a test file is only ever set with
   textContent (el/svg below), never parsed as HTML. */
(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('data').textContent);
  const SUMMARY = DATA.summary;
  const RECORDS = DATA.records;
  const NS = 'http://www.w3.org/2000/svg';
  const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#d55e00', '#f0e442', '#000000'];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, attrs[k]));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, attrs[k]));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function titled(node, text) { node.appendChild(svg('title', {}, text)); return node; }
  const fmt = (v, d) => (v === null || v === undefined ? 'n/a' : Number(v).toFixed(d === undefined ? 2 : d));
  /* a metric value as the Python tables print it: 21,000 or four significant digits */
  const mfmt = (v) => (v === null || v === undefined ? 'n/a' : Math.abs(v) >= 1000
    ? Math.round(v).toLocaleString('en-US') : String(Number(Number(v).toPrecision(4))));
  const ci = (v, c) => (v === null || v === undefined ? 'n/a'
    : fmt(v) + (c && c[0] !== null && c[1] !== null ? ' [' + fmt(c[0]) + ', ' + fmt(c[1]) + ']' : ''));

  const AGENTS = SUMMARY.agents.slice().sort((a, b) => {
    const ma = a.quality.mean_score, mb = b.quality.mean_score;
    if ((ma === null) !== (mb === null)) return ma === null ? 1 : -1;
    if (ma !== mb) return mb - ma;
    return a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0;
  });
  const COLOR = {};
  AGENTS.forEach((a, i) => { COLOR[a.agent_id] = PALETTE[i % PALETTE.length]; });

  function ticks(max, count) {
    const raw = max / count, mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
    const out = [];
    for (let t = 0; ; t += step) { out.push(+t.toFixed(10)); if (t >= max - step * 1e-9) break; }
    return out;
  }
  function frame(width, height) { return svg('svg', { viewBox: '0 0 ' + width + ' ' + height, role: 'img' }); }
  function yAxis(root, m, w, y, values, digits) {
    values.forEach((v) => {
      root.appendChild(svg('line', { class: 'grid', x1: m.l, x2: w - m.r, y1: y(v), y2: y(v) }));
      root.appendChild(svg('text', { x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'muted' }, fmt(v, digits)));
    });
  }
  function legend(root, x, y) {
    AGENTS.forEach((a, i) => {
      root.appendChild(svg('rect', { x: x + i * 130, y: y - 9, width: 10, height: 10, fill: COLOR[a.agent_id] }));
      root.appendChild(svg('text', { x: x + i * 130 + 14, y: y }, a.agent_id));
    });
  }
  function errbar(root, x, y1, y2) {
    root.appendChild(svg('line', { class: 'errbar', x1: x, x2: x, y1: y1, y2: y2 }));
    [y1, y2].forEach((y) => root.appendChild(svg('line', { class: 'errbar', x1: x - 4, x2: x + 4, y1: y, y2: y })));
  }

  function categoryChart() {
    const cats = Array.from(new Set([].concat.apply([], AGENTS.map((a) => Object.keys(a.categories || {}))))).sort();
    const W = 640, H = 320, m = { l: 40, r: 10, t: 10, b: 60 };
    const root = frame(W, H), y = (v) => m.t + (1 - v) * (H - m.t - m.b);
    yAxis(root, m, W, y, [0, 0.25, 0.5, 0.75, 1], 2);
    const group = (W - m.l - m.r) / Math.max(cats.length, 1), bar = (group * 0.8) / AGENTS.length;
    cats.forEach((cat, ci_) => {
      const x0 = m.l + ci_ * group + group * 0.1;
      AGENTS.forEach((a, ai) => {
        const q = (a.categories || {})[cat];
        if (!q || q.mean_score === null) return;
        const x = x0 + ai * bar;
        root.appendChild(titled(svg('rect', { class: 'bar', x: x, y: y(q.mean_score), width: Math.max(bar - 2, 1),
          height: y(0) - y(q.mean_score), fill: COLOR[a.agent_id] }), a.agent_id + ' · ' + cat + ': ' + ci(q.mean_score, q.score_ci)));
        if (q.score_ci && q.score_ci[0] !== null) errbar(root, x + bar / 2 - 1, y(q.score_ci[0]), y(q.score_ci[1]));
      });
      root.appendChild(svg('text', { x: x0 + group * 0.4, y: H - m.b + 16, 'text-anchor': 'middle' }, cat));
    });
    legend(root, m.l, H - 12);
    return root;
  }

  function qualitySpeedChart() {
    const W = 640, H = 320, m = { l: 40, r: 20, t: 10, b: 40 };
    const root = frame(W, H), y = (v) => m.t + (1 - v) * (H - m.t - m.b);
    const speed = (a) => (a.speed && a.speed.tokens_per_second ? a.speed.tokens_per_second.p50 : null);
    const shown = AGENTS.filter((a) => speed(a) !== null && a.quality.mean_score !== null);
    const xt = ticks(Math.max.apply(null, shown.map(speed).concat([1])) * 1.1, 5);
    const xmax = xt[xt.length - 1], x = (v) => m.l + (v / xmax) * (W - m.l - m.r);
    yAxis(root, m, W, y, [0, 0.25, 0.5, 0.75, 1], 2);
    xt.forEach((t) => root.appendChild(svg('text', { x: x(t), y: H - m.b + 14, 'text-anchor': 'middle', class: 'muted' }, fmt(t, 0))));
    root.appendChild(svg('text', { x: W - m.r, y: H - 6, 'text-anchor': 'end', class: 'muted' }, 'tokens/s p50 →'));
    shown.forEach((a) => {
      const q = a.quality, cx = x(speed(a)), cy = y(q.mean_score);
      if (q.score_ci && q.score_ci[0] !== null) errbar(root, cx, y(q.score_ci[0]), y(q.score_ci[1]));
      root.appendChild(titled(svg('circle', { class: 'point', cx: cx, cy: cy, r: 6, fill: COLOR[a.agent_id] }),
        a.agent_id + ': score ' + ci(q.mean_score, q.score_ci) + ', ' + fmt(speed(a), 1) + ' tokens/s'));
      root.appendChild(svg('text', { x: cx + 9, y: cy - 6 }, a.agent_id));
    });
    const missing = AGENTS.filter((a) => shown.indexOf(a) < 0).map((a) => a.agent_id);
    if (missing.length) root.appendChild(svg('text', { x: m.l + 4, y: H - 6, class: 'muted' }, 'not shown (no speed or score): ' + missing.join(', ')));
    return root;
  }

  function latencyChart() {
    /* box-plot figures over every successful request, computed when the report was written
       (DATA.latency): the table below may hold only some of the records */
    const rowH = 34, m = { l: 110, r: 20, t: 10, b: 30 }, W = 640, H = m.t + m.b + rowH * AGENTS.length;
    const boxes = DATA.latency || {};
    const box = (a) => boxes[a.agent_id] || { n: 0 };
    const maxes = AGENTS.map((a) => box(a).max).filter((v) => typeof v === 'number');
    const xt = ticks(Math.max.apply(null, maxes.concat([0.1])) * 1.05, 5);
    const xmax = xt[xt.length - 1], x = (v) => m.l + (v / xmax) * (W - m.l - m.r);
    const root = frame(W, H);
    xt.forEach((t) => {
      root.appendChild(svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: m.t, y2: H - m.b }));
      root.appendChild(svg('text', { x: x(t), y: H - m.b + 14, 'text-anchor': 'middle', class: 'muted' }, fmt(t, xmax < 2 ? 2 : 1)));
    });
    AGENTS.forEach((a, i) => {
      const b = box(a), cy = m.t + i * rowH + rowH / 2;
      root.appendChild(svg('text', { x: m.l - 8, y: cy + 4, 'text-anchor': 'end' }, a.agent_id + ' (n=' + b.n + ')'));
      if (!b.n) return;
      root.appendChild(svg('line', { class: 'whisker', x1: x(b.low), x2: x(b.high), y1: cy, y2: cy }));
      root.appendChild(titled(svg('rect', { class: 'box', x: x(b.q1), y: cy - 10, width: Math.max(x(b.q3) - x(b.q1), 1), height: 20,
        fill: COLOR[a.agent_id], 'fill-opacity': 0.35, stroke: COLOR[a.agent_id] }),
        a.agent_id + ': median ' + fmt(b.median) + ' s, quartiles ' + fmt(b.q1) + '–' + fmt(b.q3) + ' s, n = ' + b.n +
        (b.outliers_n > b.outliers.length ? ', ' + b.outliers.length + ' of ' + b.outliers_n + ' outliers drawn' : '')));
      root.appendChild(svg('line', { class: 'whisker', x1: x(b.median), x2: x(b.median), y1: cy - 10, y2: cy + 10 }));
      b.outliers.forEach((t) => root.appendChild(titled(
        svg('circle', { cx: x(t), cy: cy, r: 3, fill: 'none', stroke: COLOR[a.agent_id] }), fmt(t) + ' s')));
    });
    return root;
  }

  function submissionChart(node) {
    /* per data-analysis task, each agent's mean skill (clipped to [0, 1], invalid 0) as a bar
       from the baseline (0) towards the best (1), with its achieved count */
    const tasks = [];
    AGENTS.forEach((a) => ((a.submissions || {}).by_task || []).forEach((t) => {
      if (tasks.indexOf(t.test_id) < 0) tasks.push(t.test_id);
    }));
    const shown = AGENTS.filter((a) => a.submissions);
    const rowH = 16, gap = 10, m = { l: 140, r: 110, t: 20, b: 30 }, W = 640;
    const groupH = rowH * shown.length + gap, H = m.t + m.b + groupH * tasks.length;
    const root = frame(W, H), x = (v) => m.l + v * (W - m.l - m.r);
    [[0, 'baseline'], [1, 'best']].forEach((p) => {
      root.appendChild(svg('line', { class: 'grid', x1: x(p[0]), x2: x(p[0]), y1: m.t - 6, y2: H - m.b }));
      root.appendChild(svg('text', { x: x(p[0]), y: m.t - 8, 'text-anchor': 'middle', class: 'muted' }, p[1]));
    });
    tasks.forEach((id, ti) => {
      const y0 = m.t + ti * groupH;
      root.appendChild(svg('text', { x: m.l - 8, y: y0 + (groupH - gap) / 2 + 4, 'text-anchor': 'end' }, id));
      shown.forEach((a, ai) => {
        const t = (a.submissions.by_task || []).find((b) => b.test_id === id);
        if (!t || t.skill === null || t.skill === undefined) return;
        const y = y0 + ai * rowH, v = Math.max(0, Math.min(1, t.skill));
        root.appendChild(titled(svg('rect', { class: 'bar', x: x(0), y: y + 2, width: Math.max(x(v) - x(0), 1), height: rowH - 4,
          fill: COLOR[a.agent_id] }), a.agent_id + ' · ' + id + ': skill ' + fmt(t.skill) + ', ' + t.metric + ' ' +
          mfmt(t.metric_value) + ' (baseline ' + mfmt(t.baseline) + ', best ' + mfmt(t.best) + '), achieved ' + t.achieved + '/' + t.tries));
        root.appendChild(svg('text', { x: x(1) + 6, y: y + rowH - 4, class: 'muted' }, 'achieved ' + t.achieved + '/' + t.tries));
      });
    });
    legend(root, m.l, H - 8);
    node.appendChild(root);
  }

  document.getElementById('chart-categories').appendChild(categoryChart());
  document.getElementById('chart-quality-speed').appendChild(qualitySpeedChart());
  document.getElementById('chart-latency').appendChild(latencyChart());
  if (document.getElementById('chart-submissions')) submissionChart(document.getElementById('chart-submissions'));

  /* ---- the record table ---- */
  const table = document.getElementById('records'), tbody = table.tBodies[0];
  const controls = {
    text: document.getElementById('filter-text'), agent: document.getElementById('filter-agent'),
    category: document.getElementById('filter-category'), failed: document.getElementById('filter-failed'),
  };
  const state = { key: null, dir: 1, open: new Set() };
  const scoring = (r) => r.scoring || {};
  const failed = (r) => r.status !== 'ok' || Boolean(scoring(r).error) || scoring(r).passed === false;
  function value(r, key) {
    if (key === 'score') return scoring(r).score;
    if (key === 'passed') return scoring(r).passed === null || scoring(r).passed === undefined ? null : (scoring(r).passed ? 1 : 0);
    return r[key] === undefined ? null : r[key];
  }
  AGENTS.forEach((a) => controls.agent.appendChild(el('option', { value: a.agent_id }, a.agent_id)));
  const CATEGORIES = [].concat.apply(RECORDS.map((r) => r.category), AGENTS.map((a) => Object.keys(a.categories || {})));
  Array.from(new Set(CATEGORIES)).sort().forEach((c) => controls.category.appendChild(el('option', { value: c }, c)));

  function visible() {
    const text = controls.text.value.trim().toLowerCase();
    const rows = RECORDS.map((r, i) => i).filter((i) => {
      const r = RECORDS[i];
      if (controls.agent.value && r.agent_id !== controls.agent.value) return false;
      if (controls.category.value && r.category !== controls.category.value) return false;
      if (controls.failed.checked && !failed(r)) return false;
      if (!text) return true;
      return [r.agent_id, r.test_id, r.test_name, r.category, r.status, r.response_text, r.error_message]
        .some((f) => typeof f === 'string' && f.toLowerCase().indexOf(text) >= 0);
    });
    if (state.key) {
      rows.sort((i, j) => {
        const a = value(RECORDS[i], state.key), b = value(RECORDS[j], state.key);
        if (a === null || b === null) return a === b ? i - j : (a === null ? 1 : -1);
        return (a < b ? -1 : a > b ? 1 : i - j) * state.dir;
      });
    }
    return rows;
  }
  function recordRow(i) {
    const r = RECORDS[i], v = verdict(r);
    const tr = el('tr', { class: 'record', tabindex: '0', 'aria-expanded': String(state.open.has(i)), 'data-index': String(i) });
    const classes = { 4: r.status === 'ok' ? null : 'error', 6: v[0] };
    [r.agent_id, r.test_id, r.category, r.repeat, r.status, fmt(scoring(r).score), v[1], fmt(r.execution_time)]
      .forEach((c, n) => tr.appendChild(el('td', classes[n] ? { class: classes[n] } : {}, c)));
    if (state.open.has(i)) tr.classList.add('open');
    return tr;
  }
  const RECORD = window.llmbenchRecords, verdict = RECORD.verdict;  /* records.js, inlined before this */
  function detailRow(i) {
    const td = el('td', { colspan: '8' });
    RECORD.detail(td, RECORDS[i]);
    const tr = el('tr', { class: 'detail' });
    tr.appendChild(td);
    return tr;
  }
  function render() {
    const rows = visible(), frag = document.createDocumentFragment();
    rows.forEach((i) => {
      frag.appendChild(recordRow(i));
      if (state.open.has(i)) frag.appendChild(detailRow(i));
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
    document.getElementById('record-count').textContent = rows.length + ' of ' + RECORDS.length + ' records';
  }
  function toggle(tr) {
    const i = Number(tr.getAttribute('data-index'));
    if (state.open.has(i)) {
      state.open.delete(i);
      if (tr.nextSibling && tr.nextSibling.classList.contains('detail')) tbody.removeChild(tr.nextSibling);
    } else {
      state.open.add(i);
      tbody.insertBefore(detailRow(i), tr.nextSibling);
    }
    tr.classList.toggle('open', state.open.has(i));
    tr.setAttribute('aria-expanded', String(state.open.has(i)));
  }
  tbody.addEventListener('click', (e) => {
    const tr = e.target.closest('tr.record');
    if (tr) toggle(tr);
  });
  tbody.addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr.record');
    if (tr && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); toggle(tr); }
  });
  Array.from(table.tHead.rows[0].cells).forEach((th) => {
    th.setAttribute('tabindex', '0');
    const sort = () => {
      const key = th.getAttribute('data-key');
      state.dir = state.key === key ? -state.dir : 1;
      state.key = key;
      Array.from(table.tHead.rows[0].cells).forEach((h) => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
      render();
    };
    th.addEventListener('click', sort);
    th.addEventListener('keydown', (e) => { if (e.key === 'Enter') sort(); });
  });
  // 'input' for the text box only: its 'change' fires on blur, re-rendering under a click
  controls.text.addEventListener('input', render);
  [controls.agent, controls.category, controls.failed].forEach((c) => c.addEventListener('change', render));
  render();
}());
