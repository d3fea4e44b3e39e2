// The lab desk: pick a lot, enter the results of its assay (the form is built from the herb's
// specification: parameters and contaminant limits with units), post them, and read the grade
// the market computes with its reasons: the limit a reject failed, or the condition of the next
// better band that the lot missed, each value beside its limit.

import { boot } from './shell.js';
import { api, code, h, kg, t, translate, notify, debounce, latestOnly, $ } from './core.js';
import { gate, field, select, refusalText, values, lotState, table, dec } from './desk.js';

const WAITING = ['registered', 'sampled', 'rejected', 'graded', 'received'];

boot(async ({ main, stream, onLang, openSignIn }) => {
  if (!gate(main, ['lab'], 'lab.title', openSignIn)) return;
  const { specs } = await api('/specs', { token: null });
  const specOf = (id) => specs.find((s) => s.spec_id === id);
  let lots = [];
  let chosen = new URLSearchParams(location.search).get('lot');

  const lotsBox = h('div', { id: 'lab-lots' });
  const formBox = h('div', { id: 'lab-form' });
  const resultBox = h('div', { id: 'lab-result', 'aria-live': 'polite' });
  main.replaceChildren(
    h('h1', { 'data-i18n': 'lab.title' }),
    h('p', { class: 'muted', 'data-i18n': 'lab.lead' }),
    h('div', { class: 'grid two' },
      h('section', { class: 'card', 'aria-labelledby': 'lab-lots-h' }, h('h2', { id: 'lab-lots-h', 'data-i18n': 'lab.lots' }), lotsBox),
      h('div', {}, formBox, resultBox)));
  translate(main);

  function renderLots() {
    // lots waiting for an assay first, then those a lab may assay again
    const rank = (l) => (l.next_step === 'post_assay' || l.next_step === 'reassay' ? 0 : 1);
    const shown = lots.filter((l) => WAITING.includes(l.state)).sort((a, b) => rank(a) - rank(b));
    lotsBox.replaceChildren(shown.length ? h('div', { class: 'tablewrap scroll tall', tabindex: '0', role: 'region', 'aria-labelledby': 'lab-lots-h' }, h('table', { id: 'lab-lot-table' },
      h('colgroup', {}, h('col', { style: 'width:38%' }), h('col', { style: 'width:14%' }), h('col')),
      h('thead', {}, h('tr', {}, ['col.lot', 'col.grade', 'col.state'].map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', {}, shown.map((l) => h('tr', { class: l.lot_id === chosen ? 'sel' : null, 'data-lot': l.lot_id },
        h('td', {}, h('button', { type: 'button', class: 'link', 'aria-pressed': String(l.lot_id === chosen), onclick: () => { chosen = l.lot_id; renderLots(); renderForm(); renderResult(); } }, l.lot_id),
          h('div', { class: 'muted' }, `${specOf(l.spec_id)?.name_vi ?? l.spec_id} · ${kg(l.qty)}`)),
        h('td', {}, l.grade ?? '–'),
        h('td', {}, lotState(l))))))) : h('p', { class: 'muted', 'data-i18n': 'lab.nolots' }, t('lab.nolots')));
  }

  function limitText(p) {
    if (p.min !== null && p.max !== null) return `${p.min}–${p.max} ${p.unit}`;
    if (p.min !== null) return `≥ ${p.min} ${p.unit}`;
    if (p.max !== null) return `≤ ${p.max} ${p.unit}`;
    return p.unit;
  }

  function renderForm() {
    const lot = lots.find((l) => l.lot_id === chosen);
    if (!lot) { formBox.replaceChildren(); return; }
    const spec = specOf(lot.spec_id);
    const dests = Object.keys(spec.contaminants);
    const dest = select('destination', dests.map((d) => [d, { code: `dest_${d}` }]), dests.includes('domestic') ? 'domestic' : dests[0]);
    const params = () => [...spec.parameters, ...(spec.contaminants[dest.value] || [])];
    const rows = h('div', { class: 'assay-rows' });
    const paintRows = () => rows.replaceChildren(...params().map((p) => {
      const input = h('input', { name: `v:${p.name}`, inputmode: 'decimal', 'data-param': p.name, required: p.required, maxlength: 24, autocomplete: 'off' });
      const wrap = field('lab.value', input);
      const label = wrap.querySelector('label');
      label.removeAttribute('data-i18n'); // its own text: the parameter, its unit and limit
      label.textContent = `${p.label} (${p.unit}) · ${t('lab.limit')} ${limitText(p)}`;
      return wrap;
    }));
    dest.addEventListener('change', paintRows);
    paintRows();
    const err = h('p', { class: 'error', role: 'alert', id: 'assay-error' });
    const form = h('form', { id: 'assay', novalidate: true },
      h('p', {}, `${spec.name_vi} — ${spec.name_latin}`),
      h('div', { class: 'row' },
        field('lab.sample', h('input', { name: 'sample_id', required: true, maxlength: 100, value: `S-${lot.lot_id}` })),
        field('lab.destination', dest)),
      rows, err,
      h('button', { type: 'submit', 'data-i18n': 'lab.submit' }));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.textContent = '';
      const v = values(form);
      const results = params().filter((p) => v[`v:${p.name}`] !== undefined)
        .map((p) => ({ parameter: p.name, value: v[`v:${p.name}`].replace(',', '.'), unit: p.unit }));
      try {
        const graded = await api(`/lots/${encodeURIComponent(lot.lot_id)}/assays`, { method: 'POST', body: { sample_id: v.sample_id, destination: v.destination, results } });
        notify(t('lab.posted', { lot: lot.lot_id, grade: graded.grade === 'REJECT' ? code('reject') : `${t('auction.grade')} ${graded.grade}` }));
        await reload();
        renderForm(); // a fresh form for a re-assay
      } catch (x) { err.textContent = refusalText(x); }
    });
    formBox.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'assay-h' },
      h('h2', { id: 'assay-h' }, `${t('lab.assay')} ${lot.lot_id}`), form));
    translate(formBox);
  }

  const newestResult = latestOnly(); // as the cooperative's lot card: the latest render paints
  async function renderResult() {
    const fresh = newestResult();
    const lot = lots.find((l) => l.lot_id === chosen);
    const grades = lot?.record?.grades ?? [];
    if (!lot || !grades.length) { resultBox.replaceChildren(); return; }
    const g = grades[grades.length - 1];
    const d = g.decision;
    const spec = specOf(lot.spec_id);
    const all = [...spec.parameters, ...Object.values(spec.contaminants).flat()];
    const labelOf = (name) => all.find((p) => p.name === name)?.label ?? name;
    const card = await api(`/trace/${encodeURIComponent(lot.lot_id)}/card`, { token: null });
    if (!fresh()) return;
    const reasons = d.grade === 'REJECT'
      ? d.failures.map((f) => t('lab.reason.fail', { param: labelOf(f.parameter), measured: f.measured, unit: f.unit, bound: f.bound === 'min' ? '≥' : '≤', allowed: f.allowed }))
      : [d.decided_by === d.active_parameter && d.grade === spec.grades[0]?.grade
        ? t('lab.reason.top', { param: labelOf(d.decided_by) })
        : t('lab.reason.band', { grade: d.grade, param: labelOf(d.decided_by) })];
    if (d.converted.length) reasons.push(t('lab.reason.converted', { params: d.converted.map(labelOf).join(', ') }));
    if (d.not_tested.length) reasons.push(t('lab.reason.not_tested', { params: d.not_tested.map(labelOf).join(', ') }));
    if (d.unverified.length) reasons.push(t('lab.reason.unverified', { keys: d.unverified.join(', ') }));
    resultBox.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'grade-h', id: 'grade-card' },
      h('h2', { id: 'grade-h' }, t('lab.result', { lot: lot.lot_id, no: g.no })),
      h('p', { class: 'big', id: 'grade' }, d.grade === 'REJECT' ? code('reject') : `${t('auction.grade')} ${d.grade}`),
      h('p', {}, `${t('lab.active')}: ${dec(d.active_content)}${d.active_unit === '%' ? '%' : ` ${d.active_unit}`} (${labelOf(d.active_parameter)})`,
        d.physical_class ? ` · ${t('lab.class')}: ${d.physical_class}` : ''),
      h('h3', { 'data-i18n': 'lab.reasons' }, t('lab.reasons')),
      h('ul', { id: 'grade-reasons' }, reasons.map((r) => h('li', {}, r))),
      h('p', {}, `${t('desk.next')}: ${code(lot.next_step)}`),
      table(card.assays.map((a) => ({ ...a, value: dec(a.value), param: `${a.label} (${a.unit})`, limit: limitText(a), ok: a.within ? t('auction.ok') : t('auction.fail') })),
        [['param', 'auction.param'], ['value', 'auction.value'], ['limit', 'auction.limit'], ['ok', 'col.status']], { id: 'assay-values' })));
  }

  async function reload() {
    lots = (await api('/lots')).lots;
    if (!chosen) chosen = lots.find((l) => l.state === 'registered' || l.state === 'sampled')?.lot_id ?? null;
    renderLots();
    if (!$('#assay')) renderForm();
    await renderResult();
  }
  await reload();
  // new registrations reach no stream channel: the list is asked again every 10 s while seen
  // (the form is kept unless the lot it is for changed)
  setInterval(() => {
    if (document.visibilityState !== 'visible') return;
    api('/lots').then((r) => {
      const before = JSON.stringify(lots.map((l) => [l.lot_id, l.state]));
      lots = r.lots;
      if (JSON.stringify(lots.map((l) => [l.lot_id, l.state])) !== before) renderLots();
    }).catch(() => {});
  }, 10_000);
  const refresh = debounce(() => reload().catch((err) => notify(refusalText(err), 'error')), 500);
  stream.addEventListener('state', (e) => { if (e.detail === 'live') refresh(); });
  onLang(() => { renderLots(); renderForm(); renderResult(); });
});
