// The trading floor: instruments (last, change, volume, price per kg of active ingredient), the
// selected book as a depth ladder, the trade tape, 1-minute candles with volume, the order
// ticket, and the signed-in trader's open orders (cancel, replace), fills and balances. Live
// over the WebSocket; the ladder is checked against the server's checksum (stream.js).

import { boot } from './shell.js';
import { api, code, h, kg, num, pct, t, time, translate, vnd, notify, debounce, clientId, ApiError, $ } from './core.js';

const LEVELS = 10; // ladder rows per side (fixed, so updates never move the page)
const TAPE = 30;
const BAR_S = 60;
const VN_OFFSET_S = 7 * 3600; // the chart's axis shows Vietnam time

boot(async ({ main, stream, session, onLang, openSignIn }) => {
  const canTrade = session && (session.role === 'trader' || session.role === 'cooperative');
  const [{ instruments }, { tickers }] = await Promise.all([api('/instruments'), api('/ticker')]);
  const inst = new Map(instruments.map((i) => [i.symbol, i]));
  const tick = new Map(tickers.map((x) => [x.symbol, x]));
  const wanted = new URLSearchParams(location.search).get('s') || localStorage.getItem('herbx.symbol');
  let symbol = inst.has(wanted) ? wanted : instruments[0].symbol;
  let openOrders = [];

  // ---- layout (built once; live updates only change text in place)
  const instBody = h('tbody');
  const ladderBody = h('tbody');
  const tapeBody = h('tbody');
  const ordersBody = h('tbody');
  const fillsBody = h('tbody');
  const balancesBox = h('div', { id: 'balances' });
  const stats = h('div', { class: 'stats', id: 'stats', 'aria-live': 'off' });
  const title = h('h1', { id: 'sym-title' });
  const chartEmpty = h('p', { class: 'empty', 'data-i18n': 'floor.notrades' });
  const chartBox = h('div', { id: 'chart', role: 'figure', 'data-i18n-label': 'floor.chart' }, chartEmpty);
  const ticket = buildTicket();

  const th = (key, cls) => h('th', { scope: 'col', class: cls, 'data-i18n': key });
  main.replaceChildren(h('div', { class: 'grid floor' },
    h('div', {},
      h('section', { class: 'card o-inst', 'aria-labelledby': 'inst-h' },
        h('h2', { id: 'inst-h', 'data-i18n': 'floor.instruments' }),
        h('div', { class: 'scroll' }, h('table', { id: 'instruments' },
          h('colgroup', {}, h('col', { style: 'width:36%' }), h('col'), h('col', { style: 'width:15%' }), h('col', { style: 'width:13%' }), h('col')),
          h('thead', {}, h('tr', {}, th('col.symbol'), th('col.last', 'n'), th('col.change', 'n'), th('col.volume', 'n'), th('col.active', 'n'))),
          instBody))),
      canTrade ? h('section', { class: 'card o-bal', 'aria-labelledby': 'bal-h' }, h('h2', { id: 'bal-h', 'data-i18n': 'balances.title' }), balancesBox) : null),
    h('div', {},
      h('section', { class: 'card o-chart', 'aria-labelledby': 'sym-title' }, title, stats, chartBox),
      h('div', { class: 'grid two o-book' },
        h('section', { class: 'card', 'aria-labelledby': 'book-h' },
          h('h2', { id: 'book-h', 'data-i18n': 'floor.book' }),
          h('table', { class: 'ladder', id: 'ladder' },
            h('thead', {}, h('tr', {}, th('col.price', 'n'), th('col.qty', 'n'), th('col.total', 'n'))), ladderBody)),
        h('section', { class: 'card', 'aria-labelledby': 'tape-h' },
          h('h2', { id: 'tape-h', 'data-i18n': 'floor.tape' }),
          h('div', { class: 'box' }, h('table', { id: 'tape' },
            h('thead', {}, h('tr', {}, th('col.time'), th('col.price', 'n'), th('col.qty', 'n'))), tapeBody))))),
    h('div', {},
      ticket.el,
      canTrade ? h('section', { class: 'card o-orders', 'aria-labelledby': 'oo-h' },
        h('h2', { id: 'oo-h', 'data-i18n': 'orders.title' }),
        h('div', { class: 'box' }, h('table', { id: 'open-orders' },
          h('colgroup', {}, h('col', { style: 'width:30%' }), h('col'), h('col'), h('col', { style: 'width:34%' })),
          h('thead', {}, h('tr', {}, th('col.symbol'), th('col.price', 'n'), th('col.qty', 'n'), th('col.actions'))), ordersBody))) : null,
      canTrade ? h('section', { class: 'card o-fills', 'aria-labelledby': 'fills-h' },
        h('h2', { id: 'fills-h', 'data-i18n': 'fills.title' }),
        h('div', { class: 'box' }, h('table', { id: 'fills' },
          h('thead', {}, h('tr', {}, th('col.time'), th('col.symbol'), th('col.price', 'n'), th('col.qty', 'n'))), fillsBody))) : null)));
  translate(main);

  // ---- instruments
  const instRows = new Map();
  for (const i of instruments) {
    const cells = { last: h('td', { class: 'n' }), chg: h('td', { class: 'n' }), vol: h('td', { class: 'n' }), act: h('td', { class: 'n' }) };
    const row = h('tr', { tabindex: '0', 'data-symbol': i.symbol, 'aria-label': i.symbol },
      h('th', { scope: 'row' }, i.symbol), cells.last, cells.chg, cells.vol, cells.act);
    row.addEventListener('click', () => select(i.symbol));
    row.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); select(i.symbol); } });
    instRows.set(i.symbol, { row, cells });
    instBody.append(row);
    paintTicker(i.symbol);
  }
  function paintTicker(sym) {
    const x = tick.get(sym);
    const r = instRows.get(sym);
    if (!x || !r) return;
    r.cells.last.textContent = num(x.last);
    const change = x.change !== null && x.open ? (100 * x.change) / x.open : null;
    r.cells.chg.textContent = pct(change);
    r.cells.chg.className = `n ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`;
    r.cells.vol.textContent = num(x.volume);
    r.cells.act.textContent = num(x.last_price_per_kg_active ?? null);
    if (sym === symbol) paintStats();
  }
  stream.subscribe('ticker', (m) => {
    if (m.type === 'resync') return api('/ticker').then((r) => r.tickers.forEach((x) => { tick.set(x.symbol, x); paintTicker(x.symbol); }));
    if (m.type === 'ticker') { tick.set(m.symbol, m); paintTicker(m.symbol); }
  });

  function paintStats() {
    const x = tick.get(symbol) || {};
    const i = inst.get(symbol);
    title.textContent = `${symbol} · ${code(i.status)}`;
    stats.replaceChildren(
      h('span', {}, `${t('col.last')}: `, h('b', {}, vnd(x.last))),
      h('span', {}, `${t('col.change')}: `, h('b', { class: x.change > 0 ? 'up' : x.change < 0 ? 'down' : '' }, x.change === null || x.change === undefined ? '–' : `${x.change > 0 ? '+' : ''}${num(x.change)}`)),
      h('span', {}, `${t('col.volume')}: `, h('b', {}, num(x.volume))),
      h('span', {}, `${t('col.active')}: `, h('b', {}, vnd(x.last_price_per_kg_active ?? null))),
    );
  }

  // ---- ladder: LEVELS asks (highest on top), the spread, LEVELS bids
  const askRows = [], bidRows = [];
  const mkRow = (cls) => {
    const bar = h('span', { class: 'bar' });
    const p = h('td', { class: 'n p' }), q = h('td', { class: 'n' }), c = h('td', { class: 'n' }, bar);
    const row = h('tr', { class: cls }, p, q, c);
    row.addEventListener('click', () => { if (row.dataset.price) ticket.setPrice(Number(row.dataset.price)); });
    return { row, p, q, c, bar };
  };
  for (let k = 0; k < LEVELS; k++) askRows.push(mkRow('ask'));
  const spreadCell = h('td', { colspan: '3' }, '–');
  for (let k = 0; k < LEVELS; k++) bidRows.push(mkRow('bid'));
  ladderBody.append(...askRows.slice().reverse().map((r) => r.row), h('tr', { class: 'spread' }, spreadCell), ...bidRows.map((r) => r.row));

  function paintLadder(book) {
    const asks = book.levels('asks', LEVELS), bids = book.levels('bids', LEVELS);
    const cum = (lv) => { let s = 0; return lv.map(([p, q]) => [p, q, (s += q)]); };
    const a = cum(asks), b = cum(bids);
    const max = Math.max(1, a.length ? a[a.length - 1][2] : 0, b.length ? b[b.length - 1][2] : 0);
    const mine = new Set(openOrders.filter((o) => o.symbol === symbol).map((o) => `${o.side}:${o.price}`));
    const fill = (rows, levels, side) => rows.forEach((r, k) => {
      const lv = levels[k];
      r.p.textContent = lv ? num(lv[0]) : '';
      r.q.textContent = lv ? num(lv[1]) : '';
      r.c.replaceChildren(r.bar, lv ? num(lv[2]) : '');
      r.bar.style.width = lv ? `${(100 * lv[2]) / max}%` : '0';
      r.row.dataset.price = lv ? lv[0] : '';
      r.row.classList.toggle('mine', !!lv && mine.has(`${side}:${lv[0]}`));
    });
    fill(askRows, a, 'sell');
    fill(bidRows, b, 'buy');
    spreadCell.textContent = asks.length && bids.length ? t('floor.spread', { spread: vnd(asks[0][0] - bids[0][0]) }) : t('floor.empty');
    $('#ladder').dataset.seq = book.seq;
    ticket.suggest?.(bids[0]?.[0] ?? asks[0]?.[0]);
  }

  // ---- tape and candles
  let tape = [];
  function paintTape() {
    tapeBody.replaceChildren(...tape.slice(0, TAPE).map((x) => h('tr', {},
      h('td', {}, time(x.ts)),
      h('td', { class: `n ${x.aggressor === 'buy' ? 'buy-text' : 'sell-text'}` }, num(x.price)),
      h('td', { class: 'n' }, num(x.qty)))));
  }
  let chart = null;
  const bars = new Map(); // bar start (s, Vietnam-shifted) -> {time, open, high, low, close, value}
  function addToBars(x) {
    const s = Math.floor(Date.parse(x.ts) / 1000) + VN_OFFSET_S;
    const start = s - (s % BAR_S);
    const b = bars.get(start);
    if (!b) bars.set(start, { time: start, open: x.price, high: x.price, low: x.price, close: x.price, value: x.qty });
    else { b.high = Math.max(b.high, x.price); b.low = Math.min(b.low, x.price); b.close = x.price; b.value += x.qty; }
    return bars.get(start);
  }
  async function loadChart() {
    if (!chart) {
      const lc = await import('/vendor/lightweight-charts.mjs');
      const c = lc.createChart(chartBox, { autoSize: true, layout: { textColor: '#1b261d', background: { color: '#ffffff' }, attributionLogo: true },
        timeScale: { timeVisible: true, secondsVisible: false }, rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.28 } },
        localization: { priceFormatter: (p) => num(Math.round(p)) } });
      const candles = c.addSeries(lc.CandlestickSeries, { upColor: '#0a6634', downColor: '#a8231b', borderVisible: false, wickUpColor: '#0a6634', wickDownColor: '#a8231b' });
      const volume = c.addSeries(lc.HistogramSeries, { priceScaleId: 'vol', priceFormat: { type: 'volume' }, color: '#7d9b84' });
      c.priceScale('vol').applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
      chart = { c, candles, volume };
    }
    const sorted = [...bars.values()].sort((a, b) => a.time - b.time);
    chartEmpty.hidden = sorted.length > 0;
    chart.candles.setData(sorted.map(({ time: tm, open, high, low, close }) => ({ time: tm, open, high, low, close })));
    chart.volume.setData(sorted.map((b) => ({ time: b.time, value: b.value })));
    chart.c.timeScale().fitContent();
  }
  function liveBar(x) {
    const b = addToBars(x);
    chartEmpty.hidden = true;
    if (!chart) return;
    chart.candles.update({ time: b.time, open: b.open, high: b.high, low: b.low, close: b.close });
    chart.volume.update({ time: b.time, value: b.value });
  }

  // ---- selecting an instrument (re)subscribes its book and trades
  let offBook = null, offTrades = null;
  async function select(sym) {
    symbol = sym;
    localStorage.setItem('herbx.symbol', sym);
    history.replaceState(null, '', `/floor?s=${encodeURIComponent(sym)}`);
    for (const [s, r] of instRows) { r.row.classList.toggle('sel', s === sym); r.row.setAttribute('aria-current', String(s === sym)); }
    paintStats();
    ticket.setSymbol(sym);
    offBook?.(); offTrades?.();
    offBook = stream.book(sym, paintLadder);
    const loadTrades = async () => {
      const r = await api(`/instruments/${encodeURIComponent(sym)}/trades?limit=1000`);
      if (sym !== symbol) return;
      tape = r.trades;
      bars.clear();
      for (const x of [...r.trades].reverse()) addToBars(x);
      paintTape();
      loadChart().catch((err) => console.warn('chart', err));
    };
    offTrades = stream.subscribe(`trades:${sym}`, (m) => {
      if (m.type === 'resync') return loadTrades();
      if (m.type !== 'trade') return;
      if (tape.length && tape[0].seq >= m.seq) return; // already in the REST answer
      tape.unshift(m);
      tape.length = Math.min(tape.length, 1000);
      paintTape();
      liveBar(m);
    });
    await loadTrades();
  }

  // ---- the order ticket
  function buildTicket() {
    const f = h('form', { id: 'ticket', novalidate: true });
    const el = h('section', { class: 'card o-ticket', 'aria-labelledby': 'ticket-h' }, h('h2', { id: 'ticket-h', 'data-i18n': 'ticket.title' }), f);
    const api_ = { el, setPrice() {}, setSymbol() {} };
    if (!canTrade) {
      f.append(h('p', { 'data-i18n': 'ticket.need' }), session ? null : h('button', { type: 'button', onclick: openSignIn, 'data-i18n': 'signin' }));
      return api_;
    }
    const radio = (name, value, checked, cls) => h('label', { class: cls }, h('input', { type: 'radio', name, value, checked }), h('span', { 'data-i18n-code': value }, code(value)));
    const sym = h('output', { id: 't-symbol', class: 'badge' });
    const price = h('input', { id: 't-price', name: 'price', type: 'number', inputmode: 'numeric', min: '1', step: '1' });
    const qty = h('input', { id: 't-qty', name: 'qty', type: 'number', inputmode: 'numeric', min: '1', step: '1', value: '10' });
    const tif = h('select', { id: 't-tif', name: 'tif' }, ['gtc', 'ioc', 'fok', 'gtd'].map((v) => h('option', { value: v, 'data-i18n-code': v }, code(v))));
    const expire = h('input', { id: 't-expire', name: 'expire', type: 'datetime-local', step: '1' });
    const postOnly = h('input', { id: 't-post', name: 'post_only', type: 'checkbox' });
    const cashCap = h('input', { id: 't-cap', name: 'cash_cap', type: 'number', inputmode: 'numeric', min: '1', step: '1' });
    const hold = h('p', { class: 'hold', id: 't-hold', 'aria-live': 'polite' });
    const err = h('p', { class: 'error', id: 't-error', role: 'alert' });
    const submit = h('button', { type: 'submit', id: 't-submit' });
    const priceRow = h('div', {}, h('label', { for: 't-price', 'data-i18n': 'ticket.price' }), price);
    const capRow = h('div', { hidden: true }, h('label', { for: 't-cap', 'data-i18n': 'ticket.cash_cap' }), cashCap);
    const expRow = h('div', { hidden: true }, h('label', { for: 't-expire', 'data-i18n': 'ticket.expire' }), expire);
    f.append(
      h('p', {}, sym),
      h('fieldset', { class: 'seg', role: 'radiogroup', 'aria-label': t('ticket.side'), style: 'padding:0;margin:0' }, radio('side', 'buy', true, 'buy'), radio('side', 'sell', false, 'sell')),
      h('fieldset', { class: 'seg', role: 'radiogroup', 'aria-label': t('ticket.type'), style: 'padding:0;margin:.5em 0 0' }, radio('type', 'limit', true), radio('type', 'market', false)),
      h('div', { class: 'row' }, priceRow, capRow, h('div', {}, h('label', { for: 't-qty', 'data-i18n': 'ticket.qty' }), qty)),
      h('div', { class: 'row' }, h('div', {}, h('label', { for: 't-tif', 'data-i18n': 'ticket.tif' }), tif), expRow),
      h('label', { class: 'check' }, postOnly, h('span', { 'data-i18n': 'ticket.post_only' })),
      hold, err, submit);
    const val = (name) => f.querySelector(`input[name=${name}]:checked`).value;
    function refresh() {
      const side = val('side'), type = val('type');
      priceRow.hidden = type === 'market';
      capRow.hidden = !(type === 'market' && side === 'buy');
      expRow.hidden = tif.value !== 'gtd';
      postOnly.disabled = type === 'market';
      submit.textContent = t(`ticket.submit.${side}`);
      submit.className = side;
      const q = Number(qty.value) || 0;
      if (side === 'sell') hold.textContent = t('ticket.hold.goods', { qty: kg(q), symbol });
      else if (type === 'market') hold.textContent = t('ticket.hold.cash', { amount: vnd(Number(cashCap.value) || 0) });
      else hold.textContent = t('ticket.hold.cash', { amount: vnd((Number(price.value) || 0) * q) });
    }
    f.addEventListener('input', refresh);
    f.addEventListener('change', refresh);
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      const side = val('side'), type = val('type');
      const body = { symbol, side, type, qty: Number(qty.value), tif: tif.value, client_order_id: clientId() };
      if (type === 'limit') { body.price = Number(price.value); body.post_only = postOnly.checked; }
      if (type === 'market' && side === 'buy') body.cash_cap = Number(cashCap.value);
      if (tif.value === 'gtd') body.expire_at = vnLocalToIso(expire.value);
      submit.disabled = true;
      try {
        const r = await api('/orders', { method: 'POST', body });
        notify(t('ticket.placed', { id: r.order_id, status: code(r.status) }));
        refreshMine();
      } catch (x) {
        err.textContent = x instanceof ApiError ? x.text : String(x);
      } finally { submit.disabled = false; }
    });
    api_.setPrice = (p) => { price.value = p; refresh(); price.focus(); };
    api_.setSymbol = (s) => {
      sym.textContent = s;
      const x = tick.get(s), step = inst.get(s).tick_vnd;
      price.step = step;
      price.value = x?.last ?? '';
      refresh();
    };
    api_.refresh = refresh;
    api_.suggest = (p) => { if (!price.value && p) { price.value = p; refresh(); } };
    return api_;
  }

  // ---- own orders, fills, balances
  async function refreshOrders() {
    const r = await api('/orders?status=open&limit=200');
    openOrders = r.orders;
    ordersBody.replaceChildren(...(openOrders.length ? openOrders.map(orderRow) : [h('tr', {}, h('td', { colspan: '4', class: 'muted' }, t('orders.none')))]));
    const b = stream.books.get(symbol);
    if (b && !b.awaiting) paintLadder(b);
  }
  function orderRow(o) {
    const cancel = h('button', { type: 'button', class: 'secondary', 'data-action': 'cancel', 'aria-label': `${t('orders.cancel')} ${o.order_id}` }, t('orders.cancel'));
    const edit = h('button', { type: 'button', class: 'secondary', 'data-action': 'replace', 'aria-label': `${t('orders.replace')} ${o.order_id}` }, t('orders.replace'));
    const row = h('tr', { 'data-order': o.order_id },
      h('td', {}, h('span', { class: o.side === 'buy' ? 'buy-text' : 'sell-text' }, code(o.side)), ` ${o.symbol}`, h('br'), h('small', { class: 'muted' }, code(o.status))),
      h('td', { class: 'n' }, num(o.price)), h('td', { class: 'n' }, `${num(o.leaves_qty)}/${num(o.qty)}`),
      h('td', {}, h('div', { class: 'row', style: 'margin:0' }, cancel, edit)));
    cancel.addEventListener('click', async () => {
      try {
        await api(`/orders/${o.order_id}`, { method: 'DELETE' });
        notify(t('orders.cancelled', { id: o.order_id }));
      } catch (x) { notify(x instanceof ApiError ? x.text : String(x), 'error'); }
      refreshMine();
    });
    edit.addEventListener('click', () => {
      const p = h('input', { type: 'number', value: o.price, 'aria-label': t('col.price'), min: '1' });
      const q = h('input', { type: 'number', value: o.qty, 'aria-label': t('col.qty'), min: '1' });
      const save = h('button', { type: 'submit', 'data-action': 'save' }, t('orders.save'));
      const back = h('button', { type: 'button', class: 'secondary' }, t('cancel'));
      const form = h('form', { class: 'row', style: 'margin:0' }, p, q, save, back);
      back.addEventListener('click', () => refreshOrders());
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        const body = {};
        if (Number(p.value) !== o.price) body.price = Number(p.value);
        if (Number(q.value) !== o.qty) body.qty = Number(q.value);
        try {
          await api(`/orders/${o.order_id}`, { method: 'PATCH', body });
          notify(t('orders.replaced', { id: o.order_id }));
        } catch (x) { notify(x instanceof ApiError ? x.text : String(x), 'error'); }
        refreshMine();
      });
      row.replaceChildren(h('td', { colspan: '4' }, form));
      p.focus();
    });
    return row;
  }
  let fills = [];
  function paintFills() {
    fillsBody.replaceChildren(...(fills.length ? fills.slice(0, 50).map((f) => h('tr', { 'data-trade': f.trade_id },
      h('td', {}, time(f.ts)), h('td', {}, h('span', { class: f.side === 'buy' ? 'buy-text' : 'sell-text' }, code(f.side)), ` ${f.symbol}`),
      h('td', { class: 'n' }, num(f.price)), h('td', { class: 'n' }, num(f.qty)))) : [h('tr', {}, h('td', { colspan: '4', class: 'muted' }, t('fills.none')))]));
  }
  async function refreshFills() {
    fills = (await api('/fills?limit=50')).fills.slice().sort((a, b) => b.trade_id - a.trade_id);
    paintFills();
  }
  async function refreshBalances() {
    const b = await api('/balances');
    const dl = (rows) => h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { class: 'n', style: 'text-align:left' }, v)]));
    balancesBox.replaceChildren(
      dl([[t('balances.cash'), vnd(b.cash_vnd)], [t('balances.available'), vnd(b.cash_available_vnd)], [t('balances.held'), vnd(b.cash_held_vnd)]]),
      h('h3', { 'data-i18n': 'balances.goods' }, t('balances.goods')),
      b.goods.length ? dl(b.goods.map((g) => [g.symbol, `${kg(g.available_qty)} (+${num(g.held_qty)})`])) : h('p', { class: 'muted' }, '–'));
  }
  const refreshMine = debounce(() => {
    if (!canTrade) return;
    refreshOrders().catch(() => {});
    refreshBalances().catch(() => {});
  }, 120);
  if (canTrade) {
    stream.subscribe('orders', (m) => {
      if (m.type === 'resync') { refreshFills(); refreshMine(); return; }
      if (m.type === 'fill') {
        if (!fills.some((f) => f.trade_id === m.trade_id && f.side === m.side)) fills.unshift(m);
        paintFills();
        notify(t('fills.notice', { side: code(m.side), qty: kg(m.qty), symbol: m.symbol, price: vnd(m.price) }), 'win');
      }
      refreshMine();
    });
    await Promise.all([refreshOrders(), refreshFills(), refreshBalances()]);
  }
  await select(symbol);
  onLang(() => { translate(main); paintStats(); paintTape(); ticket.refresh?.(); if (canTrade) { refreshOrders(); paintFills(); refreshBalances(); } for (const el of main.querySelectorAll('[data-i18n-code]')) el.textContent = code(el.dataset.i18nCode); });
});

/** `2026-11-30T10:00:00` typed as Vietnam time → RFC 3339 UTC. */
function vnLocalToIso(local) {
  if (!local) return undefined;
  const [d, tm = '00:00:00'] = local.split('T');
  return new Date(`${d}T${tm.length === 5 ? `${tm}:00` : tm}+07:00`).toISOString();
}
