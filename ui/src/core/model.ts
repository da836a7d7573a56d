/**
 * The player core as the page sees it, pure (no DOM, no network): the last known
 * `PlayerState`, how each `Event` changes it, what the page sends for a user action,
 * and the arithmetic of the queue panel. The types come from the Rust core (ts-rs,
 * `src/generated/player/`).
 */
import type { Command } from '../generated/player/Command';
import type { Event } from '../generated/player/Event';
import type { PlayerState } from '../generated/player/PlayerState';
import type { RepeatMode } from '../generated/player/RepeatMode';

export type { Command, Event, PlayerState, RepeatMode };

/** The most tracks a queue holds (the core's `MAX_TRACKS`). */
export const MAX_TRACKS = 100_000;

/** A fresh core's state (what the page assumes before it heard anything). */
export function emptyState(): PlayerState {
  return {
    tracks: [],
    original_index: [],
    index: null,
    shuffle: false,
    repeat: 'off',
    status: 'stopped',
    position_s: 0,
    volume: 1,
    preset: 'default',
    intensity: 1,
    loudness_mode: 'track',
  };
}

/** The current track's id, or null. */
export function currentTrack(s: PlayerState): string | null {
  return s.index !== null && s.index >= 0 && s.index < s.tracks.length ? (s.tracks[s.index] ?? null) : null;
}

/** The state after `e` (a new object; `s` is not changed). Errors change nothing. */
export function apply(s: PlayerState, e: Event): PlayerState {
  switch (e.type) {
    case 'queue_changed': {
      // The original order is the core's business; the page only draws the play order.
      return { ...s, tracks: e.tracks, index: e.index, shuffle: e.shuffle, repeat: e.repeat, original_index: [] };
    }
    case 'track_changed':
      return { ...s, index: e.index, position_s: e.start_at_s, status: e.track === null ? 'stopped' : s.status };
    case 'status_changed':
      return { ...s, status: e.status };
    case 'seeked':
      return { ...s, position_s: e.position_s };
    case 'settings_changed':
      return { ...s, volume: e.volume, preset: e.preset, intensity: e.intensity, loudness_mode: e.loudness_mode };
    case 'error':
      return s;
  }
}

/**
 * Events that take `a` to `b`, for a core that can only be polled (the desktop app's
 * custom scheme): the same events the event stream would have sent, more or less. A
 * seek is guessed from the position: backwards, or more than `maxStep` seconds ahead.
 */
export function diff(a: PlayerState, b: PlayerState, maxStep = 3): Event[] {
  const out: Event[] = [];
  const sameList = a.tracks.length === b.tracks.length && a.tracks.every((t, i) => t === b.tracks[i]);
  if (!sameList || a.shuffle !== b.shuffle || a.repeat !== b.repeat || a.index !== b.index) {
    out.push({ type: 'queue_changed', tracks: b.tracks, index: b.index, shuffle: b.shuffle, repeat: b.repeat });
  }
  const ta = currentTrack(a);
  const tb = currentTrack(b);
  const restarted = ta !== null && ta === tb && a.index === b.index && b.position_s < a.position_s - 0.5 && b.position_s < 1;
  if (ta !== tb) {
    out.push({ type: 'track_changed', track: tb, index: tb === null ? null : b.index, start_at_s: b.position_s });
  } else if (tb !== null && !restarted && (b.position_s < a.position_s - 0.5 || b.position_s > a.position_s + maxStep)) {
    out.push({ type: 'seeked', position_s: b.position_s });
  } else if (restarted) {
    out.push({ type: 'seeked', position_s: b.position_s });
  }
  if (a.status !== b.status) out.push({ type: 'status_changed', status: b.status });
  if (a.volume !== b.volume || a.preset !== b.preset || a.intensity !== b.intensity || a.loudness_mode !== b.loudness_mode) {
    out.push({ type: 'settings_changed', volume: b.volume, preset: b.preset, intensity: b.intensity, loudness_mode: b.loudness_mode });
  }
  return out;
}

// ---- commands for user actions

/**
 * Play `index` of a list (the songs view, an album): `play_now` with the list. A list
 * longer than the core takes is cut to `MAX_TRACKS` from the clicked track on (it
 * stays in, and what follows it).
 */
export function playNowCommand(ids: readonly (string | number)[], index: number, max = MAX_TRACKS): Command {
  let tracks = ids.map(String);
  let i = Math.max(0, Math.min(index, tracks.length - 1));
  if (tracks.length > max) {
    const start = Math.min(i, tracks.length - max);
    tracks = tracks.slice(start, start + max);
    i -= start;
  }
  return { type: 'play_now', tracks, index: i };
}

/** The Play/Pause button: toggle what is queued; with nothing queued, null (start the view). */
export function toggleCommand(s: PlayerState): Command | null {
  return s.tracks.length > 0 ? { type: 'toggle_play' } : null;
}

/** The repeat button cycles off → all → one → off. */
export function nextRepeat(mode: RepeatMode): RepeatMode {
  return mode === 'off' ? 'all' : mode === 'all' ? 'one' : 'off';
}

export function repeatLabel(mode: RepeatMode): string {
  return mode === 'off' ? 'Repeat: off' : mode === 'all' ? 'Repeat: all' : 'Repeat: one';
}

/** Seek by `delta` seconds from `t`, within [0, duration]. */
export function seekCommand(t: number, duration: number): Extract<Command, { type: 'seek' }> {
  const d = duration > 0 ? duration : Infinity;
  return { type: 'seek', position_s: Math.max(0, Math.min(d, Number.isFinite(t) ? t : 0)) };
}

/** Volume/intensity from a 0..100 slider. */
export function unit(percent: number): number {
  return Math.max(0, Math.min(1, Math.round(percent) / 100));
}

// ---- keyboard

export type KeyAction = 'toggle' | 'next' | 'previous' | 'back' | 'forward' | 'volumeUp' | 'volumeDown' | 'ab';

export interface KeyInput {
  key: string;
  code?: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  shiftKey?: boolean;
}

/**
 * What a key does. `where`: `typing` (a text field, a select: keys are its own),
 * `otherSlider` (a range input other than the seek bar: arrows are its own), else null.
 */
export function keyAction(e: KeyInput, where: 'typing' | 'otherSlider' | null): KeyAction | null {
  if (where === 'typing' || e.altKey || e.metaKey) return null;
  if (e.ctrlKey) {
    if (e.key === 'ArrowLeft') return 'previous';
    if (e.key === 'ArrowRight') return 'next';
    return null;
  }
  if (e.key === ' ' || e.code === 'Space') return 'toggle';
  if (e.key === 'n' || e.key === 'N') return 'next';
  if (e.key === 'p' || e.key === 'P') return 'previous';
  if (e.key === 'b' || e.key === 'B') return 'ab';
  if (where === 'otherSlider') return null;
  if (e.key === 'ArrowLeft') return 'back';
  if (e.key === 'ArrowRight') return 'forward';
  if (e.key === 'ArrowUp') return 'volumeUp';
  if (e.key === 'ArrowDown') return 'volumeDown';
  return null;
}

// ---- queue panel

/** The rows the queue panel draws: the current one ± `radius` (the whole queue is never in the DOM). */
export function queueWindow(length: number, current: number | null, radius = 200): { start: number; end: number } {
  if (length <= 0) return { start: 0, end: 0 };
  const c = current === null ? 0 : Math.max(0, Math.min(length - 1, current));
  let start = Math.max(0, c - radius);
  let end = Math.min(length, c + radius + 1);
  // Use the whole budget when one side is short.
  const want = 2 * radius + 1;
  if (end - start < want) {
    if (start === 0) end = Math.min(length, want);
    else if (end === length) start = Math.max(0, length - want);
  }
  return { start, end };
}

/**
 * A drag of row `from` dropped before slot `before` (0..length; `length` = after the
 * last row): the core's `move {from, to}` (`to` counted after the removal), or null
 * when nothing moves.
 */
export function moveCommand(from: number, before: number, length: number): Command | null {
  if (from < 0 || from >= length || before < 0 || before > length) return null;
  const to = before > from ? before - 1 : before;
  return to === from ? null : { type: 'move', from, to };
}

/**
 * Guards against loading a track twice: a track the page starts at once (a click,
 * optimistic) is not loaded again when the core's `track_changed` for it comes back.
 */
/** How long a click waits for the core's `track_changed` before events about other tracks
 *  are followed again (the core answers in milliseconds; this only covers a lost command). */
export const EXPECT_MS = 5000;

export class TrackFollower {
  /** The id the output was last told to load (null: nothing). */
  loaded: string | null = null;
  /** A track loaded ahead of the core's answer, and when. */
  private expected: string | null = null;
  private expectedAt = 0;

  /** `now()`: a clock in ms (injected by the tests). */
  constructor(private readonly now: () => number = () => Date.now()) {}

  /** A track started by the page whose `track_changed` has not come back. */
  get expecting(): string | null {
    return this.expected;
  }

  /** The core refused or replaced what the page started: stop waiting for it. */
  forget(): void {
    this.expected = null;
  }

  /** The page starts `id` itself. */
  optimistic(id: string): void {
    this.loaded = id;
    this.expected = id;
    this.expectedAt = this.now();
  }

  /** The core's `track_changed`: `load` it, `skip` (the page already did, or the event is
   *  older than the page's click), or `stop`. */
  trackChanged(id: string | null): 'load' | 'skip' | 'stop' {
    const expected = this.expected;
    // The core handles commands in order, so while the page's click is on its way an event
    // about another track was sent before the core heard of it (another page's click, the
    // end of the previous track): acting on it would load that track and then the clicked one
    // again. The click's own `track_changed` follows. A click the core never answered (its
    // command lost) stops being waited for after EXPECT_MS.
    if (expected !== null && id !== expected && this.now() - this.expectedAt < EXPECT_MS) return 'skip';
    this.expected = null;
    if (id === null) {
      this.loaded = null;
      return 'stop';
    }
    if (expected !== null && expected === id && this.loaded === id) return 'skip';
    this.loaded = id;
    return 'load';
  }

  /** A full state (connect, reconnect): load its current track only when it is not the one loaded. */
  stateArrived(id: string | null): 'load' | 'skip' | 'stop' {
    if (id === null) {
      if (this.expected !== null) return 'skip'; // a click on its way to the core
      const was = this.loaded;
      this.loaded = null;
      return was === null ? 'skip' : 'stop';
    }
    if (id === this.loaded) {
      if (this.expected === id) this.expected = null;
      return 'skip';
    }
    if (this.expected !== null) return 'skip'; // the core has not heard of the click yet
    this.loaded = id;
    return 'load';
  }
}
