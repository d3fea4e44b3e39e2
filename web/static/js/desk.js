// What the desks (cooperative, lab, operator, analyst) and the trace page share beyond the
// shell: the role gate, labelled form fields, a refusal's text with the lot's next step, lot
// state with its next step, and the panel of an endpoint of another part of the market (bars,
// indices, insurance, statements, settlement) that says "not available" where this server
// does not serve it (no route, or no ledger / tick store in this process).

import { api, code, h, t, translate, num, vnd, dateTime, ApiError, session, lang } from './core.js';

/** Shown instead of a desk to a visitor without the desk's role. Returns true when allowed. */
export function gate(main, roles, titleKey, openSignIn) {
  const s = session();
  if (s && roles.includes(s.role)) return true;
  main.replaceChildren(h('h1', { 'data-i18n': titleKey }),
    h('section', { class: 'card', 'aria-labelledby': 'gate-h' },
      h('h2', { id: 'gate-h', 'data-i18n': 'desk.gate' }),
      h('p', {}, t('desk.gate.roles', { roles: roles.map((r) => code(r)).join(', ') })),
      h('button', { type: 'button', id: 'gate-signin', onclick: openSignIn, 'data-i18n': 'signin' })));
  translate(main);
  return false;
}

let fieldNo = 0;
/** A labelled control: field('coop.qty', h('input', {...})) → [label, input] wrapped in a div. */
export function field(labelKey, control, hintKey) {
  const id = control.id || `f${++fieldNo}`;
  control.id = id;
  const hint = hintKey ? h('small', { id: `${id}-hint`, class: 'muted', 'data-i18n': hintKey }) : null;
  if (hint) control.setAttribute('aria-describedby', hint.id);
  return h('div', { class: 'field' }, h('label', { for: id, 'data-i18n': labelKey }), control, hint);
}

/** A <select> of [value, text] pairs; text may be {code} (a state code) or {key} (a UI string),
 *  which follow a switch of language. */
export function select(name, options, value) {
  return h('select', { name }, options.map(([v, text]) => h('option', {
    value: v, selected: v === value, 'data-code': text?.code, 'data-i18n': text?.key,
  }, text?.code ? code(text.code) : text?.key ? t(text.key) : text)));
}
document.addEventListener('herbx:lang', () => {
  for (const o of document.querySelectorAll('option[data-code]')) o.textContent = code(o.dataset.code);
});

/** What to tell a person about a refusal: the code translated, the server's detail, and the
 *  lot's next step when the gateway named one (`next_step` on lot refusals). */
export function refusalText(err) {
  if (!(err instanceof ApiError)) return String(err);
  const next = err.body?.next_step;
  return next ? `${err.text} — ${t('desk.next')}: ${code(next)}` : err.text;
}

/** The form's values by input name (strings; empty ones left out). */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form).entries()) if (String(v).trim() !== '') out[k] = String(v).trim();
  return out;
}

/** An integer from a form value, or undefined (the server refuses what is not an integer). */
export function int(v) {
  if (v === undefined) return undefined;
  const n = Number(String(v).replace(/[.,\s]/g, ''));
  return Number.isSafeInteger(n) ? n : v;
}

/** The lot's state and, on the next line, what it needs next. */
export function lotState(lot) {
  return [h('span', { class: `badge state-${lot.state}` }, code(lot.state)),
    lot.next_step && lot.next_step !== 'no_next_step' ? h('div', { class: 'next' }, `${t('desk.next')}: ${code(lot.next_step)}`) : null];
}

/** A table of rows with columns [key, labelKey, format, numeric]; `num` and `vnd` format
 *  numbers; a function format builds the cell from the whole row (`numeric` right-aligns it).
 *  `rowAttrs(row)` adds attributes to a row (`data-trade`, a class). */
export function table(rows, columns, { id, empty = 'desk.none', rowAttrs = () => ({}), cls } = {}) {
  const fmt = { vnd, num, time: dateTime, code, text: (x) => (x === null || x === undefined ? '–' : String(x)) };
  if (!rows.length) return h('p', { class: 'muted', 'data-i18n': empty }, t(empty));
  const right = (f, numeric) => numeric || f === 'vnd' || f === 'num';
  return h('div', { class: 'tablewrap' }, h('table', { id, class: cls },
    h('thead', {}, h('tr', {}, columns.map(([, key, f, numeric]) => h('th', { scope: 'col', class: right(f, numeric) ? 'n' : null }, label(key))))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs(r), columns.map(([k, , f = 'text', numeric]) => h('td', { class: right(f, numeric) ? (typeof f === 'function' ? 'n wrap' : 'n') : (f === 'time' ? 'ts' : null) },
      typeof f === 'function' ? f(r) : fmt[f](r[k]))))))));
}

let routes = null;
/** The read model an endpoint needs, where this process may keep none (a multi-process
 *  gateway without a ledger or a tick store): the page frame says which it keeps
 *  (`<body data-ledger="on|off" data-ticks="on|off">`, web/pages.py `reads`). */
const NEEDS = [[/^\/(statements|transactions|invoices)\b/, 'ledger'], [/^\/(bars|ticks)\b/, 'ticks']];
/** Whether this server has the endpoint at all (its OpenAPI document lists every route) and
 *  keeps what it reads, so a panel asks nothing that can only answer 404 or 503 (the browser
 *  logs every such answer as a console error). */
export async function offered(path) {
  const need = NEEDS.find(([re]) => re.test(path))?.[1];
  if (need && document.body.dataset[need] === 'off') return false;
  routes ??= fetch('/api/v1/openapi.json').then((r) => r.json())
    .then((d) => Object.keys(d.paths || {}).map((p) => new RegExp(`^${p.replace(/\{[^}]+\}/g, '[^/]+')}$`)));
  const bare = `/api/v1${path.split('?')[0]}`;
  return (await routes).some((re) => re.test(bare));
}

/** A Vietnam day (`2026-11-30`) as the RFC 3339 instant of its midnight, for `from`/`to` of
 *  the tick endpoints (which want a zone). */
export function vnMidnight(day) {
  return encodeURIComponent(`${day}T00:00:00+07:00`);
}

/** A Vietnam date `offsetDays` from today (`2026-11-30`). */
export function vnDay(offsetDays = 0) {
  return new Date(Date.now() + 7 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);
}

/** mg of active ingredient as kg with 3 decimals (integers only: BigInt). */
export function mgToKg(mg) {
  if (mg === null || mg === undefined) return '–';
  const v = BigInt(mg);
  const grams = String((v % 1000000n) / 1000n).padStart(3, '0');
  return `${num(Number(v / 1000000n))}${lang === 'vi' ? ',' : '.'}${grams}`;
}

/** `2026-11-30` (a Vietnam day) as the reader writes dates: `30/11/2026`. */
export function dateOf(day) {
  return day ? String(day).slice(0, 10).split('-').reverse().join('/') : '–';
}

/** The Vietnam day of an instant (RFC 3339; `minusMs` for an exclusive end), as `dateOf`. */
export function vnDateOf(iso, minusMs = 0) {
  return iso ? dateOf(new Date(Date.parse(iso) - minusMs + 7 * 3600e3).toISOString()) : '–';
}

/** A small badge for simulated (demo) figures. */
export function demoBadge(on) {
  return on ? h('span', { class: 'badge demo', 'data-i18n': 'desk.demo' }, t('desk.demo')) : null;
}

/** A definition list of [label, value] pairs. */
export function kv(rows, id) {
  return h('dl', { class: 'kv', id }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A decimal string for reading: at most `places` decimals, rounded half up on the digits
 *  (never through a float). */
export function dec(s, places = 3) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(s ?? ''));
  if (!m || !m[3] || m[3].length <= places) return s ?? '–';
  const scaled = BigInt(m[2] + m[3].slice(0, places)) + (Number(m[3][places]) >= 5 ? 1n : 0n);
  const digits = scaled.toString().padStart(places + 1, '0');
  return `${m[1]}${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

/** A card for data from an endpoint this server may not serve: its body shows "not
 *  available" where `offered(path)` says so (or the answer is 404 or 503), and
 *  `render(data, path)` otherwise. Returns {el, body, load(path)}. */
export function panel(id, titleKey, render) {
  const body = h('div', { class: 'panel-body', 'aria-live': 'polite' });
  const el = h('section', { class: 'card', id, 'aria-labelledby': `${id}-h` },
    h('h2', { id: `${id}-h`, 'data-i18n': titleKey }, t(titleKey)), body);
  let painted = null;
  /** `quiet`: no "loading" in between, and no repaint when the answer did not change (a
   *  periodic refresh, so nothing flickers under the pointer). */
  async function load(path, { quiet = false } = {}) {
    if (!quiet) { painted = null; body.replaceChildren(h('p', { class: 'loading' }, t('loading'))); }
    if (!(await offered(path))) {
      body.dataset.state = 'unavailable';
      body.replaceChildren(h('p', { class: 'muted unavailable' }, t('desk.unavailable', { path: `/api/v1${path.split('?')[0]}` })));
      return;
    }
    try {
      const data = await api(path);
      const sig = JSON.stringify([path, data]);
      if (quiet && sig === painted) return;
      painted = sig;
      body.dataset.state = 'ready';
      body.replaceChildren(...[render(data, path)].flat().filter(Boolean));
      translate(body);
    } catch (err) {
      const missing = err instanceof ApiError && (err.status === 404 || err.status === 503) && err.code !== 'unknown_lot';
      body.dataset.state = missing ? 'unavailable' : 'error';
      body.replaceChildren(h('p', { class: missing ? 'muted unavailable' : 'error' },
        missing ? t('desk.unavailable', { path: `/api/v1${path.split('?')[0]}` }) : refusalText(err)));
    }
  }
  return { el, body, load };
}

/** Download an authenticated export (CSV) as a file: links cannot send the bearer token. */
export async function download(path, filename) {
  const s = session();
  const r = await fetch(`/api/v1${path}`, { headers: s ? { Authorization: `Bearer ${s.token}` } : {} });
  if (!r.ok) {
    const body = await r.json().catch(() => null);
    throw new ApiError(r.status, body);
  }
  const url = URL.createObjectURL(await r.blob());
  const a = h('a', { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A column label: its translation, or the API's field name where none is given yet. */
function label(key) {
  const s = t(key);
  return s === key ? key.replace(/^field\./, '') : s;
}
