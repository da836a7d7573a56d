import { afterEach, describe, expect, it, vi } from 'vitest';
import { Bridge } from '../src/bridge';
import { connectCore, LocalCore, movedIndex, RemoteCore, type Core } from '../src/core/client';
import { CoreFollower, type OutputPlayer } from '../src/core/follow';
import {
  apply,
  currentTrack,
  diff,
  emptyState,
  keyAction,
  moveCommand,
  nextRepeat,
  playNowCommand,
  queueWindow,
  repeatLabel,
  seekCommand,
  toggleCommand,
  TrackFollower,
  EXPECT_MS,
  unit,
  type Command,
  type Event,
  type PlayerState,
} from '../src/core/model';

const state = (p: Partial<PlayerState> = {}): PlayerState => ({ ...emptyState(), ...p });

describe('the reducer', () => {
  const s0 = state({ tracks: ['a', 'b', 'c'], index: 0, status: 'playing', position_s: 12 });

  it('queue_changed replaces the list, index, shuffle and repeat', () => {
    const s = apply(s0, { type: 'queue_changed', tracks: ['c', 'a'], index: 1, shuffle: true, repeat: 'all' });
    expect(s).toMatchObject({ tracks: ['c', 'a'], index: 1, shuffle: true, repeat: 'all', status: 'playing', position_s: 12 });
    expect(currentTrack(s)).toBe('a');
    expect(s0.tracks).toEqual(['a', 'b', 'c']); // not changed in place
  });

  it('track_changed moves the index and the position; null stops', () => {
    const s = apply(s0, { type: 'track_changed', track: 'b', index: 1, start_at_s: 3 });
    expect(s).toMatchObject({ index: 1, position_s: 3, status: 'playing' });
    expect(currentTrack(s)).toBe('b');
    const end = apply(s, { type: 'track_changed', track: null, index: null, start_at_s: 0 });
    expect(end).toMatchObject({ index: null, status: 'stopped', position_s: 0 });
    expect(currentTrack(end)).toBeNull();
  });

  it('status_changed, seeked and settings_changed', () => {
    expect(apply(s0, { type: 'status_changed', status: 'paused' }).status).toBe('paused');
    expect(apply(s0, { type: 'seeked', position_s: 40 }).position_s).toBe(40);
    expect(apply(s0, { type: 'settings_changed', volume: 0.5, preset: 'warm', intensity: 0.25, loudness_mode: 'album' })).toMatchObject({
      volume: 0.5,
      preset: 'warm',
      intensity: 0.25,
      loudness_mode: 'album',
    });
  });

  it('an error changes nothing', () => {
    expect(apply(s0, { type: 'error', kind: 'invalid_index', message: 'No.' })).toBe(s0);
  });

  it('a polled state is turned into the events the stream would have sent', () => {
    const a = state({ tracks: ['a', 'b'], index: 0, status: 'playing', position_s: 5 });
    expect(diff(a, { ...a, position_s: 6 })).toEqual([]);
    expect(diff(a, { ...a, position_s: 30 })).toEqual([{ type: 'seeked', position_s: 30 }]);
    expect(diff(a, { ...a, index: 1, position_s: 0 }).map((e) => e.type)).toEqual(['queue_changed', 'track_changed']);
    expect(diff(a, { ...a, status: 'paused' })).toEqual([{ type: 'status_changed', status: 'paused' }]);
    expect(diff(a, { ...a, preset: 'x' })[0]).toMatchObject({ type: 'settings_changed', preset: 'x' });
    // Every event applied gives the new state's queue and settings.
    const b = state({ tracks: ['c'], index: 0, status: 'paused', volume: 0.3, repeat: 'one' });
    const s = diff(a, b).reduce(apply, a);
    expect(s).toMatchObject({ tracks: ['c'], index: 0, status: 'paused', volume: 0.3, repeat: 'one' });
  });
});

describe('commands from the page', () => {
  it('play_now hands over the view with the clicked index', () => {
    expect(playNowCommand([1, 2, 3], 1)).toEqual({ type: 'play_now', tracks: ['1', '2', '3'], index: 1 });
  });

  it('a view longer than the core takes is cut around the clicked track', () => {
    const ids = Array.from({ length: 25 }, (_, i) => `t${i}`);
    const cmd = playNowCommand(ids, 20, 10) as Extract<Command, { type: 'play_now' }>;
    expect(cmd.tracks).toHaveLength(10);
    expect(cmd.tracks[cmd.index]).toBe('t20');
    const early = playNowCommand(ids, 2, 10) as Extract<Command, { type: 'play_now' }>;
    expect(early.tracks[0]).toBe('t2');
    expect(early.index).toBe(0);
  });

  it('toggle, repeat cycle, seek and slider values', () => {
    expect(toggleCommand(state())).toBeNull();
    expect(toggleCommand(state({ tracks: ['a'] }))).toEqual({ type: 'toggle_play' });
    expect(nextRepeat('off')).toBe('all');
    expect(nextRepeat('all')).toBe('one');
    expect(nextRepeat('one')).toBe('off');
    expect(repeatLabel('one')).toBe('Repeat: one');
    expect(seekCommand(-3, 100)).toEqual({ type: 'seek', position_s: 0 });
    expect(seekCommand(130, 100)).toEqual({ type: 'seek', position_s: 100 });
    expect(unit(57)).toBe(0.57);
    expect(unit(140)).toBe(1);
  });
});

describe('keyboard', () => {
  it('maps keys to actions', () => {
    expect(keyAction({ key: ' ' }, null)).toBe('toggle');
    expect(keyAction({ key: 'n' }, null)).toBe('next');
    expect(keyAction({ key: 'P' }, null)).toBe('previous');
    expect(keyAction({ key: 'ArrowLeft' }, null)).toBe('back');
    expect(keyAction({ key: 'ArrowRight' }, null)).toBe('forward');
    expect(keyAction({ key: 'ArrowLeft', ctrlKey: true }, null)).toBe('previous');
    expect(keyAction({ key: 'ArrowRight', ctrlKey: true }, null)).toBe('next');
    expect(keyAction({ key: 'ArrowUp' }, null)).toBe('volumeUp');
    expect(keyAction({ key: 'b' }, null)).toBe('ab');
  });
  it('leaves text fields and other sliders their keys', () => {
    expect(keyAction({ key: 'n' }, 'typing')).toBeNull();
    expect(keyAction({ key: ' ' }, 'typing')).toBeNull();
    expect(keyAction({ key: 'ArrowLeft', ctrlKey: true }, 'typing')).toBeNull();
    expect(keyAction({ key: 'ArrowLeft' }, 'otherSlider')).toBeNull();
    expect(keyAction({ key: ' ' }, 'otherSlider')).toBe('toggle');
    expect(keyAction({ key: 'f', ctrlKey: true }, null)).toBeNull();
    expect(keyAction({ key: 'n', altKey: true }, null)).toBeNull();
  });
});

describe('queue panel arithmetic', () => {
  it('draws the current one ± radius', () => {
    expect(queueWindow(100_000, 50_000, 200)).toEqual({ start: 49_800, end: 50_201 });
    expect(queueWindow(100_000, 3, 200)).toEqual({ start: 0, end: 401 });
    expect(queueWindow(100_000, 99_999, 200)).toEqual({ start: 99_599, end: 100_000 });
    expect(queueWindow(10, null, 200)).toEqual({ start: 0, end: 10 });
    expect(queueWindow(0, null)).toEqual({ start: 0, end: 0 });
  });
  it('a drop before a slot is a move counted after the removal', () => {
    expect(moveCommand(0, 3, 5)).toEqual({ type: 'move', from: 0, to: 2 });
    expect(moveCommand(4, 0, 5)).toEqual({ type: 'move', from: 4, to: 0 });
    expect(moveCommand(1, 5, 5)).toEqual({ type: 'move', from: 1, to: 4 });
    expect(moveCommand(2, 2, 5)).toBeNull();
    expect(moveCommand(2, 3, 5)).toBeNull();
    expect(moveCommand(7, 0, 5)).toBeNull();
  });
  it('the current index follows a move', () => {
    expect(movedIndex(2, 2, 0)).toBe(0);
    expect(movedIndex(2, 0, 3)).toBe(1);
    expect(movedIndex(2, 4, 1)).toBe(3);
    expect(movedIndex(2, 3, 4)).toBe(2);
  });
});

describe('the echo guard', () => {
  it('a clicked track is not loaded again when the core says it changed to it', () => {
    const f = new TrackFollower();
    f.optimistic('a');
    expect(f.trackChanged('a')).toBe('skip');
    // Repeat one: the same track again is loaded again.
    expect(f.trackChanged('a')).toBe('load');
    expect(f.trackChanged('b')).toBe('load');
    expect(f.trackChanged(null)).toBe('stop');
  });
  it('an event sent before the core heard of a click does not load another track first', () => {
    let now = 0;
    const f = new TrackFollower(() => now);
    expect(f.trackChanged('a')).toBe('load');
    f.optimistic('b');
    // The end of 'a' (or another page's click) was on its way before the click reached the core.
    expect(f.trackChanged('c')).toBe('skip');
    expect(f.trackChanged(null)).toBe('skip');
    expect(f.loaded).toBe('b');
    expect(f.trackChanged('b')).toBe('skip');
    // After the click's answer, events about other tracks are followed again.
    expect(f.trackChanged('c')).toBe('load');
    // A click the core never answers stops holding the page after EXPECT_MS.
    f.optimistic('d');
    now += EXPECT_MS + 1;
    expect(f.trackChanged('e')).toBe('load');
    expect(f.expecting).toBe(null);
  });
  it('a state on (re)connect loads only a different track', () => {
    const f = new TrackFollower();
    expect(f.stateArrived('a')).toBe('load');
    expect(f.stateArrived('a')).toBe('skip');
    f.optimistic('b');
    expect(f.stateArrived('a')).toBe('skip'); // older than the click
    expect(f.trackChanged('b')).toBe('skip');
    expect(f.stateArrived(null)).toBe('stop');
  });
});

// ---- the follower against a fake player and a fake core

class FakePlayer extends EventTarget implements OutputPlayer {
  track: { id: string } | null = null;
  currentTime = 0;
  error: string | null = null;
  audio = { paused: true, ended: false };
  calls: string[] = [];
  async load(id: string, opts: { autoplay?: boolean; position?: number } = {}): Promise<void> {
    this.calls.push(`load ${id} ${opts.autoplay ? 'play' : 'paused'} @${opts.position ?? 0}`);
    this.track = null;
    await Promise.resolve();
    this.track = { id };
    this.currentTime = opts.position ?? 0;
    if (opts.autoplay) this.audio.paused = false;
    this.dispatchEvent(new Event('change'));
  }
  async play(): Promise<void> {
    this.calls.push('play');
    this.audio.paused = false;
    this.dispatchEvent(new Event('change'));
  }
  pause(): void {
    this.calls.push('pause');
    this.audio.paused = true;
    this.dispatchEvent(new Event('change'));
  }
  seek(t: number): void {
    this.calls.push(`seek ${t}`);
    this.currentTime = t;
  }
}

/** A player whose load ends when the test says (the first chunk's round trip). */
class SlowPlayer extends FakePlayer {
  finish: () => void = () => {};
  override async load(id: string, opts: { autoplay?: boolean; position?: number } = {}): Promise<void> {
    this.calls.push(`load ${id} ${opts.autoplay ? 'play' : 'paused'} @${opts.position ?? 0}`);
    this.track = { id };
    await new Promise<void>((r) => (this.finish = r));
    if (opts.autoplay) this.audio.paused = false;
  }
}

class FakeCore extends EventTarget implements Core {
  readonly remote = true;
  sent: Command[] = [];
  constructor(public s: PlayerState = emptyState()) {
    super();
  }
  state(): PlayerState {
    return this.s;
  }
  async send(cmd: Command): Promise<void> {
    this.sent.push(cmd);
  }
  close(): void {}
  emit(e: Event): void {
    this.s = apply(this.s, e);
    this.dispatchEvent(new CustomEvent('event', { detail: e }));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('the page as the core output', () => {
  it('a click loads at once; the core answer does not load again, and play/pause follow the core', async () => {
    const core = new FakeCore();
    const p = new FakePlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await f.playNow('b');
    expect(p.calls).toEqual(['load b play @0']);
    core.emit({ type: 'queue_changed', tracks: ['a', 'b'], index: 1, shuffle: false, repeat: 'off' });
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 });
    core.emit({ type: 'status_changed', status: 'playing' });
    await settle();
    expect(p.calls).toEqual(['load b play @0']);
    core.emit({ type: 'status_changed', status: 'paused' });
    expect(p.calls.at(-1)).toBe('pause');
    core.emit({ type: 'status_changed', status: 'playing' });
    expect(p.calls.at(-1)).toBe('play');
    core.emit({ type: 'seeked', position_s: 42 });
    expect(p.calls.at(-1)).toBe('seek 42');
    f.stop();
  });

  it('a seek the core makes while its track loads goes to the player at once, not after the load started playing', async () => {
    const core = new FakeCore();
    const p = new SlowPlayer();
    const f = new CoreFollower(core, p);
    f.start();
    const loading = f.playNow('b');
    core.emit({ type: 'queue_changed', tracks: ['a', 'b'], index: 1, shuffle: false, repeat: 'off' });
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 });
    core.emit({ type: 'status_changed', status: 'playing' });
    core.emit({ type: 'seeked', position_s: 42 });
    expect(p.calls).toEqual(['load b play @0', 'seek 42']);
    p.finish();
    await loading;
    await settle();
    expect(p.calls.filter((c) => c.startsWith('seek'))).toEqual(['seek 42']);
    f.stop();
  });

  it('a seek the core echoes after a click was made is not applied to the clicked track', async () => {
    const core = new FakeCore(state({ tracks: ['a', 'b'], index: 1, status: 'paused' }));
    const p = new SlowPlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    p.finish();
    await settle();
    // The user seeks (the core will echo it), then clicks the same track: it starts at 0.
    const loading = f.playNow('b');
    core.emit({ type: 'seeked', position_s: 13.6 });
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 });
    p.finish();
    await loading;
    await settle();
    expect(p.calls.filter((c) => c.startsWith('seek'))).toEqual([]);
    expect(p.calls.filter((c) => c.startsWith('load'))).toEqual(['load b paused @0', 'load b play @0']);
    f.stop();
  });

  it("a seek on this page goes to the player at once; the core's echo of it is not applied again", async () => {
    const core = new FakeCore();
    const p = new FakePlayer();
    const f = new CoreFollower(core, p);
    f.start();
    core.emit({ type: 'queue_changed', tracks: ['a'], index: 0, shuffle: false, repeat: 'off' });
    core.emit({ type: 'track_changed', track: 'a', index: 0, start_at_s: 0 });
    await settle();
    f.seekHere(18.6);
    expect(p.calls.at(-1)).toBe('seek 18.6');
    expect(core.sent.at(-1)).toEqual({ type: 'seek', position_s: 18.6 });
    p.currentTime = 18.65; // it played on meanwhile
    core.emit({ type: 'seeked', position_s: 18.6 });
    expect(p.calls.filter((c) => c.startsWith('seek'))).toEqual(['seek 18.6']);
    // A seek made elsewhere still moves the player.
    core.emit({ type: 'seeked', position_s: 30 });
    expect(p.calls.at(-1)).toBe('seek 30');
    f.stop();
  });

  it('loads what the core changes to (autoplay when playing, at start_at_s), stops on null', async () => {
    const core = new FakeCore(state({ tracks: ['a', 'b'], index: 0, status: 'paused' }));
    const p = new FakePlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    expect(p.calls).toEqual(['load a paused @0']);
    core.emit({ type: 'status_changed', status: 'playing' });
    expect(p.calls.at(-1)).toBe('play');
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 7 });
    await settle();
    expect(p.calls.at(-1)).toBe('load b play @7');
    core.emit({ type: 'track_changed', track: null, index: null, start_at_s: 0 });
    expect(p.calls.at(-1)).toBe('pause');
    f.stop();
  });

  it('a page that opens while the core plays loads paused and asks the core to pause', async () => {
    const core = new FakeCore(state({ tracks: ['a'], index: 0, status: 'playing', position_s: 20 }));
    const p = new FakePlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    expect(p.calls).toEqual(['load a paused @20']);
    expect(core.sent).toContainEqual({ type: 'pause' });
    // The user plays: the core's status_changed is followed again.
    core.emit({ type: 'status_changed', status: 'paused' });
    core.emit({ type: 'status_changed', status: 'playing' });
    expect(p.calls.at(-1)).toBe('play');
    f.stop();
  });

  it('with resume (the desktop app) a page that opens while the core plays goes on playing', async () => {
    const core = new FakeCore(state({ tracks: ['a', 'b'], index: 1, status: 'playing', position_s: 4 }));
    const p = new FakePlayer();
    const f = new CoreFollower(core, p, { resume: true });
    f.start();
    await settle();
    expect(p.calls).toEqual(['load b play @4']);
    expect(core.sent).not.toContainEqual({ type: 'pause' });
    f.stop();
  });

  it('a restored paused state loads without playing, at its position', async () => {
    const core = new FakeCore(state({ tracks: ['a'], index: 0, status: 'paused', position_s: 33 }));
    const p = new FakePlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    expect(p.calls).toEqual(['load a paused @33']);
    f.stop();
  });

  it('reports the end, a failure and the position of the current track', async () => {
    vi.useFakeTimers();
    try {
      const core = new FakeCore(state({ tracks: ['a', 'b'], index: 0, status: 'paused' }));
      const p = new FakePlayer();
      const f = new CoreFollower(core, p);
      f.start();
      await vi.advanceTimersByTimeAsync(0);
      core.emit({ type: 'status_changed', status: 'playing' });
      p.currentTime = 5.5;
      await vi.advanceTimersByTimeAsync(1000);
      expect(core.sent).toContainEqual({ type: 'position', position_s: 5.5 });
      p.dispatchEvent(new Event('ended'));
      expect(core.sent.at(-1)).toEqual({ type: 'track_ended', track: 'a' });
      p.dispatchEvent(new CustomEvent('failure', { detail: 'Bad file.' }));
      expect(core.sent.at(-1)).toEqual({ type: 'track_failed', track: 'a', message: 'Bad file.' });
      // Paused: one report saying where.
      p.currentTime = 6;
      p.pause();
      expect(core.sent.at(-1)).toEqual({ type: 'position', position_s: 6 });
      const n = core.sent.length;
      await vi.advanceTimersByTimeAsync(3000);
      expect(core.sent.length).toBe(n);
      f.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('with reports off (the desktop\'s native output reports itself) it follows but tells the core nothing', async () => {
    vi.useFakeTimers();
    try {
      const core = new FakeCore(state({ tracks: ['a', 'b'], index: 0, status: 'paused' }));
      const p = new FakePlayer();
      const f = new CoreFollower(core, p, { reports: false });
      f.start();
      await vi.advanceTimersByTimeAsync(0);
      expect(p.calls).toEqual(['load a paused @0']);
      core.emit({ type: 'status_changed', status: 'playing' });
      expect(p.calls.at(-1)).toBe('play');
      p.currentTime = 5.5;
      await vi.advanceTimersByTimeAsync(3000);
      p.dispatchEvent(new Event('ended'));
      p.dispatchEvent(new CustomEvent('failure', { detail: 'Bad file.' }));
      p.pause();
      expect(core.sent).toEqual([]);
      f.stop();
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not report positions for a track the core does not play', async () => {
    vi.useFakeTimers();
    try {
      const core = new FakeCore(state({ tracks: ['a'], index: 0, status: 'playing' }));
      const p = new FakePlayer();
      const f = new CoreFollower(core, p);
      f.start();
      await vi.advanceTimersByTimeAsync(0);
      await f.playNow('z'); // a click on its way to the core
      core.sent.length = 0;
      await vi.advanceTimersByTimeAsync(2000);
      expect(core.sent.filter((c) => c.type === 'position')).toEqual([]);
      f.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('which core', () => {
  afterEach(() => vi.unstubAllGlobals());

  const json = (v: unknown, status = 200) => new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });

  it('a server without a core (404) gets the page’s own', async () => {
    vi.stubGlobal('fetch', async () => json({ kind: 'not_found', message: 'no route' }, 404));
    const core = await connectCore(new Bridge('http://h/'));
    expect(core).toBeInstanceOf(LocalCore);
    expect(core.remote).toBe(false);
  });

  it('a server with a core: GET /api/player, then commands by POST /api/player; polling when it cannot stream', async () => {
    const seen: { url: string; method: string; body?: unknown }[] = [];
    let s = state({ tracks: ['a'], index: 0, status: 'paused' });
    vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
      seen.push({ url, method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : undefined });
      if ((init.method ?? 'GET') === 'POST') {
        s = { ...s, status: 'playing' };
        return json({}, 202);
      }
      return json(s);
    });
    const core = await connectCore(new Bridge('http://h/', false), { pollMs: 60_000 });
    expect(core).toBeInstanceOf(RemoteCore);
    expect(core.state().tracks).toEqual(['a']);
    const events: Event[] = [];
    core.addEventListener('event', (e) => events.push((e as CustomEvent<Event>).detail));
    await core.send({ type: 'toggle_play' });
    await vi.waitFor(() => expect(events).toContainEqual({ type: 'status_changed', status: 'playing' }));
    expect(seen[0]).toEqual({ url: 'http://h/api/player', method: 'GET', body: undefined });
    expect(seen).toContainEqual({ url: 'http://h/api/player', method: 'POST', body: { type: 'toggle_play' } });
    core.close();
  });

  it('the bridge names the event stream', () => {
    expect(new Bridge('http://h/x/').eventsUrl()).toBe('http://h/x/api/events');
  });
});

describe('the page’s own core (no core on the server)', () => {
  const run = async (core: LocalCore, cmd: Command) => {
    const events: Event[] = [];
    const on = (e: globalThis.Event) => events.push((e as CustomEvent<Event>).detail);
    core.addEventListener('event', on);
    await core.send(cmd);
    core.removeEventListener('event', on);
    return events;
  };

  it('plays the list on to its end, then stops', async () => {
    const c = new LocalCore();
    const ev = await run(c, { type: 'play_now', tracks: ['a', 'b'], index: 0 });
    expect(ev.map((e) => e.type)).toEqual(['queue_changed', 'track_changed', 'status_changed']);
    expect(await run(c, { type: 'track_ended', track: 'a' })).toEqual([{ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 }]);
    expect(await run(c, { type: 'track_ended', track: 'zzz' })).toEqual([]); // stale
    const end = await run(c, { type: 'track_ended', track: 'b' });
    expect(end).toEqual([
      { type: 'track_changed', track: null, index: null, start_at_s: 0 },
      { type: 'status_changed', status: 'stopped' },
    ]);
    expect(currentTrack(c.state())).toBeNull();
  });

  it('next, previous (restart after 3 s), repeat, a failure skips', async () => {
    const c = new LocalCore();
    await run(c, { type: 'play_now', tracks: ['a', 'b', 'c'], index: 1 });
    expect(await run(c, { type: 'previous' })).toEqual([{ type: 'track_changed', track: 'a', index: 0, start_at_s: 0 }]);
    await run(c, { type: 'next' });
    await run(c, { type: 'position', position_s: 10 });
    expect(await run(c, { type: 'previous' })).toEqual([{ type: 'seeked', position_s: 0 }]);
    await run(c, { type: 'set_repeat', mode: 'one' });
    expect(await run(c, { type: 'track_ended', track: 'b' })).toEqual([{ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 }]);
    const failed = await run(c, { type: 'track_failed', track: 'b', message: 'x' });
    expect(failed.map((e) => e.type)).toEqual(['error', 'track_changed']);
    expect(currentTrack(c.state())).toBe('c');
    await run(c, { type: 'set_repeat', mode: 'all' });
    expect(await run(c, { type: 'next' })).toEqual([{ type: 'track_changed', track: 'a', index: 0, start_at_s: 0 }]);
  });

  it('queue edits: play next, append, move, remove, clear', async () => {
    const c = new LocalCore();
    await run(c, { type: 'play_now', tracks: ['a', 'b'], index: 0 });
    await run(c, { type: 'play_next', tracks: ['x'] });
    expect(c.state().tracks).toEqual(['a', 'x', 'b']);
    await run(c, { type: 'append', tracks: ['y'] });
    expect(c.state().tracks).toEqual(['a', 'x', 'b', 'y']);
    await run(c, { type: 'move', from: 0, to: 3 });
    expect(c.state()).toMatchObject({ tracks: ['x', 'b', 'y', 'a'], index: 3 });
    await run(c, { type: 'remove', index: 0 });
    expect(c.state()).toMatchObject({ tracks: ['b', 'y', 'a'], index: 2 });
    expect((await run(c, { type: 'remove', index: 9 }))[0]).toMatchObject({ type: 'error', kind: 'invalid_index' });
    await run(c, { type: 'clear' });
    expect(c.state()).toMatchObject({ tracks: [], index: null, status: 'stopped' });
  });
});

describe('gapless: the follower and a chained track', () => {
  class ChainPlayer extends FakePlayer {
    upcoming: (string | null)[] = [];
    setUpcoming(id: string | null): void {
      if (this.upcoming.at(-1) !== id) this.upcoming.push(id);
    }
    /** The player crossed into the chained track on its timeline. */
    advance(to: string): void {
      const from = String(this.track!.id);
      this.track = { id: to };
      this.currentTime = 0.1;
      this.dispatchEvent(new CustomEvent('advance', { detail: { from, to } }));
    }
  }

  it('hints the upcoming track, reports track_ended at the crossing and does not reload on the answer', async () => {
    const core = new FakeCore(state({ tracks: ['a', 'b', 'c'], index: 0, status: 'paused' }));
    const p = new ChainPlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    expect(p.calls).toEqual(['load a paused @0']);
    expect(p.upcoming.at(-1)).toBe('b');
    core.emit({ type: 'status_changed', status: 'playing' });
    p.advance('b');
    expect(core.sent).toContainEqual({ type: 'track_ended', track: 'a' });
    // Until the core answers, nothing is hinted from its (stale) state.
    expect(p.upcoming.at(-1)).toBe('b');
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 });
    await settle();
    expect(p.calls.filter((c) => c.startsWith('load'))).toEqual(['load a paused @0']);
    expect(p.upcoming.at(-1)).toBe('c');
    // A queue change that changes what follows is passed on (the player breaks its chain).
    core.emit({ type: 'queue_changed', tracks: ['a', 'b', 'z', 'c'], index: 1, shuffle: false, repeat: 'off' });
    expect(p.upcoming.at(-1)).toBe('z');
    // At the last track, nothing follows with repeat off; the first with repeat all.
    p.advance('z');
    core.emit({ type: 'track_changed', track: 'z', index: 2, start_at_s: 0 });
    p.advance('c');
    core.emit({ type: 'track_changed', track: 'c', index: 3, start_at_s: 0 });
    expect(p.upcoming.at(-1)).toBe(null);
    core.emit({ type: 'queue_changed', tracks: ['a', 'b', 'z', 'c'], index: 3, shuffle: false, repeat: 'all' });
    expect(p.upcoming.at(-1)).toBe('a');
    expect(p.calls.filter((c) => c.startsWith('load'))).toEqual(['load a paused @0']);
    f.stop();
  });

  it('a user action that changes the track loads it fresh (the chain is not used)', async () => {
    const core = new FakeCore(state({ tracks: ['a', 'b', 'c'], index: 0, status: 'playing' }));
    const p = new ChainPlayer();
    const f = new CoreFollower(core, p);
    f.start();
    await settle();
    core.emit({ type: 'status_changed', status: 'paused' });
    core.emit({ type: 'status_changed', status: 'playing' });
    // Next: the core changes the track without an advance from the player.
    core.emit({ type: 'track_changed', track: 'b', index: 1, start_at_s: 0 });
    // While it loads, nothing is chained.
    expect(p.upcoming.at(-1)).toBe(null);
    await settle();
    expect(p.calls.filter((c) => c.startsWith('load'))).toEqual(['load a paused @0', 'load b play @0']);
    expect(p.upcoming.at(-1)).toBe('c');
    f.stop();
  });
});
