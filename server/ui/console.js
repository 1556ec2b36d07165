// invent-mock's console: the store's state beside the traffic that changes it.
// Reads with the admin API, acts through the public API with each org's own key
// (so every action is validated, journaled and answered as a client's would be),
// and follows GET /__admin/events with fetch() (EventSource cannot send the
// admin token).
'use strict';

const TOKEN_KEY = 'invent-mock-admin-token';
const JOURNAL_MAX = 300; // entries kept in the page
const REPLAY = 100; // entries replayed from the server when the page opens
const CONSOLE_HEADER = 'X-Invent-Console'; // marks the console's own requests

const $ = (id) => document.getElementById(id);

const state = {
  orgs: [],
  org: null, // the selected org's id
  contacts: [],
  count: 0,
  page: 1,
  journal: [], // newest first
  lastEventId: null,
  clock: null, // {now, frozen, at: performance.now() when read}
  faults: [],
  openContact: null, // [org id, contact id] of the contact dialog
};

// --- Small helpers ---

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function fmtTime(iso) {
  if (!iso) return '—';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '');
}

function initials(name) {
  const words = (name || '?').trim().split(/\s+/).filter(Boolean);
  const chars = words.slice(0, 2).map((w) => Array.from(w)[0]);
  return (chars.join('') || '?').toUpperCase();
}

function hue(s) {
  let h = 0;
  for (const ch of s || '') h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

function avatarClass(id) {
  return 'avatar hue-' + (hue(id) % 12);
}

function pretty(text) {
  if (text === null || text === undefined || text === '') return '(no body)';
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

let toastTimer = null;
function toast(message, kind) {
  $('toast-text').textContent = message;
  $('toast').dataset.kind = kind || 'error';
  $('toast').hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { $('toast').hidden = true; }, kind === 'ok' ? 3000 : 8000);
}

// --- HTTP ---

class ApiError extends Error {
  constructor(status, body) {
    const msg = body && typeof body === 'object' && body.message !== undefined
      ? `${status} ${body.error || ''}: ${Array.isArray(body.message) ? body.message.join(', ') : body.message}`
      : `${status}: ${typeof body === 'string' ? body : 'request failed'}`;
    super(msg.replace(' :', ':'));
    this.status = status;
    this.body = body;
  }
}

function adminHeaders() {
  const t = sessionStorage.getItem(TOKEN_KEY);
  return t ? { Authorization: 'Bearer ' + t } : {};
}

// One call. opts: {body, key (an org's API key) or admin: true, read: true}.
async function call(method, url, opts = {}) {
  const headers = opts.key ? { Authorization: 'Bearer ' + opts.key } : adminHeaders();
  if (opts.read) headers[CONSOLE_HEADER] = '1';
  let body;
  if (opts.raw !== undefined) { // JSON text as it is (an imported file)
    headers['Content-Type'] = 'application/json';
    body = opts.raw;
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  const res = await fetch(url, { method, headers, body, cache: 'no-store' });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    if (res.status === 401 && !opts.key) askToken(data && data.message);
    throw new ApiError(res.status, data);
  }
  return { status: res.status, data, headers: res.headers };
}

const admin = (method, path, body) => call(method, '/__admin' + path, { body, read: method === 'GET' });

// --- Orgs ---

function orgById(id) {
  return state.orgs.find((o) => o.id === id);
}

// The key the console acts with: the org's own, else an ancestor's (a parent's
// key reaches its sub-orgs by their ids).
function keyFor(orgId) {
  for (let o = orgById(orgId); o; o = orgById(o.parent_id)) {
    if (o.api_keys.length) return o.api_keys[0];
  }
  return null;
}

async function loadOrgs() {
  const { data } = await admin('GET', '/orgs');
  state.orgs = data.orgs;
  if (!orgById(state.org)) state.org = state.orgs.length ? state.orgs[0].id : null;
  renderOrgs();
}

function renderOrgs() {
  const tree = $('org-tree');
  const children = (parent) => state.orgs.filter((o) => (o.parent_id || null) === parent);
  const item = (o) => {
    const kids = children(o.id);
    const b = el('button', {
      type: 'button', class: 'org', 'aria-current': o.id === state.org ? 'true' : null,
      dataset: { org: o.id }, onclick: () => selectOrg(o.id),
    },
    el('span', { class: 'org-name', text: o.name }),
    el('span', { class: 'org-line' },
      el('span', { class: 'mono', text: o.id }),
      o.isolated ? el('span', { class: 'badge iso', text: 'isolated' }) : null),
    el('span', { class: 'count', text: String(o.contacts_count), title: 'contacts' }));
    return el('li', {}, b, kids.length ? el('ul', {}, kids.map(item)) : null);
  };
  tree.replaceChildren(...children(null).map(item));
  // Orgs whose parent is gone would be lost: list them at the top level.
  for (const o of state.orgs) {
    if (o.parent_id && !orgById(o.parent_id)) tree.append(item(o));
  }
  const options = (sel, list, keep, first) => {
    const v = sel.value;
    sel.replaceChildren(...(first ? [el('option', { value: '', text: first })] : []),
      ...list.map((o) => el('option', { value: o.id, text: `${o.name} (${o.id})` })));
    if (keep && [...sel.options].some((op) => op.value === v)) sel.value = v;
  };
  const fixture = state.orgs.filter((o) => !o.isolated);
  options($('reset-org'), fixture, true);
  options($('iso-from'), fixture, true);
  options($('j-org'), state.orgs, true, 'Any org');
  renderIsolated();
  renderOrgMeta();
}

function renderOrgMeta() {
  const o = orgById(state.org);
  $('contacts-title').textContent = o ? o.name : 'Contacts';
  $('org-meta').textContent = o
    ? `${o.id} · key ${keyFor(o.id) || 'none'} · ${o.contacts_count} contacts` : 'No org';
  const seg = $('f-segment');
  const v = seg.value;
  seg.replaceChildren(el('option', { value: '', text: 'All segments' }),
    ...(o ? o.segments : []).map((s) => el('option', { value: s.id, text: `${s.name} (${s.contacts_count})` })));
  if ([...seg.options].some((op) => op.value === v)) seg.value = v;
}

function selectOrg(id) {
  if (state.org !== id) {
    state.org = id;
    state.page = 1;
    $('f-segment').value = '';
  }
  renderOrgs();
  loadContacts();
}

// --- Contacts ---

let contactsSeq = 0;
async function loadContacts() {
  const orgId = state.org;
  const key = keyFor(orgId);
  if (!orgId || !key) {
    state.contacts = [];
    state.count = 0;
    renderContacts();
    return;
  }
  const take = Number($('f-take').value);
  const q = new URLSearchParams({ page: state.page, take });
  const search = $('f-search').value.trim();
  if (search) q.set('search', search);
  if ($('f-status').value !== 'ALL') q.set('status', $('f-status').value);
  if ($('f-segment').value) q.set('segment_id', $('f-segment').value);
  const seq = ++contactsSeq;
  try {
    const { data, headers } = await call('GET', `/orgs/${encodeURIComponent(orgId)}/contacts?${q}`,
      { key, read: true });
    if (seq !== contactsSeq) return; // a later load is on its way
    state.contacts = data;
    state.count = Number(headers.get('pagination-count') || data.length);
    renderContacts();
  } catch (e) {
    toast(e.message);
  }
}

function channelLabel(t) {
  return {
    whatsapp_bot: 'WhatsApp', messenger_bot: 'Messenger', instagram_dm: 'Instagram', twilio: 'Twilio',
    telnyx: 'Telnyx', slack_bot: 'Slack', telegram_bot: 'Telegram', gmail: 'Gmail',
    google_calendar: 'Calendar', custom: 'Custom', internal: 'Internal',
  }[t] || t;
}

function statusBadges(c) {
  const b = [];
  if (c.blocked) b.push(el('span', { class: 'badge blocked', text: 'Blocked' }));
  if (c.unsubscribed) b.push(el('span', { class: 'badge unsub', text: 'Unsubscribed' }));
  if (!c.blocked && !c.unsubscribed) b.push(el('span', { class: 'badge sub', text: 'Subscribed' }));
  if (c.is_admin) b.push(el('span', { class: 'badge admin', text: 'Admin' }));
  return b;
}

function segmentChip(s) {
  return el('span', { class: 'seg seg-' + (s.color || 'neutral'), title: s.id, text: s.name });
}

function contactRow(c) {
  const tr = el('tr', { dataset: { id: c.id }, class: (c.blocked ? 'is-blocked ' : '') + (c.unsubscribed ? 'is-unsub' : '') },
    el('td', {},
      el('div', { class: 'who' },
        el('span', { class: avatarClass(c.id), 'aria-hidden': 'true', text: initials(c.name) }),
        el('div', {},
          el('button', { type: 'button', class: 'link contact-open', onclick: () => openContact(state.org, c.id) },
            c.name === null ? el('em', { text: '(no name)' }) : c.name),
          el('div', { class: 'mono muted small', text: c.id })))),
    el('td', {}, el('div', { class: 'chips' }, c.channels.map((ch) =>
      el('span', { class: 'chan chan-' + ch.type, title: ch.user_id, text: channelLabel(ch.type) })))),
    el('td', {}, el('div', { class: 'chips' }, c.segments.map(segmentChip))),
    el('td', { class: 'status' }, el('div', { class: 'chips' }, statusBadges(c))),
    el('td', { class: 'col-updated mono small', text: fmtTime(c.updated_at) }));
  return tr;
}

function renderContacts() {
  $('contacts-body').replaceChildren(...state.contacts.map(contactRow));
  $('contacts-empty').hidden = state.contacts.length > 0;
  const take = Number($('f-take').value);
  const pages = Math.max(1, Math.ceil(state.count / take));
  const first = state.count ? (state.page - 1) * take + 1 : 0;
  const last = (state.page - 1) * take + state.contacts.length;
  $('count').textContent = state.count
    ? `${first}–${last} of ${state.count} (pagination-count)` : '0 contacts';
  $('page-label').textContent = `Page ${state.page} of ${pages}`;
  $('prev').disabled = state.page <= 1;
  $('next').disabled = state.page >= pages;
}

// A contact the API answered or the journal carried: its row, and the open
// dialog, show it at once.
function contactChanged(orgId, c, flash) {
  if (orgId !== null && orgId !== state.org) return;
  const i = state.contacts.findIndex((x) => x.id === c.id);
  if (i < 0) return;
  state.contacts[i] = c;
  const old = $('contacts-body').querySelector(`tr[data-id="${CSS.escape(c.id)}"]`);
  const row = contactRow(c);
  if (flash) row.classList.add('flash');
  if (old) old.replaceWith(row);
  if (state.openContact && state.openContact[1] === c.id && (orgId === null || state.openContact[0] === orgId)) {
    renderContactDialog(c);
  }
}

// --- The contact dialog ---

let dialogContact = null;

async function openContact(orgId, id) {
  const c = state.contacts.find((x) => x.id === id);
  state.openContact = [orgId, id];
  $('cd-error').hidden = true;
  if (c) renderContactDialog(c);
  if (!$('contact-dialog').open) $('contact-dialog').showModal();
  try {
    const { data } = await admin('GET', `/orgs/${encodeURIComponent(orgId)}/contacts/${encodeURIComponent(id)}`);
    renderContactDialog(data);
  } catch (e) {
    showError('cd-error', e);
  }
}

function renderContactDialog(c) {
  dialogContact = c;
  $('cd-title').textContent = c.name === null ? '(no name)' : c.name;
  $('cd-id').textContent = c.id;
  $('cd-avatar').className = avatarClass(c.id) + ' big';
  $('cd-avatar').textContent = initials(c.name);
  $('cd-badges').replaceChildren(...statusBadges(c));
  $('cd-block').textContent = c.blocked ? 'Unblock' : 'Block';
  $('cd-block').className = c.blocked ? '' : 'danger';
  $('cd-unsub').textContent = c.unsubscribed ? 'Resubscribe' : 'Unsubscribe';
  if (document.activeElement !== $('cd-name')) $('cd-name').value = c.name || '';
  const org = orgById(state.openContact[0]);
  const have = new Set(c.segments.map((s) => s.id));
  $('cd-segment-id').replaceChildren(...(org ? org.segments : []).filter((s) => !have.has(s.id))
    .map((s) => el('option', { value: s.id, text: s.name })));
  $('cd-segments').replaceChildren(...(c.segments.length ? c.segments.map(segmentChip) : [el('span', { class: 'muted', text: 'None' })]));
  const times = [['created_at', c.created_at], ['updated_at', c.updated_at], ['blocked_at', c.blocked_at],
    ['unsubscribed_at', c.unsubscribed_at], ['unsubscribe_reason', c.unsubscribe_reason],
    ['unsubscribe_feedback', c.unsubscribe_feedback]];
  $('cd-times').replaceChildren(...times.flatMap(([k, v]) => [el('dt', { text: k }),
    el('dd', { class: 'mono', dataset: { field: k }, text: v === null ? 'null' : v })]));
  $('cd-channels').replaceChildren(...c.channels.map((ch) => {
    const rows = ['user_id', 'name', 'username', 'email', 'phone', 'country', 'language', 'agent', 'ip', 'link', 'created_at', 'updated_at']
      .filter((k) => ch[k] !== null && ch[k] !== undefined)
      .flatMap((k) => [el('dt', { text: k }), el('dd', { class: 'mono', text: ch[k] })]);
    const pd = JSON.stringify(ch.platform_data);
    if (pd && pd !== '{}') rows.push(el('dt', { text: 'platform_data' }), el('dd', { class: 'mono', text: pd }));
    return el('div', { class: 'channel' },
      el('div', { class: 'channel-head' }, el('span', { class: 'chan chan-' + ch.type, text: channelLabel(ch.type) }),
        el('span', { class: 'mono muted small', text: ch.id })),
      el('dl', { class: 'kv' }, rows));
  }));
  $('cd-json').textContent = JSON.stringify(c, null, 2);
}

function showError(id, e) {
  $(id).textContent = e.message;
  $(id).hidden = false;
}

// Acts on the open contact through the public API with its org's key.
async function act(method, path, body) {
  const [orgId, id] = state.openContact;
  $('cd-error').hidden = true;
  try {
    const { data } = await call(method, `/orgs/${encodeURIComponent(orgId)}/contacts/${encodeURIComponent(id)}${path}`,
      { key: keyFor(orgId), body });
    contactChanged(orgId, data, true);
    renderContactDialog(data);
    return data;
  } catch (e) {
    showError('cd-error', e);
    return null;
  }
}

// --- Create ---

function openCreate() {
  const o = orgById(state.org);
  if (!o) return;
  $('cr-org').textContent = o.id;
  $('cr-error').hidden = true;
  for (const id of ['cr-name', 'cr-email', 'cr-phone', 'cr-user']) $(id).value = '';
  $('cr-segments').replaceChildren(...o.segments.map((s) =>
    el('label', { class: 'check' }, el('input', { type: 'checkbox', value: s.id }), ' ', segmentChip(s))));
  $('create-dialog').showModal();
}

async function submitCreate(ev) {
  ev.preventDefault();
  const channel = {};
  for (const [k, id] of [['name', 'cr-name'], ['email', 'cr-email'], ['phone', 'cr-phone'], ['user_id', 'cr-user']]) {
    const v = $(id).value.trim();
    if (v) channel[k] = v;
  }
  const segment_ids = [...$('cr-segments').querySelectorAll('input:checked')].map((i) => i.value);
  const body = { channel };
  if (segment_ids.length) body.segment_ids = segment_ids;
  try {
    const { data } = await call('POST', `/orgs/${encodeURIComponent(state.org)}/contacts`, { key: keyFor(state.org), body });
    $('create-dialog').close();
    toast(`Created ${data.name || data.id}`, 'ok');
    await Promise.all([loadOrgs(), loadContacts()]);
  } catch (e) {
    showError('cr-error', e);
  }
}

// --- Journal ---

// The org a journal entry acted on, as the journal's own org_id filter sees it
// (for /orgs/c/... the key's org); null when the request named none.
function entryOrg(e) {
  return e.org_id || null;
}

function isOwnRead(e) {
  return e.method === 'GET' && e.request_headers &&
    Object.keys(e.request_headers).some((k) => k.toLowerCase() === CONSOLE_HEADER.toLowerCase());
}

function entryMatches(e) {
  const method = $('j-method').value;
  if (method && e.method !== method) return false;
  if (!$('j-own').checked && isOwnRead(e)) return false;
  const st = $('j-status').value.trim().toLowerCase();
  if (st) {
    const m = /^([1-5])xx$/.exec(st);
    if (m ? Math.floor(e.status / 100) !== Number(m[1]) : String(e.status) !== st) return false;
  }
  const p = $('j-path').value.trim();
  if (p) {
    if (p.includes('*')) {
      const re = new RegExp('^' + p.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
      if (!re.test(e.path)) return false;
    } else if (!e.path.includes(p)) return false;
  }
  const org = $('j-org').value;
  if (org && entryOrg(e) !== org) return false;
  return true;
}

function statusClass(s) {
  return s >= 500 ? 's5' : s >= 400 ? 's4' : s >= 300 ? 's3' : 's2';
}

function changeSummary(e) {
  if (!e.contact_before || !e.contact_after) return null;
  const parts = [];
  for (const k of ['name', 'blocked', 'unsubscribed']) {
    if (JSON.stringify(e.contact_before[k]) !== JSON.stringify(e.contact_after[k])) {
      parts.push(`${k}: ${JSON.stringify(e.contact_before[k])} → ${JSON.stringify(e.contact_after[k])}`);
    }
  }
  return parts.length ? parts.join(', ') : null;
}

function entryItem(e) {
  const summary = changeSummary(e);
  const time = (e.time || '').slice(11, 19);
  return el('li', { dataset: { id: e.id } },
    el('button', { type: 'button', class: 'entry', onclick: () => openEntry(e.id) },
      el('span', { class: 'method m-' + e.method, text: e.method }),
      el('span', { class: 'path mono', text: e.path + (e.query ? '?' + e.query : '') }),
      el('span', { class: 'status ' + statusClass(e.status), text: String(e.status) }),
      el('span', { class: 'when mono muted', text: time, title: e.time }),
      summary ? el('span', { class: 'summary', text: summary }) : null));
}

function renderJournal() {
  const shown = state.journal.filter(entryMatches);
  $('journal').replaceChildren(...shown.map(entryItem));
  $('journal-empty').hidden = shown.length > 0;
  $('journal-empty').textContent = state.journal.length ? 'No request matches the filters.' : 'No request yet. Try a curl PATCH.';
  $('journal-count').textContent = `${shown.length} shown of ${state.journal.length}`;
}

let journalRender = null;
function addEntry(e) {
  if (state.lastEventId !== null && e.id <= state.lastEventId) return; // a replay we have
  state.lastEventId = e.id;
  state.journal.unshift(e);
  if (state.journal.length > JOURNAL_MAX) state.journal.length = JOURNAL_MAX;
  if (e.contact_after && e.status < 300) contactChanged(entryOrg(e), e.contact_after, true);
  else if (e.method === 'POST' && e.status < 300) refreshSoon();
  // Entries come in bursts under load: draw them together. (A timer, not
  // requestAnimationFrame, which stops in a hidden tab.)
  if (!journalRender) {
    journalRender = setTimeout(() => {
      journalRender = null;
      renderJournal();
    }, 30);
  }
}

let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadOrgs().then(loadContacts).catch((e) => toast(e.message)); }, 150);
}

async function openEntry(id) {
  $('ed-error').hidden = true;
  const e = state.journal.find((x) => x.id === id);
  if (e) renderEntry(e, false);
  $('entry-dialog').showModal();
  try {
    const { data } = await admin('GET', `/requests/${id}`);
    renderEntry(data, true);
  } catch (err) {
    showError('ed-error', err);
  }
}

function show(v) {
  if (v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function renderEntry(e, withBodies) {
  $('ed-title').textContent = `${e.method} ${e.path}${e.query ? '?' + e.query : ''}`;
  $('ed-meta').textContent = `#${e.id} · ${e.time} · from ${e.client} · ${e.duration_ms} ms` +
    (entryOrg(e) ? ` · org ${entryOrg(e)}` : '');
  $('ed-status').textContent = String(e.status);
  $('ed-status').className = 'badge status ' + statusClass(e.status);
  $('ed-headers').replaceChildren(...Object.entries(e.request_headers || {})
    .flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { class: 'mono', text: v })]));
  $('ed-req').textContent = withBodies ? pretty(e.request_body) : '…';
  $('ed-resp').textContent = withBodies ? pretty(e.response_body) : '…';
  const before = e.contact_before, after = e.contact_after;
  $('ed-diff-wrap').hidden = !(before && after);
  if (before && after) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    $('ed-diff').replaceChildren(...keys.map((k) => {
      const changed = JSON.stringify(before[k]) !== JSON.stringify(after[k]);
      const cell = (v) => {
        if (Array.isArray(v)) {
          return el('td', { class: 'mono', text: `${v.length} ${v.length === 1 ? k.replace(/s$/, '') : k}`, title: JSON.stringify(v) });
        }
        return el('td', { class: 'mono', text: show(v) });
      };
      return el('tr', { class: changed ? 'changed' : null, dataset: { field: k } },
        el('th', { scope: 'row', class: 'mono', text: k }), cell(before[k]), cell(after[k]));
    }));
  }
}

// --- The event stream ---

let streamBackoff = 500;

function setLive(s, text) {
  $('live').dataset.state = s;
  $('live').textContent = text;
}

async function startJournal() {
  // The newest entry's id, so the stream replays the last REPLAY entries
  // (without their bodies) and then goes live, with nothing lost in between.
  const { data } = await admin('GET', '/requests?limit=1');
  state.journal = [];
  state.lastEventId = null;
  const newest = data.length ? data[0].id : 0;
  runStream(Math.max(0, newest - REPLAY));
}

async function runStream(fromId) {
  let resume = fromId;
  for (;;) {
    try {
      await readStream(resume);
      setLive('down', 'reconnecting…');
    } catch (e) {
      setLive('down', e.status === 401 ? 'needs token' : 'reconnecting…');
      if (e.status === 401) return; // askToken() starts it again
    }
    if (state.lastEventId !== null) resume = state.lastEventId;
    await new Promise((r) => setTimeout(r, streamBackoff));
    streamBackoff = Math.min(streamBackoff * 2, 10000);
    resume = await resumeFrom(resume);
  }
}

// Where to resume after a break. A server started again numbers its journal
// from 1 anew: entries with ids we have seen would be dropped as replays, so
// the page starts over from that journal. Whatever happened meanwhile, the
// rows are read again.
async function resumeFrom(resume) {
  try {
    const { data } = await admin('GET', '/requests?limit=1');
    const newest = data.length ? data[0].id : 0;
    if (state.lastEventId !== null && newest < state.lastEventId) {
      state.journal = [];
      state.lastEventId = null;
      renderJournal();
      resume = Math.max(0, newest - REPLAY);
    }
    refreshSoon();
  } catch {
    // Still down: the stream's own attempt says so.
  }
  return resume;
}

async function readStream(fromId) {
  const headers = adminHeaders();
  headers['Last-Event-ID'] = String(fromId);
  const res = await fetch('/__admin/events', { headers, cache: 'no-store' });
  if (!res.ok) {
    let body = null;
    try { body = await res.json(); } catch { /* not the envelope */ }
    if (res.status === 401) askToken(body && body.message);
    throw new ApiError(res.status, body);
  }
  setLive('live', 'live');
  streamBackoff = 500;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, '\n');
    let cut;
    while ((cut = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      dispatch(block);
    }
  }
}

function dispatch(block) {
  let event = 'message', data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return;
  let payload;
  try { payload = JSON.parse(data.join('\n')); } catch { return; }
  if (event === 'request') addEntry(payload);
  else if (event === 'state') stateEvent(payload);
}

function stateEvent(s) {
  switch (s.kind) {
  case 'reset':
  case 'orgs':
  case 'import':
    refreshSoon();
    if (s.kind === 'reset' && s.org_id === null) loadClock().then(loadFaults).catch(() => {});
    break;
  case 'clock':
    loadClock().catch((e) => toast(e.message));
    break;
  case 'faults':
    loadFaults().catch((e) => toast(e.message));
    break;
  case 'journal':
    state.journal = [];
    renderJournal();
    break;
  default:
    break;
  }
}

// --- Clock ---

async function loadClock() {
  const { data } = await admin('GET', '/clock');
  state.clock = { ...data, at: performance.now() };
  renderClock();
}

function clockNow() {
  const c = state.clock;
  if (!c) return null;
  if (c.frozen) return c.now;
  return new Date(Date.parse(c.now) + (performance.now() - c.at)).toISOString();
}

function renderClock() {
  const now = clockNow();
  if (!now) return;
  const frozen = state.clock.frozen;
  $('clock').textContent = `${fmtTime(now)} UTC${frozen ? ' · frozen' : ''}`;
  $('clock').dataset.frozen = frozen ? 'true' : 'false';
  $('clock-now').textContent = now;
  $('clock-mode').textContent = frozen ? 'frozen' : 'real time';
  $('clock-mode').className = 'badge ' + (frozen ? 'frozen' : 'ok');
}

async function setClock(body) {
  try {
    const { data } = await admin('POST', '/clock', body);
    state.clock = { ...data, at: performance.now() };
    renderClock();
  } catch (e) {
    toast(e.message);
  }
}

// --- Faults ---

async function loadFaults() {
  const { data } = await admin('GET', '/faults');
  state.faults = data;
  renderFaults();
}

function renderFaults() {
  $('faults-body').replaceChildren(...state.faults.map((f) => {
    const answer = [f.delay_ms ? `wait ${f.delay_ms} ms` : null, f.drop ? 'drop' : null,
      f.status ? String(f.status) : null, f.after_commit ? 'after commit' : null,
      f.body !== undefined && f.body !== null ? 'body ' + JSON.stringify(f.body) : null].filter(Boolean).join(', ');
    return el('tr', { dataset: { id: f.id } },
      el('td', { class: 'mono', text: String(f.id) }),
      el('td', { text: f.method || 'any' }),
      el('td', { class: 'mono', text: f.path }),
      el('td', { class: 'mono', text: f.org_id || 'any' }),
      el('td', { text: answer }),
      el('td', { text: f.times === 0 ? '∞' : String(f.remaining) }),
      el('td', {}, el('button', { type: 'button', class: 'ghost small', onclick: () => removeFault(f.id), text: 'Remove' })));
  }));
  $('faults-empty').hidden = state.faults.length > 0;
  $('faults-clear').hidden = state.faults.length === 0;
}

async function addFault(ev) {
  ev.preventDefault();
  const rule = { path: $('fault-path').value.trim() };
  if ($('fault-method').value) rule.method = $('fault-method').value;
  if ($('fault-org').value.trim()) rule.org_id = $('fault-org').value.trim();
  if ($('fault-times').value !== '') rule.times = Number($('fault-times').value);
  if ($('fault-delay').value !== '') rule.delay_ms = Number($('fault-delay').value);
  if ($('fault-drop').checked) rule.drop = true;
  else if ($('fault-status').value !== '') rule.status = Number($('fault-status').value);
  if ($('fault-after').checked) rule.after_commit = true;
  const body = $('fault-body').value.trim();
  try {
    if (body) rule.body = JSON.parse(body);
  } catch {
    toast('The body is not valid JSON');
    return;
  }
  try {
    await admin('POST', '/faults', rule);
    await loadFaults();
  } catch (e) {
    toast(e.message);
  }
}

async function removeFault(id) {
  try {
    await admin('DELETE', `/faults/${id}`);
    await loadFaults();
  } catch (e) {
    toast(e.message);
  }
}

// --- Isolated orgs and reset ---

function renderIsolated() {
  const iso = state.orgs.filter((o) => o.isolated);
  $('iso-list').replaceChildren(...iso.map((o) => el('li', { dataset: { org: o.id } },
    el('span', {}, el('strong', { text: o.name }), ' ', el('span', { class: 'mono small', text: o.id }),
      ' · key ', el('code', { text: o.api_keys[0] || 'none' })),
    el('button', { type: 'button', class: 'ghost small', onclick: () => deleteOrg(o.id), text: 'Delete' }))));
}

async function deleteOrg(id) {
  try {
    await admin('DELETE', `/orgs/${encodeURIComponent(id)}`);
    await loadOrgs();
    await loadContacts();
  } catch (e) {
    toast(e.message);
  }
}

async function makeIsolated(ev) {
  ev.preventDefault();
  try {
    const { data } = await admin('POST', '/orgs', { from: $('iso-from').value });
    $('iso-result').textContent = `Made ${data.org_id}, key ${data.api_key}`;
    await loadOrgs();
  } catch (e) {
    toast(e.message);
  }
}

async function reset(body, what) {
  try {
    const { data } = await admin('POST', '/reset', body);
    $('reset-result').textContent = `${what} reset in ${data.duration_ms} ms`;
    await loadOrgs();
    await loadContacts();
    if (body.everything) {
      await Promise.all([loadClock(), loadFaults()]);
      state.journal = [];
      renderJournal();
    }
  } catch (e) {
    toast(e.message);
  }
}

// --- Snapshot: export and import ---

async function exportState() {
  try {
    // Read as text, not parsed: the file is the server's bytes, as curl would save them.
    const headers = { ...adminHeaders(), [CONSOLE_HEADER]: '1' };
    const res = await fetch('/__admin/export', { headers, cache: 'no-store' });
    if (!res.ok) {
      const data = await res.json().catch(() => null);
      if (res.status === 401) askToken(data && data.message);
      throw new ApiError(res.status, data);
    }
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    el('a', { href: url, download: 'invent-mock-export.json' }).click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    $('snap-result').textContent = `Exported ${blob.size.toLocaleString()} bytes`;
  } catch (e) {
    toast(e.message);
  }
}

async function importState(ev) {
  ev.preventDefault();
  const file = $('import-file').files[0];
  if (!file) {
    toast('Choose a fixture file to import');
    return;
  }
  try {
    const { data } = await call('POST', '/__admin/import', { raw: await file.text() });
    $('snap-result').textContent =
      `Imported ${file.name}: ${data.orgs} orgs, ${data.contacts} contacts (swap ${data.duration_ms} ms)`;
    await loadOrgs();
    await loadContacts();
  } catch (e) {
    toast(e.message);
  }
}

// --- Views, the token, start ---

function route() {
  const control = location.hash === '#control';
  $('view-contacts').hidden = control;
  $('view-control').hidden = !control;
  $('tab-contacts').setAttribute('aria-current', control ? 'false' : 'page');
  $('tab-control').setAttribute('aria-current', control ? 'page' : 'false');
}

let tokenAsked = false;
function askToken(message) {
  $('token-button').hidden = false;
  if ($('token-dialog').open) {
    if (tokenAsked && message) showError('tk-error', { message });
    return;
  }
  $('tk-error').hidden = !tokenAsked;
  if (tokenAsked && message) $('tk-error').textContent = message;
  $('token-dialog').showModal();
}

let started = false;
async function start() {
  try {
    await loadOrgs();
  } catch (e) {
    if (e.status !== 401) toast(e.message);
    return;
  }
  await Promise.all([loadContacts(), loadClock(), loadFaults()]).catch((e) => toast(e.message));
  if (!started) {
    started = true;
    startJournal().catch((e) => toast(e.message));
  }
}

function wire() {
  window.addEventListener('hashchange', route);
  route();
  $('toast-close').addEventListener('click', () => { $('toast').hidden = true; });
  for (const d of document.querySelectorAll('dialog')) {
    for (const b of d.querySelectorAll('.close')) b.addEventListener('click', () => d.close());
    // A click on the backdrop closes it.
    d.addEventListener('click', (ev) => { if (ev.target === d) d.close(); });
  }
  $('contact-dialog').addEventListener('close', () => { state.openContact = null; });

  let searchTimer = null;
  const reload = () => { state.page = 1; loadContacts(); };
  $('contact-filters').addEventListener('submit', (ev) => { ev.preventDefault(); clearTimeout(searchTimer); reload(); });
  $('f-search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(reload, 250); });
  for (const id of ['f-status', 'f-segment', 'f-take']) $(id).addEventListener('change', reload);
  $('prev').addEventListener('click', () => { state.page--; loadContacts(); });
  $('next').addEventListener('click', () => { state.page++; loadContacts(); });
  $('new-contact').addEventListener('click', openCreate);
  $('create-form').addEventListener('submit', submitCreate);

  $('cd-block').addEventListener('click', () => act('PATCH', '', { blocked: !dialogContact.blocked }));
  $('cd-unsub').addEventListener('click', () => act('PATCH', '', { unsubscribed: !dialogContact.unsubscribed }));
  $('cd-rename').addEventListener('submit', (ev) => { ev.preventDefault(); act('PATCH', '', { name: $('cd-name').value }); });
  $('cd-segment').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const seg = $('cd-segment-id').value;
    if (seg && await act('POST', `/segments/${encodeURIComponent(seg)}`)) loadOrgs().catch(() => {});
  });

  $('journal-filters').addEventListener('submit', (ev) => ev.preventDefault());
  $('journal-filters').addEventListener('input', renderJournal);
  $('journal-filters').addEventListener('change', renderJournal);

  $('reset-all-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const everything = $('reset-everything').checked;
    reset(everything ? { everything: true } : {}, everything ? 'Everything' : 'The whole store');
  });
  $('reset-org-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    reset({ org_id: $('reset-org').value }, $('reset-org').value);
  });
  $('iso-form').addEventListener('submit', makeIsolated);
  $('export-button').addEventListener('click', exportState);
  $('snap-form').addEventListener('submit', importState);
  $('freeze-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setClock({ frozen_at: $('freeze-at').value.trim() || clockNow() });
  });
  $('advance-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setClock({ advance_ms: Number($('advance-n').value) * Number($('advance-unit').value) });
  });
  $('real-form').addEventListener('submit', (ev) => { ev.preventDefault(); setClock({ mode: 'real' }); });
  $('fault-form').addEventListener('submit', addFault);
  $('faults-clear').addEventListener('click', async () => {
    try { await admin('DELETE', '/faults'); await loadFaults(); } catch (e) { toast(e.message); }
  });

  $('token-button').addEventListener('click', () => askToken());
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $('tk-token').value);
    tokenAsked = true;
    $('token-dialog').close();
    started = false; // the stream stopped at its 401: start() starts it again
    start();
  });

  setInterval(renderClock, 1000);
  // A real clock drifts from the page's timer over hours: read it again now and then.
  setInterval(() => { loadClock().catch(() => {}); }, 60000);
}

wire();
start();
