// The auction room: the live auctions, and the selected one's lot card (herb, grade, assay
// results against the pharmacopoeia limits, certifications, growing area, trace QR) with the
// controls of its kind: English (current price, reserve met or not, time left with visible
// extensions, bid and maximum bid), Dutch (the falling clock, buy with a quantity), sealed (a
// bid, the opened bids after the close). Outbid, won and lost notices.

import { boot } from './shell.js';
import { api, code, countdown, dateTime, h, kg, num, t, time, translate, vnd, notify, debounce, ApiError } from './core.js';

boot(async ({ main, stream, session, onLang, openSignIn }) => {
  const canBid = session && (session.role === 'trader' || session.role === 'cooperative');
  const me = session?.participant;
  const listBody = h('ul', { class: 'plain', id: 'auction-list' });
  const detail = h('section', { class: 'card', id: 'auction', 'aria-live': 'off', 'aria-labelledby': 'auction-h' });
  main.replaceChildren(h('div', { class: 'grid room' },
    h('section', { class: 'card', 'aria-labelledby': 'list-h' }, h('h2', { id: 'list-h', 'data-i18n': 'auctions.live' }), listBody),
    detail));
  translate(main);

  let auctions = new Map(); // id -> public view
  const mine = new Set(JSON.parse(sessionStorage.getItem('herbx.bidIn') || '[]')); // auctions I bid in
  const remember = (id) => { mine.add(id); sessionStorage.setItem('herbx.bidIn', JSON.stringify([...mine])); };
  let selected = Number(new URLSearchParams(location.search).get('a')) || null;
  let current = null; // the selected auction's view
  let card = null; // its lot card
  let extension = null; // {by, total} of the last extension seen
  let offAuction = null;

  // ---- the list
  async function loadList() {
    const r = await api('/auctions');
    auctions = new Map(r.auctions.map((a) => [a.auction_id, a]));
    if (current && !auctions.has(current.auction_id)) auctions.set(current.auction_id, current);
    paintList();
    if (!selected && r.auctions.length) select(r.auctions[0].auction_id);
  }
  function paintList() {
    const items = [...auctions.values()].sort((a, b) => a.auction_id - b.auction_id);
    listBody.replaceChildren(...(items.length ? items.map((a) => h('li', {},
      h('a', { href: `/auctions?a=${a.auction_id}`, 'aria-current': a.auction_id === selected ? 'true' : false, 'data-auction': a.auction_id,
        onclick: (e) => { e.preventDefault(); select(a.auction_id); } },
        `#${a.auction_id} ${code(a.kind)}`),
      h('br'), h('span', { class: 'muted' }, `${a.symbol} · ${kg(a.remaining_qty ?? a.qty)} · ${code(a.status)}`),
      h('br'), h('span', { 'data-list-price': a.auction_id }, a.price ? vnd(a.price) : vnd(a.start_price)))) : [h('li', { class: 'muted' }, t('auctions.none'))]));
  }
  const reloadList = debounce(() => loadList().catch(() => {}), 300);
  stream.subscribe('auctions', (m) => {
    if (m.type === 'resync') return reloadList();
    if (m.type === 'auction_closed') closedNotice(m);
    if (m.type === 'auction_created' || m.type === 'auction_closed' || m.type === 'auction_opened') reloadList();
    else if (m.auction_id && auctions.has(m.auction_id) && m.price !== undefined) {
      const a = auctions.get(m.auction_id);
      a.price = m.price;
      const el = listBody.querySelector(`[data-list-price="${m.auction_id}"]`);
      if (el) el.textContent = vnd(m.price);
    }
  });
  function closedNotice(m) {
    if (!me || (m.winner !== me && !mine.has(m.auction_id))) return;
    if (m.winner === me) notify(t('notice.won', { id: m.auction_id, qty: kg(m.sold_qty), price: vnd(m.price) }), 'win');
    else if (m.kind !== 'dutch') notify(t('notice.lost', { id: m.auction_id }), 'error');
  }

  // ---- private notices
  if (canBid) {
    stream.subscribe('orders', (m) => {
      if (m.type === 'outbid') notify(t('notice.outbid', { id: m.auction_id, price: vnd(m.price) }), 'error');
      else if (m.type === 'bid_voided') notify(t('notice.voided', { id: m.auction_id }), 'error');
      else if (m.type === 'bid_placed') remember(m.auction_id);
      if (m.auction_id && m.auction_id === selected) reloadCurrent();
    });
  }

  // ---- the selected auction
  async function select(id) {
    selected = id;
    extension = null;
    history.replaceState(null, '', `/auctions?a=${id}`);
    offAuction?.();
    offAuction = stream.subscribe(`auction:${id}`, onEvent);
    current = await api(`/auctions/${id}`);
    card = await api(`/trace/${encodeURIComponent(current.lot_id)}/card`);
    paintList();
    paintDetail();
  }
  const reloadCurrent = debounce(async () => {
    if (!selected) return;
    current = await api(`/auctions/${selected}`);
    auctions.set(selected, current);
    paintLive();
  }, 150);
  function onEvent(m) {
    if (m.type === 'resync') return reloadCurrent();
    if (!current) return;
    if (m.type === 'auction_extended') {
      extension = { by: Math.round(m.extended_by_ns / 1e9), total: Math.round(m.total_extension_ns / 1e9) };
      current.close_at = m.close_at;
      notify(t('notice.extended', { id: m.auction_id }));
    } else if (m.type === 'bid_accepted') {
      Object.assign(current, { price: m.price, bids: m.bids, min_next_bid: m.min_next_bid, reserve_met: m.reserve_met, close_at: m.close_at });
    } else if (m.type === 'clock_ticked') {
      Object.assign(current, { price: m.price, remaining_qty: m.remaining_qty, next_step_at: m.next_step_at });
    }
    paintLive();
    reloadCurrent(); // the board is the truth (closing, sealed results, purchases)
  }

  // ---- painting: the lot card once per selection, the live part on every change
  const live = h('div', { id: 'live' });
  const controls = h('div', { id: 'controls' });
  function paintDetail() {
    const a = current, c = card;
    const g = c.grade;
    const kv = (rows) => h('dl', { class: 'kv' }, rows.flatMap(([k, v]) => [h('dt', {}, t(k)), h('dd', {}, v)]));
    const limit = (r) => (r.min !== null && r.max !== null ? `${r.min}–${r.max}` : r.min !== null ? `≥ ${r.min}` : r.max !== null ? `≤ ${r.max}` : '–');
    detail.replaceChildren(...[
      h('h1', { id: 'auction-h' }, t('auction.title', { id: a.auction_id, kind: code(a.kind) })),
      live, controls,
      h('div', { class: 'lotcard' },
        h('div', {},
          h('h2', {}, `${t('auction.lot')} ${c.lot_id}`),
          kv([['auction.herb', h('span', {}, c.herb, ' (', h('i', {}, c.herb_latin), ')')],
            ['auction.grade', g ? `${g.grade} · ${c.assays.find((r) => r.parameter === g.active_parameter)?.label ?? g.active_parameter} ${g.active_content}` : '–'],
            ['auction.qty', kg(a.qty)], ['auction.coop', c.cooperative], ['auction.commune', c.commune],
            ['auction.area', `${c.growing_area.code} (${c.growing_area.issuer})`],
            ['auction.harvest', c.harvest_date],
            ['auction.certs', c.certifications.length ? c.certifications.map((x) => `${x.scheme} ${x.certificate_no}`).join(', ') : '–']])),
        h('a', { class: 'qr', href: `/trace/${encodeURIComponent(c.lot_id)}`, 'aria-label': `${t('auction.trace')} ${c.lot_id}` },
          h('img', { src: `/trace/${encodeURIComponent(c.lot_id)}/qr.svg`, alt: `QR ${c.lot_id}`, width: '96', height: '96' }))),
      c.assays.length ? h('table', { id: 'assays' },
        h('caption', { style: 'text-align:left;font-weight:600;padding:.4em 0' }, t('auction.assays')),
        h('thead', {}, h('tr', {}, ...['auction.param', 'auction.value', 'auction.limit', 'col.status'].map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', {}, c.assays.map((r) => h('tr', {},
          h('td', {}, r.label), h('td', { class: 'n', title: r.value }, `${r.shown} ${r.unit}`), h('td', { class: 'n' }, limit(r)),
          h('td', {}, h('span', { class: `badge ${r.within ? 'ok' : 'no'}` }, t(r.within ? 'auction.ok' : 'auction.fail'))))))) : null].filter(Boolean));
    paintLive();
    paintControls();
  }

  function paintLive() {
    const a = current;
    if (!a) return;
    const rows = [];
    if (a.status === 'closed') {
      rows.push(h('p', {}, h('strong', {}, `${t('auction.outcome')}: ${code(a.outcome)}`), ` (${code(a.reason)})`));
      if (a.price) rows.push(h('p', { class: 'big', id: 'price' }, vnd(a.price)));
      if (a.winner) rows.push(h('p', {}, `${t('auction.winner')}: ${a.winner === me ? t('auction.you') : a.winner}`));
      rows.push(h('p', {}, `${t('auction.sold_qty')}: ${kg(a.sold_qty)}`));
      if (a.kind === 'sealed' && a.sealed_bids) {
        rows.push(h('h3', {}, t('auction.sealed.results')),
          h('ol', { id: 'sealed-results' }, a.sealed_bids.map((b) => h('li', {}, `${b.bidder}: ${vnd(b.price)}${b.bidder === a.winning_bidder ? ' ✓' : ''}`))));
      }
    } else if (a.kind === 'english') {
      rows.push(h('p', {}, t('auction.price'), h('br'), h('span', { class: 'big', id: 'price' }, vnd(a.price ?? a.start_price))),
        h('p', {}, h('span', { class: `badge ${!a.reserve_set || a.reserve_met ? 'ok' : 'no'}`, id: 'reserve' },
          t(!a.reserve_set ? 'auction.no_reserve' : a.reserve_met ? 'auction.reserve_met' : 'auction.reserve_not_met')),
          ` · ${t('auction.bids')}: ${num(a.bids)}`),
        h('p', {}, `${t('auction.time_left')}: `, h('strong', { id: 'time-left', 'data-close': a.close_at }, countdown(a.close_at)),
          ' · ', h('span', { id: 'close-at' }, t('auction.closes', { time: time(a.close_at) }))),
        extension ? h('p', { class: 'ext', id: 'extended' }, t('auction.extended', { s: extension.by, total: extension.total })) : null,
        h('p', {}, `${t('auction.min_next')}: `, h('strong', { id: 'min-next' }, vnd(a.min_next_bid ?? a.start_price))));
    } else if (a.kind === 'dutch') {
      rows.push(h('p', {}, t('auction.clock'), h('br'), h('span', { class: 'clock', id: 'clock' }, vnd(a.price ?? a.start_price))),
        h('p', {}, `${t('auction.remaining')}: `, h('strong', { id: 'remaining' }, kg(a.remaining_qty)), ` · ${t('auction.floor')}: ${vnd(a.floor)} · ${t('auction.min_qty')}: ${kg(a.min_qty)}`),
        h('p', { class: 'muted' }, a.next_step_at ? t('auction.next_step', { time: time(a.next_step_at) }) : ' '));
    } else {
      rows.push(h('p', {}, `${t('auction.start_price')}: `, h('strong', {}, vnd(a.start_price)), ` · ${code(a.pricing)}`),
        h('p', {}, `${t('auction.time_left')}: `, h('strong', { id: 'time-left', 'data-close': a.close_at }, countdown(a.close_at)),
          ' · ', t('auction.closes', { time: time(a.close_at) })),
        h('p', { class: 'muted' }, t('auction.sealed.hidden')));
    }
    if (a.status === 'scheduled') rows.unshift(h('p', { class: 'badge' }, t('auction.opens', { time: dateTime(a.start_at) })));
    live.replaceChildren(...rows.filter(Boolean));
    if (a.status === 'closed' && controls.childElementCount) controls.replaceChildren();
    const dutchPrice = controls.querySelector('#buy-price');
    if (dutchPrice) dutchPrice.textContent = vnd(a.price);
    const quick = controls.querySelector('#quick-bid');
    if (quick) quick.textContent = t('auction.bid', { price: vnd(a.min_next_bid ?? a.start_price) });
  }

  function paintControls() {
    const a = current;
    controls.replaceChildren();
    if (a.status === 'closed') return;
    if (!canBid) {
      controls.append(h('p', {}, t('signin.need')), session ? null : h('button', { type: 'button', onclick: openSignIn }, t('signin')));
      return;
    }
    const err = h('p', { class: 'error', id: 'bid-error', role: 'alert' });
    const act = async (fn) => {
      err.textContent = '';
      try { await fn(); } catch (x) { err.textContent = x instanceof ApiError ? x.text : String(x); }
      reloadCurrent();
    };
    const bid = async (price) => {
      const r = await api(`/auctions/${a.auction_id}/bids`, { method: 'POST', body: { price } });
      remember(a.auction_id);
      notify(t('notice.bid', { id: a.auction_id, price: vnd(r.max_price ?? price) }));
    };
    if (a.kind === 'english') {
      const max = h('input', { id: 'max-bid', type: 'number', inputmode: 'numeric', min: '1' });
      controls.append(
        h('button', { type: 'button', id: 'quick-bid', onclick: () => act(() => bid(current.min_next_bid ?? current.start_price)) },
          t('auction.bid', { price: vnd(a.min_next_bid ?? a.start_price) })),
        h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); act(() => bid(Number(max.value))); } },
          h('div', {}, h('label', { for: 'max-bid' }, t('auction.max')), max),
          h('button', { type: 'submit', id: 'max-submit' }, t('auction.max.submit'))),
        h('p', { class: 'muted' }, t('auction.max.note')), err);
    } else if (a.kind === 'dutch') {
      const qty = h('input', { id: 'buy-qty', type: 'number', inputmode: 'numeric', min: '1', value: String(a.min_qty || 1) });
      controls.append(h('form', { class: 'row', onsubmit: (e) => {
        e.preventDefault();
        const price = current.price; // the clock price this person sees
        act(async () => {
          await api(`/auctions/${a.auction_id}/buy`, { method: 'POST', body: { price, qty: Number(qty.value) } });
          notify(t('notice.bought', { id: a.auction_id, qty: kg(Number(qty.value)), price: vnd(price) }), 'win');
        });
      } },
      h('div', {}, h('label', { for: 'buy-qty' }, t('auction.buy_qty')), qty),
      h('button', { type: 'submit', id: 'buy', class: 'buy' }, t('auction.buy'), ' · ', h('span', { id: 'buy-price' }, vnd(a.price)))), err);
    } else {
      const price = h('input', { id: 'sealed-price', type: 'number', inputmode: 'numeric', min: '1' });
      controls.append(h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); act(() => bid(Number(price.value))); } },
        h('div', {}, h('label', { for: 'sealed-price' }, t('auction.sealed.price')), price),
        h('button', { type: 'submit', id: 'sealed-submit' }, t('auction.sealed.submit'))),
      h('p', { class: 'muted' }, t('auction.sealed.note')), err);
    }
  }

  // the countdowns tick locally between events
  setInterval(() => {
    for (const el of main.querySelectorAll('[data-close]')) el.textContent = countdown(el.dataset.close);
  }, 250);

  await loadList();
  if (selected) await select(selected);
  else paintEmpty();
  function paintEmpty() { if (!current) detail.replaceChildren(h('h2', { id: 'auction-h' }, t('auctions.pick'))); }
  onLang(() => { translate(main); paintList(); if (current) paintDetail(); else paintEmpty(); });
});
