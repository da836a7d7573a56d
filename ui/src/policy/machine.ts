/**
 * The buffer policy's state machine (see index.ts for the overview).
 */
import { backoffMs, DEFAULT_CONFIG, isTransient, type PolicyConfig } from './config';
import { chunkAt, chunkEnd, chunksToRanges, chunkStart, covers, gridCeil, gridFloor, rangeAt, totalBuffered, type Range, type TrackGrid } from './grid';
import type { Action, ChunkRequest, FetchFailure, Phase, PolicyState, Purpose, RemoveReason, Snapshot } from './types';

type SbOp<D> =
  | { kind: 'append'; req: ChunkRequest; data: D; windowStart: number; windowEnd: number; reset: boolean }
  | { kind: 'remove'; start: number; end: number; reason: RemoveReason }
  | { kind: 'eos' };

interface Ready<D> {
  req: ChunkRequest;
  data: D;
}

interface RetryEntry {
  req: ChunkRequest;
  at: number;
}


export class BufferPolicy<D> {
  readonly cfg: PolicyConfig;
  private grid: TrackGrid | null = null;
  private key: string | null = null;
  /** Last key the server rendered successfully for this track. */
  private goodKey: string | null = null;
  private epoch = 0;
  private nextId = 1;
  private phase: Phase = 'idle';
  private errorMessage: string | null = null;

  private inflight = new Map<number, ChunkRequest>();
  private ready: Ready<D>[] = [];
  private retryQueue: RetryEntry[] = [];
  private sbOps: SbOp<D>[] = [];
  private sbBusy: SbOp<D> | null = null;
  private sbRetryAt = 0;

  private pendingSeek: number | null = null;
  /** The pending seek is the start of the track. */
  private loading = false;
  private switchFrom: string | null = null;
  private staleBefore: number | null = null;
  private eosIssued = false;
  private quotaStrikes = 0;
  private goalAhead: number;
  private keepBehind: number;
  private fetched = new Set<number>();

  constructor(cfg: Partial<PolicyConfig> = {}) {
    this.cfg = { ...DEFAULT_CONFIG, ...cfg };
    this.goalAhead = this.cfg.goalAhead;
    this.keepBehind = this.cfg.keepBehind;
  }

  // ------------------------------------------------------------ queries

  state(): PolicyState {
    return {
      phase: this.phase,
      epoch: this.epoch,
      key: this.key,
      goalAhead: this.goalAhead,
      keepBehind: this.keepBehind,
      inflight: [...this.inflight.values()],
      ready: this.ready.map((r) => r.req.chunk),
      retrying: this.retryQueue.map((r) => ({ chunk: r.req.chunk, at: r.at, attempt: r.req.attempt })),
      sbBusy: this.sbBusy ? describeOp(this.sbBusy) : null,
      sbQueued: this.sbOps.map(describeOp),
      pending: this.pendingCount(),
      pendingSeek: this.pendingSeek,
      switching: this.switchFrom !== null,
      staleBefore: this.staleBefore,
      eosIssued: this.eosIssued,
      fetchedChunks: [...this.fetched].sort((a, b) => a - b),
      error: this.errorMessage,
    };
  }

  /** Chunks of the current key fetched so far, as time ranges. */
  processedRanges(): Range[] {
    return this.grid ? chunksToRanges(this.grid, this.fetched) : [];
  }

  currentEpoch(): number {
    return this.epoch;
  }

  currentKey(): string | null {
    return this.key;
  }

  // ------------------------------------------------------------ events

  /** A new track (fresh MediaSource). Playback will begin at `position`. */
  start(grid: TrackGrid, key: string, position: number, snap: Snapshot): Action<D>[] {
    const out: Action<D>[] = [];
    this.epoch += 1;
    out.push({ type: 'cancel', before: this.epoch });
    this.grid = grid;
    this.key = key;
    this.goodKey = null;
    this.phase = 'loading';
    this.errorMessage = null;
    this.inflight.clear();
    this.ready = [];
    this.retryQueue = [];
    this.sbOps = [];
    this.sbBusy = null;
    this.sbRetryAt = 0;
    this.switchFrom = null;
    this.staleBefore = null;
    this.eosIssued = false;
    this.quotaStrikes = 0;
    this.goalAhead = this.cfg.goalAhead;
    this.keepBehind = this.cfg.keepBehind;
    this.fetched.clear();
    const target = this.clampTime(position);
    this.pendingSeek = target;
    this.loading = true;
    out.push(this.newFetch(chunkAt(grid, target), 'start'));
    return out.concat(this.run(snap));
  }

  /** Forget the track (player stopped or switched tracks). */
  stop(): Action<D>[] {
    this.epoch += 1;
    this.grid = null;
    this.phase = 'idle';
    this.inflight.clear();
    this.ready = [];
    this.retryQueue = [];
    this.sbOps = [];
    this.sbBusy = null;
    this.pendingSeek = null;
    this.switchFrom = null;
    return [{ type: 'cancel', before: this.epoch }];
  }

  /** Periodic / timeupdate / wake-up. */
  tick(snap: Snapshot): Action<D>[] {
    return this.run(snap);
  }

  /**
   * The user seeks to `target`. The player sets audio.currentTime itself; the
   * policy decides whether the buffer can serve it.
   */
  seek(target: number, snap: Snapshot): Action<D>[] {
    const grid = this.grid;
    if (!grid || this.phase === 'error' || this.phase === 'idle') return [];
    const t = this.clampTime(target);
    const stale = this.staleBefore !== null && t < this.staleBefore;
    const switching = this.switchFrom !== null;
    if (!stale && !switching && this.pendingSeek === null && this.isPlayable(t, snap.buffered)) {
      // Inside the buffer: the element seeks on its own; keep everything.
      return this.run({ ...snap, currentTime: t });
    }
    // Outside the buffer (or the buffer holds another key's media): new epoch,
    // clear the SourceBuffer, fetch the chunk under the target.
    const out: Action<D>[] = [];
    this.bumpEpoch(out);
    // Queued appends are stale; a queued removal is harmless and the clear below supersedes it.
    this.sbOps = [{ kind: 'remove', start: 0, end: Infinity, reason: 'clear' }];
    this.sbRetryAt = 0;
    this.pendingSeek = t;
    this.loading = false;
    this.switchFrom = null;
    this.staleBefore = null;
    this.eosIssued = false;
    this.phase = 'seeking';
    out.push(this.newFetch(chunkAt(grid, t), 'seek'));
    return out.concat(this.run({ ...snap, currentTime: t }));
  }

  /** Preset / intensity changed. */
  setKey(key: string, snap: Snapshot): Action<D>[] {
    const grid = this.grid;
    if (key === this.key) return [];
    if (!grid || this.phase === 'idle' || this.phase === 'error') {
      this.key = key;
      return [];
    }
    const out: Action<D>[] = [];
    // The key whose media is in the buffer right now.
    const from = this.switchFrom ?? this.key ?? key;
    this.key = key;
    this.bumpEpoch(out);
    this.sbOps = this.sbOps.filter((op) => op.kind === 'remove');
    this.fetched.clear();
    this.eosIssued = false;
    if (this.pendingSeek !== null) {
      // Nothing of the old key is playing: just fetch the target in the new key.
      this.switchFrom = null;
      out.push(this.newFetch(chunkAt(grid, this.pendingSeek), this.loading ? 'start' : 'seek'));
    } else {
      this.switchFrom = from;
      this.phase = 'switching';
      const p = gridCeil(snap.currentTime + this.cfg.switchLead, this.cfg.packet);
      if (p >= grid.duration) {
        // Nothing left to replace.
        this.switchFrom = null;
        this.phase = 'streaming';
      } else {
        out.push(this.newFetch(chunkAt(grid, p), 'switch'));
      }
    }
    return out.concat(this.run(snap));
  }

  fetchDone(req: ChunkRequest, data: D, snap: Snapshot): Action<D>[] {
    if (req.epoch !== this.epoch || !this.inflight.has(req.id)) {
      return [{ type: 'drop', req, why: req.epoch !== this.epoch ? 'stale epoch' : 'not in flight' }, ...this.run(snap)];
    }
    this.inflight.delete(req.id);
    this.goodKey = req.key;
    this.fetched.add(req.chunk);
    this.ready.push({ req, data });
    return this.run(snap);
  }

  fetchFailed(req: ChunkRequest, failure: FetchFailure, snap: Snapshot): Action<D>[] {
    if (req.epoch !== this.epoch || !this.inflight.has(req.id)) return this.run(snap);
    this.inflight.delete(req.id);
    const out: Action<D>[] = [];
    if (isTransient(failure.status)) {
      if (req.attempt < this.cfg.maxRetries) {
        const next: ChunkRequest = { ...req, id: this.nextId++, attempt: req.attempt + 1 };
        this.retryQueue.push({ req: next, at: snap.now + backoffMs(this.cfg, req.attempt) });
        return this.run(snap);
      }
      const tries = req.attempt + 1;
      return this.fail(
        `The server did not deliver the audio after ${tries} tries. ${failure.message}`.trim(),
        failure.status,
      );
    }
    // 4xx / 422: the server refused. If it refused a new key while an older
    // key works, go back to that key and keep playing.
    if (this.goodKey !== null && req.key !== this.goodKey && this.grid) {
      const rejected = req.key;
      const fallback = this.goodKey;
      this.key = fallback;
      this.bumpEpoch(out);
      this.sbOps = this.sbOps.filter((op) => op.kind === 'remove');
      if (this.pendingSeek !== null) {
        out.push(this.newFetch(chunkAt(this.grid, this.pendingSeek), this.loading ? 'start' : 'seek'));
        this.switchFrom = null;
      } else {
        // The old key's media is still in the buffer: nothing to replace.
        this.switchFrom = null;
        this.phase = 'streaming';
      }
      out.push({ type: 'keyRejected', key: rejected, fallbackKey: fallback, message: failure.message, status: failure.status });
      return out.concat(this.run(snap));
    }
    return this.fail(failure.message, failure.status);
  }

  /** The SourceBuffer finished the operation last issued. */
  sbDone(snap: Snapshot): Action<D>[] {
    const op = this.sbBusy;
    this.sbBusy = null;
    if (op?.kind === 'append') this.quotaStrikes = 0;
    return this.run(snap);
  }

  /** The SourceBuffer operation last issued failed. */
  sbFailed(err: { quota: boolean; message: string }, snap: Snapshot): Action<D>[] {
    const op = this.sbBusy;
    this.sbBusy = null;
    if (!op) return this.run(snap);
    if (op.kind === 'append' && op.req.epoch !== this.epoch) {
      return [{ type: 'drop', req: op.req, why: 'stale epoch' }, ...this.run(snap)];
    }
    if (op.kind === 'append' && err.quota) {
      this.quotaStrikes += 1;
      if (this.quotaStrikes > this.cfg.maxQuotaStrikes) {
        return this.fail('The browser has no room left to buffer this track.');
      }
      this.goalAhead = Math.max(this.cfg.minGoalAhead, this.goalAhead * 0.8);
      this.keepBehind = Math.max(this.cfg.minKeepBehind, this.keepBehind * 0.8);
      const retry: SbOp<D>[] = [op];
      const ct = snap.currentTime;
      const first = snap.buffered.length ? snap.buffered[0]![0] : Infinity;
      const behindEnd = ct - this.cfg.minKeepBehind;
      if (first < behindEnd - this.cfg.eps) {
        retry.unshift({ kind: 'remove', start: first, end: behindEnd, reason: 'quota' });
      } else {
        const last = snap.buffered.length ? snap.buffered[snap.buffered.length - 1]![1] : -Infinity;
        const aheadStart = ct + this.goalAhead + (this.grid?.chunkSeconds ?? 0);
        if (last > aheadStart + this.cfg.eps) {
          retry.unshift({ kind: 'remove', start: aheadStart, end: Infinity, reason: 'quota' });
        } else {
          // Nothing to evict now: playback will make room; try again later.
          this.sbRetryAt = snap.now + 1000 * this.quotaStrikes;
        }
      }
      this.sbOps.unshift(...retry);
      return this.run(snap);
    }
    if (op.kind === 'eos') return this.run(snap);
    return this.fail(err.message || 'The browser could not use this audio.');
  }

  // ------------------------------------------------------------ core

  private run(snap: Snapshot): Action<D>[] {
    const out: Action<D>[] = [];
    const grid = this.grid;
    if (!grid || this.phase === 'idle' || this.phase === 'error') return out;

    // 1. Retries whose back-off has elapsed.
    const due = this.retryQueue.filter((r) => r.at <= snap.now);
    if (due.length) {
      this.retryQueue = this.retryQueue.filter((r) => r.at > snap.now);
      for (const r of due) {
        this.inflight.set(r.req.id, r.req);
        out.push({ type: 'fetch', req: r.req });
      }
    }

    // 2. SourceBuffer: one operation at a time.
    if (!this.sbBusy && snap.now >= this.sbRetryAt) this.pumpSourceBuffer(snap, out);

    // 3. Prefetch (not while a seek or a preset switch is pending).
    if (this.pendingSeek === null && this.switchFrom === null) this.prefetch(snap, out);

    // 4. Wake-ups for retries.
    let wake = Infinity;
    for (const r of this.retryQueue) wake = Math.min(wake, r.at);
    if (this.sbRetryAt > snap.now) wake = Math.min(wake, this.sbRetryAt);
    if (wake < Infinity) out.push({ type: 'wake', at: wake });

    this.updatePhase();
    return out;
  }

  private updatePhase(): void {
    if (this.phase === 'error' || this.phase === 'idle') return;
    if (this.pendingSeek !== null) this.phase = this.loading ? 'loading' : 'seeking';
    else if (this.switchFrom !== null) this.phase = 'switching';
    else if (this.eosIssued) this.phase = 'complete';
    else this.phase = 'streaming';
  }

  private pumpSourceBuffer(snap: Snapshot, out: Action<D>[]): void {
    const grid = this.grid!;
    // Plan the next ready chunk when nothing else is queued. Appends go in
    // timeline order: a chunk waits while a lower one is still being fetched.
    while (this.sbOps.length === 0 && this.ready.length > 0) {
      this.ready.sort((a, b) => a.req.chunk - b.req.chunk);
      const next = this.ready[0]!;
      if (this.lowerPending(next.req.chunk)) break;
      this.ready.shift();
      this.planAppend(next, snap, out);
    }
    if (this.sbOps.length === 0) this.maintenance(snap);
    const op = this.sbOps.shift();
    if (!op) return;
    this.sbBusy = op;
    if (op.kind === 'append') {
      this.eosIssued = false;
      out.push({ type: 'append', req: op.req, data: op.data, windowStart: op.windowStart, windowEnd: op.windowEnd, reset: op.reset });
    } else if (op.kind === 'remove') {
      this.eosIssued = false;
      out.push({ type: 'remove', start: op.start, end: Math.min(op.end, grid.duration), reason: op.reason });
    } else {
      this.eosIssued = true;
      out.push({ type: 'endOfStream' });
    }
  }

  /** Turn a fetched chunk into SourceBuffer operations (or drop / refetch it). */
  private planAppend(item: Ready<D>, snap: Snapshot, out: Action<D>[]): void {
    const grid = this.grid!;
    const { req } = item;
    const n = req.chunk;
    const cStart = chunkStart(grid, n);
    const cEnd = chunkEnd(grid, n);
    const ct = snap.currentTime;

    if (req.purpose === 'switch' && this.switchFrom !== null) {
      let p = gridCeil(ct + this.cfg.switchLead, this.cfg.packet);
      if (p >= grid.duration) {
        out.push({ type: 'drop', req, why: 'track ends before the switch point' });
        this.switchFrom = null;
        return;
      }
      if (p < cStart) {
        if (cStart - p <= this.cfg.switchSnap) p = cStart;
        else {
          out.push({ type: 'drop', req, why: 'switch point moved before this chunk' });
          out.push(this.newFetch(chunkAt(grid, p), 'switch'));
          return;
        }
      }
      if (p >= cEnd - this.cfg.packet / 2) {
        out.push({ type: 'drop', req, why: 'playhead passed this chunk before it arrived' });
        out.push(this.newFetch(chunkAt(grid, p), 'switch'));
        return;
      }
      // If the old media ends before p, start where it ends so no gap opens.
      const r = rangeAt(snap.buffered, ct, this.cfg.eps);
      const bufEnd = r ? r[1] : ct;
      let ws = p;
      if (bufEnd < p) ws = Math.max(cStart, gridFloor(bufEnd, this.cfg.packet));
      const lastEnd = snap.buffered.length ? snap.buffered[snap.buffered.length - 1]![1] : -Infinity;
      if (lastEnd > ws + 1e-6) this.sbOps.push({ kind: 'remove', start: ws, end: Infinity, reason: 'replace' });
      this.sbOps.push({ kind: 'append', req, data: item.data, windowStart: ws, windowEnd: cEnd, reset: true });
      this.switchFrom = null;
      this.staleBefore = ws;
      return;
    }

    if ((req.purpose === 'seek' || req.purpose === 'start') && this.pendingSeek !== null) {
      const t = this.pendingSeek;
      if (chunkAt(grid, t) !== n) {
        out.push({ type: 'drop', req, why: 'seek target moved' });
        return;
      }
      this.sbOps.push({ kind: 'append', req, data: item.data, windowStart: cStart, windowEnd: cEnd, reset: req.purpose === 'seek' });
      this.pendingSeek = null;
      this.loading = false;
      return;
    }

    // Plain prefetch (or a seek/switch chunk that was overtaken).
    if (cEnd <= ct - this.keepBehind || covers(snap.buffered, Math.max(cStart, ct), cEnd, this.cfg.eps)) {
      out.push({ type: 'drop', req, why: 'no longer needed' });
      return;
    }
    this.sbOps.push({ kind: 'append', req, data: item.data, windowStart: cStart, windowEnd: cEnd, reset: false });
  }

  /** Eviction, stale-media cleanup and end of stream, when the SourceBuffer is idle. */
  private maintenance(snap: Snapshot): void {
    const grid = this.grid!;
    const ct = snap.currentTime;
    const buf = snap.buffered;
    if (buf.length === 0) return;
    const first = buf[0]![0];
    const last = buf[buf.length - 1]![1];

    // Media of a previous key behind a completed switch.
    if (this.staleBefore !== null && this.switchFrom === null && this.pendingSeek === null) {
      if (ct >= this.staleBefore + 0.3) {
        const end = this.staleBefore;
        this.staleBefore = null;
        if (first < end - this.cfg.eps) {
          this.sbOps.push({ kind: 'remove', start: first, end, reason: 'stale' });
          return;
        }
      }
    }

    // Behind the playhead.
    const behindEnd = ct - this.keepBehind;
    if (first < behindEnd - this.cfg.evictHysteresis) {
      this.sbOps.push({ kind: 'remove', start: first, end: behindEnd, reason: 'behind' });
      return;
    }

    // Hard cap: never hold more than maxBuffered (keep room for one chunk).
    const total = totalBuffered(buf);
    const cap = this.cfg.maxBuffered - grid.chunkSeconds;
    if (total > cap) {
      const aheadStart = ct + this.goalAhead + grid.chunkSeconds;
      if (last > aheadStart + this.cfg.eps) {
        this.sbOps.push({ kind: 'remove', start: aheadStart, end: Infinity, reason: 'ahead' });
        return;
      }
      const tight = ct - this.cfg.minKeepBehind;
      if (first < tight - this.cfg.eps) {
        const end = Math.min(tight, Math.max(first + this.cfg.eps, first + (total - cap)));
        this.sbOps.push({ kind: 'remove', start: first, end, reason: 'behind' });
        return;
      }
    }

    // End of stream: everything from the playhead to the end is buffered and nothing is pending.
    if (
      !this.eosIssued &&
      this.pendingSeek === null &&
      this.switchFrom === null &&
      this.inflight.size === 0 &&
      this.ready.length === 0 &&
      this.retryQueue.length === 0 &&
      covers(buf, Math.min(ct, grid.duration), grid.duration, this.cfg.eps)
    ) {
      this.sbOps.push({ kind: 'eos' });
    }
  }

  private prefetch(snap: Snapshot, out: Action<D>[]): void {
    const grid = this.grid!;
    const ct = Math.min(snap.currentTime, grid.duration);
    let pending = this.pendingCount();
    if (pending >= this.cfg.maxPending) return;
    const horizon = Math.min(grid.duration, ct + this.goalAhead);
    const busy = new Set<number>();
    for (const r of this.inflight.values()) busy.add(r.chunk);
    for (const r of this.ready) busy.add(r.req.chunk);
    for (const r of this.retryQueue) busy.add(r.req.chunk);
    for (const op of this.sbOps) if (op.kind === 'append') busy.add(op.req.chunk);
    if (this.sbBusy?.kind === 'append') busy.add(this.sbBusy.req.chunk);

    let budget = this.cfg.maxBuffered - totalBuffered(snap.buffered);
    for (const n of busy) budget -= chunkEnd(grid, n) - chunkStart(grid, n);

    const firstN = chunkAt(grid, ct);
    for (let n = firstN; n < grid.chunkCount && chunkStart(grid, n) < horizon; n++) {
      if (busy.has(n)) continue;
      const from = Math.max(chunkStart(grid, n), ct);
      const to = chunkEnd(grid, n);
      if (to - from <= this.cfg.eps) continue;
      if (covers(snap.buffered, from, to, this.cfg.eps)) continue;
      const len = to - chunkStart(grid, n);
      if (len > budget) break; // wait for eviction to make room
      out.push(this.newFetch(n, 'prefetch'));
      budget -= len;
      pending += 1;
      if (pending >= this.cfg.maxPending) break;
    }
  }

  // ------------------------------------------------------------ utils

  private lowerPending(chunk: number): boolean {
    for (const r of this.inflight.values()) if (r.chunk < chunk) return true;
    for (const r of this.retryQueue) if (r.req.chunk < chunk) return true;
    return false;
  }

  private pendingCount(): number {
    let n = this.inflight.size + this.ready.length + this.retryQueue.length;
    for (const op of this.sbOps) if (op.kind === 'append') n += 1;
    if (this.sbBusy?.kind === 'append') n += 1;
    return n;
  }

  /** Target is buffered with at least a little media after it. */
  private isPlayable(t: number, buffered: readonly Range[]): boolean {
    const grid = this.grid!;
    const need = Math.min(t + 0.25, grid.duration - this.cfg.eps);
    return covers(buffered, t, Math.max(t, need), this.cfg.eps);
  }

  private clampTime(t: number): number {
    const grid = this.grid;
    if (!grid || !Number.isFinite(t)) return 0;
    return Math.max(0, Math.min(t, grid.duration));
  }

  private newFetch(chunk: number, purpose: Purpose): Action<D> {
    const req: ChunkRequest = { id: this.nextId++, chunk, key: this.key!, epoch: this.epoch, attempt: 0, purpose };
    this.inflight.set(req.id, req);
    return { type: 'fetch', req };
  }

  private bumpEpoch(out: Action<D>[]): void {
    this.epoch += 1;
    out.push({ type: 'cancel', before: this.epoch });
    for (const r of this.ready) out.push({ type: 'drop', req: r.req, why: 'stale epoch' });
    this.inflight.clear();
    this.ready = [];
    this.retryQueue = [];
  }

  private fail(message: string, status?: number): Action<D>[] {
    this.phase = 'error';
    this.errorMessage = message;
    this.epoch += 1;
    this.inflight.clear();
    this.ready = [];
    this.retryQueue = [];
    this.sbOps = [];
    this.pendingSeek = null;
    this.switchFrom = null;
    return [{ type: 'cancel', before: this.epoch }, { type: 'error', message, status }];
  }
}

function describeOp<D>(op: SbOp<D>): string {
  if (op.kind === 'append') return `append ${op.req.chunk} [${op.windowStart.toFixed(2)},${op.windowEnd.toFixed(2)})`;
  if (op.kind === 'remove') return `remove ${op.reason} [${op.start.toFixed(2)},${op.end === Infinity ? 'inf' : op.end.toFixed(2)})`;
  return 'endOfStream';
}
