/**
 * The preset/intensity switch's decisions (switch.ts) on fake players: when a deck is used,
 * who is heard, the latest change winning, the hand-back. The real elements, what is heard
 * and the timing are tested in Chromium (tests/e2e/switch.test.mjs).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { KeySwitch } from '../src/switch';
import type { AudioOutput } from '../src/output';
import { makeKey, type Player } from '../src/player';

class FakeAudio extends EventTarget {
  currentTime = 0;
  paused = true;
  seeking = false;
  ended = false;
  playbackRate = 1;
  pause(): void {
    this.paused = true;
  }
}

class FakePolicy {
  key = 'bypass@1';
  switching = false;
  staleBefore: number | null = null;
  state() {
    return { key: this.key, switching: this.switching, pendingSeek: null, staleBefore: this.staleBefore };
  }
}

class FakePlayer extends EventTarget {
  audio = new FakeAudio();
  policy = new FakePolicy();
  track: { id: string } | null = null;
  preset = 'bypass';
  intensity = 1;
  error: string | null = null;
  mediaSession = true;
  loads = 0;
  seeks: number[] = [];
  /** Media in the buffer (of the current key), or none until delivered. */
  buffered: [number, number][] = [];
  get key(): string {
    return makeKey(this.preset, this.intensity);
  }
  get currentTime(): number {
    return this.audio.currentTime;
  }
  setPreset(p: string, x = this.intensity): void {
    this.preset = p;
    this.intensity = x;
    this.buffered = [];
    if (this.policy.key !== this.key) {
      this.policy.key = this.key;
      this.policy.switching = true;
    }
  }
  async load(id: string, opts: { autoplay?: boolean; position?: number }): Promise<void> {
    this.loads += 1;
    this.track = null;
    this.buffered = [];
    await Promise.resolve();
    this.track = { id };
    this.policy.key = this.key;
    this.audio.currentTime = opts.position ?? 0;
    this.audio.paused = !opts.autoplay;
  }
  seek(t: number): void {
    this.seeks.push(t);
    this.audio.currentTime = t;
    this.buffered = [];
  }
  async play(): Promise<void> {
    this.audio.paused = false;
  }
  bufferedRanges(): [number, number][] {
    return this.buffered;
  }
  /** The new rendering's first span arrived: from before the playhead to 5 s on. */
  deliver(): void {
    this.buffered = [[this.audio.currentTime - 1, this.audio.currentTime + 5]];
  }
}

class FakeOutput {
  isAudible = true;
  webAudio = true;
  fadeInS = 0.04;
  setAudible(on: boolean): void {
    this.isAudible = on;
  }
  setVolume(): void {}
}

function world() {
  const main = new FakePlayer();
  main.track = { id: 't1' };
  main.audio.paused = false;
  main.audio.currentTime = 10;
  const mainOut = new FakeOutput();
  const decks: { player: FakePlayer; output: FakeOutput }[] = [];
  let abOn = false;
  const sw = new KeySwitch(
    main as unknown as Player,
    mainOut as unknown as AudioOutput,
    () => {
      const d = { player: new FakePlayer(), output: new FakeOutput() };
      decks.push(d);
      return d as unknown as { player: Player; output: AudioOutput };
    },
    () => abOn,
  );
  /** `n` ticks of 10 ms: the playing elements advance at their rates. */
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      for (const p of [main, ...decks.map((d) => d.player)]) if (!p.audio.paused) p.audio.currentTime += 0.01 * p.audio.playbackRate;
      await vi.advanceTimersByTimeAsync(10);
    }
  };
  /** The player's own switch is done: its new rendering is at its playhead. */
  const settle = () => {
    main.policy.switching = false;
    main.policy.staleBefore = main.currentTime - 1;
  };
  return { main, mainOut, decks, sw, run, settle, setAb: (on: boolean) => (abOn = on) };
}

describe('preset/intensity switch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('paused, or with A/B on: the player switches on its own, no deck', async () => {
    const { main, decks, sw, setAb } = world();
    main.audio.paused = true;
    sw.change('warm', 1);
    expect(main.key).toBe('warm@1');
    expect(decks).toHaveLength(0);
    main.audio.paused = false;
    setAb(true);
    sw.change('bright', 0.5);
    expect(main.key).toBe('bright@0.5');
    expect(decks).toHaveLength(0);
  });

  it('playing: a deck loads the new rendering at the playhead, is faded to in step, and hands back', async () => {
    const { main, mainOut, decks, sw, run, settle } = world();
    sw.change('warm', 1);
    // The player switches at once (behind the fade), a deck cues the new key, paused.
    expect(main.key).toBe('warm@1');
    expect(decks).toHaveLength(1);
    const d = decks[0]!;
    await run(1);
    expect(d.player.key).toBe('warm@1');
    expect(d.player.audio.paused).toBe(true);
    expect(d.output.fadeInS).toBeLessThan(0.01);
    // Its media arrives: it starts where the heard playhead is and is faded to.
    d.player.deliver();
    await run(3);
    expect(d.player.audio.paused).toBe(false);
    expect(Math.abs(d.player.currentTime - main.currentTime)).toBeLessThan(0.012);
    expect(sw.state().heard).toBe(0);
    expect(mainOut.isAudible).toBe(false);
    expect(d.output.isAudible).toBe(true);
    // The player's own switch waits for the changes to stop (300 ms) and takes its time;
    // until it is done the player stays silent; then it takes over.
    expect(main.policy.key).toBe('bypass@1');
    await run(40);
    expect(main.policy.key).toBe('warm@1');
    expect(sw.state().heard).toBe(0);
    settle();
    await run(10);
    expect(sw.state()).toMatchObject({ heard: 'main', fades: 1, backs: 1 });
    expect(mainOut.isAudible).toBe(true);
    expect(d.output.isAudible).toBe(false);
    await run(10);
    expect(d.player.audio.paused).toBe(true);
    expect(sw.state().decks[0]!.phase).toBe('idle');
  });

  it('the latest change wins: a deck still loading is re-aimed, nothing queues; the player switches once', async () => {
    const { main, decks, sw, run } = world();
    sw.change('warm', 1);
    await run(1);
    sw.change('warm', 0.4);
    sw.change('bright', 0.4);
    await run(1);
    expect(decks).toHaveLength(1);
    const d = decks[0]!;
    expect(d.player.key).toBe('bright@0.4');
    expect(main.key).toBe('bright@0.4');
    d.player.deliver();
    await run(3);
    expect(sw.state().log.filter((e) => e.what === 'fade').map((e) => e.key)).toEqual(['bright@0.4']);
    // The player's own switch: once, to the last choice, after the changes stopped.
    const keys: string[] = [];
    const orig = main.setPreset.bind(main);
    main.setPreset = (p: string, x?: number) => {
      orig(p, x);
      keys.push(main.key);
    };
    await run(40);
    expect(keys).toEqual(['bright@0.4']);
    expect(main.policy.key).toBe('bright@0.4');
  });

  it('a change while a deck is heard goes to the other deck; the first one idles', async () => {
    const { decks, sw, run } = world();
    sw.change('warm', 1);
    await run(1);
    decks[0]!.player.deliver();
    await run(3);
    expect(sw.state().heard).toBe(0);
    sw.change('bright', 1);
    expect(decks).toHaveLength(2);
    await run(1);
    decks[1]!.player.deliver();
    await run(3);
    expect(sw.state().heard).toBe(1);
    expect(decks[0]!.output.isAudible).toBe(false);
    expect(decks[1]!.output.isAudible).toBe(true);
    await run(10);
    expect(decks[0]!.player.audio.paused).toBe(true);
    // A third change reuses the idle deck: never more than two.
    sw.change('warm', 0.5);
    expect(decks).toHaveLength(2);
    expect(sw.state().decks[0]!.want).toBe('warm@0.5');
  });

  it('a seek while a deck is heard hands back to the player at once', async () => {
    const { main, mainOut, decks, sw, run } = world();
    sw.change('warm', 1);
    await run(1);
    decks[0]!.player.deliver();
    await run(3);
    expect(mainOut.isAudible).toBe(false);
    main.audio.dispatchEvent(new Event('seeking'));
    expect(mainOut.isAudible).toBe(true);
    expect(sw.state().heard).toBe('main');
    expect(decks[0]!.player.audio.paused).toBe(true);
  });

  it('back to what is heard: nothing is loaded', async () => {
    const { main, decks, sw, run, settle } = world();
    settle();
    sw.change('bypass', 1);
    expect(main.key).toBe('bypass@1');
    await run(2);
    expect(decks).toHaveLength(0);
  });
});

describe('preset/intensity switch, a newer choice', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the player renders it before the other deck is ready: the player takes over, the deck idles', async () => {
    const { main, mainOut, decks, sw, run, settle } = world();
    sw.change('warm', 1);
    await run(1);
    decks[0]!.player.deliver();
    await run(3);
    expect(sw.state().heard).toBe(0);
    // A newer choice; its deck has no media yet when the player's own switch is done.
    sw.change('bright', 1);
    await run(35);
    settle();
    await run(10);
    expect(sw.state().heard).toBe('main');
    expect(mainOut.isAudible).toBe(true);
    expect(main.key).toBe('bright@1');
    await run(10);
    expect(sw.state().decks.every((d) => d.phase === 'idle')).toBe(true);
    expect(decks.every((d) => !d.output.isAudible)).toBe(true);
  });
});
