/**
 * The buffer policy's state machine (see index.ts for the overview).
 *
 * Layout of this file: queries, then the events the player reports (each
 * returns actions), then `run()`, which every event ends with: due retries,
 * the SourceBuffer pump (one operation at a time), prefetch, wake-ups.
 */
import { backoffMs, DEFAULT_CONFIG, isTransient, type PolicyConfig } from './config';
import { chunkAt, chunkEnd, chunksToRanges, chunkStart, covers, gridCeil, gridFloor, rangeAt, totalBuffered, type Range, type TrackGrid } from './grid';
import { Job, type Placement } from './jobs';
import type { Action, ChunkRequest, FetchFailure, Phase, PolicyState, Purpose, RemoveReason, Snapshot } from './types';

/** A SourceBuffer operation, queued until the previous one is done. */
type SbOp<D> =
  | {
      kind: 'append';
      job: Job<D>;
      /** Taken from the job when the append is issued (kept for a retry after a quota error). */
      pieces: D[] | null;
      first: boolean;
      reset: boolean;
      init: boolean;
      part: number;
    }
  | { kind: 'remove'; start: number; end: number; reason: RemoveReason }
  | { kind: 'eos' };

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

  /** Requests of this epoch, from the fetch until their chunk is fully appended (by request id). */
  private jobs = new Map<number, Job<D>>();
  /** The job whose first piece is planned and whose last is not yet appended. */
  private open: Job<D> | null = null;
  /** The SourceBuffer's parser may hold part of an abandoned chunk: the next chunk starts with abort(). */
  private parserDirty = false;
  /** Key of the init segment the SourceBuffer took last. */
  private initKey: string | null = null;
  /** Where a chunk that failed after a partial append goes again (its retry reuses the window). */
  private resume = new Map<number, Placement>();
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
  /** Chunks of the current key whose last piece is appended. */
  private fetched = new Set<number>();

  constructor(cfg: Partial<PolicyConfig> = {}) {
    this.cfg = { ...DEFAULT_CONFIG, ...cfg };
    this.goalAhead = this.cfg.goalAhead;
    this.keepBehind = this.cfg.keepBehind;
  }

  // ------------------------------------------------------------ queries

  state(): PolicyState {
    const jobs = [...this.jobs.values()];
    return {
      phase: this.phase,
      epoch: this.epoch,
      key: this.key,
      goalAhead: this.goalAhead,
      keepBehind: this.keepBehind,
      inflight: jobs.filter((j) => !j.complete).map((j) => j.req),
      ready: jobs.filter((j) => j.complete).map((j) => j.chunk),
      open: this.open?.chunk ?? null,
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

  /** Chunks of the current key fully appended so far, as time ranges. */
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
    const out = this.reset(grid, key);
    const target = this.clampTime(position);
    this.pendingSeek = target;
    this.loading = true;
    out.push(this.newFetch(chunkAt(grid, target), 'start', target));
    return out.concat(this.run(snap));
  }

  /**
   * Gapless: the track that follows on the same timeline, whose chunks `done` (of `key`)
   * the player already appended (the next-track pre-append). Playback goes on; nothing
   * is fetched again, nothing is cleared. The init segment goes in front of the next
   * append (initKey is reset).
   */
  adopt(grid: TrackGrid, key: string, done: readonly number[], snap: Snapshot): Action<D>[] {
    const out = this.reset(grid, key);
    for (const n of done) if (n >= 0 && n < grid.chunkCount) this.fetched.add(n);
    this.pendingSeek = null;
    this.loading = false;
    this.phase = 'streaming';
    return out.concat(this.run(snap));
  }

  /**
   * Nothing of this track is on its way or half-appended (no job, retry, queued operation,
   * pending seek or switch): another track's fragment may go into the SourceBuffer now.
   */
  settled(): boolean {
    return (
      this.grid !== null &&
      this.phase !== 'error' &&
      this.jobs.size === 0 &&
      this.open === null &&
      this.retryQueue.length === 0 &&
      this.sbOps.length === 0 &&
      this.pendingSeek === null &&
      this.switchFrom === null
    );
  }

  private reset(grid: TrackGrid, key: string): Action<D>[] {
    const out: Action<D>[] = [];
    this.epoch += 1;
    out.push({ type: 'cancel', before: this.epoch });
    this.grid = grid;
    this.key = key;
    this.goodKey = null;
    this.phase = 'loading';
    this.errorMessage = null;
    this.clearWork();
    this.parserDirty = false;
    this.initKey = null;
    this.sbBusy = null;
    this.sbRetryAt = 0;
    this.switchFrom = null;
    this.staleBefore = null;
    this.eosIssued = false;
    this.quotaStrikes = 0;
    this.goalAhead = this.cfg.goalAhead;
    this.keepBehind = this.cfg.keepBehind;
    this.fetched.clear();
    return out;
  }

  /** Forget the track (player stopped or switched tracks). */
  stop(): Action<D>[] {
    this.epoch += 1;
    this.grid = null;
    this.phase = 'idle';
    this.clearWork();
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
    if (!stale && !switching && this.pendingSeek === null && (this.isPlayable(t, snap.buffered) || this.streamingInto(t))) {
      // Inside the buffer, or inside the chunk that is arriving right now: the
      // element seeks (and waits) on its own; keep everything.
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
    out.push(this.newFetch(chunkAt(grid, t), 'seek', t));
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
    // A switch chunk placed but not appended yet: its removal has taken (or will take) the old
    // media from its switch point on, and only its own first piece fills that hole — it goes
    // in before the new key's switch (which replaces it from just ahead of the playhead).
    const placed = this.open && this.open.req.purpose === 'switch' && this.open.parts === 0 ? this.open : null;
    this.key = key;
    this.bumpEpoch(out);
    this.sbOps = this.sbOps.filter((op) => op.kind === 'remove' || (op.kind === 'append' && op.first && op.job === placed));
    this.fetched.clear();
    this.eosIssued = false;
    if (this.pendingSeek !== null) {
      // Nothing of the old key is playing: just fetch the target in the new key.
      this.switchFrom = null;
      out.push(this.newFetch(chunkAt(grid, this.pendingSeek), this.loading ? 'start' : 'seek', this.pendingSeek));
    } else {
      this.switchFrom = from;
      this.phase = 'switching';
      const s = this.switchPoint(snap);
      if (s >= grid.duration) {
        // Nothing left to replace.
        this.switchFrom = null;
        this.phase = 'streaming';
      } else {
        out.push(this.newFetch(chunkAt(grid, s), 'switch', s));
      }
    }
    return out.concat(this.run(snap));
  }

  /**
   * A piece of a chunk's body arrived (more may follow). Pieces of one request
   * come in order; a piece of an older epoch or of a dropped request is dropped.
   */
  fetchProgress(req: ChunkRequest, piece: D, snap: Snapshot, firstEnd?: number /* where the first piece's media ends, if known */): Action<D>[] {
    const job = this.currentJob(req);
    if (!job || job.complete) return [this.dropLate(req, job), ...this.run(snap)];
    if (job.pieces.length === 0 && job.parts === 0 && firstEnd !== undefined && Number.isFinite(firstEnd)) job.firstEnd = firstEnd;
    job.pieces.push(piece);
    this.goodKey = req.key;
    return this.run(snap);
  }

  /**
   * The response ended. `last` is its final piece, or the whole body when it came
   * in one go; null when every piece was already given to fetchProgress.
   */
  fetchDone(req: ChunkRequest, last: D | null, snap: Snapshot): Action<D>[] {
    const job = this.currentJob(req);
    if (!job || job.complete) return [this.dropLate(req, job), ...this.run(snap)];
    if (last !== null) job.pieces.push(last);
    job.complete = true;
    this.goodKey = req.key;
    return this.run(snap);
  }

  fetchFailed(req: ChunkRequest, failure: FetchFailure, snap: Snapshot): Action<D>[] {
    const job = this.currentJob(req);
    if (!job) return this.run(snap);
    this.forget(job);
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
        out.push(this.newFetch(chunkAt(this.grid, this.pendingSeek), this.loading ? 'start' : 'seek', this.pendingSeek));
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
    if (op?.kind === 'append') {
      this.quotaStrikes = 0;
      if (op.init) this.initKey = op.job.req.key;
      // A piece of a chunk given up half-way (a switch chunk kept across a key change): the
      // parser may stand inside a Cluster, so the next chunk starts from a clean one.
      if (op.job !== this.open && op.job.req.epoch !== this.epoch) this.parserDirty = true;
    }
    return this.run(snap);
  }

  /** The SourceBuffer operation last issued failed. */
  sbFailed(err: { quota: boolean; message: string }, snap: Snapshot): Action<D>[] {
    const op = this.sbBusy;
    this.sbBusy = null;
    if (!op) return this.run(snap);
    if (op.kind === 'append' && op.job.req.epoch !== this.epoch) {
      return [{ type: 'drop', req: op.job.req, why: 'stale epoch' }, ...this.run(snap)];
    }
    if (op.kind === 'append' && err.quota) {
      this.quotaStrikes += 1;
      if (this.quotaStrikes > this.cfg.maxQuotaStrikes) {
        return this.fail('The browser has no room left to buffer this track.');
      }
      this.goalAhead = Math.max(this.cfg.minGoalAhead, this.goalAhead * 0.8);
      this.keepBehind = Math.max(this.cfg.minKeepBehind, this.keepBehind * 0.8);
      // The same append (same pieces) again, after making room.
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
        this.jobs.set(r.req.id, new Job<D>(r.req));
        out.push({ type: 'fetch', req: r.req });
      }
    }

    // 2. SourceBuffer: one operation at a time.
    if (!this.sbBusy && snap.now >= this.sbRetryAt) this.pumpSourceBuffer(snap, out);

    // 3. Prefetch: not while a seek or a preset switch is pending, nor while the
    //    chunk someone waits for is still arriving (the server renders its spans
    //    on every core; a second chunk would compete for them — reasoned, not measured).
    if (this.pendingSeek === null && this.switchFrom === null && !this.urgentArriving()) this.prefetch(snap, out);

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
    while (this.sbOps.length === 0) {
      const open = this.open;
      if (open) {
        // The parser is inside this chunk: only its next pieces may follow.
        if (open.pieces.length > 0) {
          this.sbOps.push({ kind: 'append', job: open, pieces: null, first: false, reset: false, init: false, part: 0 });
        } else if (open.complete) {
          this.finish(open);
          continue;
        }
        break;
      }
      // The next chunk, in timeline order: it waits while a lower one is still being fetched.
      const next = this.nextToPlace(snap);
      if (!next) break;
      this.placeFirst(next, snap, out);
    }
    // Removals may run between two pieces of a chunk (remove() does not touch the
    // parser's state, and every Opus frame is a random access point).
    if (this.sbOps.length === 0) this.maintenance(snap);
    const op = this.sbOps.shift();
    if (!op) return;
    this.sbBusy = op;
    if (op.kind === 'append') {
      this.eosIssued = false;
      const job = op.job;
      if (op.pieces === null) {
        // Coalesce: everything that arrived since the previous append goes in one.
        op.pieces = job.pieces.splice(0);
        op.part = job.parts++;
        if (op.first) {
          if (this.parserDirty) op.reset = true;
          this.parserDirty = false;
          // (An empty body carries no init: the next chunk of this key still needs one.)
          op.init = op.pieces.length > 0 && (op.reset || this.initKey !== job.req.key);
        }
      }
      const place = job.place!;
      out.push({
        type: 'append',
        req: job.req,
        pieces: op.pieces,
        windowStart: place.windowStart,
        windowEnd: place.windowEnd,
        reset: op.reset,
        init: op.init,
        part: op.part,
      });
    } else if (op.kind === 'remove') {
      this.eosIssued = false;
      out.push({ type: 'remove', start: op.start, end: Math.min(op.end, grid.duration), reason: op.reason });
    } else {
      this.eosIssued = true;
      out.push({ type: 'endOfStream' });
    }
  }

  /** The lowest chunk ready to be placed, unless a lower one is still on its way. */
  private nextToPlace(snap: Snapshot): Job<D> | null {
    let best: Job<D> | null = null;
    for (const j of this.jobs.values()) if (this.placeable(j, snap) && (!best || j.chunk < best.chunk)) best = j;
    if (!best || this.lowerPending(best.chunk)) return null;
    return best;
  }

  /**
   * A chunk can be placed once its first piece is there. A switch chunk removes
   * the old key's media from the switch point, so it goes in on its first piece
   * only when that piece holds the switch point with `switchSpare` to spare (the
   * request asked for the switch point's span first, `at`, and the server said
   * where that span ends); otherwise it is placed whole, at a switch point chosen
   * then, while the old media plays on. (Placed on a first piece that ends before
   * the switch point, the playhead reached a hole: a `waiting` at 2 of 3 switches
   * with 30 s chunks.)
   */
  private placeable(job: Job<D>, snap: Snapshot): boolean {
    if (job.req.purpose !== 'switch') return job.appendable;
    return job.complete || (job.appendable && this.earlySwitchPoint(job, snap) !== null);
  }

  /** The switch point if the switch chunk can go in on its first piece, else null. */
  private earlySwitchPoint(job: Job<D>, snap: Snapshot): number | null {
    const at = job.req.at;
    if (at === undefined || job.firstEnd === undefined || job.parts > 0) return null;
    const s = Math.max(at, this.switchPoint(snap));
    return s + this.cfg.switchSpare <= job.firstEnd ? s : null;
  }

  /** Decide where a chunk goes when its first piece is ready (or drop / refetch it). */
  private placeFirst(job: Job<D>, snap: Snapshot, out: Action<D>[]): void {
    const grid = this.grid!;
    const { req } = job;
    const n = req.chunk;
    const cStart = chunkStart(grid, n);
    const cEnd = chunkEnd(grid, n);
    const ct = snap.currentTime;

    const again = this.resume.get(n);
    if (again) {
      // A retry of a chunk that failed half-way: same window, from a clean parser.
      this.resume.delete(n);
      this.openJob(job, { ...again, reset: true });
      return;
    }

    if (req.purpose === 'switch' && this.switchFrom !== null) {
      let s = this.earlySwitchPoint(job, snap) ?? this.switchPoint(snap);
      const p = gridCeil(ct + this.cfg.switchLead, this.cfg.packet);
      if (s >= grid.duration) {
        this.dropJob(job, 'track ends before the switch point', out);
        this.switchFrom = null;
        return;
      }
      if (s < cStart) {
        // Snap forward to the chunk start only when no gap opens (the old media reaches p).
        if (s === p && cStart - s <= this.cfg.switchSnap) s = cStart;
        else {
          this.dropJob(job, 'switch point moved before this chunk', out);
          out.push(this.newFetch(chunkAt(grid, s), 'switch', s));
          return;
        }
      }
      if (s >= cEnd - this.cfg.packet / 2) {
        this.dropJob(job, 'playhead passed this chunk before it arrived', out);
        out.push(this.newFetch(chunkAt(grid, s), 'switch', s));
        return;
      }
      const lastEnd = snap.buffered.length ? snap.buffered[snap.buffered.length - 1]![1] : -Infinity;
      if (lastEnd > s + 1e-6) this.sbOps.push({ kind: 'remove', start: s, end: Infinity, reason: 'replace' });
      this.openJob(job, { windowStart: s, windowEnd: cEnd, reset: true });
      this.switchFrom = null;
      this.staleBefore = s;
      return;
    }

    if ((req.purpose === 'seek' || req.purpose === 'start') && this.pendingSeek !== null) {
      const t = this.pendingSeek;
      if (chunkAt(grid, t) !== n) {
        this.dropJob(job, 'seek target moved', out);
        return;
      }
      this.openJob(job, { windowStart: cStart, windowEnd: cEnd, reset: req.purpose === 'seek' });
      this.pendingSeek = null;
      this.loading = false;
      return;
    }

    // Plain prefetch (or a seek/switch chunk that was overtaken).
    if (cEnd <= ct - this.keepBehind || covers(snap.buffered, Math.max(cStart, ct), cEnd, this.cfg.eps)) {
      this.dropJob(job, 'no longer needed', out);
      return;
    }
    this.openJob(job, { windowStart: cStart, windowEnd: cEnd, reset: false });
  }

  private openJob(job: Job<D>, place: Placement): void {
    job.place = place;
    this.open = job;
    this.sbOps.push({ kind: 'append', job, pieces: null, first: true, reset: place.reset, init: false, part: 0 });
  }

  /** The chunk's last piece is appended. */
  private finish(job: Job<D>): void {
    this.jobs.delete(job.req.id);
    if (this.open === job) this.open = null;
    this.fetched.add(job.chunk);
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
      this.jobs.size === 0 &&
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
    for (const j of this.jobs.values()) busy.add(j.chunk);
    for (const r of this.retryQueue) busy.add(r.req.chunk);

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

  /** The job of `req` if it belongs to this epoch and is still wanted. */
  private currentJob(req: ChunkRequest): Job<D> | undefined {
    return req.epoch === this.epoch ? this.jobs.get(req.id) : undefined;
  }

  private dropLate(req: ChunkRequest, job: Job<D> | undefined): Action<D> {
    const why = req.epoch !== this.epoch ? 'stale epoch' : job ? 'after the end of its response' : 'not in flight';
    return { type: 'drop', req, why };
  }

  /** Throw a job away (and stop its download if it is still running). */
  private dropJob(job: Job<D>, why: string, out: Action<D>[]): void {
    this.jobs.delete(job.req.id);
    out.push({ type: 'drop', req: job.req, why });
    if (!job.complete) out.push({ type: 'abort', req: job.req });
  }

  /** A job ends without its chunk being complete in the SourceBuffer (failure). */
  private forget(job: Job<D>): void {
    this.jobs.delete(job.req.id);
    if (this.open !== job) return;
    if (job.place) this.resume.set(job.chunk, job.place);
    this.sbOps = this.sbOps.filter((op) => op.kind !== 'append' || op.job !== job);
    this.abandonOpen();
  }

  /** Leave the open chunk unfinished: the next chunk's first append must reset the parser. */
  private abandonOpen(): void {
    if (this.open && this.open.parts > 0) this.parserDirty = true;
    this.open = null;
  }

  /** Drop every job, retry and queued operation of the current epoch. */
  private clearWork(): void {
    this.abandonOpen();
    this.jobs.clear();
    this.resume.clear();
    this.retryQueue = [];
    this.sbOps = [];
  }

  /** A start, seek or switch chunk whose response has not ended yet. */
  private urgentArriving(): boolean {
    for (const j of this.jobs.values()) if (j.req.purpose !== 'prefetch' && !j.complete) return true;
    return false;
  }

  /** t lies in the chunk being appended piece by piece, at or after where its window starts. */
  private streamingInto(t: number): boolean {
    const j = this.open;
    if (!j?.place) return false;
    return chunkAt(this.grid!, t) === j.chunk && t >= j.place.windowStart && t < j.place.windowEnd;
  }

  /**
   * Where the new key's media should begin: on the packet grid `switchLead`
   * after the playhead, or where the old media ends if that comes first (so no
   * gap opens, e.g. when the old chunk was still arriving).
   */
  /** Where a switch replaces the old media: the usual lead ahead, or where the old media ends. */
  private switchPoint(snap: Snapshot): number {
    const ct = snap.currentTime;
    const p = gridCeil(ct + this.cfg.switchLead, this.cfg.packet);
    const r = rangeAt(snap.buffered, ct, this.cfg.eps);
    const bufEnd = r ? r[1] : ct;
    return bufEnd < p ? gridFloor(bufEnd, this.cfg.packet) : p;
  }

  private lowerPending(chunk: number): boolean {
    for (const j of this.jobs.values()) if (j.chunk < chunk) return true;
    for (const r of this.retryQueue) if (r.req.chunk < chunk) return true;
    return false;
  }

  /** Chunks fetching, waiting for a retry, or not yet fully appended. */
  private pendingCount(): number {
    return this.jobs.size + this.retryQueue.length;
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

  private newFetch(chunk: number, purpose: Purpose, at?: number): Action<D> {
    const req: ChunkRequest = { id: this.nextId++, chunk, key: this.key!, epoch: this.epoch, attempt: 0, purpose };
    if (at !== undefined && this.cfg.spansFirst) req.at = at;
    this.jobs.set(req.id, new Job<D>(req));
    return { type: 'fetch', req };
  }

  private bumpEpoch(out: Action<D>[]): void {
    this.epoch += 1;
    out.push({ type: 'cancel', before: this.epoch });
    for (const j of this.jobs.values()) if (j.appendable) out.push({ type: 'drop', req: j.req, why: 'stale epoch' });
    const sbOps = this.sbOps;
    this.clearWork();
    this.sbOps = sbOps; // the caller decides which queued operations survive
  }

  private fail(message: string, status?: number): Action<D>[] {
    this.phase = 'error';
    this.errorMessage = message;
    this.epoch += 1;
    this.clearWork();
    this.pendingSeek = null;
    this.switchFrom = null;
    return [{ type: 'cancel', before: this.epoch }, { type: 'error', message, status }];
  }
}

function describeOp<D>(op: SbOp<D>): string {
  if (op.kind === 'append') {
    const p = op.job.place!;
    const what = op.first ? '' : ` part ${op.pieces === null ? 'next' : op.part}`;
    return `append ${op.job.chunk}${what} [${p.windowStart.toFixed(2)},${p.windowEnd.toFixed(2)})`;
  }
  if (op.kind === 'remove') return `remove ${op.reason} [${op.start.toFixed(2)},${op.end === Infinity ? 'inf' : op.end.toFixed(2)})`;
  return 'endOfStream';
}
