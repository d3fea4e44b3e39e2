// The operator desk: receive graded lots into custody (weighed quantity), halt and resume
// instruments, register participants and issue or revoke their tokens, and follow settlement
// (delivery versus payment) states as trades land (the settlement branch's endpoint).

import { boot } from './shell.js';
import { api, code, h, kg, t, translate, notify, debounce } from './core.js';
import { gate, field, select, refusalText, values, int, lotState, table, panel, rowsOf, columnsOf } from './desk.js';

boot(async ({ main, stream, onLang, openSignIn }) => {
  if (!gate(main, ['operator'], 'ops.title', openSignIn)) return;
  let lots = [];
  let instruments = [];
  let participants = [];
  const lotsBox = h('div', { id: 'ops-lots' });
  const instBox = h('div', { id: 'ops-instruments' });
  const peopleBox = h('div', { id: 'ops-people' });
  const tokenBox = h('div', { id: 'ops-token', 'aria-live': 'polite' });
  const settlement = panel('ops-settlement', 'ops.settlement', (data) => {
    const rows = rowsOf(data);
    return table(rows.map((r) => ({ ...r, state: r.state ? code(r.state) : r.state, status: r.status ? code(r.status) : r.status })), columnsOf(rows), { id: 'settlement-trades' });
  });
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
  settlement.load('/settlement/trades');
  const refreshSettlement = debounce(() => settlement.load('/settlement/trades'), 1000);
  const refresh = debounce(() => reload(false).catch((x) => notify(refusalText(x), 'error')), 500);
  // a trade may settle and may draw on a lot: both are read again (the stream allows 64 channels)
  for (const i of instruments.slice(0, 48)) stream.subscribe(`trades:${i.symbol}`, () => { refreshSettlement(); refresh(); });
  onLang(() => { renderLots(); renderInstruments(); renderPeople(); settlement.load('/settlement/trades'); });
});
