// The trading floor: instruments (last, the day's change and volume from the daily bars, price
// per kg of active ingredient), the selected book as a depth ladder, the trade tape, candles
// with volume from the tick store's bars (`GET /bars/{symbol}`, then the live channel
// `bars:<symbol>:<interval>`), the order ticket, and the signed-in trader's open orders (cancel,
// replace), fills, balances (with what waits for payment) and delivery-versus-payment notices.
// Live over the WebSocket; the ladder is checked against the server's checksum (stream.js).

import { boot } from './shell.js';
import { api, code, h, kg, num, pct, t, time, translate, vnd, notify, debounce, clientId, ApiError, $ } from './core.js';
import { settlementNotice } from './notices.js';

const LEVELS = 10; // ladder rows per side (fixed, so updates never move the page)
const TAPE = 30;
const VN_OFFSET_S = 7 * 3600; // the chart's axis shows Vietnam time
const DAY_S = 86400;
//: candle intervals: the bars asked for reach back this far (at most ~1,000 bars, the answer's
//: default limit, which counts from the oldest)
const SPANS = { '1m': 16 * 3600, '1h': 40 * DAY_S, '1d': 900 * DAY_S };
const nsToS = (ns) => Math.round(ns / 1e9); // bar starts are whole minutes: the float's error goes
const isoAt = (s) => encodeURIComponent(new Date(s * 1000).toISOString());
const vnMidnightS = (nowS) => nowS - ((nowS + VN_OFFSET_S) % DAY_S); // today's 00:00 in Vietnam

boot(async ({ main, stream, session, onLang, openSignIn }) => {
  const canTrade = session && (session.role === 'trader' || session.role === 'cooperative');
  const [{ instruments }, { tickers }] = await Promise.all([api('/instruments'), api('/ticker')]);
  const inst = new Map(instruments.map((i) => [i.symbol, i]));
  const tick = new Map(tickers.map((x) => [x.symbol, x]));
  const ticksServed = document.body.dataset.ticks !== 'off'; // no tick store here: session figures
  const days = new Map(); // symbol -> Map(start s -> daily bar)
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
    const x = tick.get(sym) || {};
    const r = instRows.get(sym);
    if (!r) return;
    const d = dayFigures(sym);
    r.cells.last.textContent = num(x.last ?? d.close);
    const change = d.change !== null && d.base ? (100 * d.change) / d.base : null;
    r.cells.chg.textContent = pct(change);
    r.cells.chg.className = `n ${change > 0 ? 'up' : change < 0 ? 'down' : ''}`;
    r.cells.vol.textContent = num(d.volume);
    r.cells.act.textContent = num(x.last_price_per_kg_active ?? null);
    if (sym === symbol) paintStats();
  }
  /** The Vietnam day's figures: volume of today's daily bar, change of its close from the
   *  previous trading day's close (from today's open when there is none); without a tick
   *  store, the ticker's session figures. */
  function dayFigures(sym) {
    const x = tick.get(sym) || {};
    if (!ticksServed) return { close: x.last, change: x.change ?? null, base: x.open, volume: x.volume };
    const bars = [...(days.get(sym)?.values() ?? [])].sort((a, b) => a.start_s - b.start_s);
    const today = vnMidnightS(Math.floor(Date.now() / 1000));
    const cur = bars.find((b) => b.start_s === today);
    const prev = bars.filter((b) => b.start_s < today).pop();
    const base = prev?.close ?? cur?.open ?? null;
    return { close: cur?.close ?? prev?.close ?? null, change: cur && base !== null ? cur.close - base : null, base, volume: cur?.volume ?? 0 };
  }
  function putDay(sym, bar) {
    if (!days.has(sym)) days.set(sym, new Map());
    days.get(sym).set(nsToS(bar.start_ns), { ...bar, start_s: nsToS(bar.start_ns) });
  }
  async function loadDays(sym) {
    const since = vnMidnightS(Math.floor(Date.now() / 1000)) - 10 * DAY_S;
    const r = await api(`/bars/${encodeURIComponent(sym)}?interval=1d&from=${isoAt(since)}`);
    days.set(sym, new Map());
    for (const b of r.bars) putDay(sym, b);
    paintTicker(sym);
  }
  if (ticksServed) {
    // every instrument's day: the REST history, then the live daily bar (a channel each; the
    // stream allows 64 per connection)
    for (const i of instruments) {
      stream.subscribe(`bars:${i.symbol}:1d`, (m) => {
        if (m.type === 'resync') return loadDays(i.symbol).catch(() => {});
        if (m.type === 'bar') { putDay(i.symbol, m); paintTicker(i.symbol); }
      });
    }
    Promise.all(instruments.map((i) => loadDays(i.symbol))).catch((err) => console.warn('day bars', err));
  }
  stream.subscribe('ticker', (m) => {
    if (m.type === 'resync') return api('/ticker').then((r) => r.tickers.forEach((x) => { tick.set(x.symbol, x); paintTicker(x.symbol); }));
    if (m.type === 'ticker') { tick.set(m.symbol, m); paintTicker(m.symbol); }
  });

  function paintStats() {
    const x = tick.get(symbol) || {};
    const d = dayFigures(symbol);
    const i = inst.get(symbol);
    title.textContent = `${symbol} · ${code(i.status)}`;
    stats.replaceChildren(
      h('span', {}, `${t('col.last')}: `, h('b', {}, vnd(x.last ?? d.close))),
      h('span', {}, `${t('floor.day.change')}: `, h('b', { class: d.change > 0 ? 'up' : d.change < 0 ? 'down' : '' }, d.change === null || d.change === undefined ? '–' : `${d.change > 0 ? '+' : ''}${num(d.change)}`)),
      h('span', {}, `${t('floor.day.volume')}: `, h('b', { id: 'day-volume' }, num(d.volume))),
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
  // candles: the tick store's bars of the chosen interval, then its live channel; an update
  // replaces the bar with the same start (docs/analytics.md, "Live bars")
  let chart = null;
  let interval = SPANS[localStorage.getItem('herbx.interval')] ? localStorage.getItem('herbx.interval') : '1m';
  const candles = new Map(); // start (s, Vietnam-shifted) -> {time, open, high, low, close, value}
  const toCandle = (b) => ({ time: nsToS(b.start_ns) + VN_OFFSET_S, open: b.open, high: b.high, low: b.low, close: b.close, value: b.volume });
  async function ensureChart() {
    if (chart) return;
    const lc = await import('/vendor/lightweight-charts.mjs');
    if (chart) return;
    const c = lc.createChart(chartBox, { autoSize: true, layout: { textColor: '#1b261d', background: { color: '#ffffff' }, attributionLogo: true },
      timeScale: { timeVisible: true, secondsVisible: false }, rightPriceScale: { scaleMargins: { top: 0.08, bottom: 0.28 } },
      localization: { priceFormatter: (p) => num(Math.round(p)) } });
    const cs = c.addSeries(lc.CandlestickSeries, { upColor: '#0a6634', downColor: '#a8231b', borderVisible: false, wickUpColor: '#0a6634', wickDownColor: '#a8231b' });
    const volume = c.addSeries(lc.HistogramSeries, { priceScaleId: 'vol', priceFormat: { type: 'volume' }, color: '#7d9b84' });
    c.priceScale('vol').applyOptions({ scaleMargins: { top: 0.78, bottom: 0 } });
    chart = { c, candles: cs, volume };
  }
  function paintChart() {
    const sorted = [...candles.values()].sort((a, b) => a.time - b.time);
    chartEmpty.hidden = sorted.length > 0;
    chartBox.dataset.bars = sorted.length;
    if (!chart) return;
    chart.candles.setData(sorted.map(({ time: tm, open, high, low, close }) => ({ time: tm, open, high, low, close })));
    chart.volume.setData(sorted.map((b) => ({ time: b.time, value: b.value })));
    chart.c.timeScale().fitContent();
  }
  async function loadBars(sym) {
    if (!ticksServed) { chartEmpty.textContent = t('floor.nobars'); await ensureChart(); return; }
    const since = Math.floor(Date.now() / 1000) - SPANS[interval];
    const r = await api(`/bars/${encodeURIComponent(sym)}?interval=${interval}&from=${isoAt(since)}`);
    if (sym !== symbol || r.interval !== interval) return;
    candles.clear();
    for (const b of r.bars) { const c = toCandle(b); candles.set(c.time, c); }
    await ensureChart();
    paintChart();
  }
  function liveBar(m) {
    const c = toCandle(m);
    const newest = Math.max(0, ...candles.keys());
    candles.set(c.time, c);
    chartBox.dataset.live = String(Number(chartBox.dataset.live || 0) + 1);
    chartEmpty.hidden = true;
    chartBox.dataset.bars = candles.size;
    if (!chart) return;
    if (c.time < newest) { paintChart(); return; } // an older bar changed: the chart takes only the newest in place
    chart.candles.update({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close });
    chart.volume.update({ time: c.time, value: c.value });
  }
  let offBars = null;
  function followBars(sym) {
    offBars?.();
    offBars = null;
    if (!ticksServed) return loadBars(sym);
    offBars = stream.subscribe(`bars:${sym}:${interval}`, (m) => {
      if (m.type === 'resync') { loadBars(sym).catch((err) => console.warn('bars', err)); return; }
      if (m.type === 'bar' && sym === symbol && m.interval === interval) liveBar(m);
    });
    return loadBars(sym);
  }
  const intervals = h('fieldset', { class: 'seg', id: 'chart-interval', role: 'radiogroup', 'data-i18n-label': 'floor.interval', 'aria-label': t('floor.interval') },
    Object.keys(SPANS).map((iv) => h('label', {}, h('input', { type: 'radio', name: 'interval', value: iv, checked: iv === interval,
      onchange: () => { interval = iv; localStorage.setItem('herbx.interval', iv); followBars(symbol).catch((err) => console.warn('bars', err)); } }),
    h('span', { 'data-i18n': `analyst.interval.${iv}` }, t(`analyst.interval.${iv}`)))));
  chartBox.before(intervals);

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
      const r = await api(`/instruments/${encodeURIComponent(sym)}/trades?limit=${TAPE}`);
      if (sym !== symbol) return;
      tape = r.trades;
      paintTape();
    };
    followBars(sym).catch((err) => console.warn('bars', err));
    offTrades = stream.subscribe(`trades:${sym}`, (m) => {
      if (m.type === 'resync') return loadTrades();
      if (m.type !== 'trade') return;
      if (tape.length && tape[0].seq >= m.seq) return; // already in the REST answer
      tape.unshift(m);
      tape.length = Math.min(tape.length, TAPE);
      paintTape();
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
    // held = on the book (orders, bids) + waiting for payment (delivery versus payment:
    // bought and not yet paid, or sold and not yet paid for); docs/api.md
    balancesBox.replaceChildren(
      dl([[t('balances.cash'), vnd(b.cash_vnd)], [t('balances.available'), vnd(b.cash_available_vnd)], [t('balances.held'), vnd(b.cash_held_vnd)],
        [t('balances.dvp'), h('span', { id: 'cash-dvp' }, vnd(b.cash_dvp_vnd ?? 0))]]),
      h('h3', { 'data-i18n': 'balances.goods' }, t('balances.goods')),
      b.goods.length ? dl(b.goods.map((g) => [g.symbol, h('span', { 'data-goods': g.symbol }, `${kg(g.available_qty)} (+${num(g.held_qty)})`,
        g.dvp_qty ? h('div', { class: 'muted', 'data-dvp': g.dvp_qty }, t('balances.dvp.goods', { qty: kg(g.dvp_qty) })) : null)])) : h('p', { class: 'muted' }, '–'),
      h('p', { class: 'muted', 'data-i18n': 'balances.dvp.note' }, t('balances.dvp.note')));
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
      if (m.type === 'settlement') notify(settlementNotice(m), m.state === 'failed' ? 'error' : 'info');
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
