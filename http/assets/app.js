/* ringwatch dashboard: the flagged-clusters table and a page per cluster.
 * Plain JS, no framework. Every server string reaches the page through
 * textContent (never innerHTML); the analyst token lives in sessionStorage
 * only and goes out as a bearer token to this origin. */
'use strict';

(() => {
  const TOKEN_KEY = 'ringwatch.analyst_token';
  const $ = (id) => document.getElementById(id);

  /* ---- the token ------------------------------------------------------- */

  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    list.rows = [];
    list.stack = [null];
    clearPictures();
    $('login-error').textContent = message || '';
    render();
  }

  /* ---- DOM helpers: text only ------------------------------------------ */

  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function setStatus(id, text, kind) {
    const p = $(id);
    p.textContent = text || '';
    p.className = 'status' + (kind ? ' ' + kind : '');
  }

  const fmtScore = (x) => (typeof x === 'number' ? x.toFixed(3) : '');
  /* "c12" (the API's cluster id) as a number, for sorting. */
  const idNum = (id) => Number(String(id).replace(/^c/, '')) || 0;

  /* An ISO time as "3 h ago" (the exact time goes in a title). */
  function ago(iso) {
    if (!iso) return '';
    const s = (Date.now() - Date.parse(iso)) / 1000;
    if (!isFinite(s)) return iso;
    const a = Math.abs(s), sign = s < 0 ? 'in ' : '';
    const [n, u] = a < 90 ? [a, 's'] : a < 5400 ? [a / 60, 'min'] : a < 129600 ? [a / 3600, 'h'] : [a / 86400, 'days'];
    return sign + Math.round(n) + ' ' + u + (s < 0 ? '' : ' ago');
  }

  /* A reason or a value of any JSON shape, as one line of text. */
  function describe(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
    if (typeof v !== 'object') return String(v);
    if (Array.isArray(v)) return v.map(describe).join(', ');
    const parts = [];
    for (const [k, x] of Object.entries(v)) parts.push(k + ': ' + describe(x));
    return parts.join('; ');
  }

  /* ---- the API ---------------------------------------------------------- */

  class ApiError extends Error {}

  async function api(path, opts) {
    const o = Object.assign({ cache: 'no-store', credentials: 'omit' }, opts || {});
    o.headers = Object.assign({ Authorization: 'Bearer ' + token() }, (opts && opts.headers) || {});
    let r;
    try {
      r = await fetch(path, o);
    } catch (e) {
      throw new ApiError('the server did not answer (' + e.message + ')');
    }
    if (r.status === 401) {
      signOut('The server refused the token; sign in again.');
      throw new ApiError('unauthorized');
    }
    if (!r.ok) {
      let detail = r.status + ' ' + r.statusText;
      try {
        const p = await r.json();
        if (p && p.detail) detail = r.status + ': ' + p.detail;
      } catch (e) {
        /* not problem+json */
      }
      throw new ApiError(detail);
    }
    return r;
  }

  /* ---- the clusters table ----------------------------------------------- */

  const list = { stack: [null], rows: [], next: null, run: null, sort: { key: 'score', dir: -1 }, loaded: false, seq: 0 };

  async function loadList() {
    const seq = ++list.seq; /* only the newest request draws */
    const params = new URLSearchParams();
    const min = $('min-score').value.trim();
    if (min !== '') params.set('min_score', min);
    params.set('page_size', $('page-size').value);
    params.set('flagged', $('flagged').value);
    if ($('labelled').value) params.set('labelled', $('labelled').value);
    const tok = list.stack[list.stack.length - 1];
    if (tok) params.set('page_token', tok);
    setStatus('list-status', 'Loading…');
    try {
      const doc = await (await api('/v1/clusters?' + params.toString())).json();
      if (seq !== list.seq) return;
      list.rows = Array.isArray(doc.clusters) ? doc.clusters : [];
      list.next = doc.next_page_token || null;
      list.run = doc.run;
      list.loaded = true;
      setStatus('list-status', list.rows.length ? '' : 'No clusters match these filters.');
    } catch (e) {
      if (seq !== list.seq) return;
      list.rows = [];
      list.next = null;
      setStatus('list-status', 'Could not load clusters: ' + e.message, 'error');
    }
    drawList();
  }

  function sortValue(row, key) {
    const v = row[key];
    return v === null || v === undefined ? '' : v;
  }

  function drawList() {
    const { key, dir } = list.sort;
    for (const th of document.querySelectorAll('#clusters th[data-sort]')) {
      th.classList.toggle('asc', th.dataset.sort === key && dir > 0);
      th.classList.toggle('desc', th.dataset.sort === key && dir < 0);
      th.setAttribute('aria-sort', th.dataset.sort === key ? (dir > 0 ? 'ascending' : 'descending') : 'none');
    }
    const needle = $('text-filter').value.trim().toLowerCase();
    const rows = list.rows
      .filter((r) => !needle || String(r.id).includes(needle) || describe(r.reasons).toLowerCase().includes(needle))
      .sort((a, b) => {
        const x = sortValue(a, key), y = sortValue(b, key);
        return (x < y ? -1 : x > y ? 1 : 0) * dir || (b.score - a.score) || (idNum(a.id) - idNum(b.id));
      });
    const body = $('cluster-rows');
    body.replaceChildren();
    for (const r of rows) {
      const reasons = Array.isArray(r.reasons) ? r.reasons : [];
      const tr = el('tr', { tabindex: '0', 'data-testid': 'cluster-row', dataset: { id: String(r.id) } },
        el('td', { class: 'num' }, r.id),
        el('td', { class: 'num' }, fmtScore(r.score)),
        el('td', { class: 'num' }, r.accounts),
        el('td', { class: 'num' }, r.attributes),
        el('td', r.label ? { class: 'label-' + r.label, 'data-testid': 'row-label' } : {}, r.label || 'unreviewed'),
        el('td', r.change ? { class: 'change', 'data-testid': 'row-change' } : {}, r.change || ''),
        el('td', { title: r.first_seen || '' }, ago(r.first_seen)),
        el('td', { title: r.last_seen || '' }, ago(r.last_seen)),
        el('td', {}, reasons.length ? describe(reasons[0]) : ''));
      body.append(tr);
    }
    $('list-run').textContent = list.run ? 'run ' + list.run : '';
    $('page-no').textContent = 'page ' + list.stack.length;
    $('prev-page').disabled = list.stack.length <= 1;
    $('next-page').disabled = !list.next;
  }

  function openRow(tr) {
    if (tr && tr.dataset.id) location.hash = '#/clusters/' + encodeURIComponent(tr.dataset.id);
  }

  /* ---- one cluster ------------------------------------------------------ */

  const pictures = []; /* blob: URLs to revoke */

  function clearPictures() {
    for (const u of pictures.splice(0)) URL.revokeObjectURL(u);
    for (const id of ['c-graph', 'c-timeline']) {
      $(id).removeAttribute('src');
      delete $(id).dataset.loaded;
    }
  }

  /* SVGs need the token, so they are fetched and shown from a blob: URL in
   * an <img>, where an SVG cannot run script. */
  async function loadPicture(imgId, path, stale) {
    const img = $(imgId);
    try {
      const r = await api(path);
      const blob = new Blob([await r.arrayBuffer()], { type: 'image/svg+xml' });
      if (stale()) return;
      const url = URL.createObjectURL(blob);
      pictures.push(url);
      img.onload = () => { img.dataset.loaded = '1'; };
      img.src = url;
    } catch (e) {
      if (!stale()) img.alt = 'picture unavailable: ' + e.message;
    }
  }

  let current = null; /* the cluster id shown, a string */

  function kvRows(tbody, obj) {
    tbody.replaceChildren();
    for (const [k, v] of Object.entries(obj || {}))
      tbody.append(el('tr', {}, el('th', {}, k), el('td', { class: 'num' }, describe(v))));
  }

  async function loadCluster(id) {
    current = id;
    const stale = () => current !== id || !token();
    clearPictures();
    setStatus('cluster-status', 'Loading…');
    setStatus('label-result', '');
    setStatus('export-status', '');
    $('c-id').textContent = id;
    $('c-run').textContent = '';
    $('c-summary').replaceChildren();
    $('c-reasons').replaceChildren();
    $('c-features').tBodies[0].replaceChildren();
    $('c-members').tBodies[0].replaceChildren();
    $('c-attrs').tBodies[0].replaceChildren();
    $('c-members-n').textContent = '';
    $('c-attrs-n').textContent = '';
    const base = '/v1/clusters/' + encodeURIComponent(id);
    loadPicture('c-graph', base + '/graph.svg', stale);
    loadPicture('c-timeline', base + '/timeline.svg', stale);
    let doc;
    try {
      doc = await (await api(base)).json();
    } catch (e) {
      if (!stale()) setStatus('cluster-status', 'Could not load cluster ' + id + ': ' + e.message, 'error');
      return;
    }
    if (stale()) return;
    setStatus('cluster-status', '');
    $('c-run').textContent = doc.run;
    const summary = $('c-summary');
    const facts = [
      ['Score', fmtScore(doc.score)],
      ['Flagged', doc.flagged ? 'yes' : 'no'],
      ['Accounts', doc.accounts],
      ['Attributes', doc.attributes],
      ['First seen', doc.first_seen || ''],
      ['Last seen', doc.last_seen || ''],
    ];
    for (const [k, v] of facts) summary.append(el('dt', {}, k), el('dd', { 'data-testid': 'fact-' + k.toLowerCase().replace(' ', '-') }, v));
    for (const r of Array.isArray(doc.reasons) ? doc.reasons : []) $('c-reasons').append(el('li', {}, describe(r)));
    kvRows($('c-features').tBodies[0], doc.features);
    const members = Array.isArray(doc.members) ? doc.members : [];
    for (const m of members)
      $('c-members').tBodies[0].append(el('tr', {},
        el('td', {}, m.account),
        el('td', { class: 'num' }, fmtScore(m.score)),
        el('td', m.flagged ? { class: 'flag' } : {}, m.flagged ? 'yes' : 'no'),
        el('td', {}, describe(m.reasons))));
    $('c-members-n').textContent = '(' + members.length + (doc.accounts > members.length ? ' of ' + doc.accounts : '') + ')';
    const attrs = Array.isArray(doc.attribute_list) ? doc.attribute_list : [];
    for (const a of attrs) {
      const rest = Object.assign({}, a);
      delete rest.kind;
      delete rest.pseudonym;
      delete rest.degree;
      $('c-attrs').tBodies[0].append(el('tr', {},
        el('td', {}, a.kind), el('td', {}, a.pseudonym), el('td', { class: 'num' }, a.degree), el('td', {}, describe(rest))));
    }
    $('c-attrs-n').textContent = '(' + attrs.length + (doc.attributes > attrs.length ? ' of ' + doc.attributes : '') + ')';
    drawLabels(Array.isArray(doc.labels) ? doc.labels : []);
  }

  /* Who judged it before: author, time, label and note, newest first. */
  function drawLabels(labels) {
    const ul = $('c-labels');
    ul.replaceChildren();
    if (!labels.length) ul.append(el('li', { class: 'muted' }, 'Not reviewed yet.'));
    for (const l of labels)
      ul.append(el('li', { 'data-testid': 'label-entry' },
        el('strong', { class: 'label-' + l.label }, l.label), ' by ',
        el('span', { 'data-testid': 'label-author' }, l.author || 'an unnamed token'), ' ',
        el('span', { title: l.created_at || '' }, ago(l.created_at)),
        l.note ? el('span', { class: 'note', 'data-testid': 'label-note-text' }, ': ' + l.note) : null));
  }

  async function postLabel(label) {
    const id = current;
    const buttons = document.querySelectorAll('#label-form button');
    buttons.forEach((b) => { b.disabled = true; });
    setStatus('label-result', 'Saving…');
    try {
      const r = await api('/v1/clusters/' + encodeURIComponent(id) + '/label', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ label, note: $('label-note').value }),
      });
      const doc = await r.json();
      if (current === id) {
        setStatus('label-result', 'Labelled ' + doc.label + ' (label #' + doc.id + ').', 'ok');
        const again = await (await api('/v1/clusters/' + encodeURIComponent(id))).json();
        if (current === id) drawLabels(Array.isArray(again.labels) ? again.labels : []);
      }
    } catch (e) {
      if (current === id) setStatus('label-result', 'Could not label: ' + e.message, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  /* Exports need the token too: fetched, then saved through a blob: link. */
  async function download(format) {
    const id = current;
    setStatus('export-status', 'Exporting ' + format + '…');
    try {
      const r = await api('/v1/clusters/' + encodeURIComponent(id) + '/export?format=' + encodeURIComponent(format));
      const blob = await r.blob();
      const m = /filename="([A-Za-z0-9._-]+)"/.exec(r.headers.get('Content-Disposition') || '');
      const a = el('a', { href: URL.createObjectURL(blob), download: m ? m[1] : 'cluster-' + id + '-' + format });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
      setStatus('export-status', 'Saved ' + a.download + ' (' + blob.size + ' bytes).', 'ok');
    } catch (e) {
      setStatus('export-status', 'Could not export: ' + e.message, 'error');
    }
  }

  /* ---- routing ---------------------------------------------------------- */

  function render() {
    const signedIn = !!token();
    const m = /^#\/clusters\/([^/]+)$/.exec(location.hash);
    $('login').hidden = signedIn;
    $('signout').hidden = !signedIn;
    $('list').hidden = !signedIn || !!m;
    $('cluster').hidden = !signedIn || !m;
    if (!signedIn) {
      current = null;
      $('token').focus();
      return;
    }
    if (m) {
      let id;
      try {
        id = decodeURIComponent(m[1]);
      } catch (e) {
        id = '';
      }
      if (id !== current) loadCluster(id);
    } else {
      current = null;
      clearPictures();
      if (!list.loaded) loadList();
    }
  }

  function init() {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('token').value.trim();
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      $('token').value = '';
      $('login-error').textContent = '';
      list.loaded = false;
      current = null;
      render();
    });
    $('signout').addEventListener('click', () => {
      list.loaded = false;
      current = null;
      signOut('Signed out.');
    });
    $('filter-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      list.stack = [null];
      loadList();
    });
    $('text-filter').addEventListener('input', drawList);
    $('next-page').addEventListener('click', () => {
      if (!list.next) return;
      list.stack.push(list.next);
      loadList();
    });
    $('prev-page').addEventListener('click', () => {
      if (list.stack.length <= 1) return;
      list.stack.pop();
      loadList();
    });
    for (const th of document.querySelectorAll('#clusters th[data-sort]')) {
      const sort = () => {
        const key = th.dataset.sort;
        list.sort = { key, dir: list.sort.key === key ? -list.sort.dir : th.dataset.type === 'num' ? -1 : 1 };
        drawList();
      };
      th.addEventListener('click', sort);
      th.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') sort(); });
    }
    $('cluster-rows').addEventListener('click', (ev) => openRow(ev.target.closest('tr')));
    $('cluster-rows').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openRow(ev.target.closest('tr')); });
    for (const b of document.querySelectorAll('#label-form button')) b.addEventListener('click', () => postLabel(b.dataset.label));
    $('label-form').addEventListener('submit', (ev) => ev.preventDefault());
    for (const a of document.querySelectorAll('#c-exports a')) {
      a.addEventListener('click', (ev) => {
        ev.preventDefault();
        download(a.dataset.format);
      });
    }
    window.addEventListener('hashchange', render);
    render();
  }

  init();
})();
