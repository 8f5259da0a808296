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
  function verdict(r) {
    if (r.status !== 'ok') return ['error', r.status];
    if (scoring(r).error) return ['error', 'not scored'];
    if (typeof scoring(r).passed !== 'boolean') return [null, 'n/a'];
    return scoring(r).passed ? ['pass', 'yes'] : ['fail', 'no'];
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
  function block(parent, title, text) {
    parent.appendChild(el('h4', {}, title));
    parent.appendChild(el('pre', {}, text));
  }
  function grid(parent, title, cls, header, rows) {
    parent.appendChild(el('h4', {}, title));
    const t = el('table', { class: cls }), head = el('tr');
    header.forEach((h) => head.appendChild(el('th', {}, h)));
    t.appendChild(el('thead')).appendChild(head);
    const body = t.appendChild(el('tbody'));
    rows.forEach((row) => {
      const tr = body.appendChild(el('tr'));
      row.forEach((c, n) => tr.appendChild(el('td', n === row.length - 1 ? { class: 'content' } : {}, c)));
    });
    parent.appendChild(t);
  }
  function asides(t) {
    return (t.proposed ? '\n[instructor proposed: ' + t.proposed + ']' : '') +
      (t.reason ? '\n[supervisor: ' + t.reason + ']' : '') + (t.note ? '\n[note: ' + t.note + ']' : '') +
      (t.reasoning ? '\n[thinking: ' + t.reasoning + ']' : '');
  }
  /* a transcript of a test with tools: code calls, their outputs or runner notes in it */
  const acts = (t) => t.role === 'tool' || t.role === 'note' || Array.isArray(t.tool_calls);
  const ROLES = { user: 'user', assistant: 'assistant' };
  function episode(parent, transcript) {
    parent.appendChild(el('h4', {}, 'Transcript'));
    const list = parent.appendChild(el('ol', { class: 'episode' }));
    transcript.forEach((t) => {
      const turn = t.turn === undefined || t.turn === null ? '' : 'turn ' + t.turn + ' · ';
      if (t.role === 'tool') {
        const marks = [t.raised && 'raised', t.timed_out && 'timed out', t.restarted && 'session restarted'].filter(Boolean);
        const li = list.appendChild(el('li', { class: 'cell' + (marks.length ? ' flagged' : '') }));
        const meta = li.appendChild(el('div', { class: 'meta' }, turn + 'code' + (t.call_id ? ' ' + t.call_id : '') +
          ' · ' + fmt(t.duration_s) + ' s'));
        marks.forEach((m) => meta.appendChild(el('span', { class: 'mark' }, m)));
        li.appendChild(el('pre', { class: 'code' }, t.code === null || t.code === undefined ? '' : t.code));
        li.appendChild(el('pre', { class: 'output' }, t.content ? t.content : '(no output)'));
        if (t.error) li.appendChild(el('p', { class: 'error' }, 'error: ' + t.error));
        return;
      }
      if (t.role === 'note') {
        const li = list.appendChild(el('li', { class: 'runner-note' }));
        li.appendChild(el('div', { class: 'meta' }, turn + 'note' + (t.source ? ' · ' + t.source : '')));
        li.appendChild(el('p', {}, t.content));
        return;
      }
      const calls = Array.isArray(t.tool_calls) ? t.tool_calls.length : 0;
      const li = list.appendChild(el('li', { class: 'message ' + (ROLES[t.role] || 'other') }));
      li.appendChild(el('div', { class: 'meta' }, turn + t.role + (t.source ? ' · ' + t.source : '') +
        (calls ? ' · ' + count(calls, 'code call') : '')));
      const text = (t.content || '') + asides(t);
      if (text) li.appendChild(el('pre', {}, text));
    });
  }
  const count = (n, word) => (n || 0) + ' ' + word + (n === 1 ? '' : 's');
  function outcome(r) {
    const parts = [];
    if (r.end_reason) parts.push('ended: ' + r.end_reason);
    if (r.turns !== null && r.turns !== undefined) parts.push(count(r.turns, 'turn'));
    if (r.tool_protocol) {
      parts.push('tool protocol ' + r.tool_protocol, count(r.tool_calls, 'code call') + ', ' + (r.code_errors || 0) +
        ' raised, ' + (r.code_timeouts || 0) + ' timed out, ' + count(r.session_restarts, 'session restart'));
    }
    if (r.instructor_tokens !== null && r.instructor_tokens !== undefined) parts.push('instructor tokens ' + r.instructor_tokens);
    if (r.supervisor_tokens !== null && r.supervisor_tokens !== undefined) parts.push('supervisor tokens ' + r.supervisor_tokens);
    return parts.join(' · ');
  }
  /* a data-analysis task: what the submission scorer found, and the file's first lines */
  function submission(td, r, s) {
    const score = (s.scores || []).find((c) => c.scorer === 'submission' && c.details);
    if (score) {
      const d = score.details;
      const parts = [(d.file || 'submission') + ': ' + (d.valid ? 'valid' : 'invalid' + (d.reason ? ' (' + d.reason + ')' : ''))];
      if (d.valid) {
        parts.push(d.metric + ' ' + mfmt(d.metric_value) + ' against baseline ' + mfmt(d.baseline) + ' and best ' + mfmt(d.best) +
          (d.higher_is_better ? ' (higher is better)' : ' (lower is better)'), 'skill ' + fmt(d.skill),
          d.achieved ? 'baseline achieved' : 'baseline not achieved');
        if (d.rows !== null && d.rows !== undefined) parts.push(count(d.rows, 'row'));
      }
      td.appendChild(el('p', { class: 'submission' }, parts.join(' · ')));
    }
    const p = r.submission_preview;
    if (p && Array.isArray(p.lines)) {
      block(td, 'Submission: first ' + count(p.lines.length, 'line') + ' of ' + p.file, p.lines.join('\n') + (p.more ? '\n…' : ''));
      td.lastChild.classList.add('submission-preview');
    }
  }
  function detailRow(i) {
    const r = RECORDS[i], s = scoring(r), td = el('td', { colspan: '8' });
    td.appendChild(el('p', {}, r.test_id + ' — ' + (r.test_name || '') + ' · ' + fmt(r.execution_time) + ' s, TTFT ' +
      fmt(r.time_to_first_token) + ' s' + (r.reasoning_text ? ', first answer token ' + fmt(r.time_to_first_answer_token) + ' s' : '') +
      ', ' + fmt(r.tokens_per_second, 1) + ' tokens/s, tokens ' +
      (r.prompt_tokens === null ? 'n/a' : r.prompt_tokens) + ' + ' + (r.completion_tokens === null ? 'n/a' : r.completion_tokens) +
      (r.cached ? ' (cached)' : '')));
    if (outcome(r)) td.appendChild(el('p', { class: 'outcome' }, outcome(r)));
    block(td, 'Prompt', r.prompt === null || r.prompt === undefined ? '' : r.prompt);
    block(td, 'Expected', r.expected === null || r.expected === undefined ? '(none)'
      : typeof r.expected === 'string' ? r.expected : JSON.stringify(r.expected, null, 2));
    if (r.reasoning_text) {
      const fold = td.appendChild(el('details', { class: 'thinking' }));
      fold.appendChild(el('summary', {}, 'Thinking' + (r.reasoning_tokens === null || r.reasoning_tokens === undefined
        ? '' : ' (' + r.reasoning_tokens + ' tokens)') + (r.reasoning_truncated ? ', cut off: ran out of tokens while thinking' : '')));
      fold.appendChild(el('pre', {}, r.reasoning_text));
    }
    block(td, 'Answer', r.response_text === null || r.response_text === undefined ? '(no answer)'
      : r.reasoning_truncated && !r.response_text ? '(none: ran out of tokens while thinking)' : r.response_text);
    if (r.status !== 'ok') {
      const kind = r.error_kind || r.status, message = r.error_message || '';
      block(td, 'Error', message.startsWith(kind + ':') ? message : kind + ': ' + message);  // older journals
    }
    if (s.error) block(td, 'Not scored', s.error);
    if (s.reasoning !== null && s.reasoning !== undefined) td.appendChild(el('p', {}, 'Reasoning score: ' + fmt(s.reasoning)));
    if ((s.scores || []).length) {
      grid(td, 'Scorers', 'scorers', ['scorer', 'value', 'passed', 'reason'], s.scores.map((c) => [
        c.scorer + (c.secondary ? ' (secondary)' : ''), fmt(c.value), c.passed ? 'yes' : 'no',
        (c.reason || '') + (c.error ? ' — error: ' + c.error : '')]));
    }
    submission(td, r, s);
    if (Array.isArray(r.transcript) && r.transcript.length) {
      if (r.transcript.some(acts)) episode(td, r.transcript);
      else {
        grid(td, 'Transcript', 'transcript', ['turn', 'role', 'source', 'content'], r.transcript.map((t) => [
          t.turn === undefined ? '' : t.turn, t.role, t.source || '', t.content + asides(t)]));
      }
    }
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
