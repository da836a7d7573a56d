/**
 * A client of the player core. `RemoteCore` follows the host's core (`GET /api/player`,
 * `POST /api/player`, the `/api/events` stream, or polling where the transport cannot
 * stream); `LocalCore` stands in for it on a server without one (404): the page's old
 * behaviour, the clicked list played on to its end. Both hold the last known state,
 * apply events to it (model.ts) and dispatch them:
 *
 * - `event` (CustomEvent<Event>): after the state took it in;
 * - `state` (CustomEvent<PlayerState>): a whole new state (connect, reconnect).
 */
import { ApiError, type Bridge } from '../bridge';
import { apply, currentTrack, diff, emptyState, MAX_TRACKS, type Command, type Event, type PlayerState } from './model';

export interface Core extends EventTarget {
  /** Whether the host's core is followed (false: the page's own stand-in). */
  readonly remote: boolean;
  state(): PlayerState;
  send(cmd: Command): Promise<void>;
  close(): void;
}

abstract class BaseCore extends EventTarget {
  protected s: PlayerState;

  constructor(initial: PlayerState) {
    super();
    this.s = initial;
  }

  state(): PlayerState {
    return this.s;
  }

  protected emit(e: Event): void {
    this.s = apply(this.s, e);
    this.dispatchEvent(new CustomEvent<Event>('event', { detail: e }));
  }

  protected replace(s: PlayerState): void {
    this.s = s;
    this.dispatchEvent(new CustomEvent<PlayerState>('state', { detail: s }));
  }
}

export interface RemoteOptions {
  /** Poll instead of the event stream (default: when the bridge cannot stream, or no EventSource). */
  poll?: boolean;
  pollMs?: number;
}

export class RemoteCore extends BaseCore implements Core {
  readonly remote = true;
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private polling = false;
  private closed = false;

  constructor(
    private readonly bridge: Bridge,
    initial: PlayerState,
    private readonly opts: RemoteOptions = {},
  ) {
    super(initial);
  }

  /** Start following (the event stream, or polling). */
  connect(): void {
    const canStream = this.bridge.streams && typeof EventSource !== 'undefined';
    if (this.opts.poll ?? !canStream) this.startPolling();
    else this.openStream();
  }

  async send(cmd: Command): Promise<void> {
    try {
      await this.bridge.sendCommand(cmd);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      this.dispatchEvent(new CustomEvent<Event>('event', { detail: { type: 'error', kind: 'invalid_value', message } }));
      return;
    }
    if (this.polling && cmd.type !== 'position') void this.poll();
  }

  close(): void {
    this.closed = true;
    this.source?.close();
    this.source = null;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private openStream(): void {
    const es = new EventSource(this.bridge.eventsUrl());
    this.source = es;
    es.addEventListener('state', (m) => {
      const s = parse<PlayerState>((m as MessageEvent).data);
      if (s && Array.isArray(s.tracks)) this.replace(s);
    });
    es.addEventListener('message', (m) => {
      const e = parse<Event>((m as MessageEvent).data);
      if (e && typeof e.type === 'string') this.emit(e);
    });
    es.addEventListener('error', () => {
      // EventSource reconnects by itself (a fresh `state` comes first); when it gave up
      // (the route is missing or refused), poll instead.
      if (es.readyState === EventSource.CLOSED && !this.closed) {
        this.source = null;
        this.startPolling();
      }
    });
  }

  private startPolling(): void {
    if (this.closed || this.timer !== null) return;
    this.polling = true;
    this.timer = setInterval(() => void this.poll(), this.opts.pollMs ?? 1000);
    void this.poll();
  }

  private busy = false;
  private again = false;

  /** One poll: the events that take the last state to the new one. */
  async poll(): Promise<void> {
    if (this.closed) return;
    if (this.busy) {
      this.again = true; // a command was sent during this poll: look once more after it
      return;
    }
    this.busy = true;
    try {
      const next = await this.bridge.playerState();
      const events = diff(this.s, next);
      for (const e of events) this.emit(e);
      this.s = next;
    } catch {
      /* the server is away for a moment: the next poll tries again */
    } finally {
      this.busy = false;
    }
    if (this.again) {
      this.again = false;
      await this.poll();
    }
  }
}

function parse<T>(data: unknown): T | null {
  try {
    return JSON.parse(String(data)) as T;
  } catch {
    return null;
  }
}

const STORE = { preset: 'sonance.preset', intensity: 'sonance.intensity', volume: 'sonance.volume' };

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    /* private mode */
  }
}

/** The settings the page kept in localStorage before the core kept them. */
export function storedSettings(): { preset: string | null; intensity: number | null; volume: number | null } {
  const num = (k: string) => {
    const v = stored(k);
    const x = v === null ? NaN : Number(v);
    return Number.isFinite(x) ? Math.max(0, Math.min(1, x)) : null;
  };
  return { preset: stored(STORE.preset), intensity: num(STORE.intensity), volume: num(STORE.volume) };
}

/** Forget the localStorage settings (handed over to the core). */
export function forgetStoredSettings(): void {
  try {
    for (const k of Object.values(STORE)) localStorage.removeItem(k);
  } catch {
    /* private mode */
  }
}

/**
 * The page's own stand-in for a server without a core: the list a track was started
 * from plays on to its end (repeat and the queue commands work; shuffle only keeps its
 * flag). Settings stay in localStorage, as before.
 */
export class LocalCore extends BaseCore implements Core {
  readonly remote = false;

  /**
   * `findInView`: for a track that ended without being queued here (the desktop shell
   * loads tracks directly), the ids of the list to go on through (the songs view).
   */
  constructor(private readonly findInView?: () => Promise<string[]>) {
    super(emptyState());
    const saved = storedSettings();
    this.s = {
      ...this.s,
      preset: saved.preset ?? this.s.preset,
      intensity: saved.intensity ?? this.s.intensity,
      volume: saved.volume ?? this.s.volume,
    };
  }

  close(): void {}

  async send(cmd: Command): Promise<void> {
    // Asynchronous like the host's core: the caller's state is settled first.
    await Promise.resolve();
    for (const e of this.handle(cmd)) this.emit(e);
  }

  /** The events of one command (pure given the state). */
  handle(cmd: Command): Event[] {
    const s = this.s;
    const out: Event[] = [];
    const queue = (tracks: string[], index: number | null) => out.push({ type: 'queue_changed', tracks, index, shuffle: s.shuffle, repeat: s.repeat });
    const load = (index: number | null, tracks = s.tracks) => {
      const track = index === null ? null : (tracks[index] ?? null);
      out.push({ type: 'track_changed', track, index: track === null ? null : index, start_at_s: 0 });
    };
    const status = (st: PlayerState['status']) => {
      if (st !== s.status) out.push({ type: 'status_changed', status: st });
    };
    const refuse = (message: string, kind: 'invalid_index' | 'nothing_to_play' | 'queue_full' = 'invalid_index') => [{ type: 'error' as const, kind, message }];
    const settings = (p: Partial<Pick<PlayerState, 'volume' | 'preset' | 'intensity' | 'loudness_mode'>>) => {
      const n = { volume: s.volume, preset: s.preset, intensity: s.intensity, loudness_mode: s.loudness_mode, ...p };
      store(STORE.preset, n.preset);
      store(STORE.intensity, String(n.intensity));
      store(STORE.volume, String(n.volume));
      out.push({ type: 'settings_changed', ...n });
    };
    const advance = (wrapOne: boolean) => {
      const i = s.index ?? -1;
      if (s.repeat === 'one' && !wrapOne && i >= 0) return load(i);
      if (i + 1 < s.tracks.length) return load(i + 1);
      if (s.repeat !== 'off' && s.tracks.length > 0) return load(0);
      load(null);
      status('stopped');
    };
    switch (cmd.type) {
      case 'play_now':
      case 'set_queue': {
        const tracks = cmd.tracks.map(String);
        if (tracks.length > MAX_TRACKS) return refuse('The queue is full.', 'queue_full');
        if (cmd.type === 'play_now' && tracks.length === 0) return refuse('There is nothing to play: the list of tracks is empty.', 'nothing_to_play');
        if (tracks.length > 0 && (cmd.index < 0 || cmd.index >= tracks.length)) return refuse('There is no track at that position.');
        const index = tracks.length > 0 ? cmd.index : null;
        queue(tracks, index);
        load(index, tracks);
        if (cmd.type === 'play_now') status('playing');
        else if (index === null) status('stopped');
        return out;
      }
      case 'play_next':
      case 'append': {
        if (s.tracks.length + cmd.tracks.length > MAX_TRACKS) return refuse('The queue is full.', 'queue_full');
        const at = cmd.type === 'append' || s.index === null ? s.tracks.length : s.index + 1;
        const tracks = [...s.tracks.slice(0, at), ...cmd.tracks.map(String), ...s.tracks.slice(at)];
        queue(tracks, s.index);
        return out;
      }
      case 'remove': {
        if (cmd.index < 0 || cmd.index >= s.tracks.length) return refuse('There is no track at that position.');
        const tracks = s.tracks.filter((_, i) => i !== cmd.index);
        if (s.index === cmd.index) {
          const next = cmd.index < tracks.length ? cmd.index : null;
          queue(tracks, next);
          load(next, tracks);
          if (next === null) status('stopped');
        } else queue(tracks, s.index !== null && s.index > cmd.index ? s.index - 1 : s.index);
        return out;
      }
      case 'move': {
        const n = s.tracks.length;
        if (cmd.from < 0 || cmd.from >= n || cmd.to < 0 || cmd.to >= n) return refuse('There is no track at that position.');
        if (cmd.from === cmd.to) return out;
        const tracks = s.tracks.slice();
        const [t] = tracks.splice(cmd.from, 1);
        tracks.splice(cmd.to, 0, t!);
        queue(tracks, s.index === null ? null : movedIndex(s.index, cmd.from, cmd.to));
        return out;
      }
      case 'clear':
        if (s.tracks.length) queue([], null);
        if (s.index !== null) load(null);
        status('stopped');
        return out;
      case 'play':
      case 'toggle_play':
        if (cmd.type === 'toggle_play' && s.status === 'playing') {
          status('paused');
          return out;
        }
        if (s.index === null) {
          if (s.tracks.length === 0) return refuse('The queue is empty.', 'nothing_to_play');
          load(0);
        }
        status('playing');
        return out;
      case 'pause':
        if (s.status === 'playing') status('paused');
        return out;
      case 'stop':
        if (s.index !== null) out.push({ type: 'seeked', position_s: 0 });
        status('stopped');
        return out;
      case 'next':
        if (s.tracks.length === 0) return refuse('The queue is empty.', 'nothing_to_play');
        advance(true);
        return out;
      case 'previous': {
        if (s.tracks.length === 0) return refuse('The queue is empty.', 'nothing_to_play');
        if (s.index === null) load(s.tracks.length - 1);
        else if (s.position_s > 3 || s.index === 0) out.push({ type: 'seeked', position_s: 0 });
        else load(s.index - 1);
        return out;
      }
      case 'seek':
        if (s.index === null) return refuse('There is no current track to seek in.', 'nothing_to_play');
        out.push({ type: 'seeked', position_s: cmd.position_s });
        return out;
      case 'set_shuffle':
        if (cmd.on !== s.shuffle) out.push({ type: 'queue_changed', tracks: s.tracks, index: s.index, shuffle: cmd.on, repeat: s.repeat });
        return out;
      case 'set_repeat':
        if (cmd.mode !== s.repeat) out.push({ type: 'queue_changed', tracks: s.tracks, index: s.index, shuffle: s.shuffle, repeat: cmd.mode });
        return out;
      case 'set_volume':
        settings({ volume: cmd.volume });
        return out;
      case 'set_preset':
        settings({ preset: cmd.preset });
        return out;
      case 'set_intensity':
        settings({ intensity: cmd.intensity });
        return out;
      case 'set_loudness_mode':
        settings({ loudness_mode: cmd.mode });
        return out;
      case 'position':
        if (s.index !== null && Number.isFinite(cmd.position_s) && cmd.position_s >= 0) this.s = { ...s, position_s: cmd.position_s };
        return out;
      case 'track_ended':
      case 'track_failed': {
        if (cmd.type === 'track_failed') out.push({ type: 'error', kind: 'track_failed', message: cmd.message });
        const cur = currentTrack(s);
        const id = cmd.track === undefined ? cur : String(cmd.track);
        if (cur !== null && id === cur) {
          advance(cmd.type === 'track_failed');
          return out;
        }
        if (cur === null && id !== null && cmd.type === 'track_ended' && this.findInView) {
          // Started by someone else (the desktop shell): go on through the songs view.
          void this.findInView().then((ids) => {
            const i = ids.indexOf(id);
            if (i >= 0 && i + 1 < ids.length && currentTrack(this.s) === null) void this.send({ type: 'play_now', tracks: ids.slice(0, MAX_TRACKS), index: i + 1 });
          });
        }
        return out;
      }
    }
  }
}

/** Where the current index goes when a row moves from `from` to `to`. */
export function movedIndex(index: number, from: number, to: number): number {
  if (index === from) return to;
  if (from < index && to >= index) return index - 1;
  if (from > index && to <= index) return index + 1;
  return index;
}

/**
 * Which core the page follows: the host's when `GET /api/player` answers, the page's
 * own when it answers 404 (an older server, the desktop app before it hosts the core).
 * Any other failure (the server is away): the host's, which catches up once it answers.
 */
export async function connectCore(bridge: Bridge, opts: RemoteOptions & { findInView?: () => Promise<string[]> } = {}): Promise<Core> {
  let initial: PlayerState;
  try {
    initial = await bridge.playerState();
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return new LocalCore(opts.findInView);
    initial = emptyState();
  }
  const core = new RemoteCore(bridge, initial, opts);
  core.connect();
  return core;
}
