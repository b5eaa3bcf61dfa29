/* ringwatch dashboard: the clusters table, a page per cluster, account,
 * attribute and run, and a search box. Plain JS, no framework. Every server
 * string reaches the page through textContent or an attribute set by DOM
 * calls (never innerHTML); the analyst token lives in sessionStorage only
 * and goes out as a bearer token to this origin. A raw address, device or
 * card typed into the search goes to the server (which hashes it) and
 * nowhere else: pages are addressed by account id or pseudonym. */
'use strict';

(() => {
  const TOKEN_KEY = 'ringwatch.analyst_token';
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);
  const VIEWS = ['login', 'list', 'cluster', 'account', 'attribute', 'runs'];

  /* What each cluster feature measures (detectors/detectors.h), one line. */
  const FEATURES = {
    log_accounts: 'log of the number of accounts',
    device_linked: 'share of accounts sharing a (non-hub) device with another member',
    card_linked: 'share of accounts sharing a card with another member',
    ip_linked: 'share of accounts sharing an IP address with another member',
    max_device_share: 'largest share of members on one device',
    max_card_share: 'largest share of members on one card',
    exclusive: "share of the shared attributes' uses that are by members",
    burst: 'largest share of members signing up within 6 hours',
    subnet_share: 'largest share of members seen on one /24 (/48), hubs aside',
    private_attrs: 'attributes per member used by that member alone',
    ip_diversity: 'IP addresses per member',
    hub_contact: 'share of members touching a hub (carrier NAT, VPN exit, stock device)',
    lockstep: 'how much one pattern explains the account-attribute links (top singular value share)',
    later_logins: 'share of links first seen more than an hour after the signup',
    multi_shared: 'share of members sharing two or more attributes with other members',
    coherence: 'how close together in time the shared attributes were taken up (0..1)',
    shared_devices: 'devices shared by two or more members (a count, not a model input)',
    shared_cards: 'cards shared by two or more members (a count, not a model input)',
    shared_ips: 'IP addresses shared by two or more members (a count, not a model input)',
  };
  const KIND_NAMES = { ip: 'Address', device: 'Device', payment: 'Card', subnet: 'Subnet' };

  /* ---- the token ------------------------------------------------------- */

  const token = () => sessionStorage.getItem(TOKEN_KEY) || '';

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    list.rows = [];
    list.stack = [null];
    list.loaded = false;
    shown = null;
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

  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of children) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }

  function setStatus(id, text, kind) {
    const p = $(id);
    p.textContent = text || '';
    p.className = 'status' + (kind ? ' ' + kind : '') + (id === 'search-status' ? ' banner' : '');
    if (id === 'search-status') p.hidden = !text;
  }

  const fmtScore = (x) => (typeof x === 'number' ? x.toFixed(3) : '');
  const fix2 = (x) => (typeof x === 'number' ? x.toFixed(2) : '');
  const fmtNum = (x) => (typeof x !== 'number' ? '' : Number.isInteger(x) ? String(x) : x.toPrecision(3));
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
  const when = (iso) => el('span', { title: iso || '' }, ago(iso));

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

  /* ---- links: every account, attribute and cluster opens its page ------- */

  const kindOf = (pseudonym) => String(pseudonym).split(':')[0];
  const accountHref = (id) => '#/accounts/' + encodeURIComponent(id);
  const attrHref = (p) => '#/attributes/' + encodeURIComponent(kindOf(p)) + '/' + encodeURIComponent(p).replace(/%3A/g, ':');
  const clusterHref = (id) => '#/clusters/' + encodeURIComponent(id);
  const accountLink = (id) => el('a', { href: accountHref(id), 'data-testid': 'account-link' }, id);
  const attrLink = (p) => el('a', { href: attrHref(p), 'data-testid': 'attribute-link' }, p);
  const clusterLink = (id) => (id ? el('a', { href: clusterHref(id), 'data-testid': 'cluster-link' }, id) : '');

  /* A definition list of [term, value] pairs (value: text or a node). */
  function facts(dl, pairs) {
    dl.replaceChildren();
    for (const [k, v] of pairs)
      dl.append(el('dt', {}, k), el('dd', { 'data-testid': 'fact-' + k.toLowerCase().replace(/ /g, '-') }, v === null || v === undefined ? '' : v));
  }

  /* Who judged it before: author, time, label and note, newest first. */
  function drawLabels(ul, labels) {
    ul.replaceChildren();
    if (!labels.length) ul.append(el('li', { class: 'muted' }, 'Not reviewed yet.'));
    for (const l of labels)
      ul.append(el('li', { 'data-testid': 'label-entry' },
        el('strong', { class: 'label-' + l.label }, l.label), ' by ',
        el('span', { 'data-testid': 'label-author', class: 'author' }, l.author || 'an unnamed token'), ' ',
        when(l.created_at),
        l.run ? el('span', { class: 'muted' }, ' (run ' + l.run + ')') : null,
        l.note ? el('span', { class: 'note', 'data-testid': 'label-note-text' }, ': ' + l.note) : null));
  }

  /* ---- the API ---------------------------------------------------------- */

  class ApiError extends Error {
    constructor(message, status) {
      super(message);
      this.status = status || 0;
    }
  }

  async function api(path, opts) {
    const o = Object.assign({ cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' }, opts || {});
    o.headers = Object.assign({ Authorization: 'Bearer ' + token() }, (opts && opts.headers) || {});
    let r;
    try {
      r = await fetch(path, o);
    } catch (e) {
      throw new ApiError('the server did not answer (' + e.message + ')');
    }
    if (r.status === 401) {
      signOut('The server refused the token; sign in again.');
      throw new ApiError('unauthorized', 401);
    }
    if (!r.ok) {
      let detail = r.status + ' ' + r.statusText;
      try {
        const p = await r.json();
        if (p && p.detail) detail = r.status + ': ' + p.detail;
      } catch (e) {
        /* not problem+json */
      }
      throw new ApiError(detail, r.status);
    }
    return r;
  }
  const getJson = async (path) => (await api(path)).json();

  /* ---- search ------------------------------------------------------------ */

  const PSEUDONYM = /^(ip|device|payment):[0-9a-f]{6,64}$/;
  const LOOKS_IP = /^[0-9.]+$|^[0-9a-fA-F:]*:[0-9a-fA-F:.]*$/;

  /* Where q leads: an account id, a pseudonym, or a raw address, device or
   * card (hashed by the server; the page then shows the pseudonym only).
   * Resolves to a hash route, or null when nothing matches. */
  async function resolveSearch(q, kind) {
    const tries = [];
    if (PSEUDONYM.test(q) && (kind === 'any' || kind === kindOf(q))) tries.push(['attr', kindOf(q)]);
    if (kind === 'any' || kind === 'account') tries.push(['account']);
    for (const k of ['ip', 'device', 'payment'])
      if (kind === k || (kind === 'any' && !PSEUDONYM.test(q) && (k !== 'ip' || LOOKS_IP.test(q)))) tries.push(['attr', k]);
    for (const [what, k] of tries) {
      try {
        if (what === 'account') {
          const a = await getJson('/v1/accounts/' + encodeURIComponent(q));
          return accountHref(a.account);
        }
        const t = await getJson('/v1/attributes/' + k + '/' + encodeURIComponent(q));
        return attrHref(t.pseudonym);
      } catch (e) {
        if (e.status !== 404 && e.status !== 400) throw e;
      }
    }
    return null;
  }

  async function search(ev) {
    ev.preventDefault();
    const input = $('q'), q = input.value.trim();
    if (!q) return;
    setStatus('search-status', 'Searching…');
    try {
      const where = await resolveSearch(q, $('q-kind').value);
      if (!where) {
        setStatus('search-status', 'Not found: no ' + ($('q-kind').value === 'any' ? 'account, address, device or card' : $('q-kind').selectedOptions[0].textContent) +
          ' matches what you searched for.', 'error');
        return;
      }
      input.value = ''; /* a raw value is not kept in the page */
      setStatus('search-status', '');
      location.hash = where;
    } catch (e) {
      setStatus('search-status', 'Search failed: ' + e.message, 'error');
    }
  }

  /* ---- the clusters table ----------------------------------------------- */

  const list = { stack: [null], filters: null, rows: [], next: null, run: null, sort: { key: 'score', dir: -1 }, loaded: false, seq: 0 };

  /* The day after an ISO date: "to" takes in its whole day, and the API's
   * range is [since, until). */
  const nextDay = (d) => new Date(Date.parse(d + 'T00:00:00Z') + 86400000).toISOString().slice(0, 10);

  /* The form's filters, read when applied: a page token is valid only with
   * the filters of the page that gave it, so paging reuses these. */
  function readFilters() {
    const params = new URLSearchParams();
    const min = $('min-score').value.trim();
    if (min !== '') params.set('min_score', min);
    params.set('page_size', $('page-size').value);
    params.set('flagged', $('flagged').value);
    if ($('labelled').value) params.set('labelled', $('labelled').value);
    if ($('since').value) params.set('since', $('since').value);
    if ($('until').value) params.set('until', nextDay($('until').value));
    list.filters = params.toString();
  }

  async function loadList() {
    const seq = ++list.seq; /* only the newest request draws */
    if (list.filters === null) readFilters();
    const params = new URLSearchParams(list.filters);
    const tok = list.stack[list.stack.length - 1];
    if (tok) params.set('page_token', tok);
    setStatus('list-status', 'Loading…');
    list.loaded = true;
    try {
      const doc = await getJson('/v1/clusters?' + params.toString());
      if (seq !== list.seq) return;
      list.rows = Array.isArray(doc.clusters) ? doc.clusters : [];
      list.next = doc.next_page_token || null;
      list.run = doc.run;
      setStatus('list-status', list.rows.length ? '' : 'No clusters match these filters.');
    } catch (e) {
      if (seq !== list.seq) return;
      list.rows = [];
      list.next = null;
      list.loaded = false;
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
        el('td', { class: 'num' }, clusterLink(r.id)),
        el('td', { class: 'num' }, fmtScore(r.score)),
        el('td', r.flagged ? { class: 'flag' } : {}, r.flagged ? 'yes' : 'no'),
        el('td', { class: 'num' }, r.accounts),
        el('td', { class: 'num' }, r.attributes),
        el('td', r.label ? { class: 'label-' + r.label, 'data-testid': 'row-label' } : { class: 'muted' }, r.label || 'unreviewed'),
        el('td', {}, r.change ? el('span', { class: 'badge badge-' + r.change, 'data-testid': 'row-change' }, r.change) : ''),
        el('td', {}, when(r.first_seen)),
        el('td', {}, when(r.last_seen)),
        el('td', {}, reasons.length ? describe(reasons[0]) : ''));
      body.append(tr);
    }
    $('list-run').textContent = list.run ? 'run ' + list.run : '';
    $('page-no').textContent = 'page ' + list.stack.length;
    $('prev-page').disabled = list.stack.length <= 1;
    $('next-page').disabled = !list.next;
  }

  function openRow(ev) {
    const tr = ev.target.closest('tr');
    if (ev.target.closest('a')) return; /* the link opens it already */
    if (tr && tr.dataset.id) location.hash = clusterHref(tr.dataset.id);
  }

  /* ---- one cluster ------------------------------------------------------ */

  const pictures = []; /* blob: URLs to revoke */

  function clearPictures() {
    for (const u of pictures.splice(0)) URL.revokeObjectURL(u);
    $('c-timeline').removeAttribute('src');
    delete $('c-timeline').dataset.loaded;
    $('c-graph').replaceChildren();
    delete $('c-graph').dataset.loaded;
  }

  /* The timeline needs the token, so it is fetched and shown from a blob:
   * URL in an <img>, where an SVG cannot run script. */
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

  let shown = null; /* the route drawn: "cluster:c12", "account:u1", ... */

  /* Feature, value, weight, part (weight x value) and meaning, largest part
   * first: the score is the logistic of the bias plus the parts. */
  function drawFeatures(doc) {
    const tbody = $('c-features').tBodies[0];
    tbody.replaceChildren();
    const sp = doc.score_parts && typeof doc.score_parts === 'object' ? doc.score_parts : null;
    const parts = (sp && sp.parts) || {}, weights = (sp && sp.weights) || {};
    const names = Object.keys(doc.features || {});
    names.sort((a, b) => Math.abs(parts[b] || 0) - Math.abs(parts[a] || 0));
    const most = Math.max(1e-9, ...names.map((n) => Math.abs(parts[n] || 0)));
    for (const n of names) {
      const p = parts[n];
      const bar = typeof p === 'number'
        ? el('span', { class: 'bar ' + (p >= 0 ? 'up' : 'down') + ' w' + Math.round((Math.abs(p) / most) * 10) }) : null;
      tbody.append(el('tr', { 'data-testid': 'feature-row', dataset: { feature: n } },
        el('th', {}, n),
        el('td', { class: 'num' }, describe(doc.features[n])),
        el('td', { class: 'num' }, typeof weights[n] === 'number' ? fmtNum(weights[n]) : ''),
        el('td', { class: 'num part' }, typeof p === 'number' ? (p >= 0 ? '+' : '') + p.toFixed(2) : '', bar),
        el('td', { class: 'meaning' }, FEATURES[n] || '')));
    }
    if (!sp) {
      $('c-score-how').textContent = 'This run was scored by an older model; its weights are not at hand, so only the values are shown.';
      return;
    }
    const z = sp.bias + Object.values(parts).reduce((a, b) => a + b, 0);
    const logistic = 1 / (1 + Math.exp(-z));
    let how = 'Score = logistic(bias ' + sp.bias.toFixed(2) + ' + sum of parts ' + (z - sp.bias).toFixed(2) + ') = ' +
      logistic.toFixed(3) + ' (model v' + sp.model_version + '); flagged at ' + sp.threshold + ' or more.';
    if (doc.score > logistic + 1e-3) how += ' Raised to ' + fmtScore(doc.score) + ' by the block-ring signature (many accounts on one subnet taking up shared addresses together).';
    $('c-score-how').textContent = how;
  }

  function clearCluster(id) {
    setStatus('cluster-status', 'Loading…');
    setStatus('label-result', '');
    setStatus('export-status', '');
    $('c-id').textContent = id;
    $('c-run').textContent = '';
    $('c-graph-n').textContent = '';
    $('c-score-how').textContent = '';
    for (const x of ['c-summary', 'c-reasons']) $(x).replaceChildren();
    for (const x of ['c-features', 'c-members', 'c-attrs']) $(x).tBodies[0].replaceChildren();
    $('c-members-n').textContent = '';
    $('c-attrs-n').textContent = '';
    $('c-labels').replaceChildren();
  }

  async function loadCluster(id) {
    const key = 'cluster:' + id;
    const stale = () => shown !== key || !token();
    clearPictures();
    clearCluster(id);
    const base = '/v1/clusters/' + encodeURIComponent(id);
    const live = /^live-/.test(id);
    $('cluster').classList.toggle('live', live);
    if (!live) {
      loadPicture('c-timeline', base + '/timeline.svg', stale);
      loadGraph(base, stale);
    }
    let doc;
    try {
      doc = await getJson(base);
    } catch (e) {
      if (!stale()) setStatus('cluster-status', (e.status === 404 ? 'Not found: ' : 'Could not load cluster ' + id + ': ') + e.message, 'error');
      return;
    }
    if (stale()) return;
    setStatus('cluster-status', live ? 'A community formed since the newest run: what the live graph knows of it.' : '');
    if (live) return drawLiveCluster(doc);
    $('c-run').textContent = doc.run;
    facts($('c-summary'), [
      ['Score', fmtScore(doc.score)],
      ['Flagged', doc.flagged ? el('span', { class: 'flag' }, 'yes') : 'no'],
      ['Since last run', doc.change ? el('span', { class: 'badge badge-' + doc.change }, doc.change) : 'unchanged or not flagged'],
      ['Accounts', doc.accounts],
      ['Attributes', doc.attributes],
      ['First seen', el('span', {}, doc.first_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.first_seen)))],
      ['Last seen', el('span', {}, doc.last_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.last_seen)))],
    ]);
    for (const r of Array.isArray(doc.reasons) ? doc.reasons : []) $('c-reasons').append(el('li', {}, describe(r)));
    drawFeatures(doc);
    const members = Array.isArray(doc.members) ? doc.members : [];
    for (const m of members)
      $('c-members').tBodies[0].append(el('tr', {},
        el('td', {}, accountLink(m.account)),
        el('td', { class: 'num' }, fmtScore(m.score)),
        el('td', m.flagged ? { class: 'flag' } : {}, m.flagged ? 'yes' : 'no'),
        el('td', {}, describe(m.reasons))));
    $('c-members-n').textContent = '(' + members.length + (doc.accounts > members.length ? ' of ' + doc.accounts : '') + ')';
    const attrs = Array.isArray(doc.attribute_list) ? doc.attribute_list : [];
    for (const a of attrs)
      $('c-attrs').tBodies[0].append(el('tr', {},
        el('td', {}, KIND_NAMES[a.kind] || a.kind), el('td', {}, attrLink(a.pseudonym)), el('td', { class: 'num' }, a.degree),
        el('td', {}, when(a.first_seen), ' – ', when(a.last_seen))));
    $('c-attrs-n').textContent = '(' + attrs.length + (doc.attributes > attrs.length ? ' of ' + doc.attributes : '') + ')';
    drawLabels($('c-labels'), Array.isArray(doc.labels) ? doc.labels : []);
  }

  function drawLiveCluster(doc) {
    facts($('c-summary'), [
      ['Accounts', doc.accounts],
      ['Signups a day', fmtNum(doc.signups_day)],
      ['Label', doc.label || 'unreviewed'],
    ]);
    for (const a of doc.member_list || []) $('c-members').tBodies[0].append(el('tr', {}, el('td', {}, accountLink(a)), el('td'), el('td'), el('td')));
    for (const p of doc.attribute_list || [])
      $('c-attrs').tBodies[0].append(el('tr', {}, el('td', {}, KIND_NAMES[kindOf(p)] || kindOf(p)), el('td', {}, attrLink(p)), el('td'), el('td')));
    drawLabels($('c-labels'), []);
  }

  /* ---- the cluster graph: inline SVG from the node-link export ----------- */

  const GRAPH_W = 960, PAD = 24;

  /* Positions in [0, 1] for nodes lacking the export's: a few rounds of a
   * plain spring layout (O(n^2) a round, bounded by the export's size). */
  function springLayout(nodes, links) {
    const n = nodes.length, idx = new Map(nodes.map((d, i) => [d.id, i]));
    const x = nodes.map((d, i) => (typeof d.x === 'number' ? d.x : 0.5 + 0.4 * Math.cos(i)));
    const y = nodes.map((d, i) => (typeof d.y === 'number' ? d.y : 0.5 + 0.4 * Math.sin(i * 1.7)));
    const k = 1 / Math.sqrt(n + 1), rounds = n > 800 ? 40 : 120;
    for (let it = 0; it < rounds; it++) {
      const dx = new Float64Array(n), dy = new Float64Array(n), t = 0.1 * (1 - it / rounds);
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) {
          const ex = x[i] - x[j], ey = y[i] - y[j], d2 = ex * ex + ey * ey + 1e-9, f = (k * k) / d2;
          dx[i] += ex * f; dy[i] += ey * f; dx[j] -= ex * f; dy[j] -= ey * f;
        }
      for (const l of links) {
        const a = idx.get(l.source), b = idx.get(l.target);
        if (a === undefined || b === undefined) continue;
        const ex = x[a] - x[b], ey = y[a] - y[b], d = Math.sqrt(ex * ex + ey * ey) + 1e-9, f = d / k;
        dx[a] -= ex * f; dy[a] -= ey * f; dx[b] += ex * f; dy[b] += ey * f;
      }
      for (let i = 0; i < n; i++) {
        const d = Math.sqrt(dx[i] * dx[i] + dy[i] * dy[i]) + 1e-9, s = Math.min(d, t) / d;
        x[i] += dx[i] * s; y[i] += dy[i] * s;
      }
    }
    const span = (v) => [Math.min(...v), Math.max(...v) - Math.min(...v) || 1];
    const [x0, xs] = span(x), [y0, ys] = span(y);
    nodes.forEach((d, i) => { d.x = (x[i] - x0) / xs; d.y = (y[i] - y0) / ys; });
  }

  /* One node's mark: accounts are circles (flagged: larger, red, thick
   * dark ring), devices squares, cards diamonds, addresses triangles. */
  function nodeShape(d, r) {
    if (d.kind === 'account')
      return svg('circle', { r: d.flagged ? r * 1.25 : r, class: 'n-account' + (d.flagged ? ' flagged' : '') });
    const cls = 'n-' + d.kind + (d.hub ? ' hub' : '');
    if (d.kind === 'device') return svg('rect', { x: -r, y: -r, width: 2 * r, height: 2 * r, class: cls });
    if (d.kind === 'payment') return svg('path', { d: `M0 ${-r * 1.3} L${r * 1.3} 0 L0 ${r * 1.3} L${-r * 1.3} 0 Z`, class: cls });
    return svg('path', { d: `M0 ${-r * 1.2} L${r * 1.1} ${r * 0.9} L${-r * 1.1} ${r * 0.9} Z`, class: cls });
  }

  function caption(d) {
    const seen = d.first_seen === d.last_seen ? d.first_seen : d.first_seen + ' – ' + d.last_seen;
    if (d.kind === 'account')
      return `account ${d.label}\nscore ${fmtScore(d.score)}${d.flagged ? ', FLAGGED' : ''}\nattributes ${d.degree}\n${seen}\n(click to open)`;
    return `${KIND_NAMES[d.kind] || d.kind} ${d.label}\n${d.degree} accounts in all, ${d.sub_degree} here${d.hub ? ' (a hub)' : ''}\n${seen}\n(click to open)`;
  }

  function drawGraph(box, g) {
    const nodes = Array.isArray(g.nodes) ? g.nodes : [], links = Array.isArray(g.links) ? g.links : [];
    if (nodes.some((d) => typeof d.x !== 'number' || typeof d.y !== 'number')) springLayout(nodes, links);
    const GRAPH_H = nodes.length < 60 ? 420 : 640; /* a small cluster needs no tall picture */
    const px = (v) => PAD + v * (GRAPH_W - 2 * PAD), py = (v) => PAD + v * (GRAPH_H - 2 * PAD);
    const r = Math.max(2.5, Math.min(9, Math.sqrt((GRAPH_W * GRAPH_H) / Math.max(1, nodes.length)) / 6));
    const at = new Map(nodes.map((d) => [d.id, d]));
    const root = svg('svg', { viewBox: `0 0 ${GRAPH_W} ${GRAPH_H}`, class: 'graph', role: 'img', 'data-testid': 'graph-svg',
      'aria-label': `${nodes.length} nodes: accounts and the attributes they share` });
    const edges = svg('g', { class: 'edges' });
    for (const l of links) {
      const a = at.get(l.source), b = at.get(l.target);
      if (a && b) edges.append(svg('line', { x1: px(a.x).toFixed(1), y1: py(a.y).toFixed(1), x2: px(b.x).toFixed(1), y2: py(b.y).toFixed(1) }));
    }
    root.append(edges);
    const marks = svg('g', { class: 'nodes' });
    /* flagged accounts last, so they are drawn on top */
    const order = [...nodes].sort((a, b) => (a.kind === 'account') - (b.kind === 'account') || (a.flagged ? 1 : 0) - (b.flagged ? 1 : 0));
    for (const d of order) {
      const href = d.kind === 'account' ? accountHref(d.label) : attrHref(d.label);
      const mark = svg('g', { class: 'node', transform: `translate(${px(d.x).toFixed(1)} ${py(d.y).toFixed(1)})`, tabindex: 0, role: 'link',
        'data-testid': 'graph-node', 'data-kind': d.kind, 'data-label': d.label, 'data-flagged': d.flagged ? '1' : '0', 'data-href': href },
        svg('title', {}, caption(d)), nodeShape(d, r));
      marks.append(mark);
    }
    root.append(marks);
    box.replaceChildren(root);
    const accounts = nodes.filter((d) => d.kind === 'account');
    $('c-graph-n').textContent = `(${accounts.length} accounts, ${accounts.filter((d) => d.flagged).length} flagged; ${nodes.length - accounts.length} attributes, shared or not)`;
  }

  async function loadGraph(base, stale) {
    const box = $('c-graph');
    box.replaceChildren(el('p', { class: 'muted' }, 'Drawing…'));
    try {
      const g = await getJson(base + '/export?format=json');
      if (stale()) return;
      drawGraph(box, g);
      box.dataset.loaded = '1';
    } catch (e) {
      if (!stale()) box.replaceChildren(el('p', { class: 'error' }, 'Graph unavailable: ' + e.message));
    }
  }

  function openNode(ev) {
    const g = ev.target.closest('[data-href]');
    if (g && (ev.type === 'click' || ev.key === 'Enter')) location.hash = g.dataset.href;
  }

  /* ---- labelling and exports ------------------------------------------- */

  async function postLabel(label) {
    const id = shown && shown.slice('cluster:'.length);
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
      if (shown === 'cluster:' + id) {
        setStatus('label-result', 'Labelled ' + doc.label + ' (label #' + doc.id + ').', 'ok');
        $('label-note').value = '';
        const again = await getJson('/v1/clusters/' + encodeURIComponent(id));
        if (shown === 'cluster:' + id) drawLabels($('c-labels'), Array.isArray(again.labels) ? again.labels : []);
        list.loaded = false; /* the list shows labels too */
      }
    } catch (e) {
      if (shown === 'cluster:' + id) setStatus('label-result', 'Could not label: ' + e.message, 'error');
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }

  /* Exports need the token too: fetched, then saved through a blob: link. */
  async function download(format) {
    const id = shown && shown.slice('cluster:'.length);
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

  /* ---- one account ------------------------------------------------------ */

  async function loadAccount(id) {
    const key = 'account:' + id;
    $('a-id').textContent = id;
    setStatus('account-status', 'Loading…');
    for (const x of ['a-summary', 'a-reasons', 'a-labels']) $(x).replaceChildren();
    $('a-attrs').tBodies[0].replaceChildren();
    $('a-attrs-n').textContent = '';
    let doc;
    try {
      doc = await getJson('/v1/accounts/' + encodeURIComponent(id));
    } catch (e) {
      if (shown === key) setStatus('account-status', (e.status === 404 ? 'Not found: ' : 'Could not load the account: ') + e.message, 'error');
      return;
    }
    if (shown !== key) return;
    setStatus('account-status', '');
    const live = doc.live || {}, run = doc.run;
    facts($('a-summary'), [
      ['First seen', el('span', {}, doc.first_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.first_seen)))],
      ['Last seen', el('span', {}, doc.last_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.last_seen)))],
      ['Live score', el('span', {}, fmtScore(live.score), ' ', el('span', { class: 'muted' }, live.decision ? '(' + live.decision + ')' : ''))],
      ['Live cluster', live.cluster ? clusterLink(live.cluster) : 'none'],
      ['Run score', run ? el('span', {}, fmtScore(run.score), ' ', el('span', { class: 'muted' }, '(run ' + run.id + ')')) : 'not scored by a run yet'],
      ['Flagged in the run', run ? (run.flagged ? el('span', { class: 'flag' }, 'yes') : 'no') : ''],
      ['Cluster in the run', run && run.cluster ? clusterLink(run.cluster) : 'none'],
      ['Label', doc.label ? el('span', { class: 'label-' + doc.label }, doc.label) : 'unreviewed'],
    ]);
    for (const r of Array.isArray(live.reasons) ? live.reasons : []) $('a-reasons').append(el('li', {}, describe(r)));
    if (!$('a-reasons').children.length) $('a-reasons').append(el('li', { class: 'muted' }, 'none'));
    const attrs = Array.isArray(doc.attributes) ? doc.attributes : [];
    for (const a of attrs)
      $('a-attrs').tBodies[0].append(el('tr', {},
        el('td', {}, KIND_NAMES[a.kind] || a.kind), el('td', {}, attrLink(a.pseudonym)),
        el('td', { class: 'num' }, a.degree), el('td', { class: 'num' }, a.count), el('td', {}, when(a.first_seen)), el('td', {}, when(a.last_seen))));
    $('a-attrs-n').textContent = '(' + attrs.length + (doc.attribute_count > attrs.length ? ' of ' + doc.attribute_count : '') + ')';
    drawLabels($('a-labels'), Array.isArray(doc.labels) ? doc.labels : []);
    await loadAccountEvents(id, key);
  }

  const EVENTS_SHOWN = 100;

  async function loadAccountEvents(id, key) {
    const body = $('a-events').tBodies[0];
    body.replaceChildren();
    $('a-events-n').textContent = '';
    let doc;
    try {
      doc = await getJson('/v1/accounts/' + encodeURIComponent(id) + '/events?limit=' + EVENTS_SHOWN);
    } catch (e) {
      if (shown === key) $('a-events-n').textContent = '(could not load them: ' + e.message + ')';
      return;
    }
    if (shown !== key) return;
    const evs = Array.isArray(doc.events) ? doc.events : [];
    const cell = (p) => el('td', {}, p ? attrLink(p) : el('span', { class: 'muted' }, '–'));
    for (const e of evs)
      body.append(el('tr', { 'data-testid': 'account-event' },
        el('td', {}, el('span', {}, e.time || '', ' ', el('span', { class: 'muted' }, ago(e.time)))), el('td', {}, e.type),
        cell(e.ip), cell(e.device), cell(e.payment), el('td', { class: 'num' }, fmtScore(e.score))));
    $('a-events-n').textContent = '(' + (doc.more ? 'the newest ' + evs.length : evs.length) + ')';
  }

  /* ---- one attribute ---------------------------------------------------- */

  /* Runs f over items, at most width at a time. */
  async function pooled(items, width, f) {
    let next = 0;
    const worker = async () => { while (next < items.length) { const i = next++; await f(items[i], i); } };
    await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  }

  async function loadAttribute(kind, pseudonym) {
    const key = 'attribute:' + pseudonym;
    $('t-kind').textContent = KIND_NAMES[kind] || kind;
    $('t-id').textContent = pseudonym;
    setStatus('attribute-status', 'Loading…');
    $('t-summary').replaceChildren();
    for (const x of ['t-accounts', 't-clusters']) $(x).tBodies[0].replaceChildren();
    $('t-accounts-n').textContent = '';
    let doc;
    try {
      doc = await getJson('/v1/attributes/' + encodeURIComponent(kind) + '/' + encodeURIComponent(pseudonym));
    } catch (e) {
      if (shown === key) setStatus('attribute-status', (e.status === 404 ? 'Not found: ' : 'Could not load the attribute: ') + e.message, 'error');
      return;
    }
    if (shown !== key) return;
    setStatus('attribute-status', '');
    const v = doc.velocity || {};
    facts($('t-summary'), [
      ['Accounts (degree)', doc.degree],
      ['New accounts (decayed)', `${fix2(v.hour)} in the last hour, ${fix2(v.day)} in the last day, ${fix2(v.week)} in the last week`],
      ['Hub', doc.hub ? 'yes: too many accounts to be evidence' : 'no'],
      ['Cleared', doc.cleared ? 'yes: labelled benign' : 'no'],
      ['Live cluster', doc.cluster ? clusterLink(doc.cluster) : 'none'],
      ['First seen', el('span', {}, doc.first_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.first_seen)))],
      ['Last seen', el('span', {}, doc.last_seen || '', ' ', el('span', { class: 'muted' }, ago(doc.last_seen)))],
    ]);
    const accounts = Array.isArray(doc.accounts) ? doc.accounts : [];
    $('t-accounts-n').textContent = '(' + accounts.length + (doc.degree > accounts.length ? ' of ' + doc.degree : '') + ')';
    const rows = accounts.map((a) => {
      const tr = el('tr', {}, el('td', {}, accountLink(a)), el('td', { class: 'num' }), el('td'), el('td'));
      $('t-accounts').tBodies[0].append(tr);
      return tr;
    });
    /* Each account's cluster: one lookup each, a few at a time. */
    const clusters = new Map();
    await pooled(accounts, 4, async (a, i) => {
      try {
        const d = await getJson('/v1/accounts/' + encodeURIComponent(a));
        if (shown !== key) return;
        const run = d.run || {}, cl = run.cluster || (d.live && d.live.cluster) || null;
        rows[i].cells[1].textContent = fmtScore(run.score);
        rows[i].cells[2].textContent = run.flagged ? 'yes' : 'no';
        if (run.flagged) rows[i].cells[2].className = 'flag';
        rows[i].cells[3].append(cl ? clusterLink(cl) : 'none');
        if (cl) clusters.set(cl, (clusters.get(cl) || 0) + 1);
      } catch (e) {
        rows[i].cells[3].textContent = e.message;
      }
    });
    if (shown !== key) return;
    const tb = $('t-clusters').tBodies[0];
    for (const [c, n] of [...clusters].sort((a, b) => b[1] - a[1]))
      tb.append(el('tr', {}, el('td', {}, clusterLink(c)), el('td', { class: 'num' }, n)));
    if (!clusters.size) tb.append(el('tr', {}, el('td', { class: 'muted', colspan: '2' }, 'none of them is in a cluster')));
  }

  /* ---- runs -------------------------------------------------------------- */

  async function loadRuns() {
    setStatus('runs-status', 'Loading…');
    $('run-rows').replaceChildren();
    $('run-diff').replaceChildren();
    let doc;
    try {
      doc = await getJson('/v1/runs');
    } catch (e) {
      if (shown === 'runs') setStatus('runs-status', 'Could not load runs: ' + e.message, 'error');
      return;
    }
    if (shown !== 'runs') return;
    const runs = Array.isArray(doc.runs) ? doc.runs : [];
    setStatus('runs-status', runs.length ? '' : 'No run yet: an admin starts one with POST /v1/rescore.');
    for (const r of runs) {
      const s = r.summary || {};
      $('run-rows').append(el('tr', { tabindex: '0', 'data-testid': 'run-row', dataset: { id: String(r.id) } },
        el('td', { class: 'num' }, r.id),
        el('td', {}, el('span', {}, r.started_at || ''), ' ', el('span', { class: 'muted' }, ago(r.started_at))),
        el('td', { class: 'num' }, typeof s.seconds === 'number' ? s.seconds.toFixed(1) + ' s' : ''),
        el('td', { class: 'num' }, r.events),
        el('td', { class: 'num' }, r.model_version ? 'v' + r.model_version : 'defaults'),
        el('td', { class: 'num' }, fmtNum(s.accounts)),
        el('td', { class: 'num' }, fmtNum(s.clusters)),
        el('td', { class: 'num' }, fmtNum(s.flagged_clusters)),
        el('td', { class: 'num' }, fmtNum(s.flagged_accounts)),
        el('td', { class: 'num' }, [s.new_flagged, s.grown, s.dissolved].map((x) => fmtNum(x) || '–').join(' / ')),
        el('td', { class: 'params' }, describe(r.params))));
    }
    if (runs.length) loadRunDiff(runs[0].id);
  }

  async function loadRunDiff(id) {
    for (const tr of $('run-rows').rows) tr.classList.toggle('selected', tr.dataset.id === String(id));
    const box = $('run-diff');
    box.replaceChildren(el('p', { class: 'muted' }, 'Loading run ' + id + '…'));
    let doc;
    try {
      doc = await getJson('/v1/runs/' + encodeURIComponent(id));
    } catch (e) {
      box.replaceChildren(el('p', { class: 'error' }, 'Could not load run ' + id + ': ' + e.message));
      return;
    }
    if (shown !== 'runs') return;
    const d = doc.diff || {};
    const group = (name, ids, linked, testid) => el('div', { class: 'diff-group', 'data-testid': testid },
      el('h4', {}, name + ' (' + (ids || []).length + ')'),
      (ids || []).length ? el('p', {}, ...(ids || []).flatMap((c, i) => [i ? ', ' : '', linked ? clusterLink(c) : c])) : el('p', { class: 'muted' }, 'none'));
    /* only the newest run's clusters open at #/clusters (dissolved ones are gone) */
    const newest = Number(id) === Math.max(...[...$('run-rows').rows].map((tr) => Number(tr.dataset.id)));
    box.replaceChildren(
      el('h3', { 'data-testid': 'run-diff-title' }, 'Run ' + doc.id + ' against ' + (d.previous ? 'run ' + d.previous : 'nothing (the first run)')),
      el('p', { class: 'muted' }, 'Model ' + (doc.model_version ? 'v' + doc.model_version : 'defaults') + '; finished ' + (doc.finished_at || '') + '; parameters: ' + describe(doc.params)),
      el('div', { class: 'diff-groups' },
        group('New flagged clusters', d.new, newest, 'diff-new'),
        group('Grown', d.grown, newest, 'diff-grown'),
        group('Dissolved', d.dissolved, false, 'diff-dissolved')));
  }

  function openRun(ev) {
    const tr = ev.target.closest('tr');
    if (tr && tr.dataset.id && (ev.type === 'click' || ev.key === 'Enter')) loadRunDiff(tr.dataset.id);
  }

  /* ---- routing ---------------------------------------------------------- */

  const ROUTES = [
    [/^#\/clusters\/([^/]+)$/, 'cluster', (m) => loadCluster(m[1])],
    [/^#\/accounts\/([^/]+)$/, 'account', (m) => loadAccount(m[1])],
    [/^#\/attributes\/([^/]+)\/([^/]+)$/, 'attribute', (m) => loadAttribute(m[1], m[2])],
    [/^#\/runs$/, 'runs', () => loadRuns()],
  ];

  function decode(s) {
    try {
      return decodeURIComponent(s);
    } catch (e) {
      return '';
    }
  }

  function render() {
    const signedIn = !!token();
    let view = 'list', m = null, load = null;
    for (const [re, v, f] of ROUTES) {
      const x = re.exec(location.hash);
      if (x) {
        view = v;
        m = x.map(decode);
        load = f;
        break;
      }
    }
    if (!signedIn) view = 'login';
    for (const v of VIEWS) $(v).hidden = v !== view;
    $('signout').hidden = !signedIn;
    $('search-form').hidden = !signedIn;
    for (const a of document.querySelectorAll('.top nav a')) a.classList.toggle('here', a.getAttribute('href') === (view === 'runs' ? '#/runs' : '#/'));
    if (!signedIn) {
      shown = null;
      setStatus('search-status', '');
      $('token').focus();
      return;
    }
    /* the key each loader checks before drawing (a newer route wins) */
    const key = view === 'list' || view === 'runs' ? view : view + ':' + (view === 'attribute' ? m[2] : m[1]);
    if (key === shown) return;
    shown = key;
    if (view !== 'cluster') clearPictures();
    if (view === 'list') {
      if (!list.loaded) loadList();
      return;
    }
    load(m);
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
      shown = null;
      render();
    });
    $('signout').addEventListener('click', () => signOut('Signed out.'));
    $('search-form').addEventListener('submit', search);
    $('filter-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      list.stack = [null];
      readFilters();
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
    $('cluster-rows').addEventListener('click', openRow);
    $('cluster-rows').addEventListener('keydown', (ev) => { if (ev.key === 'Enter') openRow(ev); });
    $('c-graph').addEventListener('click', openNode);
    $('c-graph').addEventListener('keydown', openNode);
    $('run-rows').addEventListener('click', openRun);
    $('run-rows').addEventListener('keydown', openRun);
    for (const b of document.querySelectorAll('#label-form button')) b.addEventListener('click', () => postLabel(b.dataset.label));
    $('label-form').addEventListener('submit', (ev) => ev.preventDefault());
    for (const a of document.querySelectorAll('#c-exports a')) {
      a.addEventListener('click', (ev) => {
        ev.preventDefault();
        download(a.dataset.format);
      });
    }
    window.addEventListener('hashchange', () => {
      setStatus('search-status', '');
      render();
    });
    render();
  }

  init();
})();
