/* llmbench view: what every page shares. Text from a run (ids, answers, file names) is only ever
   set with textContent, never parsed as HTML; URLs are built from encodeURIComponent parts. */
(function () {
  'use strict';
  const { el, fmt } = window.llmbenchRecords;  /* records.js, loaded first on every page */
  const enc = encodeURIComponent;
  function query(params) {
    const parts = [];
    Object.keys(params).forEach((k) => {
      const v = params[k];
      if (v === null || v === undefined || v === '' || v === false) return;
      (Array.isArray(v) ? v : [v]).forEach((one) => parts.push(enc(k) + '=' + enc(one === true ? '1' : one)));
    });
    return parts.length ? '?' + parts.join('&') : '';
  }
  function showError(message) {
    const node = document.getElementById('error');
    if (!node) return;
    node.hidden = !message;
    node.textContent = message || '';
  }
  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: 'application/json' } });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || (url + ': HTTP ' + response.status));
    return data;
  }
  /* a table of text cells: {id, header, rows} */
  function table(spec) {
    const t = el('table', spec.id ? { id: spec.id } : {});
    const head = t.appendChild(el('thead')).appendChild(el('tr'));
    spec.header.forEach((h) => head.appendChild(el('th', {}, h)));
    const body = t.appendChild(el('tbody'));
    spec.rows.forEach((row) => {
      const tr = body.appendChild(el('tr'));
      row.forEach((c) => tr.appendChild(el('td', {}, c)));
    });
    return t;
  }
  function duration(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const s = Math.max(0, Math.round(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? h + ':' + String(m).padStart(2, '0') : String(m)) + ':' + String(r).padStart(2, '0');
  }
  function when(iso) {
    if (!iso) return '–';
    const d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  }
  /* a pager over {total}: calls go(offset) */
  function pager(root, limit, go) {
    const state = { offset: 0, total: 0 };
    const $ = (id) => root.querySelector('#' + id);
    const last = () => Math.max(0, Math.floor((state.total - 1) / limit) * limit);
    $('first').addEventListener('click', () => go(0));
    $('previous').addEventListener('click', () => go(Math.max(0, state.offset - limit)));
    $('next').addEventListener('click', () => go(Math.min(last(), state.offset + limit)));
    $('last').addEventListener('click', () => go(last()));
    return {
      show(offset, total) {
        state.offset = offset; state.total = total;
        const pages = Math.max(1, Math.ceil(total / limit));
        $('page').textContent = 'page ' + (Math.floor(offset / limit) + 1) + ' of ' + pages;
        $('first').disabled = $('previous').disabled = offset <= 0;
        $('next').disabled = $('last').disabled = offset + limit >= total;
      },
      get offset() { return state.offset; },
      get total() { return state.total; },
      atEnd() { return state.offset + limit >= state.total; },
    };
  }
  function debounce(fn, ms) {
    let timer = null;
    return function () { clearTimeout(timer); timer = setTimeout(fn, ms); };
  }
  window.llmbenchView = { el, fmt, enc, query, getJSON, table, duration, when, pager, debounce, showError };
}());
