// The analyst desk: bars per instrument, herb indices per kg and per kg of active ingredient,
// the price-insurance fund's reference prices and payouts (with its CSV report), and a CSV
// export of any range of ticks (docs/analytics.md). A panel whose endpoint this server does not
// serve (no tick store in this process) says "not available" without asking (desk.js).

import { boot } from './shell.js';
import { api, code, h, num, t, translate, vnd, dateTime, notify } from './core.js';
import { gate, field, select, refusalText, values, table, panel, download, offered, dec, vnMidnight, vnDay, mgToKg, demoBadge, kv, dateOf, vnDateOf } from './desk.js';

const BAR_LIMIT = 1000; // bars per answer (the endpoint's default); the newest are shown first

boot(async ({ main, onLang, openSignIn }) => {
  if (!gate(main, ['analyst', 'operator'], 'analyst.title', openSignIn)) return;
  const { instruments } = await api('/instruments');
  const symbols = instruments.map((i) => i.symbol);
  const herbs = [...new Set(symbols.map((s) => s.replace(/-[^-]+$/, '')))]; // QUE-BARK-A → QUE-BARK

  // ---- bars: a range of one instrument's bars, newest first (the answer is oldest first)
  const bars = panel('an-bars', 'analyst.bars', (data) => {
    const rows = data.bars.slice().reverse();
    return [
      h('p', { class: 'muted', id: 'bars-count' }, t(data.bars.length >= BAR_LIMIT ? 'analyst.bars.capped' : 'analyst.bars.count', { n: num(data.bars.length), symbol: data.symbol })),
      h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'an-bars-h' }, table(rows, [
        ['start', 'field.start', (r) => h('span', {}, dateTime(r.start_ns ? new Date(Math.round(r.start_ns / 1e6)).toISOString() : r.start), demoBadge(r.demo_trades > 0))],
        ['close', 'analyst.bars.ohlc', (r) => h('span', {}, num(r.close), h('div', { class: 'muted' }, `${num(r.open)} / ${num(r.high)} / ${num(r.low)}`)), true],
        ['volume', 'col.volume', (r) => h('span', {}, num(r.volume), h('div', { class: 'muted' }, t('analyst.bars.trades', { n: num(r.trades) }))), true],
        ['vwap', 'field.vwap', 'vnd'],
        ['price_per_kg_active', 'col.active', 'vnd']], { id: 'bars-table', empty: 'analyst.bars.none', rowAttrs: (r) => ({ 'data-start': r.start }) }))];
  });
  const barsForm = h('form', { class: 'row', id: 'bars-form', onsubmit: (e) => {
    e.preventDefault();
    const v = values(e.target);
    bars.load(`/bars/${encodeURIComponent(v.symbol)}?interval=${v.interval}&from=${vnMidnight(v.from)}&to=${vnMidnight(v.to)}&limit=${BAR_LIMIT}`);
  } },
  field('col.symbol', select('symbol', symbols.map((s) => [s, s]), symbols[0])),
  field('analyst.interval', select('interval', ['1m', '5m', '1h', '1d'].map((i) => [i, { key: `analyst.interval.${i}` }]), '1h')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: vnDay(-7) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: vnDay(1) }), 'desk.to.excl'),
  h('button', { type: 'submit', 'data-i18n': 'desk.show' }));
  bars.el.insertBefore(barsForm, bars.body);

  // ---- the chained index of a herb product, per kg or per kg of active ingredient
  const index = panel('an-index', 'analyst.index', (data) => {
    const active = data.basis === 'active';
    const rows = data.points.slice().reverse();
    return [
      kv([[t('analyst.index.base'), data.base_day ? dateOf(data.base_day) : '–'],
        [t('analyst.basis'), t(`analyst.basis.${data.basis}`)]], 'index-meta'),
      demoBadge(data.demo),
      h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'an-index-h' }, table(rows, [
        ['day', 'analyst.index.day', (r) => h('span', {}, dateOf(r.day), demoBadge(r.demo))],
        ['index', 'analyst.index.level', (r) => h('span', {}, dec(r.index, 2), h('div', { class: 'muted' }, r.linked ? `× ${dec(r.link, 4)}` : t(r.day === data.base_day ? 'analyst.index.basepoint' : 'analyst.index.unlinked'))), true],
        ['vwap', active ? 'analyst.index.vwap.active' : 'analyst.index.vwap.kg', 'vnd'],
        ['volume', active ? 'analyst.index.volume.active' : 'col.volume', (r) => (active ? mgToKg(r.volume) : num(r.volume)), true],
        ['grades', 'analyst.index.grades', (r) => h('span', {}, r.grades.join(', '), h('div', { class: 'muted' }, t('analyst.bars.trades', { n: num(r.trades) })))]],
      { id: 'index-table', empty: 'analyst.index.none', rowAttrs: (r) => ({ 'data-day': r.day, 'data-index': r.index }) }))];
  });
  const indexForm = h('form', { class: 'row', id: 'index-form', onsubmit: (e) => {
    e.preventDefault();
    const v = values(e.target);
    index.load(`/indices/${encodeURIComponent(v.herb)}?basis=${v.basis}&from=${v.from}&to=${v.to}`);
  } },
  field('analyst.herb', select('herb', herbs.map((s) => [s, s]), herbs[0])),
  field('analyst.basis', select('basis', [['kg', { key: 'analyst.basis.kg' }], ['active', { key: 'analyst.basis.active' }]], 'kg')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: vnDay(-30) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: vnDay() })),
  h('button', { type: 'submit', 'data-i18n': 'desk.show' }));
  index.el.insertBefore(indexForm, index.body);

  // ---- price insurance: the fund's levy income and each herb-season's figures
  const insurance = panel('an-insurance', 'analyst.insurance', (data) => [
    kv([[t('analyst.fund.levy'), data.fund.status === 'ok' ? vnd(data.fund.levy_income_vnd) : code(data.fund.status)],
      [t('analyst.fund.asof'), dateTime(data.as_of)]], 'fund'),
    table(data.seasons, [
      ['season', 'analyst.season', (r) => h('span', {}, `${r.herb} ${r.season}`, demoBadge(r.demo),
        h('div', { class: 'muted' }, `${vnDateOf(r.window_start)} – ${vnDateOf(r.window_end, 1)}`))],
      ['floor_vnd', 'analyst.floor', 'vnd'],
      ['volume_kg', 'analyst.volume', (r) => h('span', {}, num(r.volume_kg), h('div', { class: 'muted' }, t('analyst.volume.min', { n: num(r.min_volume_kg) }))), true],
      ['reference_vnd', 'analyst.reference', (r) => h('span', {}, r.status === 'ok' ? vnd(r.reference_vnd) : code(r.status), h('div', { class: 'muted' }, t(r.final ? 'analyst.final' : 'analyst.provisional'))), true],
      ['payout_per_kg_vnd', 'analyst.payout', 'vnd']],
    { id: 'insurance-table', empty: 'analyst.insurance.none', rowAttrs: (r) => ({ 'data-season': `${r.herb}/${r.season}`, 'data-status': r.status }) }),
    h('button', { type: 'button', class: 'secondary', id: 'insurance-csv', 'data-i18n': 'analyst.insurance.csv', onclick: () => download('/insurance/report.csv', 'insurance-report.csv')
      .then(() => notify(t('analyst.export.done'))).catch((x) => notify(refusalText(x), 'error')) })]);

  // ---- the tick export: a range of days, every trade (or one herb's, one instrument's)
  // the tick filter `herb` takes the herb code (QUE: bark and oil), not the index's product
  const herbCodes = [...new Set(instruments.map((i) => i.herb))];
  const exportErr = h('p', { class: 'error', role: 'alert', id: 'export-error' });
  const exportForm = h('form', { id: 'export', class: 'row', onsubmit: async (e) => {
    e.preventDefault();
    exportErr.textContent = '';
    const v = values(e.target);
    const which = v.what === 'all' ? '' : `${v.what.startsWith('herb:') ? 'herb' : 'symbol'}=${encodeURIComponent(v.what.replace(/^herb:/, ''))}&`;
    try {
      if (!(await offered('/ticks/export.csv'))) { exportErr.textContent = t('desk.unavailable', { path: '/api/v1/ticks/export.csv' }); return; }
      await download(`/ticks/export.csv?${which}from=${vnMidnight(v.from)}&to=${vnMidnight(v.to)}`, `ticks-${v.what.replace(/^herb:/, '')}-${v.from}-${v.to}.csv`);
      notify(t('analyst.export.done'));
    } catch (x) {
      exportErr.textContent = refusalText(x);
    }
  } },
  field('analyst.export.what', select('what', [['all', { key: 'analyst.export.all' }], ...herbCodes.map((s) => [`herb:${s}`, s]), ...symbols.map((s) => [s, s])], 'all')),
  field('desk.from', h('input', { type: 'date', name: 'from', value: vnDay(-1) })),
  field('desk.to', h('input', { type: 'date', name: 'to', value: vnDay(1) }), 'desk.to.excl'),
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
