/* llmbench view: the same tests side by side, one column per agent of a run (?c=RUN/AGENT&c=...),
   the paired differences of every two columns above them; a row opens every column's record
   next to each other. */
(function () {
  'use strict';
  const V = window.llmbenchView, R = window.llmbenchRecords, el = V.el;
  const LIMIT = 100;
  const params = new URLSearchParams(window.location.search);
  const COLUMNS = params.getAll('c');
  const table = document.getElementById('comparison'), tbody = table.tBodies[0];
  const controls = { category: document.getElementById('filter-category'), differ: document.getElementById('filter-differ') };
  const state = { rows: [], columns: [], open: new Set(), full: new Map() };
  const recordUrl = (col, position) => '/api/runs/' + V.enc(col.run_id) + '/records/' + position;
  const keyOf = (row) => row.test_id + '\u0000' + row.repeat;

  function head(columns) {
    const tr = table.tHead.rows[0];
    tr.textContent = '';
    ['Test', 'Repeat', 'Category'].forEach((h) => tr.appendChild(el('th', {}, h)));
    columns.forEach((c, n) => {
      const th = tr.appendChild(el('th', { class: 'column' }));
      th.appendChild(el('a', { href: '/runs/' + V.enc(c.run_id) }, c.run_id));
      th.appendChild(el('div', { class: 'agent' }, c.agent_id));
      const rest = COLUMNS.filter((_, m) => m !== n);
      if (rest.length) {
        th.appendChild(el('a', { href: '/compare' + V.query({ c: rest }), class: 'remove', title: 'Remove this column' }, 'remove'));
      }
    });
  }
  function cellText(c) {
    if (!c) return ['missing', 'not run'];
    if (c.status !== 'ok') return ['error', c.status];
    if (c.failed && c.passed !== false) return ['error', 'not scored'];
    if (c.passed === null) return ['', c.score === null ? 'n/a' : V.fmt(c.score)];
    return [c.passed ? 'pass' : 'fail', V.fmt(c.score) + ' · ' + (c.passed ? 'yes' : 'no')];
  }
  function paired(list) {
    const body = document.querySelector('#paired tbody');
    body.textContent = '';
    list.forEach((p) => {
      const ci = p.diff_ci ? ' [' + V.fmt(p.diff_ci[0]) + ', ' + V.fmt(p.diff_ci[1]) + ']' : '';
      const pv = p.mcnemar.p_value;
      const cells = [p.a, p.b, p.n_pairs, V.fmt(p.mean_a), V.fmt(p.mean_b), p.mean_diff === null ? 'n/a' : V.fmt(p.mean_diff) + ci,
        p.mcnemar.a_only + ' / ' + p.mcnemar.b_only, pv < 0.001 ? '< 0.001' : V.fmt(pv, pv < 0.01 ? 3 : 2), p.significant ? 'yes' : 'no'];
      const tr = body.appendChild(el('tr'));
      cells.forEach((c) => tr.appendChild(el('td', {}, c)));
    });
    if (!list.length) body.appendChild(el('tr')).appendChild(el('td', { colspan: '9', class: 'note' }, 'Give two columns or more to compare them.'));
  }
  function render() {
    const frag = document.createDocumentFragment();
    state.rows.forEach((row) => {
      const key = keyOf(row), open = state.open.has(key);
      const tr = frag.appendChild(el('tr', { class: 'record' + (open ? ' open' : ''), tabindex: '0', 'data-key': key }));
      [row.test_id, row.repeat, row.category].forEach((c) => tr.appendChild(el('td', {}, c)));
      row.cells.forEach((c) => {
        const t = cellText(c);
        tr.appendChild(el('td', { class: 'cell ' + (c ? t[0] : 'missing') }, t[1]));
      });
      if (open) {
        const detail = frag.appendChild(el('tr', { class: 'detail' }));
        detail.appendChild(el('td', { colspan: '3' }, row.test_id));
        row.cells.forEach((c, n) => {
          const td = detail.appendChild(el('td', { class: 'side' }));
          const full = c && state.full.get(n + ':' + c.position);
          if (full) R.detail(td, full); else td.textContent = c ? 'loading…' : 'not run';
        });
      }
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
  }
  async function openRow(key) {
    if (state.open.has(key)) { state.open.delete(key); render(); return; }
    state.open.add(key);
    render();
    const row = state.rows.find((r) => keyOf(r) === key);
    if (!row) return;
    try {
      await Promise.all(row.cells.map(async (c, n) => {
        if (c && !state.full.has(n + ':' + c.position)) state.full.set(n + ':' + c.position, await V.getJSON(recordUrl(state.columns[n], c.position)));
      }));
    } catch (e) {
      V.showError('Cannot open the records: ' + e.message);
    }
    render();
  }
  R.onRows(tbody, (tr) => openRow(tr.getAttribute('data-key')));
  const pages = V.pager(document.getElementById('pager'), LIMIT, (offset) => load(offset));
  async function load(offset) {
    try {
      const data = await V.getJSON('/api/compare' + V.query({
        c: COLUMNS, offset: offset, limit: LIMIT, category: controls.category.value, differ: controls.differ.checked,
      }));
      state.columns = data.columns;
      state.rows = data.rows;
      head(data.columns);
      paired(data.paired);
      if (controls.category.options.length === 1) {
        data.categories.forEach((c) => controls.category.appendChild(el('option', { value: c }, c)));
      }
      pages.show(data.offset, data.total);
      document.getElementById('row-count').textContent = data.total + ' rows';
      V.showError(null);
      render();
    } catch (e) {
      V.showError('Cannot compare: ' + e.message);
    }
  }
  controls.category.addEventListener('change', () => load(0));
  controls.differ.addEventListener('change', () => load(0));
  load(0);
}());
