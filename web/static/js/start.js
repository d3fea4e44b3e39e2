// The start page: what the market is, one-click sign-in as a demo person (one per role, never
// used by the bots), and the way to the trading floor and the auction room.

import { boot } from './shell.js';
import { api, code, h, signIn, t, vnd, translate, notify, ApiError } from './core.js';

const ROLE_HOME = { trader: '/floor', cooperative: '/coop', lab: '/lab', analyst: '/analyst', operator: '/ops' };

boot(async ({ main, session, onLang }) => {
  const [{ people }, tickers] = await Promise.all([api('/demo/people', { token: null }), api('/ticker', { token: null })]);

  function render() {
    const cards = people.map((p) => h('li', { class: 'card person' },
      h('strong', {}, p.name),
      h('span', { class: 'role' }, `${code(p.role)} · ${p.participant}`),
      h('button', {
        type: 'button',
        'data-participant': p.participant,
        onclick: async () => {
          try {
            await signIn(p.token);
            location.href = ROLE_HOME[p.role] || '/';
          } catch (err) { notify(err instanceof ApiError ? err.text : String(err), 'error'); }
        },
      }, t('signin.as', { name: p.participant })),
    ));
    const top = tickers.tickers.filter((x) => x.last !== null).slice(0, 8);
    main.replaceChildren(...[
      h('h1', { 'data-i18n': 'start.title' }),
      h('p', { 'data-i18n': 'start.lead' }),
      session ? h('p', { class: 'card' }, t('start.signedin', { name: session.name })) : null,
      h('div', { class: 'grid two' },
        h('a', { class: 'card', href: '/floor' }, h('h2', { 'data-i18n': 'nav.floor' }), h('span', { 'data-i18n': 'start.floor.text' })),
        h('a', { class: 'card', href: '/auctions' }, h('h2', { 'data-i18n': 'nav.auctions' }), h('span', { 'data-i18n': 'start.auctions.text' })),
      ),
      h('section', { 'aria-labelledby': 'people-h' },
        h('h2', { id: 'people-h', 'data-i18n': 'start.people' }),
        h('p', { class: 'muted', 'data-i18n': people.length ? 'start.people.note' : 'start.nopeople' }),
        h('ul', { class: 'people plain' }, cards)),
      top.length ? h('section', { class: 'card', 'aria-labelledby': 'mkt-h' },
        h('h2', { id: 'mkt-h', 'data-i18n': 'start.market' }),
        h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col', 'data-i18n': 'col.symbol' }), h('th', { scope: 'col', class: 'n', 'data-i18n': 'col.last' }), h('th', { scope: 'col', class: 'n', 'data-i18n': 'col.volume' }))),
          h('tbody', {}, top.map((x) => h('tr', {}, h('td', {}, h('a', { href: `/floor?s=${encodeURIComponent(x.symbol)}` }, x.symbol)), h('td', { class: 'n' }, vnd(x.last)), h('td', { class: 'n' }, String(x.volume))))))) : null,
      h('section', { 'aria-labelledby': 'dev-h' },
        h('h2', { id: 'dev-h', 'data-i18n': 'start.links' }),
        h('ul', {}, h('li', {}, h('a', { href: '/api/v1/openapi.json' }, 'OpenAPI 3.1 — REST /api/v1, WebSocket /ws')))),
    ].filter(Boolean));
    translate(main);
  }
  render();
  onLang(render);
});
