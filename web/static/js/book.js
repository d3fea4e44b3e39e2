// A local copy of one order book, proved right by the server's checksum: CRC32 (unsigned) of
// the top 10 asks (lowest first) then the top 10 bids (highest first), each level written as
// its price then its quantity in decimal digits (Kraken's book checksum, docs/api.md).

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(text) {
  let c = 0xffffffff;
  for (let i = 0; i < text.length; i++) c = TABLE[(c ^ text.charCodeAt(i)) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export class LocalBook {
  constructor(symbol) {
    this.symbol = symbol;
    this.bids = new Map(); // price -> qty
    this.asks = new Map();
    this.awaiting = true; // until the first snapshot
    this.resyncs = 0;
    this.seq = 0;
  }

  snapshot(msg) {
    this.bids = new Map(msg.bids);
    this.asks = new Map(msg.asks);
    this.awaiting = false;
    this.seq = msg.seq;
  }

  update(msg) {
    for (const [p, q] of msg.bids) q ? this.bids.set(p, q) : this.bids.delete(p);
    for (const [p, q] of msg.asks) q ? this.asks.set(p, q) : this.asks.delete(p);
    this.seq = msg.seq;
  }

  /** Levels best first: bids highest first, asks lowest first. */
  levels(side, n = Infinity) {
    const m = side === 'bids' ? this.bids : this.asks;
    const prices = [...m.keys()].sort((a, b) => (side === 'bids' ? b - a : a - b));
    return prices.slice(0, n).map((p) => [p, m.get(p)]);
  }

  checksum() {
    let s = '';
    for (const [p, q] of this.levels('asks', 10)) s += `${p}${q}`;
    for (const [p, q] of this.levels('bids', 10)) s += `${p}${q}`;
    return crc32(s);
  }

  verify(expected) {
    return expected === undefined || this.checksum() === expected;
  }
}
