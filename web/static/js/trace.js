// The public trace page (the target of the lot's QR code): the lot's journey from its growing
// area to its sales, read by a phone without signing in. Origin and certifications, the grade
// with each assay result against its limit, every step of the lot's history with its time, its
// auctions and its sales (price per kg and per kg of active ingredient, invoice reference).

import { boot } from './shell.js';
import { api, code, h, kg, t, vnd, dateTime, debounce } from './core.js';
import { table, dec } from './desk.js';

boot(async ({ main, stream, onLang }) => {
  const lotId = decodeURIComponent(location.pathname.split('/')[2] || '');
  const path = `/trace/${encodeURIComponent(lotId)}`;
  let card = null;
  let auctions = [];

  function render() {
    const d = card;
    const g = d.grade;
    const certs = d.certifications.map((c) => h('li', {}, `${c.scheme}${c.stars ? ` ${'★'.repeat(c.stars)}` : ''} · ${c.certificate_no} · ${c.issuer}`));
    const steps = d.history.map((x) => h('li', {}, h('time', { datetime: x.ts }, dateTime(x.ts)), ' · ', h('strong', {}, code(x.action)), ` → ${code(x.state)}`));
    main.replaceChildren(
      h('h1', {}, `${t('trace.lot')} ${d.lot_id}`),
      h('div', { class: 'lotcard card' },
        h('div', {},
          h('p', { class: 'big' }, d.herb),
          h('p', { class: 'muted' }, h('i', {}, d.herb_latin)),
          h('dl', { class: 'kv' },
            h('dt', {}, t('auction.coop')), h('dd', {}, d.cooperative),
            h('dt', {}, t('auction.commune')), h('dd', {}, d.commune),
            h('dt', {}, t('auction.area')), h('dd', {}, `${d.growing_area.code} · ${d.growing_area.issuer}`),
            h('dt', {}, t('auction.harvest')), h('dd', {}, d.harvest_date.split('-').reverse().join('/')),
            h('dt', {}, t('auction.qty')), h('dd', {}, `${kg(d.qty)} · ${t('col.remaining')} ${kg(d.remaining_qty)}`),
            h('dt', {}, t('col.state')), h('dd', { id: 'trace-state' }, code(d.state)),
            h('dt', {}, t('auction.grade')), h('dd', { id: 'trace-grade' }, g ? `${g.grade} · ${dec(g.active_content)}% · ${g.lab}` : '–'))),
        h('div', { class: 'qr' }, h('img', { src: `${path}/qr.svg`, alt: t('coop.label.alt', { lot: d.lot_id }), width: 96, height: 96 }))),
      h('section', { class: 'card', 'aria-labelledby': 'tr-certs-h' }, h('h2', { id: 'tr-certs-h' }, t('auction.certs')),
        certs.length ? h('ul', {}, certs) : h('p', { class: 'muted' }, t('desk.none'))),
      g ? h('section', { class: 'card', 'aria-labelledby': 'tr-assay-h' }, h('h2', { id: 'tr-assay-h' }, t('auction.assays')),
        table(d.assays.map((a) => ({ ...a, value: dec(a.value), param: `${a.label} (${a.unit})`, limit: a.min !== null ? `≥ ${a.min}` : a.max !== null ? `≤ ${a.max}` : '–', ok: a.within ? t('auction.ok') : t('auction.fail') })),
          [['param', 'auction.param'], ['value', 'auction.value'], ['limit', 'auction.limit'], ['ok', 'col.status']], { id: 'trace-assays' }),
        g.unverified.length ? h('p', { class: 'muted' }, t('trace.unverified', { keys: g.unverified.join(', ') })) : null) : null,
      h('section', { class: 'card', 'aria-labelledby': 'tr-journey-h' }, h('h2', { id: 'tr-journey-h' }, t('trace.journey')),
        h('ol', { class: 'journey', id: 'trace-journey' }, steps)),
      h('section', { class: 'card', 'aria-labelledby': 'tr-auctions-h' }, h('h2', { id: 'tr-auctions-h' }, t('coop.auctions')),
        table(auctions.map((a) => ({ ...a, kind: code(a.kind), status: code(a.outcome || a.status) })),
          [['kind', 'coop.auction.kind'], ['status', 'col.status'], ['price', 'col.price', 'vnd'], ['sold_qty', 'auction.sold_qty', 'num']], { id: 'trace-auctions' })),
      h('section', { class: 'card', 'aria-labelledby': 'tr-sales-h' }, h('h2', { id: 'tr-sales-h' }, t('coop.sales')),
        sales(d.sales, 'trace-sales'),
        d.resales.length ? [h('h3', {}, t('trace.resales')), sales(d.resales, 'trace-resales')] : null),
      h('p', { class: 'muted url' }, h('a', { href: `/api/v1${path}` }, 'JSON'), ` · ${d.trace_url}`));
  }

  // one sale a line (a phone has no room for five columns): when, how much at what price, the
  // price per kg of active ingredient, the ledger's invoice number (the trade reference until the
  // ledger has booked the trade)
  function sales(rows, id) {
    if (!rows.length) return h('p', { class: 'muted', id }, t('coop.nosales'));
    return h('ul', { class: 'plain sales', id }, rows.map((x) => h('li', {},
      h('time', { datetime: x.ts }, dateTime(x.ts)), h('br'),
      h('strong', {}, t('trace.sale', { qty: kg(x.qty), price: vnd(x.price) })),
      x.price_per_kg_active !== null ? ` · ${t('trace.per_active', { price: vnd(x.price_per_kg_active) })}` : '',
      ` · ${t('col.invoice')} ${x.invoice_no || x.trade_ref}`)));
  }

  async function load() {
    [card, { auctions }] = await Promise.all([api(`${path}/card`, { token: null }), api('/auctions?status=all', { token: null })]);
    auctions = auctions.filter((a) => a.lot_id === lotId);
    document.title = `${t('trace.lot')} ${lotId} — HerbX`;
    render();
  }
  await load();
  if (card.symbol) stream.subscribe(`trades:${card.symbol}`, debounce(() => load(), 500));
  onLang(() => { document.title = `${t('trace.lot')} ${lotId} — HerbX`; render(); });
});
