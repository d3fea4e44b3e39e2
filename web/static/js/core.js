// The shell's core: translations, formats, the REST client and the signed-in session.
// Every page module imports from here; nothing here knows a page.

const VN_TZ = 'Asia/Ho_Chi_Minh';
let dict = { ui: {}, codes: {} };
export let lang = localStorage.getItem('herbx.lang') === 'en' ? 'en' : 'vi';

export async function loadI18n() {
  const r = await fetch('/static/i18n.json');
  dict = await r.json();
  document.documentElement.lang = lang;
}

/** A UI string by key, `{name}` placeholders filled from vars. */
export function t(key, vars) {
  const e = dict.ui[key];
  let s = e ? (e[lang] ?? e.en) : key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] ?? ''));
  return s;
}

/** A state or reason code (`partly_sold`, `insufficient_cash`) in the reader's language. */
export function code(c) {
  if (c === null || c === undefined || c === '') return '–';
  const e = dict.codes[c];
  return e ? e[lang] : String(c).replaceAll('_', ' ');
}

export function setLang(l) {
  lang = l === 'en' ? 'en' : 'vi';
  localStorage.setItem('herbx.lang', lang);
  document.documentElement.lang = lang;
  translate(document);
  document.dispatchEvent(new CustomEvent('herbx:lang'));
}

/** Fill every `[data-i18n]` element's text (and `[data-i18n-label]`'s aria-label). */
export function translate(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-ph]')) el.placeholder = t(el.dataset.i18nPh);
}

// ---- formats: integer VND with thousands separators, integer kg, Vietnam time to the second
const nf = { vi: new Intl.NumberFormat('vi-VN'), en: new Intl.NumberFormat('en-US') };
export function num(n) { return n === null || n === undefined ? '–' : nf[lang].format(n); }
export function vnd(n) { return n === null || n === undefined ? '–' : `${num(n)} ₫`; }
export function kg(n) { return n === null || n === undefined ? '–' : `${num(n)} kg`; }
export function pct(x) {
  return x === null || x === undefined ? '–' : `${x > 0 ? '+' : ''}${x.toFixed(2).replace('.', lang === 'vi' ? ',' : '.')}%`;
}
const timeFmt = {};
const dateTimeFmt = {};
function fmtOf(cache, opts) {
  return cache[lang] ??= new Intl.DateTimeFormat(lang === 'vi' ? 'vi-VN' : 'en-GB', { timeZone: VN_TZ, hour12: false, ...opts });
}
/** `14:03:07` in Vietnam's time zone. */
export function time(iso) {
  if (!iso) return '–';
  return fmtOf(timeFmt, { hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(iso));
}
/** `29/11/2026 14:03:07` in Vietnam's time zone. */
export function dateTime(iso) {
  if (!iso) return '–';
  return fmtOf(dateTimeFmt, { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' }).format(new Date(iso));
}
/** `2:05` (minutes:seconds) until `iso`, never negative. */
export function countdown(iso, nowMs = Date.now()) {
  const s = Math.max(0, Math.ceil((Date.parse(iso) - nowMs) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${String(r).padStart(2, '0')}`;
}

// ---- the REST client: problem+json answers become ApiError with the code translated
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.detail || `HTTP ${status}`);
    this.status = status;
    this.code = body?.code || `http_${status}`;
    this.body = body;
  }
  /** What to show a person: the translated code, then the server's detail. */
  get text() { return dict.codes[this.code] ? `${code(this.code)} (${this.detail})` : this.detail; }
  get detail() { return this.body?.detail || this.message; }
}

export async function api(path, { method = 'GET', body, token = session()?.token } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}

// ---- the session: a bearer token kept in this browser, checked against /api/v1/me
export function session() {
  try { return JSON.parse(localStorage.getItem('herbx.session')); } catch { return null; }
}

export async function signIn(token) {
  const who = await api('/me', { token });
  const s = { token, participant: who.participant, name: who.name, role: who.role };
  localStorage.setItem('herbx.session', JSON.stringify(s));
  document.dispatchEvent(new CustomEvent('herbx:session'));
  return s;
}

export function signOut() {
  localStorage.removeItem('herbx.session');
  document.dispatchEvent(new CustomEvent('herbx:session'));
}

// ---- small DOM helpers
/** Build an element: h('td', {class: 'n'}, '61.500'). Text children are escaped by the DOM. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
export const $ = (sel, root = document) => root.querySelector(sel);

/** A notice for screen readers and eyes (outbid, won, an order refused). */
export function notify(text, kind = 'info') {
  const box = $('#notices');
  if (!box) return;
  const n = h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.append(n);
  setTimeout(() => n.remove(), 8000);
  while (box.children.length > 4) box.firstChild.remove();
}

/** Run fn at most once per `ms` (the last call wins): refreshes after bursts of events. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

/** For renders that fetch before they paint and may overlap (a click, a reload, a poll):
 * with `const begin = latestOnly()` once, each call does `const fresh = begin(); …await…;
 * if (!fresh()) return;`, so only the latest call paints: a slower earlier one would paint
 * over it with what was chosen before. */
export function latestOnly() {
  let n = 0;
  return () => { const mine = ++n; return () => mine === n; };
}

/** A fresh client order id. */
export function clientId(prefix = 'web') {
  const a = new Uint32Array(2);
  crypto.getRandomValues(a);
  return `${prefix}-${a[0].toString(36)}${a[1].toString(36)}`;
}
