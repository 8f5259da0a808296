/* llmbench view: one run. The summary's sections, the charts, the records a page at a time
   (filtered and sorted by the server), a record in full with the files its agent wrote, and,
   while the run goes, progress and new records as they are journaled (server-sent events). */
(function () {
  'use strict';
  const V = window.llmbenchView, R = window.llmbenchRecords, el = V.el;
  const RUN = decodeURIComponent(window.location.pathname.split('/')[2] || '');
  const API = '/api/runs/' + V.enc(RUN);
  const LIMIT = 50;
  const table = document.getElementById('records'), tbody = table.tBodies[0];
  const controls = {
    text: document.getElementById('filter-text'), agent: document.getElementById('filter-agent'),
    category: document.getElementById('filter-category'), status: document.getElementById('filter-status'),
  };
  const state = { sort: null, desc: false, open: new Set(), full: new Map(), rows: [], events: null, data: null };
  const chosen = new Set();

  /* ---- the header, the sections and the progress ---- */
  function header(data) {
    const run = data.run;
    document.title = 'llmbench ' + run.id;
    document.getElementById('title').textContent = 'Run ' + run.id;
    const meta = document.getElementById('meta');
    meta.textContent = '';
    meta.appendChild(el('strong', { class: 'status-' + run.status, id: 'run-status' }, run.status));
    meta.appendChild(document.createTextNode(' · started ' + V.when(run.started_at) +
      (run.ended_at ? ' · ended ' + V.when(run.ended_at) : '') +
      ' · ' + (run.tests === null ? '?' : run.tests) + ' tests × ' + (run.repeats || 1) + ' repeats × ' +
      run.agents.length + ' agents' + (run.has_report ? ' · ' : '')));
    if (run.has_report) meta.appendChild(el('span', { class: 'note' }, 'report.html in the run directory'));
    if (run.problem) V.showError(run.problem);
    if (data.bad_lines) V.showError(data.bad_lines + ' journal lines could not be read and are left out.');
  }
  function leaderboardBoxes(tableNode) {
    Array.from(tableNode.tBodies[0].rows).forEach((tr) => {
      const agent = tr.cells[1].textContent, box = el('input', { type: 'checkbox', 'aria-label': 'Compare ' + agent, 'data-agent': agent });
      box.checked = chosen.has(agent);
      tr.cells[0].insertBefore(box, tr.cells[0].firstChild);
    });
    document.getElementById('compare-agents').hidden = false;
  }
  function sections(data) {
    const root = document.getElementById('sections');
    root.textContent = '';
    if (!data.summary) {
      root.appendChild(el('p', { class: 'note', id: 'no-summary' }, data.run.status === 'running'
        ? 'The leaderboard appears when the run ends and is scored; the records below come in as they are journaled.'
        : 'This run has no summary.json (it was never scored): llmbench report ' + data.run.id + ' makes one.'));
      return;
    }
    data.sections.forEach((s) => {
      const section = root.appendChild(el('section', { id: s.id }));
      section.appendChild(el('h2', {}, s.title));
      if (s.warning) section.appendChild(el('p', { class: 'warning' }, s.warning));
      s.notes.forEach((n) => section.appendChild(el('p', { class: 'note' }, n)));
      s.tables.forEach((t) => {
        if (t.title) section.appendChild(el('h3', {}, t.title));
        if (t.note) section.appendChild(el('p', { class: 'note' }, t.note));
        const node = section.appendChild(V.table(t));
        if (t.id === 'leaderboard') leaderboardBoxes(node);
      });
      if (s.lines.length) {
        const list = section.appendChild(el('ul', { id: s.id === 'leaderboard-section' ? 'differences' : s.id + '-lines' }));
        s.lines.forEach((line) => list.appendChild(el('li', {}, line)));
      }
    });
  }
  function concurrency(c) {
    if (!c) return '–';
    if (c.mode === 'fixed') return 'fixed ' + c.limit;
    if (c.mode === 'auto') return 'auto' + (c.final !== undefined ? ', final ' + c.final : '');
    return String(c.mode);
  }
  function showProgress(p) {
    const section = document.getElementById('live');
    const complete = p && p.total.total !== null && p.total.done >= p.total.total;
    if (!p || (!p.running && (complete || !state.data.records_total))) { section.hidden = true; return; }
    section.hidden = false;
    const status = document.getElementById('live-status');
    status.textContent = '';
    if (p.running) status.appendChild(el('span', { class: 'live-dot', title: 'live' }));
    const t = p.total;
    status.appendChild(document.createTextNode((p.running ? 'Running: ' : 'Ended (' + p.status + '): ') + t.done +
      (t.total === null ? '' : ' of ' + t.total) + ' results' + (t.errors ? ', ' + t.errors + (t.errors === 1 ? ' error' : ' errors') : '') +
      (p.running && t.eta_s !== null ? ', about ' + V.duration(t.eta_s) + ' left' : '') +
      (p.running && t.in_flight !== null ? ', about ' + V.fmt(t.in_flight, 1) + ' requests in flight' : '') +
      (p.max_workers ? ' (max_workers ' + p.max_workers + ')' : '')));
    if (p.stale) status.appendChild(el('span', { class: 'warning' }, ' — no result for over 10 minutes: the run may have stopped (llmbench run --resume continues it)'));
    const body = document.querySelector('#progress tbody'), frag = document.createDocumentFragment();
    p.agents.forEach((a) => {
      const tr = frag.appendChild(el('tr', { 'data-agent': a.agent_id }));
      tr.appendChild(el('td', {}, a.agent_id));
      tr.appendChild(el('td', { class: 'done' }, a.done + (a.total === null ? '' : ' / ' + a.total)));
      const bar = el('progress', { max: String(a.total || 1), value: String(Math.min(a.done, a.total || a.done)) });
      tr.appendChild(el('td')).appendChild(bar);
      tr.appendChild(el('td', a.errors ? { class: 'error' } : {}, a.errors));
      tr.appendChild(el('td', {}, a.cancelled));
      tr.appendChild(el('td', {}, a.rate_per_s === null ? '–' : V.fmt(a.rate_per_s, 2)));
      tr.appendChild(el('td', { class: 'eta' }, a.eta_s === null ? '–' : V.duration(a.eta_s)));
      tr.appendChild(el('td', {}, a.in_flight === null ? '–' : V.fmt(a.in_flight, 1)));
      tr.appendChild(el('td', {}, concurrency(a.concurrency)));
    });
    body.textContent = '';
    body.appendChild(frag);
  }
  function options(select, values) {
    const keep = select.value;
    while (select.options.length > 1) select.remove(1);
    values.forEach((v) => select.appendChild(el('option', { value: v }, v)));
    if (values.indexOf(keep) >= 0) select.value = keep;
  }

  /* ---- charts: report.html's, drawn by charts.js (llmbench.report.charts) ---- */
  async function charts() {
    const note = document.getElementById('charts-note'), node = document.getElementById('charts');
    try {
      const specs = await V.getJSON(API + '/charts');
      node.textContent = '';
      if (specs.length) {
        await window.llmbenchCharts(node, specs);
        note.textContent = '';
      } else {
        note.textContent = state.data && state.data.summary ? 'This run has no data to chart.'
          : 'Charts appear once the run is scored.';
      }
    } catch (e) {
      note.textContent = 'Cannot load the charts: ' + e.message;
    }
  }

  /* ---- the records ---- */
  const pages = V.pager(document.getElementById('pager'), LIMIT, (offset) => page(offset));
  function filters() {
    return {
      agent: controls.agent.value, category: controls.category.value, status: controls.status.value,
      text: controls.text.value.trim(), sort: state.sort, desc: state.desc,
    };
  }
  function recordRow(r) {
    const v = R.verdict(r), open = state.open.has(r.position);
    const tr = el('tr', { class: 'record' + (open ? ' open' : ''), tabindex: '0', 'aria-expanded': String(open), 'data-position': String(r.position) });
    const classes = { 4: r.status === 'ok' ? null : 'error', 6: v[0] };
    const score = r.scoring ? V.fmt(r.scoring.score) : r.scored ? 'n/a' : 'not yet';
    [r.agent_id, r.test_id, r.category, r.repeat, r.status, score, r.scored ? v[1] : 'not yet', V.fmt(r.execution_time)]
      .forEach((c, n) => tr.appendChild(el('td', classes[n] ? { class: classes[n] } : {}, c)));
    return tr;
  }
  function files(td, r) {
    if (!r.files || !r.files.length) return;
    td.appendChild(el('h4', {}, 'Files the agent left (' + r.files_total + ')'));
    const list = td.appendChild(el('ul', { class: 'files' }));
    r.files.forEach((f) => {
      const url = API + '/files/' + r.position + '/' + f.name.split('/').map(V.enc).join('/');
      const li = list.appendChild(el('li', { class: 'file' }));
      li.appendChild(el('a', { href: url, target: '_blank', rel: 'noopener noreferrer', class: 'view' }, f.name));
      li.appendChild(el('span', { class: 'size' }, f.size + ' bytes'));
      li.appendChild(el('a', { href: url + '?download=1', class: 'download' }, 'download'));
    });
    if (r.files_total > r.files.length) td.appendChild(el('p', { class: 'note' }, (r.files_total - r.files.length) + ' more not listed'));
    (r.files_cut || []).forEach((c) => td.appendChild(el('p', { class: 'note' }, 'not saved (too big): ' + c.file + ' (' + c.bytes + ' bytes)')));
  }
  function detailRow(r) {
    const td = el('td', { colspan: '8' }), tr = el('tr', { class: 'detail', 'data-position': String(r.position) });
    R.detail(td, r);
    files(td, r);
    tr.appendChild(td);
    return tr;
  }
  async function full(position) {
    if (!state.full.has(position)) state.full.set(position, await V.getJSON(API + '/records/' + position));
    return state.full.get(position);
  }
  function render() {
    const frag = document.createDocumentFragment();
    state.rows.forEach((r) => {
      frag.appendChild(recordRow(r));
      if (state.open.has(r.position) && state.full.has(r.position)) frag.appendChild(detailRow(state.full.get(r.position)));
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
  }
  let asked = 0;
  async function page(offset) {
    const mine = ++asked;
    try {
      const data = await V.getJSON(API + '/records' + V.query(Object.assign({ offset: offset, limit: LIMIT }, filters())));
      if (mine !== asked) return;  /* a later request overtook this one */
      state.rows = data.records;
      pages.show(data.offset, data.total);
      document.getElementById('record-count').textContent = data.total + ' of ' + data.all + ' records';
      render();
    } catch (e) {
      V.showError('Cannot load the records: ' + e.message);
    }
  }
  async function toggle(tr) {
    const position = Number(tr.getAttribute('data-position'));
    if (state.open.has(position)) {
      state.open.delete(position);
    } else {
      state.open.add(position);
      try { await full(position); } catch (e) { state.open.delete(position); V.showError('Cannot open the record: ' + e.message); }
    }
    render();
  }
  R.onRows(tbody, toggle);
  R.sortableHeads(table, (key, ascending) => {
    state.sort = key;
    state.desc = !ascending;
    page(0);
  });
  controls.text.addEventListener('input', V.debounce(() => page(0), 250));
  [controls.agent, controls.category, controls.status].forEach((c) => c.addEventListener('change', () => page(0)));
  document.getElementById('sections').addEventListener('change', (e) => {
    const agent = e.target.getAttribute('data-agent');
    if (!agent) return;
    if (e.target.checked) chosen.add(agent); else chosen.delete(agent);
    const button = document.getElementById('compare');
    button.disabled = chosen.size < 1;
    button.textContent = 'Compare selected agents' + (chosen.size ? ' (' + chosen.size + ')' : '');
  });
  document.getElementById('compare').addEventListener('click', () => {
    window.location.href = '/compare' + V.query({ c: Array.from(chosen).map((a) => RUN + '/' + a) });
  });

  /* ---- live: the journal's new lines, as server-sent events ---- */
  const reload = V.debounce(() => {
    /* new results: the page shown is asked again (the server cuts it from its index) */
    state.full.forEach((r, position) => { if (!r.scoring) state.full.delete(position); });
    page(pages.offset);
  }, 300);
  function listen(offset) {
    if (state.events) state.events.close();
    const events = new EventSource(API + '/events?offset=' + offset);
    state.events = events;
    events.addEventListener('records', (e) => {
      const data = JSON.parse(e.data);
      state.data.records_total = data.total;
      data.rows.forEach((r) => state.full.delete(r.position));  /* a re-run supersedes what was read */
      reload();
    });
    events.addEventListener('progress', (e) => showProgress(JSON.parse(e.data)));
    events.addEventListener('status', () => load(false));
  }

  async function load(first) {
    try {
      const data = await V.getJSON(API);
      state.data = data;
      header(data);
      sections(data);
      showProgress(data.progress);
      options(controls.agent, data.agents);
      options(controls.category, data.categories);
      charts();
      state.full.clear();
      const live = data.progress && data.progress.running;
      if (first && live) state.desc = true;  /* a run in progress: its newest results first */
      await page(first ? 0 : pages.offset);
      if (live && !state.events) listen(data.journal_end);
      if (!live && state.events) { state.events.close(); state.events = null; }
    } catch (e) {
      V.showError('Cannot load run ' + RUN + ': ' + e.message);
    }
  }
  load(true);
}());
