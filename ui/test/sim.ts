/**
 * A deterministic simulated world for the buffer policy: a fake clock, a fake
 * network (scripted latency and failures; bodies in one go or in pieces), a fake
 * SourceBuffer (append window semantics, pre-roll, quota errors, a parser that
 * refuses a new chunk in the middle of another and media without its init
 * segment) and a fake media element that plays only what is buffered.
 */
import {
  BufferPolicy,
  type Action,
  type ChunkRequest,
  type FetchFailure,
  type PolicyConfig,
  type Range,
  type Snapshot,
  type TrackGrid,
  chunkEnd,
  chunkStart,
  totalBuffered,
} from '../src/policy';

export interface Segment {
  start: number;
  end: number;
  key: string;
  epoch: number;
  chunk: number;
}

export type Outcome = 'ok' | 'hang' | FetchFailure;

/** One piece of a chunk's body: the media it carries, [from, to) in track time. */
export interface SimPiece {
  req: ChunkRequest;
  index: number;
  count: number;
  from: number;
  to: number;
}

interface Pending {
  req: ChunkRequest;
  doneAt: number;
  outcome: Outcome;
  cancelled: boolean;
  /** Pieces still to deliver, with their arrival time (progressive responses only). */
  parts: { at: number; piece: SimPiece }[];
  progressive: boolean;
  /** Where the first piece's media ends, as the server's `X-First-Span-End` says. */
  firstEnd: number;
}

export interface AppendRecord {
  at: number;
  ct: number;
  req: ChunkRequest;
  windowStart: number;
  windowEnd: number;
  reset: boolean;
  init: boolean;
  part: number;
  /** Piece indexes in this append. */
  pieces: number[];
}

export interface WorldOptions {
  grid?: TrackGrid;
  cfg?: Partial<PolicyConfig>;
  latencyMs?: number | ((req: ChunkRequest) => number);
  outcome?: (req: ChunkRequest) => Outcome;
  /** Return true to make this append throw QuotaExceededError. */
  quota?: (req: ChunkRequest, world: World) => boolean;
  rate?: number;
  sbOpMs?: number;
  /**
   * Deliver the body in this many pieces (default 1: in one go, via fetchDone).
   * Piece 0 holds the pre-roll and the first second, the rest split evenly; the
   * first arrives after `firstPieceMs`, the last at the request's latency.
   */
  pieces?: number | ((req: ChunkRequest) => number);
  firstPieceMs?: number | ((req: ChunkRequest) => number);
  /** The server says where the first piece's media ends (default true, like `sonance serve`). */
  spanEnds?: boolean;
}

export class World {
  readonly policy: BufferPolicy<SimPiece>;
  readonly grid: TrackGrid;
  now = 0;
  ct = 0;
  rate: number;
  playing = false;
  seeking = false;
  segments: Segment[] = [];
  fetches: Pending[] = [];
  sb: { op: Action<SimPiece>; doneAt: number; fail?: { quota: boolean; message: string } } | null = null;
  /** The fake parser: the request whose chunk is half appended, and the next piece it expects. */
  parser: { reqId: number; next: number } | null = null;
  /** Key of the init segment the fake SourceBuffer took last. */
  initKey: string | null = null;
  eos = false;
  ended = false;

  // Records
  actions: { at: number; action: Action<SimPiece> }[] = [];
  appends: AppendRecord[] = [];
  removes: { at: number; start: number; end: number; reason: string }[] = [];
  fetchLog: { at: number; req: ChunkRequest }[] = [];
  errors: string[] = [];
  rejected: string[] = [];
  waitingEvents = 0;
  private wasStarving = false;
  maxPending = 0;
  maxInFlight = 0;
  maxBuffered = 0;
  maxBehind = 0;
  /** Key audible at each 10 ms step: [time, key]. */
  heard: [number, string][] = [];
  wakes: number[] = [];
  wakeCount = 0;
  private nextTick = 0;

  constructor(private opts: WorldOptions = {}) {
    this.grid = opts.grid ?? { duration: 60, chunkSeconds: 5, chunkCount: 12 };
    this.policy = new BufferPolicy<SimPiece>(opts.cfg);
    this.rate = opts.rate ?? 1;
  }

  buffered(): Range[] {
    const segs = [...this.segments].sort((a, b) => a.start - b.start);
    const out: [number, number][] = [];
    for (const s of segs) {
      const last = out[out.length - 1];
      if (last && s.start <= last[1] + 1e-6) last[1] = Math.max(last[1], s.end);
      else out.push([s.start, s.end]);
    }
    return out;
  }

  snap(): Snapshot {
    return { now: this.now, currentTime: this.ct, buffered: this.buffered() };
  }

  start(key: string, position = 0): void {
    this.ct = position;
    this.playing = true;
    this.exec(this.policy.start(this.grid, key, position, this.snap()));
  }

  seek(t: number): void {
    this.ct = t;
    this.exec(this.policy.seek(t, this.snap()));
  }

  setKey(key: string): void {
    this.exec(this.policy.setKey(key, this.snap()));
  }

  segmentAt(t: number): Segment | undefined {
    // Later appends win where segments overlap (they never should after removal).
    let found: Segment | undefined;
    for (const s of this.segments) if (s.start - 1e-9 <= t && t < s.end) found = s;
    return found;
  }

  /**
   * The `index`-th piece to arrive of chunk n's fragment (with ~100 ms of
   * pre-roll before the chunk for n > 0) cut into `count` spans: a 1 s span,
   * then equal ones. Like `sonance serve`, a request with `at` gets the span
   * holding `at` first, then the rest of the chunk, then the spans before it.
   */
  pieceOf(req: ChunkRequest, index = 0, count = 1): SimPiece {
    const n = req.chunk;
    const fragStart = n > 0 ? chunkStart(this.grid, n) - 0.1 : 0;
    const fragEnd = chunkEnd(this.grid, n);
    const firstEnd = Math.min(fragEnd, chunkStart(this.grid, n) + 1);
    const bound = (i: number) => (i === 0 ? fragStart : i >= count ? fragEnd : firstEnd + ((fragEnd - firstEnd) * (i - 1)) / (count - 1));
    let first = 0;
    if (req.at !== undefined) while (first + 1 < count && bound(first + 1) <= req.at) first += 1;
    const span = (first + index) % count;
    return { req, index, count, from: bound(span), to: bound(span + 1) };
  }

  exec(actions: Action<SimPiece>[]): void {
    for (const a of actions) {
      this.actions.push({ at: this.now, action: a });
      switch (a.type) {
        case 'fetch': {
          const lat = typeof this.opts.latencyMs === 'function' ? this.opts.latencyMs(a.req) : (this.opts.latencyMs ?? 100);
          const outcome = this.opts.outcome ? this.opts.outcome(a.req) : 'ok';
          const count = typeof this.opts.pieces === 'function' ? this.opts.pieces(a.req) : (this.opts.pieces ?? 1);
          const first = typeof this.opts.firstPieceMs === 'function' ? this.opts.firstPieceMs(a.req) : (this.opts.firstPieceMs ?? lat / count);
          const parts: Pending['parts'] = [];
          if (count > 1 && outcome === 'ok') {
            for (let i = 0; i < count; i++) parts.push({ at: this.now + first + ((lat - first) * i) / (count - 1), piece: this.pieceOf(a.req, i, count) });
          }
          const firstEnd = this.pieceOf(a.req, 0, count).to;
          this.fetches.push({ req: a.req, doneAt: this.now + lat, outcome, cancelled: false, parts, progressive: count > 1, firstEnd });
          this.fetchLog.push({ at: this.now, req: a.req });
          break;
        }
        case 'cancel':
          for (const f of this.fetches) if (f.req.epoch < a.before) f.cancelled = true;
          this.fetches = this.fetches.filter((f) => !f.cancelled);
          break;
        case 'abort':
          this.fetches = this.fetches.filter((f) => f.req.id !== a.req.id);
          break;
        case 'append': {
          if (this.sb) throw new Error('policy issued an append while the SourceBuffer was busy');
          if (a.windowStart >= a.windowEnd) throw new Error(`empty append window ${a.windowStart}..${a.windowEnd}`);
          if (a.part > 0 && (a.reset || a.init)) throw new Error(`chunk ${a.req.chunk} part ${a.part}: reset/init on a later piece`);
          a.pieces.forEach((p, i) => {
            if (p.req.id !== a.req.id || (i > 0 && p.index !== a.pieces[i - 1]!.index + 1)) throw new Error('pieces out of order or of another request');
          });
          this.appends.push({
            at: this.now,
            ct: this.ct,
            req: a.req,
            windowStart: a.windowStart,
            windowEnd: a.windowEnd,
            reset: a.reset,
            init: a.init,
            part: a.part,
            pieces: a.pieces.map((p) => p.index),
          });
          const quota = this.opts.quota?.(a.req, this) ?? false;
          this.sb = { op: a, doneAt: this.now + (this.opts.sbOpMs ?? 5), fail: quota ? { quota: true, message: 'QuotaExceededError' } : undefined };
          break;
        }
        case 'remove':
          if (this.sb) throw new Error('policy issued a remove while the SourceBuffer was busy');
          if (!(a.end > a.start)) throw new Error(`bad remove ${a.start}..${a.end}`);
          this.removes.push({ at: this.now, start: a.start, end: a.end, reason: a.reason });
          this.sb = { op: a, doneAt: this.now + (this.opts.sbOpMs ?? 5) };
          break;
        case 'endOfStream':
          if (this.sb) throw new Error('endOfStream while busy');
          this.eos = true;
          this.sb = { op: a, doneAt: this.now };
          break;
        case 'wake':
          this.wakes.push(a.at);
          this.wakeCount += 1;
          break;
        case 'error':
          this.errors.push(a.message);
          break;
        case 'keyRejected':
          this.rejected.push(a.key);
          break;
        case 'drop':
          break;
      }
    }
    const st = this.policy.state();
    this.maxPending = Math.max(this.maxPending, st.pending);
    this.maxInFlight = Math.max(this.maxInFlight, this.fetches.length);
  }

  private applySb(): void {
    const sb = this.sb!;
    this.sb = null;
    const op = sb.op;
    if (sb.fail) {
      this.exec(this.policy.sbFailed(sb.fail, this.snap()));
      return;
    }
    if (op.type === 'append') {
      this.parse(op);
      for (const p of op.pieces) {
        const s = Math.max(p.from, op.windowStart);
        const e = Math.min(p.to, op.windowEnd);
        if (e > s) {
          this.cut(s, e);
          this.segments.push({ start: s, end: e, key: op.req.key, epoch: op.req.epoch, chunk: op.req.chunk });
        }
      }
      this.eos = false;
    } else if (op.type === 'remove') {
      this.cut(op.start, op.end);
      this.eos = false;
    }
    this.exec(this.policy.sbDone(this.snap()));
  }

  /** What a real SourceBuffer's parser would refuse (thrown: the test fails). */
  private parse(op: Extract<Action<SimPiece>, { type: 'append' }>): void {
    if (op.reset) this.parser = null; // abort()
    const first = op.pieces[0];
    if (!first) return;
    if (first.index === 0) {
      if (this.parser) throw new Error(`chunk ${op.req.chunk} appended into the half-parsed request ${this.parser.reqId}`);
      if (op.init) this.initKey = op.req.key;
      else if (this.initKey !== op.req.key) throw new Error(`chunk ${op.req.chunk} (${op.req.key}) appended without its init segment`);
    } else if (!this.parser || this.parser.reqId !== op.req.id || this.parser.next !== first.index) {
      throw new Error(`piece ${first.index} of chunk ${op.req.chunk} does not continue what the parser holds`);
    }
    const last = op.pieces[op.pieces.length - 1]!;
    this.parser = last.index + 1 < last.count ? { reqId: op.req.id, next: last.index + 1 } : null;
  }

  private cut(s: number, e: number): void {
    const out: Segment[] = [];
    for (const g of this.segments) {
      if (g.end <= s || g.start >= e) out.push(g);
      else {
        if (g.start < s) out.push({ ...g, end: s });
        if (g.end > e) out.push({ ...g, start: e });
      }
    }
    this.segments = out;
  }

  /** Advance the world by `ms` in 10 ms steps. */
  run(ms: number, onStep?: (w: World) => void): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += 10;
      // network
      for (const f of [...this.fetches]) {
        if (f.cancelled || !this.fetches.includes(f)) continue;
        while (f.parts.length && f.parts[0]!.at <= this.now && this.fetches.includes(f)) {
          const { piece } = f.parts.shift()!;
          this.exec(this.policy.fetchProgress(f.req, piece, this.snap(), this.opts.spanEnds === false ? undefined : f.firstEnd));
        }
      }
      const done = this.fetches.filter((f) => f.doneAt <= this.now && f.outcome !== 'hang' && f.parts.length === 0);
      this.fetches = this.fetches.filter((f) => !done.includes(f));
      for (const f of done) {
        if (f.outcome === 'ok') this.exec(this.policy.fetchDone(f.req, f.progressive ? null : this.pieceOf(f.req), this.snap()));
        else if (f.outcome !== 'hang') this.exec(this.policy.fetchFailed(f.req, f.outcome, this.snap()));
      }
      // source buffer
      if (this.sb && this.sb.doneAt <= this.now) this.applySb();
      // playback
      if (this.playing && !this.ended) {
        const seg = this.segmentAt(this.ct);
        if (seg) {
          this.heard.push([this.ct, seg.key]);
          this.ct = Math.min(this.grid.duration, this.ct + (0.01 * this.rate));
          this.wasStarving = false;
        } else if (this.ct >= this.grid.duration - 0.03 && this.eos) {
          this.ended = true;
        } else if (!this.wasStarving) {
          this.waitingEvents += 1;
          this.wasStarving = true;
        }
        if (this.ct >= this.grid.duration - 1e-9 && this.eos) this.ended = true;
      }
      // periodic tick (like the player's interval / timeupdate)
      const wake = this.wakes.some((t) => t <= this.now);
      if (wake) this.wakes = this.wakes.filter((t) => t > this.now);
      if (wake || this.now >= this.nextTick) {
        this.nextTick = this.now + 100;
        this.exec(this.policy.tick(this.snap()));
      }
      const buf = this.buffered();
      this.maxBuffered = Math.max(this.maxBuffered, totalBuffered(buf));
      if (buf.length) this.maxBehind = Math.max(this.maxBehind, this.ct - buf[0]![0]);
      onStep?.(this);
    }
  }

  /** Count `waiting` only after playback has started (first append done). */
  resetWaiting(): void {
    this.waitingEvents = 0;
    this.wasStarving = false;
  }

  appendsOf(chunk: number): AppendRecord[] {
    return this.appends.filter((a) => a.req.chunk === chunk);
  }
}
