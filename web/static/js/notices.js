// Notices of the private `settlement` messages on the `orders` channel (docs/api.md): each step
// of a trade's delivery versus payment, told to its buyer and its seller. Shared by the floor
// and the cooperative desk; nothing here knows a page.

import { code, kg, t, vnd } from './core.js';

/** The text of a notice for `{type: 'settlement', trade_id, symbol, side, state, qty,
 *  value_vnd, ...}`: the step, and for `paid` what it means to this side. */
export function settlementNotice(m) {
  const head = t('settle.notice', { id: m.trade_id, side: code(m.side), qty: kg(m.qty), symbol: m.symbol, value: vnd(m.value_vnd), state: code(m.state) });
  const more = m.state === 'paid' || m.state === 'failed' ? t(`settle.${m.state}.${m.side === 'buy' ? 'buyer' : 'seller'}`) : '';
  return more ? `${head} ${more}` : head;
}
