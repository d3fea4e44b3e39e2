// The live connection: one WebSocket per page, authenticated with the session's token when
// there is one, re-subscribed after every reconnect. Book channels are checked message by
// message: a seq that is not last + 1, or a checksum that does not match the local book, asks
// the server for a fresh snapshot (see book.js). Other channels get `{type: 'resync'}` after a
// reconnect or a gap so the page reloads what it shows from REST.

import { LocalBook } from './book.js';

const HEARTBEAT_GRACE_MS = 5000; // the server beats once a second; silence this long = dead

export class Stream extends EventTarget {
  constructor(token) {
    super();
    this.token = token;
    this.listeners = new Map(); // channel -> Set of callbacks
    this.seqs = new Map(); // channel -> last seq (channels with per-channel seqs)
    this.books = new Map(); // symbol -> LocalBook
    this.pending = new Map(); // req_id -> {resolve, reject}
    this.nextReq = 1;
    this.state = 'connecting';
    this.retries = 0;
    this.ws = null;
    this.lastSeen = 0;
    this.connect();
    setInterval(() => this.watchdog(), 1000);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent('state', { detail: state }));
  }

  connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const ws = this.ws = new WebSocket(url);
    this.setState(this.retries ? 'reconnecting' : 'connecting');
    ws.onopen = () => {
      this.lastSeen = Date.now();
      if (this.token) this.send({ op: 'auth', token: this.token });
      const channels = [...this.listeners.keys()];
      this.seqs.clear();
      for (const b of this.books.values()) b.awaiting = true; // until the new snapshot
      if (channels.length) this.send({ op: 'subscribe', channels });
      this.retries = 0;
      this.setState('live');
      for (const ch of channels) if (!ch.startsWith('book:')) this.emit(ch, { type: 'resync' });
    };
    ws.onmessage = (e) => { this.lastSeen = Date.now(); this.receive(JSON.parse(e.data)); };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.setState('reconnecting');
      for (const { reject } of this.pending.values()) reject(new Error('connection lost'));
      this.pending.clear();
      const delay = Math.min(10000, 500 * 2 ** this.retries++) * (0.75 + Math.random() / 2);
      setTimeout(() => this.connect(), delay);
    };
  }

  watchdog() {
    if (this.state === 'live' && Date.now() - this.lastSeen > HEARTBEAT_GRACE_MS) {
      this.ws.close(); // onclose reconnects
    }
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  /** Listen to a channel (subscribing on first use); returns the unsubscribe function. */
  subscribe(channel, fn) {
    let set = this.listeners.get(channel);
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
      this.send({ op: 'subscribe', channels: [channel] });
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (!set.size) {
        this.listeners.delete(channel);
        this.seqs.delete(channel);
        this.send({ op: 'unsubscribe', channels: [channel] });
      }
    };
  }

  /** A local book of `symbol`, kept by this stream; `fn(book)` after every verified change. */
  book(symbol, fn) {
    let b = this.books.get(symbol);
    if (!b) this.books.set(symbol, b = new LocalBook(symbol));
    const off = this.subscribe(`book:${symbol}`, () => fn(b));
    return () => { off(); if (!this.listeners.has(`book:${symbol}`)) this.books.delete(symbol); };
  }

  /** An engine request over the socket (`order`, `bid`, ...): resolves with the result body. */
  request(op, fields) {
    const req_id = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req_id, { resolve, reject });
      this.send({ op, req_id, ...fields });
    });
  }

  emit(channel, msg) {
    for (const fn of this.listeners.get(channel) ?? []) fn(msg);
  }

  receive(msg) {
    if (msg.req_id !== undefined && this.pending.has(msg.req_id)) {
      const p = this.pending.get(msg.req_id);
      this.pending.delete(msg.req_id);
      if (msg.type === 'error') p.reject(Object.assign(new Error(msg.detail), msg));
      else p.resolve(msg.body ?? msg);
      return;
    }
    if (msg.type === 'heartbeat') return this.checkHeartbeat(msg.seqs || {});
    const ch = msg.channel;
    if (!ch) return;
    if (ch.startsWith('book:')) return this.receiveBook(ch, msg);
    if (typeof msg.seq === 'number' && (ch.startsWith('auction') || ch === 'ticker')) {
      const last = this.seqs.get(ch);
      this.seqs.set(ch, msg.seq);
      if (last !== undefined && msg.seq !== last + 1) this.emit(ch, { type: 'resync' });
    }
    this.emit(ch, msg);
  }

  receiveBook(ch, msg) {
    const b = this.books.get(ch.slice(5));
    if (!b) return;
    const last = this.seqs.get(ch);
    if (msg.type === 'snapshot') {
      b.snapshot(msg);
    } else if (msg.type === 'update') {
      if (last === undefined || b.awaiting) return; // a snapshot is on its way
      if (msg.seq !== last + 1) return this.resync(ch, b, 'gap');
      b.update(msg);
    } else return;
    this.seqs.set(ch, msg.seq);
    if (!b.verify(msg.checksum)) return this.resync(ch, b, 'checksum');
    this.emit(ch, msg);
  }

  resync(ch, book, why) {
    book.awaiting = true;
    book.resyncs += 1;
    this.dispatchEvent(new CustomEvent('resync', { detail: { channel: ch, why } }));
    this.send({ op: 'snapshot', channel: ch });
  }

  checkHeartbeat(seqs) {
    for (const [ch, seq] of Object.entries(seqs)) {
      const b = ch.startsWith('book:') && this.books.get(ch.slice(5));
      const last = this.seqs.get(ch);
      if (b && !b.awaiting && last !== undefined && seq > last) this.resync(ch, b, 'gap');
    }
  }
}
