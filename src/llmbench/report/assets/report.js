/* llmbench report: the charts (assets/charts.js, drawn by Vega-Lite from the specs in the JSON
   data block) and the record table. Plain ES2017. Text from a model or a test file is only
   ever set with textContent (el below), never parsed as HTML. */
(function () {
  'use strict';
  const DATA = JSON.parse(document.getElementById('data').textContent);
  const SUMMARY = DATA.summary;
  const RECORDS = DATA.records;

  const R = window.llmbenchRecords;  /* records.js, inlined before this */
  const { el, fmt, mfmt } = R;
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
  R.onRows(tbody, toggle);
  R.sortableHeads(table, (key, ascending) => {
    state.key = key;
    state.dir = ascending ? 1 : -1;
    render();
  });
  // 'input' for the text box only: its 'change' fires on blur, re-rendering under a click
  controls.text.addEventListener('input', render);
  [controls.agent, controls.category, controls.failed].forEach((c) => c.addEventListener('change', render));
  render();
}());
