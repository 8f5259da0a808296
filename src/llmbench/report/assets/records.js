/* llmbench records: one record's detail (its figures, prompt, expected answer, thinking, answer,
   error, scorers, submission and transcript, code cells included), shared by report.html (inlined
   before report.js) and the viewer (/assets/records.js, first on every page), with the
   helpers el, fmt and mfmt they use too. Plain ES2017, no libraries. Text from a
   model or a test file is only ever set with textContent, never parsed as HTML. */
(function () {
  'use strict';
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
  const scoring = (r) => r.scoring || {};
  /* failed, errored or not scored: what the reports list as a failure */
  const failed = (r) => r.status !== 'ok' || Boolean(scoring(r).error) || scoring(r).passed === false;
  function verdict(r) {
    if (r.status !== 'ok') return ['error', r.status];
    if (scoring(r).error) return ['error', 'not scored'];
    if (typeof scoring(r).passed !== 'boolean') return [null, 'n/a'];
    return scoring(r).passed ? ['pass', 'yes'] : ['fail', 'no'];
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

  /* fill td with record r's detail */
  function detail(td, r) {
    const s = scoring(r);
    td.appendChild(el('p', {}, r.test_id + ' — ' + (r.test_name || '') + ' · ' + fmt(r.execution_time) + ' s, TTFT ' +
      fmt(r.time_to_first_token) + ' s' + (r.reasoning_text ? ', first answer token ' + fmt(r.time_to_first_answer_token) + ' s' : '') +
      ', ' + fmt(r.tokens_per_second, 1) + ' tokens/s, tokens ' +
      (r.prompt_tokens === null ? 'n/a' : r.prompt_tokens) + ' + ' + (r.completion_tokens === null ? 'n/a' : r.completion_tokens) +
      (r.cached ? ' (cached)' : '')));
    if (outcome(r)) td.appendChild(el('p', { class: 'outcome' }, outcome(r)));
    block(td, 'Prompt', r.prompt === null || r.prompt === undefined ? (r.prompt_note ? '(' + r.prompt_note + ')' : '') : r.prompt);
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
  }
  /* a click, Enter or Space on one of tbody's tr.record rows calls toggle(row); a click on a link
     in it follows the link instead */
  function onRows(tbody, toggle) {
    tbody.addEventListener('click', (e) => {
      if (e.target.closest('a')) return;
      const tr = e.target.closest('tr.record');
      if (tr) toggle(tr);
    });
    tbody.addEventListener('keydown', (e) => {
      const tr = e.target.closest('tr.record');
      if (tr && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); toggle(tr); }
    });
  }
  /* a click or Enter on a header of table calls sort(its data-key, ascending): ascending the
     first time, reversed on the same column again; aria-sort says which */
  function sortableHeads(table, sort) {
    const heads = Array.from(table.tHead.rows[0].cells);
    let current = null, ascending = true;
    heads.forEach((th) => {
      th.setAttribute('tabindex', '0');
      const go = () => {
        const key = th.getAttribute('data-key');
        ascending = current === key ? !ascending : true;
        current = key;
        heads.forEach((h) => h.removeAttribute('aria-sort'));
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        sort(key, ascending);
      };
      th.addEventListener('click', go);
      th.addEventListener('keydown', (e) => { if (e.key === 'Enter') go(); });
    });
  }
  window.llmbenchRecords = {
    el: el, fmt: fmt, mfmt: mfmt, scoring: scoring, failed: failed, verdict: verdict, block: block,
    detail: detail, onRows: onRows, sortableHeads: sortableHeads,
  };
}());
