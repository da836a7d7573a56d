/**
 * A deterministic simulated world for the buffer policy: a fake clock, a fake
 * network (scripted latency and failures), a fake SourceBuffer (append window
 * semantics, pre-roll, quota errors) and a fake media element that plays only
 * what is buffered.
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

interface Pending {
  req: ChunkRequest;
  doneAt: number;
  outcome: Outcome;
  cancelled: boolean;
}

export interface AppendRecord {
  at: number;
  ct: number;
  req: ChunkRequest;
  windowStart: number;
  windowEnd: number;
  reset: boolean;
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
}

export class World {
  readonly policy: BufferPolicy<ChunkRequest>;
  readonly grid: TrackGrid;
  now = 0;
  ct = 0;
  rate: number;
  playing = false;
  seeking = false;
  segments: Segment[] = [];
  fetches: Pending[] = [];
  sb: { op: Action<ChunkRequest>; doneAt: number; fail?: { quota: boolean; message: string } } | null = null;
  eos = false;
  ended = false;

  // Records
  actions: { at: number; action: Action<ChunkRequest> }[] = [];
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
    this.policy = new BufferPolicy<ChunkRequest>(opts.cfg);
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

  exec(actions: Action<ChunkRequest>[]): void {
    for (const a of actions) {
      this.actions.push({ at: this.now, action: a });
      switch (a.type) {
        case 'fetch': {
          const lat = typeof this.opts.latencyMs === 'function' ? this.opts.latencyMs(a.req) : (this.opts.latencyMs ?? 100);
          const outcome = this.opts.outcome ? this.opts.outcome(a.req) : 'ok';
          this.fetches.push({ req: a.req, doneAt: this.now + lat, outcome, cancelled: false });
          this.fetchLog.push({ at: this.now, req: a.req });
          break;
        }
        case 'cancel':
          for (const f of this.fetches) if (f.req.epoch < a.before) f.cancelled = true;
          this.fetches = this.fetches.filter((f) => !f.cancelled);
          break;
        case 'append': {
          if (this.sb) throw new Error('policy issued an append while the SourceBuffer was busy');
          if (a.windowStart >= a.windowEnd) throw new Error(`empty append window ${a.windowStart}..${a.windowEnd}`);
          this.appends.push({ at: this.now, ct: this.ct, req: a.req, windowStart: a.windowStart, windowEnd: a.windowEnd, reset: a.reset });
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
      const n = op.req.chunk;
      // The fragment holds ~100 ms of pre-roll before the chunk for n > 0.
      const fragStart = n > 0 ? chunkStart(this.grid, n) - 0.1 : 0;
      const fragEnd = chunkEnd(this.grid, n);
      const s = Math.max(fragStart, op.windowStart);
      const e = Math.min(fragEnd, op.windowEnd);
      if (e > s) {
        this.cut(s, e);
        this.segments.push({ start: s, end: e, key: op.req.key, epoch: op.req.epoch, chunk: n });
      }
      this.eos = false;
    } else if (op.type === 'remove') {
      this.cut(op.start, op.end);
      this.eos = false;
    }
    this.exec(this.policy.sbDone(this.snap()));
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
      const done = this.fetches.filter((f) => f.doneAt <= this.now && f.outcome !== 'hang');
      this.fetches = this.fetches.filter((f) => !done.includes(f));
      for (const f of done) {
        if (f.outcome === 'ok') this.exec(this.policy.fetchDone(f.req, f.req, this.snap()));
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
