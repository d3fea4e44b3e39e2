// The page frame every page shares: header (navigation, language, connection state, who is
// signed in), the sign-in dialog and the notices. A page module calls
//   boot(async (ctx) => { ... })
// and gets ctx = {main, stream, session, onLang(fn)}. See docs/web.md.

import { $, h, loadI18n, session, setLang, signIn, signOut, t, translate, lang, notify, ApiError } from './core.js';
import { Stream } from './stream.js';

function renderSession() {
  const box = $('#who');
  const s = session();
  box.replaceChildren();
  if (s) {
    box.append(
      h('span', { class: 'who-name', title: s.participant }, `${s.name} · `, h('span', { 'data-code': s.role }, t(`role.${s.role}`))),
      h('button', { type: 'button', class: 'link', onclick: () => { signOut(); location.reload(); } }, t('signout')),
    );
  } else {
    box.append(h('button', { type: 'button', id: 'signin-open', onclick: openSignIn }, t('signin')));
  }
}

function openSignIn() {
  const dlg = $('#signin');
  $('#signin-error').textContent = '';
  dlg.showModal();
  $('#signin-token').focus();
}

async function submitSignIn(e) {
  e.preventDefault();
  const token = $('#signin-token').value.trim();
  try {
    await signIn(token);
    location.reload();
  } catch (err) {
    $('#signin-error').textContent = err instanceof ApiError ? err.text : String(err);
  }
}

function renderConn(state) {
  const el = $('#conn');
  el.dataset.state = state;
  el.textContent = t(`conn.${state}`);
}

export async function boot(page) {
  await loadI18n();
  translate(document);
  const langBtn = $('#lang');
  const syncLang = () => {
    langBtn.textContent = lang === 'vi' ? 'English' : 'Tiếng Việt';
    langBtn.setAttribute('lang', lang === 'vi' ? 'en' : 'vi');
  };
  syncLang();
  langBtn.addEventListener('click', () => { setLang(lang === 'vi' ? 'en' : 'vi'); syncLang(); renderSession(); renderConn(stream.state); });
  $('#signin-form').addEventListener('submit', submitSignIn);
  $('#signin-cancel').addEventListener('click', () => $('#signin').close());
  renderSession();
  const s = session();
  const stream = new Stream(s?.token);
  window.herbxStream = stream; // for the browser tests and the curious
  stream.addEventListener('state', (e) => renderConn(e.detail));
  renderConn(stream.state);
  const langHooks = [];
  document.addEventListener('herbx:lang', () => langHooks.forEach((fn) => fn()));
  const main = $('#main');
  try {
    await page({ main, stream, session: s, onLang: (fn) => langHooks.push(fn), openSignIn });
  } catch (err) {
    notify(err instanceof ApiError ? err.text : String(err), 'error');
    throw err;
  }
  window.herbxReadyMs = performance.now();
  document.body.dataset.ready = "true";
}
