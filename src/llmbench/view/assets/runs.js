/* llmbench view: the runs list, newest first, refreshed every few seconds while a run goes. */
(function () {
  'use strict';
  const V = window.llmbenchView, el = V.el;
  const tbody = document.querySelector('#runs tbody');
  const controls = {
    text: document.getElementById('filter-text'), status: document.getElementById('filter-status'),
    sort: document.getElementById('sort'), compare: document.getElementById('compare'),
    all: document.getElementById('select-all'),
  };
  const chosen = new Set();  /* "run/agent" */
  let RUNS = [];

  const best = (r) => Math.max.apply(null, Object.values(r.scores || {}).filter((v) => typeof v === 'number').concat([-1]));
  function visible() {
    const text = controls.text.value.trim().toLowerCase();
    const rows = RUNS.filter((r) => {
      if (controls.status.value && r.status !== controls.status.value) return false;
      if (!text) return true;
      return [r.id, r.status].concat(r.agents, Object.values(r.models || {}))
        .some((f) => typeof f === 'string' && f.toLowerCase().indexOf(text) >= 0);
    });
    if (controls.sort.value === 'oldest') rows.reverse();
    if (controls.sort.value === 'best') rows.sort((a, b) => best(b) - best(a));
    return rows;
  }
  function agentCell(run) {
    const td = el('td', { class: 'agents' });
    run.agents.forEach((agent) => {
      const key = run.id + '/' + agent;
      const label = td.appendChild(el('label', { class: 'agent' }));
      const box = label.appendChild(el('input', { type: 'checkbox', 'data-key': key }));
      box.checked = chosen.has(key);
      const score = (run.scores || {})[agent];
      label.appendChild(document.createTextNode(' ' + agent + (score === undefined ? '' : ' (' + V.fmt(score) + ')')));
    });
    if (!run.agents.length) td.textContent = '–';
    return td;
  }
  function render() {
    const rows = visible(), frag = document.createDocumentFragment();
    rows.forEach((run) => {
      const tr = frag.appendChild(el('tr', { class: 'run', 'data-run': run.id }));
      const box = el('input', { type: 'checkbox', 'aria-label': 'Select every agent of ' + run.id, 'data-run': run.id });
      box.checked = run.agents.length > 0 && run.agents.every((a) => chosen.has(run.id + '/' + a));
      tr.appendChild(el('td')).appendChild(box);
      const link = el('a', { href: '/runs/' + V.enc(run.id) }, run.id);
      tr.appendChild(el('td')).appendChild(link);
      const status = tr.appendChild(el('td', { class: 'status-' + run.status }, run.status));
      if (run.problem) status.appendChild(el('div', { class: 'note problem' }, run.problem));
      tr.appendChild(agentCell(run));
      tr.appendChild(el('td', {}, run.tests === null ? '–' : run.tests + (run.repeats > 1 ? ' × ' + run.repeats : '')));
      tr.appendChild(el('td', {}, (run.done === null ? '–' : run.done) + (run.planned ? ' / ' + run.planned : '')));
      tr.appendChild(el('td', {}, V.when(run.started_at)));
    });
    tbody.textContent = '';
    tbody.appendChild(frag);
    document.getElementById('run-count').textContent = rows.length + ' of ' + RUNS.length + ' runs';
    controls.compare.disabled = chosen.size < 1;
    controls.compare.textContent = 'Compare selected agents' + (chosen.size ? ' (' + chosen.size + ')' : '');
  }
  tbody.addEventListener('change', (e) => {
    const box = e.target;
    if (box.getAttribute('data-key')) {
      if (box.checked) chosen.add(box.getAttribute('data-key')); else chosen.delete(box.getAttribute('data-key'));
    } else if (box.getAttribute('data-run')) {
      const run = RUNS.find((r) => r.id === box.getAttribute('data-run'));
      (run ? run.agents : []).forEach((a) => { if (box.checked) chosen.add(run.id + '/' + a); else chosen.delete(run.id + '/' + a); });
    }
    render();
  });
  controls.all.addEventListener('change', () => {
    visible().forEach((run) => run.agents.forEach((a) => {
      if (controls.all.checked) chosen.add(run.id + '/' + a); else chosen.delete(run.id + '/' + a);
    }));
    render();
  });
  controls.compare.addEventListener('click', () => {
    window.location.href = '/compare' + V.query({ c: Array.from(chosen) });
  });
  controls.text.addEventListener('input', render);
  [controls.status, controls.sort].forEach((c) => c.addEventListener('change', render));

  async function load() {
    try {
      const data = await V.getJSON('/api/runs');
      document.getElementById('root').textContent = 'Results directory: ' + data.root;
      RUNS = data.runs;
      V.showError(null);
      render();
    } catch (e) {
      V.showError('Cannot list the runs: ' + e.message);
    }
    /* often while a run goes (or none is there yet: one may start), seldom otherwise */
    setTimeout(load, !RUNS.length || RUNS.some((r) => r.status === 'running') ? 2000 : 10000);
  }
  load();
}());
