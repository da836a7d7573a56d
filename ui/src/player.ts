/**
 * The player: ties the bridge (network), the buffer policy (decisions), the
 * MSE sink (SourceBuffer) and the audio output (Web Audio) together. It owns
 * every timer, AbortController and event listener; the policy stays pure.
 */
import { ApiError, Bridge, formatIntensity, type TrackDetail, type TrackId } from './bridge';
import { MseSink, mseSupported, SinkError } from './mse';
import { AudioOutput } from './output';
import { retagOpusHead } from './webm';
import {
  BufferPolicy,
  chunkWindow,
  covers,
  crossed,
  follow,
  shiftRanges,
  shouldPrefetchNext,
  type Action,
  type ChunkRequest,
  type Phase,
  type Range,
  type Segment,
  type Snapshot,
  type TrackGrid,
} from './policy';

/**
 * Gapless: the next track on the same timeline. Its init segment + chunk 0 are fetched
 * ~20 s before the current track's end and appended once the current track's own chunks
 * are all in; at the crossing the policy is handed over to it.
 */
interface Chain {
  id: string;
  key: string;
  ctrl: AbortController;
  state: 'fetching' | 'fetched' | 'appending' | 'ready';
  detail: TrackDetail | null;
  seg: Segment | null;
  bytes: Uint8Array<ArrayBuffer> | null;
  /** Its init segments' OpusHead variant (differs from the track before it). */
  variant: number;
}

/** One piece of a chunk's body, with the init segment of its key (put in front when the policy says so). */
interface Payload {
  init: ArrayBuffer;
  bytes: Uint8Array<ArrayBuffer>;
}

export interface AppendLogEntry {
  at: number;
  currentTime: number;
  chunk: number;
  epoch: number;
  key: string;
  purpose: string;
  windowStart: number;
  windowEnd: number;
  reset: boolean;
  /** The init segment went in front. */
  init: boolean;
  /** 0 for a chunk's first append, then 1, 2, … (its body arrived in pieces). */
  part: number;
  /** Network pieces coalesced into this append. */
  pieces: number;
  bytes: number;
}

export interface PlayerState {
  trackId: TrackId | null;
  title: string | null;
  phase: Phase;
  epoch: number;
  key: string | null;
  preset: string;
  intensity: number;
  currentTime: number;
  duration: number;
  paused: boolean;
  buffered: Range[];
  processed: Range[];
  pending: number;
  inflight: { chunk: number; epoch: number; key: string; purpose: string }[];
  appends: AppendLogEntry[];
  drops: { at: number; chunk: number; epoch: number; why: string }[];
  fetches: { at: number; chunk: number; epoch: number; key: string; purpose: string; attempt: number }[];
  removes: { at: number; start: number; end: number; reason: string }[];
  waiting: number;
  error: string | null;
  webAudio: boolean;
  goalAhead: number;
  /** Gapless: where the current track starts on the media timeline. */
  base: number;
  /** Gapless: the track that follows, as far as it got. */
  next: { id: string; state: Chain['state']; start: number | null } | null;
  /** Gapless: track changes made on the timeline (no reload). */
  advances: { at: number; from: string; to: string; start: number; currentTime: number }[];
}

const LOG_MAX = 400;
const TICK_MS = 200;

export function makeKey(preset: string, intensity: number): string {
  return `${preset}@${formatIntensity(intensity)}`;
}

export function parseKey(key: string): { preset: string; intensity: number } {
  const i = key.lastIndexOf('@');
  return { preset: key.slice(0, i), intensity: Number(key.slice(i + 1)) };
}

function push<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > LOG_MAX) list.splice(0, list.length - LOG_MAX);
}

/** The bytes of one append: the init segment (when asked for) and the pieces, in order. */
function appendBytes(pieces: readonly Payload[], withInit: boolean): Uint8Array<ArrayBuffer> {
  const parts: Uint8Array<ArrayBuffer>[] = [];
  if (withInit && pieces[0]) parts.push(new Uint8Array(pieces[0].init));
  for (const p of pieces) parts.push(p.bytes);
  if (parts.length === 1) return parts[0]!;
  let n = 0;
  for (const p of parts) n += p.byteLength;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

export class Player extends EventTarget {
  readonly policy: BufferPolicy<Payload>;
  track: TrackDetail | null = null;
  preset = 'bypass';
  /** 0..1; the engine's default is 1. */
  intensity = 1;
  /** Preset names the server lists (used for the fallback to bypass). */
  knownPresets: string[] = [];
  /** Whether this player owns the OS media session (the A/B deck does not). */
  mediaSession = true;

  private sink: MseSink | null = null;
  private token = 0;
  /** Where the track being loaded starts (a seek made while it loads moves it); null once it streams. */
  private startAt: number | null = null;
  private controllers = new Map<number, { ctrl: AbortController; epoch: number }>();
  private inits = new Map<string, Promise<ArrayBuffer>>();
  private appendedOnce = false;
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;
  private tickTimer: ReturnType<typeof setInterval> | null = null;
  private faded = true;
  private fadePoll: ReturnType<typeof setInterval> | null = null;
  private pauseTimer: ReturnType<typeof setTimeout> | null = null;
  private lastError: string | null = null;
  private waiting = 0;
  private appends: AppendLogEntry[] = [];
  private drops: PlayerState['drops'] = [];
  private fetches: PlayerState['fetches'] = [];
  private removes: PlayerState['removes'] = [];
  /** Gapless: where the current track starts on the media timeline (T_j). */
  private base = 0;
  /** Gapless: what plays after the current track ends by itself (the core says). */
  private upcoming: string | null = null;
  private chain: Chain | null = null;
  /** The track a chain failed for (not tried again after the current track). */
  private chainRefused: string | null = null;
  /** The policy's endOfStream was held back because a next track is (being) chained. */
  private eosHeld = false;
  /** Bumped at a hand-over: SourceBuffer results of the previous track's policy are not the new one's. */
  private gen = 0;
  private advances: PlayerState['advances'] = [];
  /** Wakes the player right at the crossing into a chained track (ticks come every ~200 ms). */
  private crossTimer: ReturnType<typeof setTimeout> | null = null;
  /** Gapless: the OpusHead variant of the current track's init segments (consecutive tracks differ: webm.ts). */
  private variant = 0;

  constructor(
    readonly audio: HTMLAudioElement,
    readonly bridge: Bridge,
    readonly output: AudioOutput,
  ) {
    super();
    // A streaming server sends a seek's or switch's span first; whole bodies come in span order.
    this.policy = new BufferPolicy<Payload>({ spansFirst: bridge.streams });
    audio.preload = 'auto';
    audio.addEventListener('waiting', () => {
      this.waiting += 1;
      this.changed();
    });
    audio.addEventListener('seeking', () => {
      this.output.fadeOut();
      this.faded = true;
      this.armFadeIn();
    });
    const fadeIn = () => {
      if (!this.audio.paused && !this.audio.seeking && this.faded) {
        this.faded = false;
        this.clearFadePoll();
        this.output.fadeIn();
      }
    };
    audio.addEventListener('playing', fadeIn);
    audio.addEventListener('seeked', fadeIn);
    audio.addEventListener('timeupdate', () => {
      this.tick();
      this.dispatchEvent(new Event('time'));
    });
    for (const ev of ['play', 'pause', 'durationchange', 'loadedmetadata']) audio.addEventListener(ev, () => this.changed());
    audio.addEventListener('ended', () => {
      this.changed();
      this.dispatchEvent(new Event('ended'));
    });
    audio.addEventListener('error', () => {
      if (!this.sink) return;
      const code = audio.error?.code;
      const msg =
        code === 3 || code === 4
          ? 'The browser could not decode the audio of this track.'
          : 'Playback of this track failed.';
      this.fail(msg);
    });
  }

  get key(): string {
    return makeKey(this.preset, this.intensity);
  }

  get duration(): number {
    return this.track?.duration_s ?? 0;
  }

  /** The current track's time (the media timeline minus where the track starts on it). */
  get currentTime(): number {
    return (this.audio.currentTime || 0) - this.base;
  }

  /**
   * Gapless: the track that plays when the current one ends by itself (null: none known).
   * A different track than the one chained breaks the chain (its media is removed).
   */
  setUpcoming(id: string | null): void {
    if (id === this.upcoming) return;
    this.upcoming = id;
    this.chainRefused = null;
    if (this.chain && this.chain.id !== id) this.breakChain();
    this.gapless();
  }

  get error(): string | null {
    return this.lastError;
  }

  /** Load a track and (optionally) start playing it at `position`. */
  async load(id: TrackId, opts: { autoplay?: boolean; position?: number } = {}): Promise<void> {
    const token = ++this.token;
    this.teardown();
    this.startAt = opts.position ?? 0;
    this.base = 0;
    this.variant = 0;
    // What follows this track is told again once it is the core's current track.
    this.upcoming = null;
    this.chainRefused = null;
    this.setError(null);
    this.track = null;
    this.changed();
    let detail: TrackDetail;
    try {
      detail = await this.bridge.track(id);
    } catch (e) {
      if (token === this.token) this.fail(messageOf(e));
      return;
    }
    if (token !== this.token) return;
    if (!mseSupported(detail.mime)) {
      this.fail('This system cannot play Opus audio in WebM. On Linux, install the GStreamer “bad” plugins (gstreamer1.0-plugins-bad).');
      return;
    }
    if (!(detail.duration_s > 0) || !(detail.chunk_count > 0) || !(detail.chunk_seconds > 0)) {
      this.fail('The server described this track without a playable length.');
      return;
    }
    this.track = detail;
    this.appendedOnce = false;
    this.inits.clear();
    const sink = new MseSink(this.audio, detail.mime, detail.duration_s);
    this.sink = sink;
    this.changed();
    try {
      await sink.ready;
    } catch (e) {
      if (token === this.token) this.fail(messageOf(e));
      return;
    }
    if (token !== this.token) return;
    const grid: TrackGrid = { duration: detail.duration_s, chunkSeconds: detail.chunk_seconds, chunkCount: detail.chunk_count };
    const position = Math.max(0, Math.min(this.startAt ?? 0, detail.duration_s));
    this.startAt = null;
    // Also at 0: Chromium keeps a seek still pending on the previous source as the new
    // source's start (a click right after a seek would start the track there).
    this.audio.currentTime = this.base + position;
    this.exec(this.policy.start(grid, this.key, position, this.snapshot()));
    this.tickTimer = setInterval(() => this.tick(), TICK_MS);
    if (this.mediaSession) this.setMediaSession(detail);
    if (opts.autoplay) await this.play();
  }

  async play(): Promise<void> {
    if (!this.track) return;
    if (this.pauseTimer !== null) {
      clearTimeout(this.pauseTimer);
      this.pauseTimer = null;
    }
    await this.output.ensure();
    this.faded = true;
    if (!this.audio.paused) {
      this.faded = false;
      this.output.fadeIn();
      return;
    }
    this.armFadeIn();
    try {
      await this.audio.play();
    } catch (e) {
      const name = (e as DOMException)?.name;
      if (name === 'NotAllowedError') this.notice('The browser blocked playback. Press Play to start.');
      // AbortError: a new load or pause interrupted play(): nothing to report.
    }
  }

  pause(): void {
    if (this.audio.paused) return;
    this.output.fadeOut();
    this.faded = true;
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    // Let the short fade-out reach silence before stopping the element.
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = null;
      this.audio.pause();
    }, 15);
  }

  toggle(): void {
    if (this.audio.paused || this.pauseTimer !== null) void this.play();
    else this.pause();
  }

  seek(t: number): void {
    if (this.startAt !== null) {
      // The track is still loading: it starts there (rather than playing from the old start first).
      this.startAt = Number.isFinite(t) ? Math.max(0, t) : 0;
      return;
    }
    if (!this.track || !this.sink) return;
    const target = Math.max(0, Math.min(t, this.track.duration_s));
    this.output.fadeOut();
    this.faded = true;
    const actions = this.policy.seek(target, this.snapshot());
    this.audio.currentTime = this.base + target;
    this.exec(actions);
    this.changed();
  }

  setPreset(preset: string, intensity = this.intensity): void {
    this.preset = preset;
    this.intensity = Math.max(0, Math.min(1, intensity));
    // The chained track's media is of the old key: chain it again with the new one.
    if (this.chain && this.chain.key !== this.key) this.breakChain();
    if (this.track && this.sink) this.exec(this.policy.setKey(this.key, this.snapshot()));
    this.changed();
  }

  setIntensity(x: number): void {
    this.setPreset(this.preset, x);
  }

  /** Buffered ranges in the current track's time (other tracks' media lie outside [0, duration)). */
  bufferedRanges(): Range[] {
    return shiftRanges(this.sink?.buffered() ?? [], -this.base);
  }

  processedRanges(): Range[] {
    return this.track ? this.policy.processedRanges() : [];
  }

  state(): PlayerState {
    const ps = this.policy.state();
    return {
      trackId: this.track?.id ?? null,
      title: this.track?.title ?? null,
      phase: ps.phase,
      epoch: ps.epoch,
      key: ps.key,
      preset: this.preset,
      intensity: this.intensity,
      currentTime: this.currentTime,
      duration: this.duration,
      paused: this.audio.paused,
      buffered: this.bufferedRanges(),
      processed: this.processedRanges(),
      pending: ps.pending,
      inflight: ps.inflight.map((r) => ({ chunk: r.chunk, epoch: r.epoch, key: r.key, purpose: r.purpose })),
      appends: [...this.appends],
      drops: [...this.drops],
      fetches: [...this.fetches],
      removes: [...this.removes],
      waiting: this.waiting,
      error: this.lastError,
      webAudio: this.output.webAudio,
      goalAhead: ps.goalAhead,
      base: this.base,
      next: this.chain ? { id: this.chain.id, state: this.chain.state, start: this.chain.seg?.start ?? null } : null,
      advances: [...this.advances],
    };
  }

  // ------------------------------------------------------------ internals

  /**
   * Fade in as soon as playback really moves again. 'seeked'/'playing' do that
   * in Chromium; WebKitGTK delivers them ~1 s late (NOTES §0), so also poll
   * currentTime.
   */
  private armFadeIn(): void {
    this.clearFadePoll();
    const t0 = this.audio.currentTime;
    const started = performance.now();
    this.fadePoll = setInterval(() => {
      if (!this.faded) return this.clearFadePoll();
      const moved = Math.abs(this.audio.currentTime - t0) > 0.005 && !this.audio.seeking;
      const late = performance.now() - started > 5000;
      if ((moved && !this.audio.paused) || late) {
        this.clearFadePoll();
        if (!this.audio.paused) {
          this.faded = false;
          this.output.fadeIn();
        }
      }
    }, 15);
  }

  private clearFadePoll(): void {
    if (this.fadePoll !== null) clearInterval(this.fadePoll);
    this.fadePoll = null;
  }

  /** The element as the policy sees it: in the current track's time. */
  private snapshot(): Snapshot {
    return { now: performance.now(), currentTime: this.currentTime, buffered: this.bufferedRanges() };
  }

  private tick(): void {
    if (!this.sink || !this.track) return;
    if (this.gapless()) return;
    this.exec(this.policy.tick(this.snapshot()));
  }

  /** The current track's segment on the timeline. */
  private segment(): Segment | null {
    const t = this.track;
    if (!t) return null;
    return { id: String(t.id), start: this.base, duration: t.duration_s, chunkSeconds: t.chunk_seconds, chunkCount: t.chunk_count };
  }

  /**
   * Gapless bookkeeping (on every tick): start chaining the next track, append it when the
   * SourceBuffer is free of the current track's chunks, hand over at the crossing, and give
   * the held-back end of stream when no chain is left. True when it handed over (it ran the
   * new track's policy already).
   */
  private gapless(): boolean {
    const sink = this.sink;
    const seg = this.segment();
    if (!sink || !seg) return false;
    const t = this.audio.currentTime || 0;
    const chain = this.chain;
    if (chain?.state === 'ready' && chain.seg && crossed(chain.seg, t)) {
      this.handOver(chain);
      return true;
    }
    if (chain?.state === 'ready' && chain.seg && !this.audio.paused && this.crossTimer === null) {
      const ms = ((chain.seg.start - t) / (this.audio.playbackRate || 1)) * 1000;
      if (ms < 1000) {
        this.crossTimer = setTimeout(() => {
          this.crossTimer = null;
          this.tick();
        }, Math.max(0, ms) + 2);
      }
    }
    if (!chain) {
      if (this.eosHeld && !sink.busy && this.policy.state().eosIssued) {
        this.eosHeld = false;
        sink.endOfStream();
      }
      const complete = this.policy.settled() && covers(this.bufferedRanges(), Math.min(this.currentTime, seg.duration), seg.duration, 0.01);
      const next = this.upcoming !== this.chainRefused ? this.upcoming : null;
      if (shouldPrefetchNext(seg, t, next, complete) && this.policy.state().phase !== 'error') this.startChain(next!);
    } else if (chain.state === 'fetched' && this.policy.settled()) {
      this.appendChain(chain);
    }
    return false;
  }

  private startChain(id: string): void {
    const token = this.token;
    const chain: Chain = { id, key: this.key, ctrl: new AbortController(), state: 'fetching', detail: null, seg: null, bytes: null, variant: this.variant ^ 1 };
    this.chain = chain;
    const { preset, intensity } = parseKey(chain.key);
    const live = () => token === this.token && this.chain === chain && !chain.ctrl.signal.aborted;
    void (async () => {
      try {
        const detail = await this.bridge.track(id, chain.ctrl.signal);
        if (!live()) return;
        if (detail.mime !== this.track?.mime || !(detail.duration_s > 0) || !(detail.chunk_count > 0) || !(detail.chunk_seconds > 0)) {
          throw new Error('not chainable');
        }
        const [init, body] = await Promise.all([
          this.bridge.initSegment(id, preset, intensity, chain.ctrl.signal).then((b) => retagOpusHead(b, chain.variant)),
          this.bridge.chunk(id, 0, preset, intensity, chain.ctrl.signal),
        ]);
        if (!live()) return;
        const seg = this.segment()!;
        chain.detail = detail;
        chain.seg = follow(seg, id, { duration: detail.duration_s, chunkSeconds: detail.chunk_seconds, chunkCount: detail.chunk_count });
        const bytes = new Uint8Array(init.byteLength + body.byteLength);
        bytes.set(new Uint8Array(init), 0);
        bytes.set(new Uint8Array(body), init.byteLength);
        chain.bytes = bytes;
        chain.state = 'fetched';
        this.changed();
        if (this.policy.settled()) this.appendChain(chain);
      } catch {
        // Not chained: the track ends as before (endOfStream, 'ended', a fresh load).
        if (live()) {
          this.chain = null;
          this.chainRefused = id;
          this.changed();
        }
      }
    })();
  }

  private appendChain(chain: Chain): void {
    const sink = this.sink;
    if (!sink || !chain.seg || !chain.bytes) return;
    chain.state = 'appending';
    const [ws, we] = chainWindow(chain.seg);
    const bytes = chain.bytes;
    chain.bytes = null;
    sink.append(bytes, ws, we, false, chain.seg.start).then(
      () => {
        if (this.chain !== chain) return;
        chain.state = 'ready';
        this.changed();
        this.gapless();
      },
      () => {
        if (this.chain !== chain) return;
        this.breakChain();
        this.chainRefused = chain.id;
      },
    );
  }

  /** Forget the chained track (and remove its media from the timeline). */
  private breakChain(): void {
    const chain = this.chain;
    if (!chain) return;
    this.chain = null;
    chain.ctrl.abort();
    const sink = this.sink;
    if (sink && chain.seg && (chain.state === 'appending' || chain.state === 'ready')) {
      const start = chain.seg.start;
      push(this.removes, { at: performance.now(), start, end: Infinity, reason: 'chain' });
      sink.remove(start, Infinity).then(
        () => this.gapless(),
        () => {},
      );
    }
    this.changed();
  }

  /** The playhead crossed into the chained track: it becomes the current one, no reload. */
  private handOver(chain: Chain): void {
    const old = this.track!;
    const detail = chain.detail!;
    const seg = chain.seg!;
    this.exec(this.policy.stop());
    this.gen += 1;
    this.chain = null;
    this.eosHeld = false;
    // What follows the new track is the core's to say (after it heard track_ended).
    this.upcoming = null;
    this.chainRefused = null;
    this.track = detail;
    this.base = seg.start;
    this.variant = chain.variant;
    this.inits.clear();
    push(this.advances, { at: performance.now(), from: String(old.id), to: String(detail.id), start: seg.start, currentTime: this.audio.currentTime });
    const grid: TrackGrid = { duration: detail.duration_s, chunkSeconds: detail.chunk_seconds, chunkCount: detail.chunk_count };
    this.exec(this.policy.adopt(grid, chain.key, [0], this.snapshot()));
    if (this.mediaSession) this.setMediaSession(detail);
    this.dispatchEvent(new CustomEvent('advance', { detail: { from: String(old.id), to: String(detail.id) } }));
    this.changed();
  }

  private exec(actions: Action<Payload>[]): void {
    for (const a of actions) {
      switch (a.type) {
        case 'fetch':
          this.startFetch(a.req);
          break;
        case 'cancel':
          for (const [id, c] of this.controllers) {
            if (c.epoch < a.before) {
              c.ctrl.abort();
              this.controllers.delete(id);
            }
          }
          break;
        case 'abort': {
          const c = this.controllers.get(a.req.id);
          c?.ctrl.abort();
          this.controllers.delete(a.req.id);
          break;
        }
        case 'append':
          this.doAppend(a);
          break;
        case 'remove': {
          const sink = this.sink;
          if (!sink) break;
          const gen = this.gen;
          // Track time → media time (the start may lie in the previous track: that is trimmed too).
          const start = Math.max(0, a.start + this.base);
          const end = a.end + this.base;
          push(this.removes, { at: performance.now(), start, end, reason: a.reason });
          sink.remove(start, end).then(
            () => this.sinkDone(sink, gen),
            (e) => this.sinkFailed(sink, e, gen),
          );
          break;
        }
        case 'endOfStream': {
          const sink = this.sink;
          if (!sink) break;
          const gen = this.gen;
          // A chained track follows: the stream does not end here (it ends after the last track).
          if (this.chain) this.eosHeld = true;
          else sink.endOfStream();
          queueMicrotask(() => this.sinkDone(sink, gen));
          break;
        }
        case 'wake': {
          if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
          const delay = Math.max(0, a.at - performance.now());
          this.wakeTimer = setTimeout(() => {
            this.wakeTimer = null;
            this.tick();
          }, delay + 1);
          break;
        }
        case 'drop':
          push(this.drops, { at: performance.now(), chunk: a.req.chunk, epoch: a.req.epoch, why: a.why });
          break;
        case 'keyRejected': {
          const back = parseKey(a.fallbackKey);
          const bad = parseKey(a.key);
          this.preset = back.preset;
          this.intensity = back.intensity;
          this.notice(presetMessage(bad.preset, a.message), true);
          this.changed();
          break;
        }
        case 'error':
          this.fail(a.message, a.status);
          break;
      }
    }
    // Nothing to do (most ticks while playing): nothing changed for the page to redraw.
    if (actions.length > 0) this.changed();
  }

  private startFetch(req: ChunkRequest): void {
    const track = this.track;
    if (!track) return;
    const token = this.token;
    const ctrl = new AbortController();
    this.controllers.set(req.id, { ctrl, epoch: req.epoch });
    push(this.fetches, { at: performance.now(), chunk: req.chunk, epoch: req.epoch, key: req.key, purpose: req.purpose, attempt: req.attempt });
    const { preset, intensity } = parseKey(req.key);
    // The init segment and the chunk are requested together; pieces wait for the init.
    const init = this.initFor(track.id, req.key);
    const onPiece = async (bytes: Uint8Array<ArrayBuffer>, firstEnd?: number) => {
      const initBytes = await init;
      if (token !== this.token || ctrl.signal.aborted) return;
      this.exec(this.policy.fetchProgress(req, { init: initBytes, bytes }, this.snapshot(), firstEnd));
    };
    this.bridge.chunkStream(track.id, req.chunk, preset, intensity, onPiece, ctrl.signal, req.at).then(
      () => {
        this.controllers.delete(req.id);
        if (token !== this.token || ctrl.signal.aborted) return;
        this.exec(this.policy.fetchDone(req, null, this.snapshot()));
      },
      (e: unknown) => {
        this.controllers.delete(req.id);
        if (token !== this.token || ctrl.signal.aborted) return;
        if (e instanceof ApiError && e.aborted) return;
        const status = e instanceof ApiError ? e.status : undefined;
        this.exec(this.policy.fetchFailed(req, { status, message: messageOf(e) }, this.snapshot()));
      },
    );
  }

  private initFor(id: TrackId, key: string): Promise<ArrayBuffer> {
    let p = this.inits.get(key);
    if (!p) {
      const { preset, intensity } = parseKey(key);
      const variant = this.variant;
      p = this.bridge.initSegment(id, preset, intensity).then((b) => retagOpusHead(b, variant));
      p.catch(() => this.inits.delete(key));
      this.inits.set(key, p);
    }
    return p;
  }

  private doAppend(a: Extract<Action<Payload>, { type: 'append' }>): void {
    const sink = this.sink;
    if (!sink) return;
    const bytes = appendBytes(a.pieces, a.init);
    const { req } = a;
    push(this.appends, {
      at: performance.now(),
      currentTime: this.currentTime,
      chunk: req.chunk,
      epoch: req.epoch,
      key: req.key,
      purpose: req.purpose,
      windowStart: a.windowStart,
      windowEnd: a.windowEnd,
      reset: a.reset,
      init: a.init,
      part: a.part,
      pieces: a.pieces.length,
      bytes: bytes.byteLength,
    });
    const gen = this.gen;
    const base = this.base;
    sink.append(bytes, base + a.windowStart, base + a.windowEnd, a.reset, base).then(
      () => {
        this.appendedOnce = true;
        this.sinkDone(sink, gen);
      },
      (e) => this.sinkFailed(sink, e, gen),
    );
  }

  private sinkDone(sink: MseSink, gen: number): void {
    if (sink !== this.sink || gen !== this.gen) return;
    this.exec(this.policy.sbDone(this.snapshot()));
  }

  private sinkFailed(sink: MseSink, e: unknown, gen: number): void {
    if (sink !== this.sink || gen !== this.gen) return;
    const quota = e instanceof SinkError && e.quota;
    this.exec(this.policy.sbFailed({ quota, message: messageOf(e) }, this.snapshot()));
  }

  private fail(message: string, status?: number): void {
    // A preset the server cannot render yet, before anything played: fall back to bypass.
    if (status === 400 && !this.appendedOnce && this.track && this.preset !== 'bypass' && this.knownPresets.includes('bypass')) {
      const bad = this.preset;
      const id = this.track.id;
      const position = this.currentTime;
      // play() was already called if the element is not paused (it waits for data).
      const autoplay = !this.audio.paused;
      this.preset = 'bypass';
      void this.load(id, { autoplay, position }); // clears the message synchronously
      this.notice(`${presetMessage(bad, message)} Playing with “bypass” instead.`, true);
      return;
    }
    this.startAt = null;
    this.teardownStreaming();
    this.setError(message);
    this.dispatchEvent(new CustomEvent('failure', { detail: message }));
  }

  /** A message that is not a failure; `fellBack`: the player now plays another preset or intensity than asked ('fallback'). */
  private notice(message: string, fellBack = false): void {
    this.setError(message);
    this.dispatchEvent(new CustomEvent('notice', { detail: message }));
    if (fellBack) this.dispatchEvent(new CustomEvent('fallback', { detail: this.key }));
  }

  private setError(message: string | null): void {
    this.lastError = message;
    this.dispatchEvent(new CustomEvent('message', { detail: message }));
  }

  /** Stop streaming for the current track (keep what is buffered playing). */
  private teardownStreaming(): void {
    this.exec(this.policy.stop());
    if (this.wakeTimer !== null) clearTimeout(this.wakeTimer);
    this.wakeTimer = null;
  }

  private teardown(): void {
    this.startAt = null;
    this.teardownStreaming();
    if (this.crossTimer !== null) clearTimeout(this.crossTimer);
    this.crossTimer = null;
    if (this.chain) this.chain.ctrl.abort();
    this.chain = null;
    this.eosHeld = false;
    this.gen += 1;
    for (const c of this.controllers.values()) c.ctrl.abort();
    this.controllers.clear();
    if (this.tickTimer !== null) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    this.clearFadePoll();
    this.sink?.destroy();
    this.sink = null;
    this.inits.clear();
    this.faded = true;
  }

  private changed(): void {
    this.dispatchEvent(new Event('change'));
  }

  private setMediaSession(t: TrackDetail): void {
    const ms = (navigator as Navigator & { mediaSession?: MediaSession }).mediaSession;
    if (!ms || typeof MediaMetadata === 'undefined') return;
    try {
      ms.metadata = new MediaMetadata({ title: t.title, artist: t.artist ?? '', album: t.album ?? '' });
      ms.setActionHandler('play', () => void this.play());
      ms.setActionHandler('pause', () => this.pause());
      ms.setActionHandler('seekto', (d) => {
        if (d.seekTime !== undefined) this.seek(d.seekTime);
      });
    } catch {
      /* not supported here */
    }
  }
}

export function messageOf(e: unknown): string {
  if (e instanceof ApiError || e instanceof SinkError) return e.message;
  if (e instanceof Error && e.message) return e.message;
  return 'Something went wrong.';
}

/** A sentence about a refused preset that names it once. */
export function presetMessage(preset: string, serverMessage: string): string {
  const m = serverMessage.trim();
  const sentence = m && !/[.!?]$/.test(m) ? `${m}.` : m;
  if (sentence.includes(preset)) return sentence;
  return sentence ? `The preset “${preset}” is not available: ${sentence}` : `The preset “${preset}” is not available.`;
}

/** The append window of a chained track's chunk 0, in media time. */
function chainWindow(seg: Segment): Range {
  return chunkWindow(seg, 0);
}
