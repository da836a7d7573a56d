/**
 * Instant A/B: the chosen preset against the original at its loudness
 * (`original-matched:CHOSEN`).
 *
 * Through one MSE element a flip is a preset switch: the new rendering can only
 * go in ≥ 0.3 s ahead of the playhead (BENCHMARKS.md), so it is heard 0.3–0.6 s
 * after the press. Instead a second deck — its own <audio>, MediaSource and
 * Player, silent — plays the original in step with the main player, and a flip
 * is a ~20 ms cross-fade between the two outputs (output.ts `setAudible`).
 *
 * The deck starts when A/B is first reached for ({@link warm}: the pointer over
 * the control, its focus, the first flip) and then follows the main player:
 * its track, play/pause, seeks (as events), and its position, by nudging the
 * silent deck's playback rate (a jump when far off). The main player stays the
 * one the page shows and controls; the silent one of the two follows the heard
 * one.
 *
 * The deck is heard only while it is in step; otherwise (warming up, a new
 * track loading on it, a failure) the main player plays the original itself
 * through the old switch path, and hands over to the deck, inaudibly (same
 * rendering, in step), once it is ready.
 */
import { makeKey, type Player } from './player';
import type { AudioOutput } from './output';

/** What the A/B control compares with. */
export const AB_PRESET = 'original-matched';

/** The A/B original for the chosen preset: at that preset's loudness (bypass has none to match). */
export function abChoice(chosen: string): string {
  return chosen === 'bypass' ? AB_PRESET : `${AB_PRESET}:${chosen}`;
}

/** Follow the heard deck this often. */
const FOLLOW_MS = 100;
/**
 * In step: the two positions this close (seconds); once in step, it stays so up to
 * {@link OUT_OF_STEP_S} (the elements report positions with ~10 ms of jitter).
 */
const IN_STEP_S = 0.01;
const OUT_OF_STEP_S = 0.04;
/** Further apart than this, the silent deck jumps instead of catching up. */
const JUMP_S = 0.3;
/** The silent deck catches up at most this much faster or slower. */
const MAX_NUDGE = 0.05;

/**
 * Whether a second deck can follow the player closely enough: in Chromium (and WebView2) yes
 * (it holds within a few ms by playback rate). Not in WebKit (WebKitGTK 2.50): there a rate
 * change restarts the GStreamer pipeline (a flushing seek) and seeks land late, so the deck's
 * position swung by up to 1 s and never stayed in step (measured); A/B uses the switch path.
 */
export const DECK_FOLLOWS = typeof navigator === 'undefined' || !/AppleWebKit/.test(navigator.userAgent) || /Chrome\//.test(navigator.userAgent);

export interface Deck {
  player: Player;
  output: AudioOutput;
}

export interface AbState {
  on: boolean;
  /** Which output is heard: the main player's ('a') or the deck's ('b'). */
  heard: 'a' | 'b';
  deck: 'off' | 'following' | 'in step' | 'disabled';
  /** Deck minus main player position, ms (null without a deck). */
  driftMs: number | null;
  flips: number;
}

export class AbSwitch {
  private on = false;
  private chosen = '';
  private deck: Deck | null = null;
  private disabled = false;
  private timer: ReturnType<typeof setInterval> | null = null;
  private loading = false;
  private flips = 0;
  /** Whether the deck is the heard output (the main output may be silenced by switch.ts too). */
  private deckHeard = false;
  /** The positions came within IN_STEP_S and have not drifted past OUT_OF_STEP_S since. */
  private locked = false;
  /** The main player plays the original because this module switched it there. */
  private switched = false;
  /**
   * Where this module last moved the main player to follow the deck: that seek is not
   * mirrored back. Matched by position, so a seek that never fires `seeking` leaves nothing
   * behind to swallow the user's next one.
   */
  private ownSeekTo: number | null = null;

  constructor(
    private readonly main: Player,
    private readonly mainOut: AudioOutput,
    private readonly makeDeck: () => Deck,
  ) {
    const a = main.audio;
    a.addEventListener('play', () => {
      if (this.deck && this.deck.player.track && this.deck.player.audio.paused) void this.deck.player.play();
    });
    a.addEventListener('pause', () => this.deck?.player.pause());
    a.addEventListener('seeking', () => {
      // Track time, not the element's (gapless: a track may start later on the timeline).
      const own = this.ownSeekTo !== null && Math.abs(main.currentTime - this.ownSeekTo) < 0.05;
      this.ownSeekTo = null;
      if (own) return;
      if (this.deck?.player.track) this.deck.player.seek(main.currentTime);
    });
  }

  /** Turn A/B on (hear the original) or off, for the preset `chosen` in the selector. */
  set(on: boolean, chosen: string): void {
    this.on = on;
    this.chosen = chosen;
    if (on) this.warm();
    this.apply();
  }

  /** Start the deck ahead of a flip for the preset `chosen` (no-op once started, or when disabled). */
  warm(chosen = this.chosen): void {
    this.chosen = chosen;
    if (this.deck || this.disabled) return;
    if (!DECK_FOLLOWS) {
      this.disable();
      return;
    }
    this.deck = this.makeDeck();
    this.deck.player.mediaSession = false;
    this.deck.output.setAudible(false);
    this.timer = setInterval(() => this.follow(), FOLLOW_MS);
    this.follow();
  }

  /** No deck (the desktop's native output path plays elsewhere): flips use the switch path. */
  disable(): void {
    this.disabled = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // The player is heard again (it may have been the silent one).
    this.mainOut.setAudible(true);
    this.deckHeard = false;
    this.deck?.player.pause();
    this.deck = null;
    this.apply();
  }

  /** The main player's output and the deck's (tests listen to what passes their gates). */
  get outputs(): [AudioOutput, AudioOutput | null] {
    return [this.mainOut, this.deck?.output ?? null];
  }

  /** The deck's player, once started. */
  get deckPlayer(): Player | null {
    return this.deck?.player ?? null;
  }

  setVolume(v: number): void {
    this.deck?.output.setVolume(v);
  }

  state(): AbState {
    const d = this.deck;
    return {
      on: this.on,
      heard: this.deckHeard ? 'b' : 'a',
      deck: this.disabled ? 'disabled' : !d ? 'off' : this.inStep() ? 'in step' : 'following',
      driftMs: d && d.player.track ? Math.round((d.player.currentTime - this.main.currentTime) * 1000) : null,
      flips: this.flips,
    };
  }

  /** The deck plays what a flip needs: this track, the original for the chosen preset. */
  private matches(): boolean {
    const d = this.deck?.player;
    const t = this.main.track;
    return !!d && !!t && !d.error && d.track?.id === t.id && d.key === makeKey(abChoice(this.chosen), this.main.intensity);
  }

  /** Both play (or both stand) in step ({@link locked}), with media to play. */
  private inStep(): boolean {
    if (!this.locked || !this.matches() || !this.deck) return false;
    const a = this.main.audio;
    const b = this.deck.player.audio;
    if (a.seeking || b.seeking || a.paused !== b.paused) return false;
    const t = this.deck.player.currentTime;
    if (!this.deck.player.bufferedRanges().some(([start, end]) => start <= t + 0.01 && end >= t + 0.2)) return false;
    return Math.abs(t - this.main.currentTime) <= OUT_OF_STEP_S;
  }

  /** Who is heard, and what the main player renders. */
  private apply(): void {
    const deckHeard = this.deckHeard;
    // Once heard, the deck stays heard through seeks and small drift (it follows the same
    // clock); it hands back only when it stops playing what the flip needs.
    const useDeck = this.on && !!this.deck && (deckHeard ? this.matches() : this.inStep());
    if (useDeck !== deckHeard) this.crossfade(useDeck);
    const mainOnOriginal = this.on && !useDeck;
    if (mainOnOriginal && this.main.preset !== abChoice(this.chosen)) {
      this.main.setPreset(abChoice(this.chosen));
      this.switched = true;
    } else if (!mainOnOriginal && this.switched) {
      // Undo only what this module did: the chosen preset again (silent, when the deck plays).
      this.switched = false;
      if (this.main.preset !== this.chosen) this.main.setPreset(this.chosen);
    }
  }

  private crossfade(toDeck: boolean): void {
    const deck = this.deck;
    if (!deck) return;
    this.mainOut.setAudible(!toDeck);
    deck.output.setAudible(toDeck);
    this.deckHeard = toDeck;
    // The heard one keeps its pace; the silent one is nudged (follow()).
    (toDeck ? deck.player.audio : this.main.audio).playbackRate = 1;
    this.flips += 1;
  }

  private follow(): void {
    const deck = this.deck;
    const t = this.main.track;
    if (!deck || !t) return;
    const b = deck.player;
    if (!this.chosen) return;
    if (b.track?.id !== t.id) {
      if (this.loading) return;
      this.loading = true;
      const a = this.main.audio;
      b.preset = abChoice(this.chosen);
      b.intensity = this.main.intensity;
      void b.load(t.id, { autoplay: !a.paused, position: this.main.currentTime }).finally(() => {
        this.loading = false;
      });
      this.apply();
      return;
    }
    const want = abChoice(this.chosen);
    if (b.key !== makeKey(want, this.main.intensity)) b.setPreset(want, this.main.intensity);
    const a = this.main.audio;
    if (a.paused !== b.audio.paused && !a.seeking) {
      if (a.paused) b.pause();
      else void b.play();
    }
    // The silent one follows the heard one.
    const deckHeard = this.deckHeard;
    const [lead, lag] = deckHeard ? [b.audio, a] : [a, b.audio];
    // Track times (gapless: the main element's timeline may hold earlier tracks).
    const timeOf = (el: typeof a) => (el === a ? this.main.currentTime : b.currentTime);
    if (lead.seeking || lag.seeking || !this.matches()) this.locked = false;
    if (!lead.paused && !lag.paused && !lead.seeking && !lag.seeking) {
      const leadT = timeOf(lead);
      const d = timeOf(lag) - leadT;
      if (Math.abs(d) <= IN_STEP_S) this.locked = this.matches();
      else if (Math.abs(d) > OUT_OF_STEP_S) this.locked = false;
      if (Math.abs(d) > JUMP_S) {
        if (lag === a) {
          this.ownSeekTo = leadT;
          this.main.seek(leadT);
        } else {
          b.seek(leadT);
        }
      } else {
        // Catch up over about half a second.
        lag.playbackRate = Math.abs(d) < 0.003 ? 1 : 1 - Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, 2 * d));
      }
    }
    this.apply();
  }
}
