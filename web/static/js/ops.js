// The operator desk: receive graded lots into custody (weighed quantity), halt and resume
// instruments, register participants and issue or revoke their tokens, and follow settlement
// (delivery versus payment): move each trade a step, see the overdue ones.

import { boot } from './shell.js';
import { api, code, h, kg, num, t, translate, vnd, notify, debounce } from './core.js';
import { gate, field, select, refusalText, values, int, lotState, table, panel, dateOf } from './desk.js';

boot(async ({ main, stream, onLang, openSignIn }) => {
  if (!gate(main, ['operator'], 'ops.title', openSignIn)) return;
  let lots = [];
  let instruments = [];
  let participants = [];
  const lotsBox = h('div', { id: 'ops-lots' });
  const instBox = h('div', { id: 'ops-instruments' });
  const peopleBox = h('div', { id: 'ops-people' });
  const tokenBox = h('div', { id: 'ops-token', 'aria-live': 'polite' });
  const settlement = settlementPanel();
  const err = h('p', { class: 'error', role: 'alert', id: 'ops-error' });
  const act = (fn) => async (e) => {
    e.preventDefault();
    err.textContent = '';
    try { await fn(e.currentTarget ?? e.target); await reload(); } catch (x) { err.textContent = refusalText(x); }
  };

  main.replaceChildren(
    h('h1', { 'data-i18n': 'ops.title' }), err,
    h('div', { class: 'grid two' },
      h('div', {},
        h('section', { class: 'card', 'aria-labelledby': 'ops-lots-h' }, h('h2', { id: 'ops-lots-h', 'data-i18n': 'ops.receive' }), h('p', { class: 'muted', 'data-i18n': 'ops.receive.note' }), lotsBox),
        h('section', { class: 'card', 'aria-labelledby': 'ops-inst-h' }, h('h2', { id: 'ops-inst-h', 'data-i18n': 'ops.instruments' }), instBox),
        settlement.el),
      h('div', {},
        h('section', { class: 'card', 'aria-labelledby': 'ops-people-h' }, h('h2', { id: 'ops-people-h', 'data-i18n': 'ops.people' }), buildAddPerson(), tokenBox, peopleBox))));
  translate(main);

  // Delivery versus payment (docs/api.md): the trades waiting for settlement, oldest first,
  // each with its due date (T+N), overdue ones marked and counted; one button moves a trade a
  // step (pending → paid → delivered → settled, or pending → failed). A settled or failed
  // trade leaves the list.
  function settlementPanel() {
    const p = panel('ops-settlement', 'ops.settlement', render);
    const summary = h('p', { id: 'settle-summary', 'aria-live': 'polite' });
    const state = select('state', [['', { key: 'settle.all' }], ...['pending', 'paid', 'delivered'].map((s) => [s, { code: s }])], '');
    const overdue = h('input', { type: 'checkbox', name: 'overdue', id: 'settle-overdue' });
    const form = h('form', { class: 'row', id: 'settle-filter', onsubmit: (e) => { e.preventDefault(); reload(); } },
      field('col.state', state),
      h('label', { class: 'check' }, overdue, h('span', { 'data-i18n': 'settle.overdue.only' })),
      h('button', { type: 'submit', 'data-i18n': 'desk.show' }));
    p.el.insertBefore(form, p.body);
    p.el.insertBefore(summary, p.body);
    let after = null;
    const query = () => `/settlement/trades?limit=100${state.value ? `&state=${state.value}` : ''}${overdue.checked ? '&overdue=true' : ''}${after ? `&after=${after}` : ''}`;
    async function reload(quiet = false) {
      if (!quiet) after = null;
      await Promise.all([p.load(query(), { quiet }), count()]);
    }
    async function count() {
      try {
        const od = await api('/settlement/trades?overdue=true&limit=1000');
        summary.dataset.overdue = od.trades.length;
        summary.textContent = t('settle.summary', { cycle: od.cycle_days, n: od.next_after ? `${od.trades.length}+` : od.trades.length });
        summary.className = od.trades.length ? 'nextstep' : 'muted';
      } catch { summary.textContent = ''; }
    }
    function move(tr, to) {
      return async (e) => {
        const btn = e.currentTarget;
        btn.disabled = true;
        err.textContent = '';
        try {
          const r = await api(`/settlement/trades/${tr.trade_id}`, { method: 'POST', body: { state: to } });
          notify(t('settle.moved', { id: r.trade_id, from: code(r.previous_state), to: code(r.state) }));
        } catch (x) { err.textContent = refusalText(x); }
        await reload(true);
      };
    }
    function render(data) {
      const next = { pending: ['paid', 'failed'], paid: ['delivered'], delivered: ['settled'] };
      return [
        table(data.trades, [
          ['trade_id', 'settle.trade', (r) => h('span', {}, `#${r.trade_id} ${r.symbol}`, h('div', { class: 'muted' }, `${r.buyer} ← ${r.seller}`),
            h('div', {}, h('span', { class: `badge state-${r.state}` }, code(r.state)), ' ', r.overdue ? h('span', { class: 'badge no', 'data-i18n': 'settle.overdue' }, t('settle.overdue')) : null))],
          ['value_vnd', 'settle.value', (r) => h('span', {}, vnd(r.value_vnd), h('div', { class: 'muted' }, `${kg(r.qty)} × ${num(r.price)}`),
            h('div', { class: r.overdue ? 'down' : 'muted' }, `${t('settle.due')} ${dateOf(r.due_date)}`)), true],
          ['actions', 'col.actions', (r) => h('div', { class: 'actions' }, (next[r.state] ?? []).map((to) => h('button', {
            type: 'button', class: to === 'failed' ? 'sell' : 'secondary', 'data-action': to,
            'aria-label': `${t(`settle.to.${to}`)} #${r.trade_id}`, onclick: move(r, to) }, t(`settle.to.${to}`))))],
        ], { id: 'settlement-trades', empty: 'settle.none', rowAttrs: (r) => ({ 'data-trade': r.trade_id, 'data-state': r.state, class: r.overdue ? 'overdue' : null }) }),
        data.next_after ? h('button', { type: 'button', class: 'secondary', id: 'settle-more', 'data-i18n': 'desk.more', onclick: () => { after = data.next_after; p.load(query()); } }) : null];
    }
    return { el: p.el, reload };
  }

  function renderLots() {
    // lots to weigh in first; the others (on their way or on sale) follow in a scrolled list
    const open = lots.filter((l) => l.state !== 'sold' && l.state !== 'withdrawn')
      .sort((a, b) => (a.state === 'graded' ? 0 : 1) - (b.state === 'graded' ? 0 : 1));
    const waiting = open.filter((l) => l.state === 'graded').length;
    lotsBox.replaceChildren(h('p', { id: 'ops-waiting' }, t('ops.waiting', { n: waiting, total: open.length })),
      open.length ? h('div', { class: 'tablewrap scroll tall', tabindex: '0', role: 'region', 'aria-labelledby': 'ops-lots-h' }, h('table', { id: 'ops-lot-table' },
      h('colgroup', {}, h('col', { style: 'width:30%' }), h('col', { style: 'width:30%' }), h('col')),
      h('thead', {}, h('tr', {}, ['col.lot', 'col.state', 'ops.weighed'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, open.map((l) => h('tr', { 'data-lot': l.lot_id },
        h('td', {}, l.lot_id, h('div', { class: 'muted' }, `${l.cooperative} · ${l.grade ?? '–'} · ${kg(l.qty)}`)),
        h('td', {}, lotState(l)),
        h('td', {}, l.state === 'graded' ? h('form', { class: 'row tight', onsubmit: act((f) => api(`/lots/${encodeURIComponent(l.lot_id)}/receive`, { method: 'POST', body: { qty_received: int(values(f).qty) } }).then((x) => notify(t('ops.received', { lot: x.lot_id, qty: kg(x.custody_qty) })))) },
          field('ops.weighed.kg', h('input', { name: 'qty', inputmode: 'numeric', required: true, value: String(l.qty), id: `recv-${l.lot_id}` })),
          h('button', { type: 'submit', 'data-i18n': 'ops.receive.submit' }, t('ops.receive.submit'))) : '–')))))) : null);
    translate(lotsBox);
  }

  function renderInstruments() {
    instBox.replaceChildren(h('div', { class: 'tablewrap scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'ops-inst-h' }, h('table', { id: 'ops-inst-table' },
      h('colgroup', {}, h('col', { style: 'width:42%' }), h('col'), h('col', { style: 'width:34%' })),
      h('thead', {}, h('tr', {}, ['col.symbol', 'col.status', 'col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, instruments.map((i) => h('tr', { 'data-symbol': i.symbol },
        h('td', {}, i.symbol), h('td', {}, code(i.status)),
        h('td', {}, i.status === 'halted'
          ? h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('ops.resume')} ${i.symbol}`, onclick: act(() => api(`/instruments/${encodeURIComponent(i.symbol)}/resume`, { method: 'POST', body: {} })) }, t('ops.resume'))
          : h('button', { type: 'button', class: 'sell', 'aria-label': `${t('ops.halt')} ${i.symbol}`, onclick: act(() => api(`/instruments/${encodeURIComponent(i.symbol)}/halt`, { method: 'POST', body: {} })) }, t('ops.halt')))))))));
  }

  function buildAddPerson() {
    const role = select('role', ['trader', 'cooperative', 'lab', 'analyst', 'operator'].map((r) => [r, { code: r }]), 'trader');
    return h('form', { id: 'add-person', novalidate: true, onsubmit: act(async (f) => {
      const v = values(f);
      await api('/participants', { method: 'POST', body: { id: v.id, name: v.name, role: v.role, number: int(v.number ?? '0') } });
      notify(t('ops.person.added', { id: v.id }));
      f.reset();
    }) },
    h('h3', { 'data-i18n': 'ops.person.add' }),
    h('div', { class: 'row' },
      field('ops.person.id', h('input', { name: 'id', required: true, maxlength: 64, autocomplete: 'off' })),
      field('ops.person.role', role)),
    h('div', { class: 'row' },
      field('ops.person.name', h('input', { name: 'name', required: true, maxlength: 100 })),
      field('ops.person.number', h('input', { name: 'number', inputmode: 'numeric', value: '0' }), 'ops.person.number.hint')),
    h('button', { type: 'submit', 'data-i18n': 'ops.person.submit' }));
  }

  function renderPeople() {
    peopleBox.replaceChildren(h('div', { class: 'tablewrap scroll', tabindex: '0', role: 'region', 'aria-labelledby': 'ops-people-h' }, h('table', { id: 'ops-people-table' },
      h('colgroup', {}, h('col', { style: 'width:40%' }), h('col', { style: 'width:22%' }), h('col')),
      h('thead', {}, h('tr', {}, ['ops.person.name', 'ops.person.role', 'col.actions'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, participants.map((p) => h('tr', { 'data-participant': p.id },
        h('td', {}, p.name, h('div', { class: 'muted' }, p.id)), h('td', {}, code(p.role)),
        h('td', {},
          h('button', { type: 'button', class: 'link', 'aria-label': `${t('ops.token.issue')} ${p.id}`, onclick: act(async () => {
            const tok = await api(`/participants/${encodeURIComponent(p.id)}/tokens`, { method: 'POST', body: {} });
            tokenBox.replaceChildren(h('div', { class: 'hold', id: 'new-token' }, t('ops.token.once', { id: tok.participant }), h('br'), h('code', {}, tok.token)));
          }) }, t('ops.token.issue')),
          h('button', { type: 'button', class: 'link', 'aria-label': `${t('ops.token.revoke')} ${p.id}`, onclick: act(async () => {
            if (confirm(t('ops.token.revoke.confirm', { id: p.id }))) await api(`/participants/${encodeURIComponent(p.id)}/tokens`, { method: 'DELETE' });
          }) }, t('ops.token.revoke')))))))));
  }

  let painted = '';
  async function reload(force = true) {
    [{ lots }, { instruments }, { participants }] = await Promise.all([api('/lots'), api('/instruments'), api('/participants')]);
    const sig = JSON.stringify([lots.map((l) => [l.lot_id, l.state, l.remaining_qty]), instruments.map((i) => i.status), participants.length]);
    if (!force && sig === painted) return; // nothing new: a half-typed weight survives
    painted = sig;
    renderLots(); renderInstruments(); renderPeople();
  }
  await reload();
  // lots graded by a lab reach no stream channel: ask again every 10 s while the page is seen
  setInterval(() => { if (document.visibilityState === 'visible') reload(false).catch(() => {}); }, 10_000);
  settlement.reload();
  const refreshSettlement = debounce(() => settlement.reload(true), 1000);
  setInterval(() => { if (document.visibilityState === 'visible') settlement.reload(true); }, 10_000);
  const refresh = debounce(() => reload(false).catch((x) => notify(refusalText(x), 'error')), 500);
  // a trade may settle and may draw on a lot: both are read again (the stream allows 64 channels)
  for (const i of instruments.slice(0, 48)) stream.subscribe(`trades:${i.symbol}`, () => { refreshSettlement(); refresh(); });
  onLang(() => { renderLots(); renderInstruments(); renderPeople(); settlement.reload(); });
});
