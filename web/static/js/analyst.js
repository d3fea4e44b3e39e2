// The analyst desk: bars per instrument, herb indices per kg and per kg of active ingredient,
// the price-insurance fund's reference prices and payouts, and a CSV export of any range of
// ticks. Every panel reads an endpoint of the tick-data and analytics branches
// (`/bars/{symbol}`, `/indices/{herb}`, `/insurance`, `/ticks/export.csv`) and says "not
// available yet" while the server answers 404 or 503.

import { boot } from './shell.js';
import { api, code, h, t, translate, notify } from './core.js';
import { gate, field, select, refusalText, values, table, panel, rowsOf, columnsOf, download, offered } from './desk.js';

const day = (offsetDays = 0) => new Date(Date.now() + 7 * 3600e3 + offsetDays * 86400e3).toISOString().slice(0, 10);

boot(async ({ main, onLang, openSignIn }) => {
  if (!gate(main, ['analyst', 'operator'], 'analyst.title', openSignIn)) return;
  const { instruments } = await api('/instruments');
  const symbols = instruments.map((i) => i.symbol);
  const herbs = [...new Set(symbols.map((s) => s.replace(/-[^-]+$/, '')))]; // QUE-BARK-A → QUE-BARK

  const generic = (data) => { const rows = rowsOf(data); return table(rows, columnsOf(rows, 9)); };
  const bars = panel('an-bars', 'analyst.bars', (data) => table(rowsOf(data), [
    ['start', 'field.start', 'time'], ['open', 'field.open', 'vnd'], ['high', 'field.high', 'vnd'], ['low', 'field.low', 'vnd'],
    ['close', 'field.close', 'vnd'], ['volume', 'col.volume', 'num'], ['price_per_kg_active', 'col.active', 'vnd']], { id: 'bars-table' }));
  const index = panel('an-index', 'analyst.index', generic);
  const insurance = panel('an-insurance', 'analyst.insurance', (data) => {
    const rows = rowsOf(data).map((r) => ({ ...r, status: r.status ? code(r.status) : r.status }));
    return table(rows, columnsOf(rows, 9), { id: 'insurance-table' });
  });

  const barsForm = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    const v = values(e.target);
    bars.load(`/bars/${encodeURIComponent(v.symbol)}?interval=${v.interval}&from=${v.from}&to=${v.to}`);
  } },
  field('col.symbol', select('symbol', symbols.map((s) => [s, s]), symbols[0])),
  field('analyst.interval', select('interval', ['1m', '5m', '1h', '1d'].map((i) => [i, { key: `analyst.interval.${i}` }]), '1h')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: day(-7) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: day(1) })),
  h('button', { type: 'submit', 'data-i18n': 'desk.show' }));
  bars.el.insertBefore(barsForm, bars.body);

  const indexForm = h('form', { class: 'row', onsubmit: (e) => {
    e.preventDefault();
    const v = values(e.target);
    index.load(`/indices/${encodeURIComponent(v.herb)}?basis=${v.basis}&from=${v.from}&to=${v.to}`);
  } },
  field('analyst.herb', select('herb', herbs.map((s) => [s, s]), herbs[0])),
  field('analyst.basis', select('basis', [['kg', { key: 'analyst.basis.kg' }], ['active', { key: 'analyst.basis.active' }]], 'kg')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: day(-30) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: day() })),
  h('button', { type: 'submit', 'data-i18n': 'desk.show' }));
  index.el.insertBefore(indexForm, index.body);

  const exportErr = h('p', { class: 'error', role: 'alert', id: 'export-error' });
  const exportForm = h('form', { id: 'export', class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    exportErr.textContent = '';
    const v = values(e.target);
    const which = v.what === 'all' ? '' : `${v.what.startsWith('herb:') ? 'herb' : 'symbol'}=${encodeURIComponent(v.what.replace(/^herb:/, ''))}&`;
    try {
      if (!(await offered('/ticks/export.csv'))) { exportErr.textContent = t('desk.unavailable', { path: '/api/v1/ticks/export.csv' }); return; }
      await download(`/ticks/export.csv?${which}from=${v.from}&to=${v.to}`, `ticks-${v.from}-${v.to}.csv`);
      notify(t('analyst.export.done'));
    } catch (x) {
      exportErr.textContent = x.status === 404 || x.status === 503 ? t('desk.unavailable', { path: '/api/v1/ticks/export.csv' }) : refusalText(x);
    }
  } },
  field('analyst.export.what', select('what', [['all', { key: 'analyst.export.all' }], ...herbs.map((s) => [`herb:${s}`, s]), ...symbols.map((s) => [s, s])], 'all')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: day(-1) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: day(1) })),
  h('button', { type: 'submit', 'data-i18n': 'desk.csv' }));

  main.replaceChildren(
    h('h1', { 'data-i18n': 'analyst.title' }),
    h('p', { class: 'muted', 'data-i18n': 'analyst.lead' }),
    h('div', { class: 'grid two' },
      h('div', {}, bars.el, index.el),
      h('div', {}, insurance.el,
        h('section', { class: 'card', 'aria-labelledby': 'an-export-h' }, h('h2', { id: 'an-export-h', 'data-i18n': 'analyst.export' }),
          h('p', { class: 'muted', 'data-i18n': 'analyst.export.note' }), exportForm, exportErr))));
  translate(main);
  barsForm.requestSubmit();
  indexForm.requestSubmit();
  insurance.load('/insurance');
  onLang(() => { barsForm.requestSubmit(); indexForm.requestSubmit(); insurance.load('/insurance'); });
});
