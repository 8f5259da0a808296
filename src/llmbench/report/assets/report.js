/* llmbench report: the charts (assets/charts.js, drawn by Vega-Lite from the specs in the JSON
   data block) and the record table. Plain ES2017. Text from a model or a test file is only
   ever set with textContent (el below), never parsed as HTML. */
(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('data').textContent);
  const SUMMARY = DATA.summary;
  const RECORDS = DATA.records;

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.keys(attrs || {}).forEach((k) => node.setAttribute(k, attrs[k]));
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  const fmt = (v, d) => (v === null || v === undefined ? 'n/a' : Number(v).toFixed(d === undefined ? 2 : d));
  /* a metric value as the Python tables print it: 21,000 or four significant digits */
  const mfmt = (v) => (v === null || v === undefined ? 'n/a' : Math.abs(v) >= 1000
    ? Math.round(v).toLocaleString('en-US') : String(Number(Number(v).toPrecision(4))));
  const AGENTS = SUMMARY.agents.slice().sort((a, b) => {
    const ma = a.quality.mean_score, mb = b.quality.mean_score;
    if ((ma === null) !== (mb === null)) return ma === null ? 1 : -1;
    if (ma !== mb) return mb - ma;
    return a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0;
  });

  /* ---- the charts: the data-analysis one in its section, the others under Charts ---- */
  const CHARTS = DATA.charts || [];
  const HOLDERS = { submissions: document.getElementById('submission-charts') };
  const groups = new Map();
  CHARTS.forEach((chart) => {
    const holder = HOLDERS[chart.id] || document.getElementById('charts');
    if (!holder) return;
    if (!groups.has(holder)) groups.set(holder, []);
    groups.get(holder).push(chart);
  });
  Promise.all(Array.from(groups, (g) => window.llmbenchCharts(g[0], g[1])))
    .then(() => document.body.setAttribute('data-charts', 'done'));

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
