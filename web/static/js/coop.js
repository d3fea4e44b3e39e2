// The cooperative desk: register a lot, follow it through assay, custody and listing with the
// next step always named (the gateway's `next_step`), list it on the book at a price (list, then
// the sell order) or auction it, follow its sales, read the statement (proceeds net of fees and
// levy and tax, with its CSV) and print the lot's QR label. Each step of a sale's delivery versus
// payment (the private `settlement` messages) is a notice.

import { boot } from './shell.js';
import { api, code, h, kg, num, t, translate, vnd, notify, debounce, clientId, latestOnly, $ } from './core.js';
import { settlementNotice } from './notices.js';
import { gate, field, select, refusalText, values, int, lotState, table, panel, download, offered, dec, kv, dateOf } from './desk.js';

const today = () => new Date(Date.now() + 7 * 3600e3).toISOString().slice(0, 10); // Vietnam's date
// the server refuses a harvest after the registration's UTC date, which is behind Vietnam's until 07:00
const yesterday = () => new Date(Date.now() - 17 * 3600e3).toISOString().slice(0, 10);

boot(async ({ main, stream, session, onLang, openSignIn }) => {
  if (!gate(main, ['cooperative'], 'coop.title', openSignIn)) return;
  const { specs } = await api('/specs', { token: null });
  let lots = [];
  let chosen = new URLSearchParams(location.search).get('lot');

  const lotsBox = h('div', { id: 'coop-lots' });
  const detail = h('div', { id: 'coop-lot' });
  const registerForm = buildRegister();
  const statement = panel('coop-statement', 'coop.statement', renderStatement);

  main.replaceChildren(
    h('h1', { 'data-i18n': 'coop.title' }),
    h('p', { class: 'muted', 'data-i18n': 'coop.lead' }),
    h('div', { class: 'grid two' },
      h('div', {},
        h('section', { class: 'card', 'aria-labelledby': 'lots-h' }, h('h2', { id: 'lots-h', 'data-i18n': 'coop.lots' }), lotsBox),
        detail),
      h('div', {},
        h('section', { class: 'card', 'aria-labelledby': 'reg-h' }, h('h2', { id: 'reg-h', 'data-i18n': 'coop.register' }), registerForm),
        statementCard())));
  translate(main);

  // The statement (docs/settlement.md, "Statements"): sales per lot net of fee, levy and tax,
  // then every line; pages of the ledger's transactions are added with "more".
  let shown = null; // {path, lines, lots: Map, cash_in_vnd, cash_out_vnd, next}
  function statementCard() {
    const from = h('input', { type: 'date', name: 'from', value: `${today().slice(0, 8)}01` });
    const to = h('input', { type: 'date', name: 'to', value: today() });
    const range = () => `from=${from.value}&to=${to.value}`;
    const form = h('form', { class: 'row', id: 'statement-form', onsubmit: (e) => { e.preventDefault(); shown = null; statement.load(`/statements/${encodeURIComponent(session.participant)}?${range()}&format=json`); } },
      field('desk.from', from), field('desk.to', to),
      h('button', { type: 'submit', 'data-i18n': 'desk.show' }),
      h('button', { type: 'button', class: 'secondary', id: 'statement-csv', 'data-i18n': 'desk.csv', onclick: async () => {
        const p = `/statements/${encodeURIComponent(session.participant)}`;
        if (!(await offered(p))) { notify(t('desk.unavailable', { path: `/api/v1${p}` }), 'error'); return; }
        download(`${p}?${range()}&format=csv&limit=1000`, `statement-${session.participant}-${from.value}-${to.value}.csv`)
          .then(() => notify(t('coop.statement.csv.done')))
          .catch((err) => notify(refusalText(err), 'error'));
      } }));
    statement.el.insertBefore(form, statement.body);
    return statement.el;
  }

  function renderStatement(data, path) {
    const base = path.replace(/&after=[^&]*$/, '');
    if (!shown || shown.path !== base) shown = { path: base, lines: [], lots: new Map(), cash_in_vnd: 0, cash_out_vnd: 0 };
    shown.lines.push(...data.lines);
    for (const l of data.lots) {
      const sum = shown.lots.get(l.lot_id) ?? { lot_id: l.lot_id, qty: 0, gross_vnd: 0, fee_vnd: 0, levy_vnd: 0, tax_vnd: 0, net_vnd: 0 };
      for (const k of ['qty', 'gross_vnd', 'fee_vnd', 'levy_vnd', 'tax_vnd', 'net_vnd']) sum[k] += l[k] ?? 0;
      shown.lots.set(l.lot_id, sum);
    }
    shown.cash_in_vnd += data.cash_in_vnd;
    shown.cash_out_vnd += data.cash_out_vnd;
    const charges = (r) => h('span', {}, vnd(r.fee_vnd + r.levy_vnd + (r.tax_vnd || 0)),
      h('div', { class: 'muted' }, t('coop.statement.charges', { fee: num(r.fee_vnd), levy: num(r.levy_vnd) }), r.tax_vnd ? ` · ${t('coop.statement.tax', { tax: num(r.tax_vnd) })}` : ''));
    const what = (r) => {
      const bits = [];
      if (r.invoice) bits.push(`${t('col.invoice')} ${r.invoice}`);
      if (r.lot_id) bits.push(`${t('col.lot')} ${r.lot_id}`);
      if (r.qty) bits.push(r.price_vnd ? `${kg(r.qty)} × ${vnd(r.price_vnd)}` : kg(r.qty));
      if (r.ref) bits.push(r.ref);
      return h('span', {}, h('strong', {}, code(`line_${r.kind}`)), ` · ${dateOf(r.date)}`, h('div', { class: 'muted' }, bits.join(' · ')));
    };
    const more = data.next ? h('button', { type: 'button', class: 'secondary', id: 'statement-more', 'data-i18n': 'desk.more',
      onclick: () => statement.load(`${base}&after=${encodeURIComponent(data.next)}`) }) : null;
    return [
      h('p', { class: 'muted', 'data-i18n': 'coop.statement.note' }),
      kv([[t('coop.statement.in'), vnd(shown.cash_in_vnd)], [t('coop.statement.out'), vnd(shown.cash_out_vnd)]], 'statement-totals'),
      h('h3', { 'data-i18n': 'coop.statement.lots' }),
      table([...shown.lots.values()], [
        ['lot_id', 'col.lot', (r) => h('span', {}, r.lot_id, h('div', { class: 'muted' }, kg(r.qty)))],
        ['gross_vnd', 'coop.statement.gross', 'vnd'],
        ['fee_vnd', 'coop.statement.fees', charges, true],
        ['net_vnd', 'coop.statement.net', 'vnd']], { id: 'statement-lots', empty: 'coop.nosales', rowAttrs: (r) => ({ 'data-lot': r.lot_id }) }),
      h('h3', { id: 'statement-lines-h', 'data-i18n': 'coop.statement.lines' }),
      h('div', { class: 'scroll tall', tabindex: '0', role: 'region', 'aria-labelledby': 'statement-lines-h' }, table(shown.lines, [
        ['kind', 'coop.statement.what', what],
        ['gross_vnd', 'coop.statement.gross', (r) => (r.gross_vnd ? vnd(r.gross_vnd) : '–'), true],
        ['fee_vnd', 'coop.statement.fees', (r) => (r.kind === 'sale' ? charges(r) : '–'), true],
        ['cash_vnd', 'coop.statement.cash', (r) => h('span', { class: r.cash_vnd > 0 ? 'up' : r.cash_vnd < 0 ? 'down' : '' }, r.cash_vnd ? `${r.cash_vnd > 0 ? '+' : ''}${vnd(r.cash_vnd)}` : '–'), true]],
      { id: 'statement-lines', rowAttrs: (r) => ({ 'data-kind': r.kind, 'data-invoice': r.invoice ?? null, 'data-lot': r.lot_id ?? null }) })),
      more];
  }

  function buildRegister() {
    const spec = select('spec_id', specs.map((s) => [s.spec_id, `${s.name_vi} (${s.spec_id})`]), 'QUE-BARK');
    const form = h('form', { id: 'register', novalidate: true },
      field('coop.lot_id', h('input', { name: 'lot_id', required: true, maxlength: 20, pattern: '[A-Za-z0-9._\\-]{1,20}', autocomplete: 'off' }), 'coop.lot_id.hint'),
      field('coop.spec', spec),
      h('div', { class: 'row' },
        field('coop.qty', h('input', { name: 'qty', inputmode: 'numeric', required: true })),
        field('coop.harvest', h('input', { name: 'harvest_date', type: 'date', required: true, value: yesterday() }))),
      field('coop.commune', h('input', { name: 'commune', required: true, maxlength: 100 })),
      h('fieldset', {}, h('legend', { 'data-i18n': 'coop.area' }),
        field('coop.area.code', h('input', { name: 'area_code', required: true, maxlength: 64 })),
        field('coop.area.issuer', h('input', { name: 'area_issuer', required: true, maxlength: 100, value: 'Chi cục TT&BVTV Lào Cai' })),
        h('div', { class: 'row' },
          field('coop.area.from', h('input', { name: 'area_from', type: 'date', required: true, value: '2024-01-01' })),
          field('coop.area.until', h('input', { name: 'area_until', type: 'date' })))),
      h('p', { class: 'error', role: 'alert', id: 'register-error' }),
      h('button', { type: 'submit', 'data-i18n': 'coop.register.submit' }));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const v = values(form);
      $('#register-error').textContent = '';
      try {
        const lot = await api('/lots', { method: 'POST', body: {
          lot_id: v.lot_id, spec_id: v.spec_id, qty: int(v.qty), harvest_date: v.harvest_date, commune: v.commune,
          growing_area: { code: v.area_code, issuer: v.area_issuer, valid_from: v.area_from, valid_until: v.area_until ?? null },
        } });
        notify(t('coop.registered', { lot: lot.lot_id, next: code(lot.next_step) }));
        form.reset();
        chosen = lot.lot_id;
        await reload();
      } catch (err) { $('#register-error').textContent = refusalText(err); }
    });
    return form;
  }

  function specOf(lot) { return specs.find((s) => s.spec_id === lot.spec_id); }

  function renderLots() {
    lotsBox.replaceChildren(lots.length ? h('div', { class: 'tablewrap' }, h('table', { id: 'lots' },
      h('colgroup', {}, h('col', { style: 'width:32%' }), h('col', { style: 'width:14%' }), h('col'), h('col', { style: 'width:22%' })),
      h('thead', {}, h('tr', {}, ['col.lot', 'col.grade', 'col.state', 'col.remaining'].map((k) => h('th', { scope: 'col', class: k === 'col.remaining' ? 'n' : null }, t(k))))),
      h('tbody', {}, lots.map((l) => h('tr', { class: l.lot_id === chosen ? 'sel' : null, 'data-lot': l.lot_id },
        h('td', {}, h('button', { type: 'button', class: 'link', 'aria-pressed': String(l.lot_id === chosen), onclick: () => { chosen = l.lot_id; renderLots(); renderDetail(); } }, l.lot_id),
          h('div', { class: 'muted' }, specOf(l)?.name_vi ?? l.spec_id)),
        h('td', {}, l.grade ?? '–'),
        h('td', {}, lotState(l)),
        h('td', { class: 'n' }, kg(l.remaining_qty))))))) : h('p', { class: 'muted' }, t('coop.nolots')));
  }

  // Renders overlap (a click, a reload, the 10 s poll): only the newest may paint, or a slower
  // earlier one would show another lot's card under the chosen row.
  const newestDetail = latestOnly();
  async function renderDetail() {
    const fresh = newestDetail();
    const lot = lots.find((l) => l.lot_id === chosen);
    if (!lot) { detail.replaceChildren(); return; }
    const spec = specOf(lot);
    const card = await api(`/trace/${encodeURIComponent(lot.lot_id)}/card`, { token: null });
    const auctions = (await api('/auctions?status=all', { token: null })).auctions.filter((a) => a.lot_id === lot.lot_id);
    if (!fresh()) return;
    const err = h('p', { class: 'error', role: 'alert', id: 'lot-error' });
    const act = (fn) => async (e) => {
      e.preventDefault();
      err.textContent = '';
      try { await fn(e.target); await reload(); } catch (x) { err.textContent = refusalText(x); }
    };
    const actions = [];
    if (lot.state === 'received' || lot.state === 'listed' || lot.state === 'partly_sold') {
      actions.push(h('form', { id: 'sell-form', onsubmit: act(async (f) => {
        const v = values(f);
        if (lot.state === 'received') await api(`/lots/${encodeURIComponent(lot.lot_id)}/list`, { method: 'POST', body: {} });
        const o = await api('/orders', { method: 'POST', body: { symbol: lot.symbol, side: 'sell', type: 'limit', tif: 'gtc', price: int(v.price), qty: int(v.qty), client_order_id: clientId('coop') } });
        notify(t('coop.sell.placed', { qty: kg(o.leaves_qty + o.filled_qty), price: vnd(int(v.price)), symbol: lot.symbol }));
      }) },
      h('h3', { 'data-i18n': lot.state === 'received' ? 'coop.sell.title' : 'coop.sell.more' }),
      h('div', { class: 'row' },
        field('coop.sell.price', h('input', { name: 'price', inputmode: 'numeric', required: true })),
        field('coop.sell.qty', h('input', { name: 'qty', inputmode: 'numeric', required: true, value: String(lot.custody_qty || lot.remaining_qty) })),
        h('button', { type: 'submit', class: 'sell', 'data-i18n': 'coop.sell.submit' }))));
    }
    if (lot.state === 'received') {
      const kind = select('kind', ['english', 'dutch', 'sealed'].map((k) => [k, { code: k }]), 'english');
      actions.push(h('form', { id: 'auction-form', onsubmit: act(async (f) => {
        const v = values(f);
        const body = { kind: v.kind, lot_id: lot.lot_id, qty: int(v.qty), start_price: int(v.start_price), duration_s: int(v.minutes) * 60 };
        if (v.kind === 'dutch') Object.assign(body, { step: int(v.step), floor: int(v.floor), interval_ms: 5000 });
        const a = await api('/auctions', { method: 'POST', body });
        notify(t('coop.auction.created', { id: a.auction_id }));
      }) },
      h('h3', { 'data-i18n': 'coop.auction.title' }),
      h('div', { class: 'row' }, field('coop.auction.kind', kind),
        field('coop.sell.qty', h('input', { name: 'qty', inputmode: 'numeric', required: true, value: String(lot.custody_qty) })),
        field('coop.auction.start', h('input', { name: 'start_price', inputmode: 'numeric', required: true })),
        field('coop.auction.minutes', h('input', { name: 'minutes', inputmode: 'numeric', value: '10' }))),
      h('div', { class: 'row' },
        field('coop.auction.step', h('input', { name: 'step', inputmode: 'numeric' }), 'coop.auction.dutch'),
        field('coop.auction.floor', h('input', { name: 'floor', inputmode: 'numeric' })),
        h('button', { type: 'submit', 'data-i18n': 'coop.auction.submit' }))));
    }
    if (lot.state === 'listed' || lot.state === 'partly_sold') {
      actions.push(h('button', { type: 'button', class: 'secondary', id: 'delist', 'data-i18n': 'coop.delist', onclick: act(() => api(`/lots/${encodeURIComponent(lot.lot_id)}/delist`, { method: 'POST', body: {} })) }));
    }
    if (lot.state !== 'sold' && lot.state !== 'withdrawn') {
      actions.push(h('button', { type: 'button', class: 'secondary', id: 'withdraw', 'data-i18n': 'coop.withdraw', onclick: act(async () => {
        if (confirm(t('coop.withdraw.confirm', { lot: lot.lot_id }))) await api(`/lots/${encodeURIComponent(lot.lot_id)}/withdraw`, { method: 'POST', body: {} });
      }) }));
    }
    const traceHref = `/trace/${encodeURIComponent(lot.lot_id)}`;
    detail.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'lot-h', id: 'lot-card' },
      h('h2', { id: 'lot-h' }, `${t('col.lot')} ${lot.lot_id}`),
      h('p', { class: 'nextstep', id: 'next-step' }, h('strong', {}, `${t('desk.next')}: `), code(lot.next_step)),
      h('dl', { class: 'kv' },
        h('dt', {}, t('auction.herb')), h('dd', {}, spec ? `${spec.name_vi} — ${spec.name_latin}` : lot.spec_id),
        h('dt', {}, t('col.state')), h('dd', {}, code(lot.state)),
        h('dt', {}, t('auction.grade')), h('dd', {}, lot.grade ? `${lot.grade}${lot.active_content ? ` · ${dec(lot.active_content)}%` : ''}` : '–'),
        h('dt', {}, t('auction.qty')), h('dd', {}, `${kg(lot.qty)} · ${t('col.remaining')} ${kg(lot.remaining_qty)} · ${t('coop.custody')} ${kg(lot.custody_qty)}`),
        h('dt', {}, t('col.symbol')), h('dd', {}, lot.symbol ?? '–')),
      err, actions,
      h('h3', { 'data-i18n': 'coop.sales' }, t('coop.sales')),
      table(card.sales, [['ts', 'col.time', 'time'], ['qty', 'col.qty', 'num'], ['price', 'col.price', 'vnd'], ['invoice_no', 'col.invoice']], { id: 'lot-sales', empty: 'coop.nosales' }),
      auctions.length ? [h('h3', { 'data-i18n': 'coop.auctions' }, t('coop.auctions')),
        table(auctions.map((a) => ({ ...a, status: code(a.status), kind: code(a.kind) })), [['auction_id', 'col.auction'], ['kind', 'coop.auction.kind'], ['status', 'col.status'], ['price', 'col.price', 'vnd'], ['sold_qty', 'auction.sold_qty', 'num']], { id: 'lot-auctions' })] : null,
      h('h3', { 'data-i18n': 'coop.label' }, t('coop.label')),
      h('figure', { class: 'label', id: 'qr-label' },
        h('img', { src: `${traceHref}/qr.svg`, alt: t('coop.label.alt', { lot: lot.lot_id }), width: 120, height: 120 }),
        h('figcaption', {}, h('strong', {}, lot.lot_id), h('br'), spec?.name_vi ?? lot.spec_id, lot.grade ? ` · ${t('auction.grade')} ${lot.grade}` : '', h('br'), card.cooperative, h('br'), card.growing_area.code)),
      h('div', { class: 'row' },
        h('button', { type: 'button', id: 'print-label', 'data-i18n': 'coop.label.print', onclick: () => { document.body.classList.add('print-label'); window.print(); document.body.classList.remove('print-label'); } }),
        h('a', { href: traceHref, id: 'trace-link', 'data-i18n': 'coop.trace' }))));
    translate(detail);
  }

  // Lot steps taken by others (the lab's assay, the operator's receipt) have no stream channel:
  // the desk asks again every 10 s while a lot waits on someone else, and paints only a change
  // (so a half-typed price survives).
  let painted = '';
  async function reload(force = true) {
    lots = (await api('/lots')).lots;
    if (!chosen && lots.length) chosen = lots[lots.length - 1].lot_id;
    const sig = JSON.stringify(lots.map((l) => [l.lot_id, l.state, l.next_step, l.remaining_qty, l.custody_qty]));
    if (!force && sig === painted) return;
    painted = sig;
    renderLots();
    await renderDetail();
  }
  await reload();
  const WAITING_ON_OTHERS = ['post_assay', 'reassay', 'receive_lot', 'await_auction'];
  setInterval(() => {
    if (document.visibilityState === 'visible' && lots.some((l) => WAITING_ON_OTHERS.includes(l.next_step))) reload(false).catch(() => {});
  }, 10_000);
  const loadStatement = () => statement.el.querySelector('form').requestSubmit();
  loadStatement();
  const refresh = debounce(() => reload(false).catch((err) => notify(refusalText(err), 'error')), 300);
  // a sale is booked by the ledger a moment after the fill: the statement follows its trades
  const refreshStatement = debounce(loadStatement, 1500);
  stream.subscribe('orders', (m) => {
    refresh();
    if (m.type === 'fill' || m.type === 'settlement' || m.type === 'resync') refreshStatement();
    if (m.type === 'settlement') notify(settlementNotice(m), m.state === 'failed' ? 'error' : 'info');
  });
  onLang(() => { renderLots(); renderDetail(); loadStatement(); });
});
