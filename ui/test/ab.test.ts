/**
 * The A/B switch's decisions (ab.ts) on fake players: who is heard, when the
 * player's rendering is switched, and how the silent deck follows. The real
 * elements, cross-fade and timing are tested in Chromium (tests/e2e/ab.test.mjs).
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AbSwitch, abChoice } from '../src/ab';
import type { AudioOutput } from '../src/output';
import { makeKey, type Player } from '../src/player';

class FakeAudio extends EventTarget {
  currentTime = 0;
  paused = true;
  seeking = false;
  playbackRate = 1;
}

class FakePlayer {
  audio = new FakeAudio();
  track: { id: string } | null = null;
  preset = '';
  intensity = 1;
  error: string | null = null;
  mediaSession = true;
  switches: string[] = [];
  get key(): string {
    return makeKey(this.preset, this.intensity);
  }
  get currentTime(): number {
    return this.audio.currentTime;
  }
  setPreset(p: string, x = this.intensity): void {
    this.preset = p;
    this.intensity = x;
    this.switches.push(p);
  }
  /** Like the real one: no track while loading; it starts a little behind `position`. */
  async load(id: string, opts: { autoplay?: boolean; position?: number }): Promise<void> {
    this.track = null;
    await Promise.resolve();
    this.track = { id };
    this.audio.currentTime = (opts.position ?? 0) - 0.05;
    this.audio.paused = !opts.autoplay;
  }
  async play(): Promise<void> {
    this.audio.paused = false;
  }
  pause(): void {
    this.audio.paused = true;
  }
  seek(t: number): void {
    this.audio.currentTime = t;
    this.audio.dispatchEvent(new Event('seeking'));
  }
  bufferedRanges(): [number, number][] {
    return [[0, 1000]];
  }
}

class FakeOutput {
  isAudible = true;
  volume = 1;
  setAudible(on: boolean): void {
    this.isAudible = on;
  }
  setVolume(v: number): void {
    this.volume = v;
  }
}

function world() {
  const main = new FakePlayer();
  main.track = { id: 't1' };
  main.preset = 'warm';
  main.audio.paused = false;
  main.audio.currentTime = 10;
  const mainOut = new FakeOutput();
  const deck = { player: new FakePlayer(), output: new FakeOutput() };
  const ab = new AbSwitch(main as unknown as Player, mainOut as unknown as AudioOutput, () => deck as unknown as { player: Player; output: AudioOutput });
  /** Let the follower run `n` times, the main player advancing 0.1 s each time. */
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      main.audio.currentTime += 0.1;
      if (!deck.player.audio.paused) deck.player.audio.currentTime += 0.1 * deck.player.audio.playbackRate;
      await vi.advanceTimersByTimeAsync(100);
    }
  };
  return { main, mainOut, deck, ab, run };
}

describe('A/B switch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('the original for a preset is at its loudness; bypass has none to match', () => {
    expect(abChoice('warm')).toBe('original-matched:warm');
    expect(abChoice('bypass')).toBe('original-matched');
  });

  it('flips before the deck is in step switch the player; then the deck takes over silently', async () => {
    const { main, mainOut, deck, ab, run } = world();
    ab.set(true, 'warm');
    // Not in step yet: the player renders the original, and is the one heard.
    expect(main.preset).toBe('original-matched:warm');
    expect(mainOut.isAudible).toBe(true);
    expect(deck.player.mediaSession).toBe(false);
    await run(1);
    expect(deck.player.track?.id).toBe('t1');
    expect(deck.player.key).toBe('original-matched:warm@1');
    // The deck started a little behind the player: it catches up by playing faster, and
    // until it is in step the player is heard.
    await run(1);
    expect(deck.player.audio.playbackRate).toBeGreaterThan(1);
    expect(ab.state()).toMatchObject({ heard: 'a', deck: 'following' });
    await run(60);
    // In step: the deck is heard, the player goes back to the chosen preset while silent.
    expect(ab.state()).toMatchObject({ heard: 'b', deck: 'in step', flips: 1 });
    expect(mainOut.isAudible).toBe(false);
    expect(deck.output.isAudible).toBe(true);
    expect(main.preset).toBe('warm');
    // Off and on again: cross-fades only, no more switches on the player.
    const switches = main.switches.length;
    ab.set(false, 'warm');
    expect(ab.state().heard).toBe('a');
    ab.set(true, 'warm');
    expect(ab.state().heard).toBe('b');
    expect(main.switches.length).toBe(switches);
  });

  it('the silent deck follows seeks, pauses and a jump; a new track hands back to the player', async () => {
    const { main, mainOut, deck, ab, run } = world();
    ab.warm('warm');
    await run(2);
    main.seek(42);
    expect(deck.player.audio.currentTime).toBe(42);
    main.audio.paused = true;
    main.audio.dispatchEvent(new Event('pause'));
    expect(deck.player.audio.paused).toBe(true);
    main.audio.paused = false;
    main.audio.dispatchEvent(new Event('play'));
    await run(1);
    expect(deck.player.audio.paused).toBe(false);
    deck.player.audio.currentTime = main.audio.currentTime + 2;
    await run(1);
    expect(Math.abs(deck.player.audio.currentTime - main.audio.currentTime)).toBeLessThan(0.2);
    await run(60);
    ab.set(true, 'warm');
    expect(mainOut.isAudible).toBe(false);
    // The player moves on to another track: until the deck has it, the player is heard,
    // rendering the original.
    main.track = { id: 't2' };
    await run(1);
    expect(mainOut.isAudible).toBe(true);
    expect(main.preset).toBe('original-matched:warm');
  });

  it('disabling while the deck is heard makes the player heard with the original', async () => {
    const { main, mainOut, deck, ab, run } = world();
    ab.warm('warm');
    await run(60);
    ab.set(true, 'warm');
    expect(mainOut.isAudible).toBe(false);
    ab.disable();
    expect(mainOut.isAudible).toBe(true);
    expect(main.preset).toBe('original-matched:warm');
    expect(deck.player.audio.paused).toBe(true);
    expect(ab.state().deck).toBe('disabled');
  });
});
