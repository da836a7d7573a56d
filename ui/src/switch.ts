/**
 * A preset or intensity change heard at once (issue 13), through decks in step.
 *
 * Through one MSE element a change can only go in ≥ 0.3 s ahead of the playhead
 * (Chromium has ~0.25 s decoded ahead; BENCHMARKS.md), so it is heard ~0.65 s after the
 * click. Instead, while playing, a silent deck (its own <audio>, MediaSource and Player, as
 * the A/B deck in ab.ts) loads the new rendering at the playhead (`at=`: the span playing
 * there comes first), starts in step with what is heard, and the outputs cross-fade (equal
 * power, ~20 ms; output.ts `setAudible`). The main player switches its key at once too
 * (`setKey` replaces its buffered future, silently while the deck is heard); once its new
 * rendering is at its playhead and it is in step with the deck (the silent one is nudged by
 * playback rate), it cross-fades back — inaudibly, same rendering — and the deck idles.
 *
 * Two decks: a change while a deck is heard prepares the other one (the main player must
 * never seek for a switch: that would stall what the page shows). The latest change wins:
 * a deck still preparing is re-aimed (its fetches are cancelled), nothing queues.
 *
 * No switch through decks (just `setKey`) while paused, while A/B is on, without Web Audio
 * or where a deck cannot stay in step (WebKitGTK, see ab.ts); anything that moves the main
 * player (a seek, a pause, another track, an error) hands back to it at once.
 */
import { DECK_FOLLOWS, type Deck } from './ab';
import type { AudioOutput } from './output';
import { makeKey, parseKey, type Player } from './player';
import { covers } from './policy';

/** Follow this often while a switch is under way. */
const TICK_MS = 10;
/** Where a deck is cued: this far ahead of the heard playhead (the first span arrives meanwhile). */
const CUE_LEAD_S = 0.05;
/** A cued deck starts once its media covers this much after the point it starts at. */
const READY_S = 0.25;
/**
 * A deck started within this of the heard output is faded to (seconds, as the elements report
 * their positions). Two different renderings meet in the fade, so this is a skip or repeat of
 * at most this much (plus the positions' error) inside it.
 */
const FADE_TO_S = 0.012;
/**
 * The hand-back to the main player waits until the two are this close, as the median of the
 * last {@link DRIFT_SAMPLES} readings: the same rendering on both sides. The positions agree
 * with what is heard to a few milliseconds only (the hand-back lands 1–4 ms off, measured by
 * tests/e2e/switch.test.mjs): a short comb inside the 20 ms fade, no skip one can hear.
 */
const HAND_BACK_S = 0.002;
const DRIFT_SAMPLES = 5;
/** Starts of a deck per cue before it is nudged into step instead. */
const MAX_STARTS = 2;
/** Further apart than this, a silent deck jumps; the main player is never made to jump. */
const JUMP_S = 0.25;
/** The silent one catches up at most this much faster or slower. */
const MAX_NUDGE = 0.15;
/** A deck that is not heard this long after its cue is given up (the main player's own switch takes over). */
const GIVE_UP_MS = 4000;
/** The main player's new rendering counts as at its playhead this long after the switch point. */
const SETTLE_S = 0.05;
const LOG_MAX = 200;
/** The main player switches its own rendering once the changes stop for this long. */
const MAIN_QUIET_MS = 300;
/** The deck's own ramp after it starts (its cross-fade in does the rest). */
const DECK_START_FADE_S = 0.004;

/** `leaving`: faded away from, plays on until the fade is over. */
type DeckPhase = 'idle' | 'cueing' | 'starting' | 'playing' | 'leaving';

interface SwitchDeck extends Deck {
  phase: DeckPhase;
  /** The key it was cued with. */
  want: string | null;
  cuedAt: number;
  /** Where it was started (track time). */
  startAt: number;
  /** Starts since its cue (a start that lands too far off is made again, with the skew learned). */
  starts: number;
  /** How far ahead of the heard playhead it was started (the skew learned so far). */
  aim: number;
  /** The track it was last told to load (warm, cue). */
  loading: string | null;
}

export interface SwitchLogEntry {
  at: number;
  what: 'change' | 'cue' | 'start' | 'fade' | 'back' | 'abort' | 'give-up' | 'direct';
  key: string;
  deck: number | null;
  /** Deck minus heard position when it happened (ms), if known. */
  driftMs?: number;
  why?: string;
}

export interface SwitchState {
  /** Who is heard: the main player or deck 0 / 1. */
  heard: 'main' | 0 | 1;
  /** The key the user chose last (what is, or will be, heard). */
  key: string;
  decks: { phase: DeckPhase; want: string | null; key: string | null; driftMs: number | null }[];
  /** Cross-fades to a deck, and back to the main player. */
  fades: number;
  backs: number;
  /** Learned: how far a deck is past its start point once it reports playing (ms). */
  startSkewMs: number;
  log: SwitchLogEntry[];
}

export class KeySwitch {
  private decks: SwitchDeck[] = [];
  /** Index of the heard deck, or null: the main player is heard. */
  private heard: number | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private disabled = !DECK_FOLLOWS;
  private fades = 0;
  private backs = 0;
  /** A deck's position once playing minus where it was started (seconds), learned. */
  private startSkew = 0;
  private learned = false;
  private log: SwitchLogEntry[] = [];
  private trackId: string | null = null;
  /** The main player's own switch, waiting for the changes to stop. */
  private mainTimer: ReturnType<typeof setTimeout> | null = null;
  /** Recent readings of the main player minus the heard deck (seconds). */
  private drifts: number[] = [];

  constructor(
    private readonly main: Player,
    private readonly mainOut: AudioOutput,
    private readonly makeDeck: () => Deck,
    /** Whether A/B is on (its deck may be the heard one: no switching through decks then). */
    private readonly abOn: () => boolean = () => false,
  ) {
    const a = main.audio;
    // Anything that moves the main player hands back to it (it renders the latest key already).
    for (const ev of ['seeking', 'pause', 'emptied', 'ended']) a.addEventListener(ev, () => this.abort(ev));
    main.addEventListener('advance', () => this.abort('advance'));
    main.addEventListener('failure', () => this.abort('failure'));
  }

  /** Hand back to the main player now (A/B takes over the outputs). */
  stop(): void {
    this.abort('stopped');
  }

  /** The desktop's native output plays elsewhere: changes go through `setKey` only. */
  disable(): void {
    this.abort('disabled');
    this.disabled = true;
  }

  /** The outputs of the decks made so far (tests listen to what passes their gates). */
  get outputs(): AudioOutput[] {
    return this.decks.map((d) => d.output);
  }

  get deckPlayers(): Player[] {
    return this.decks.map((d) => d.player);
  }

  setVolume(v: number): void {
    for (const d of this.decks) d.output.setVolume(v);
  }

  /**
   * The user reaches for the preset or intensity control: load the track on a deck now
   * (paused, the current rendering: the server has it), so a change only has to fetch the
   * new rendering's span.
   */
  warm(): void {
    if (!this.usable()) return;
    const track = this.main.track!;
    if (this.decks.length === 0) this.decks.push(this.newDeck());
    const free = this.decks.find((d, i) => i !== this.heard && d.phase === 'idle');
    const p = free?.player;
    if (!p || (p.track && String(p.track.id) === String(track.id) && !p.error)) return;
    // Still loading it (the pointer came back): let that load finish.
    if (!p.track && !p.error && free.loading === String(track.id)) return;
    free.loading = String(track.id);
    p.preset = this.main.preset;
    p.intensity = this.main.intensity;
    void p.load(track.id, { autoplay: false, position: this.main.currentTime });
  }

  /**
   * The user chose `preset` at `intensity`: the main player switches to it, and while it
   * plays the change is heard through a deck.
   */
  change(preset: string, intensity: number): void {
    const x = Math.max(0, Math.min(1, intensity));
    const key = makeKey(preset, x);
    const was = this.main.key;
    this.note({ what: 'change', key, deck: null });
    if (!this.usable()) {
      if (this.heard !== null || this.decks.some((d) => d.phase !== 'idle')) this.abort('not usable');
      this.main.setPreset(preset, x);
      if (this.main.key !== was) this.note({ what: 'direct', key, deck: null });
      return;
    }
    // The player shows the choice at once; its own switch waits until the changes stop for
    // MAIN_QUIET_MS (a deck is heard meanwhile): quick changes do not each replace its
    // buffered future, which under load left it waiting at the end of what it had.
    this.main.preset = preset;
    this.main.intensity = x;
    this.main.dispatchEvent(new Event('change'));
    if (this.mainTimer !== null) clearTimeout(this.mainTimer);
    this.mainTimer = setTimeout(() => this.switchMain(), MAIN_QUIET_MS);
    const heardKey = this.heard === null ? this.mainHeardKey() : this.decks[this.heard]!.want;
    if (heardKey === key) {
      // Back to what is heard: stop preparing anything else.
      this.decks.forEach((d, i) => i !== this.heard && d.phase !== 'leaving' && this.idle(d));
      this.ensureTimer();
      return;
    }
    // A deck not heard: one already aimed at this key, else any.
    let i = this.decks.findIndex((d, j) => j !== this.heard && d.want === key && d.phase !== 'idle' && d.phase !== 'leaving');
    if (i < 0) i = this.decks.findIndex((_, j) => j !== this.heard);
    if (i < 0 || (this.decks.length < 2 && this.heard !== null)) {
      this.decks.push(this.newDeck());
      i = this.decks.length - 1;
    }
    const d = this.decks[i]!;
    // Other silent decks stop (the latest change wins).
    this.decks.forEach((o, j) => j !== i && j !== this.heard && o.phase !== 'leaving' && this.idle(o));
    if (d.want !== key || d.phase === 'idle' || d.phase === 'leaving') this.cue(d, i, key);
    this.ensureTimer();
  }

  state(): SwitchState {
    const heardT = this.heardTime();
    return {
      heard: this.heard === null ? 'main' : (this.heard as 0 | 1),
      key: this.main.key,
      decks: this.decks.map((d) => ({
        phase: d.phase,
        want: d.want,
        key: d.player.track ? d.player.key : null,
        driftMs: d.phase === 'playing' && d.player.track ? Math.round((d.player.currentTime - heardT) * 1000) : null,
      })),
      fades: this.fades,
      backs: this.backs,
      startSkewMs: Math.round(this.startSkew * 1000),
      log: [...this.log],
    };
  }

  // ------------------------------------------------------------ internals

  private usable(): boolean {
    const a = this.main.audio;
    return !this.disabled && !!this.main.track && !a.paused && !a.seeking && !a.ended && this.mainOut.webAudio && !this.abOn() && !this.main.error;
  }

  /** The key whose media is at the main player's playhead (null while it is between two). */
  private mainHeardKey(): string | null {
    const ps = this.main.policy.state();
    if (ps.switching || ps.pendingSeek !== null) return null;
    if (ps.staleBefore !== null && this.main.currentTime < ps.staleBefore + SETTLE_S) return null;
    return ps.key;
  }

  private newDeck(): SwitchDeck {
    const d = this.makeDeck();
    d.player.mediaSession = false;
    d.output.setAudible(false);
    // Its start is heard only through the cross-fade, which is the ramp.
    d.output.fadeInS = DECK_START_FADE_S;
    return { ...d, phase: 'idle', want: null, cuedAt: 0, startAt: 0, starts: 0, aim: 0, loading: null };
  }

  private heardPlayer(): Player {
    return this.heard === null ? this.main : this.decks[this.heard]!.player;
  }

  private heardTime(): number {
    return this.heardPlayer().currentTime;
  }

  /** Load `key` on deck `d` at the heard playhead, paused (it starts once its media is in). */
  private cue(d: SwitchDeck, i: number, key: string): void {
    const p = d.player;
    const track = this.main.track!;
    const { preset, intensity } = parseKey(key);
    d.want = key;
    d.phase = 'cueing';
    d.cuedAt = performance.now();
    d.starts = 0;
    p.audio.pause();
    p.audio.playbackRate = 1;
    const at = this.heardTime() + CUE_LEAD_S;
    this.trackId = String(track.id);
    if (!p.track || String(p.track.id) !== String(track.id) || p.error) {
      d.loading = String(track.id);
      p.preset = preset;
      p.intensity = intensity;
      void p.load(track.id, { autoplay: false, position: at });
    } else {
      p.setPreset(preset, intensity);
      p.seek(at);
    }
    this.note({ what: 'cue', key, deck: i });
  }

  private idle(d: SwitchDeck): void {
    if (d.phase === 'idle') return;
    d.phase = 'idle';
    d.want = null;
    d.output.setAudible(false);
    d.player.audio.pause();
    d.player.audio.playbackRate = 1;
  }

  private ensureTimer(): void {
    if (this.timer === null) this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The main player's own switch to the latest choice (its `setKey`), now. */
  private switchMain(): void {
    if (this.mainTimer !== null) clearTimeout(this.mainTimer);
    this.mainTimer = null;
    this.main.setPreset(this.main.preset, this.main.intensity);
  }

  /** Hand back to the main player at once (it renders the latest key already) and idle the decks. */
  private abort(why: string): void {
    if (this.mainTimer !== null) this.switchMain();
    const wasHeard = this.heard;
    if (wasHeard !== null) {
      this.mainOut.setAudible(true, 'power');
      this.main.audio.playbackRate = 1;
      this.heard = null;
      this.note({ what: 'abort', key: this.main.key, deck: wasHeard, why });
    } else if (this.decks.some((d) => d.phase !== 'idle')) {
      this.note({ what: 'abort', key: this.main.key, deck: null, why });
    }
    for (const d of this.decks) this.idle(d);
    this.stopTimer();
  }

  private tick(): void {
    const main = this.main;
    if (!main.track || String(main.track.id) !== this.trackId || !this.usable()) {
      this.abort('moved');
      return;
    }
    const heardT = this.heardTime();
    const now = performance.now();
    this.decks.forEach((d, i) => {
      if (i === this.heard || d.phase === 'idle' || d.phase === 'leaving') return;
      const p = d.player;
      if (p.error || (d.want !== null && p.track && p.key !== d.want) || now - d.cuedAt > GIVE_UP_MS) {
        this.note({ what: 'give-up', key: d.want ?? '', deck: i, why: p.error ?? 'too slow' });
        this.idle(d);
        return;
      }
      // The main player got there on its own first: no deck needed (it takes over, below).
      if (this.mainHeardKey() === d.want) {
        this.note({ what: 'give-up', key: d.want ?? '', deck: i, why: 'main player first' });
        this.idle(d);
        return;
      }
      if (d.phase === 'cueing') {
        if (!p.track || p.audio.seeking || !this.ready(p, heardT)) return;
        // Start where the heard output will be when the deck reports playing.
        d.aim = Math.max(0, -this.startSkew);
        const start = heardT + d.aim;
        d.startAt = start;
        d.starts += 1;
        p.audio.currentTime = start;
        d.phase = 'starting';
        void p.play();
        this.note({ what: 'start', key: d.want!, deck: i });
        return;
      }
      if (p.audio.paused || p.audio.seeking) return;
      const drift = p.currentTime - heardT;
      if (d.phase === 'starting') {
        if (Math.abs(p.currentTime - d.startAt) < 0.002) return; // not moving yet
        // Learn how far off a start lands (slowly, the first one counts fully).
        const landed = drift - d.aim;
        this.startSkew = this.learned ? 0.6 * this.startSkew + 0.4 * landed : landed;
        this.learned = true;
        d.phase = 'playing';
        if (Math.abs(drift) > FADE_TO_S && d.starts < MAX_STARTS) {
          // Faster than nudging it there: start again, aimed with what was just learned.
          p.audio.pause();
          d.phase = 'cueing';
          return;
        }
      }
      if (Math.abs(drift) > JUMP_S) {
        d.phase = 'cueing';
        return;
      }
      if (Math.abs(drift) <= FADE_TO_S && this.ready(p, heardT)) {
        this.fadeTo(i, drift);
        return;
      }
      this.nudge(p.audio, drift);
    });

    // A deck is heard: the main player (silent) follows it, and takes over again once it
    // renders the latest key at its playhead and is in step.
    if (this.heard !== null) {
      const d = this.decks[this.heard]!;
      const p = d.player;
      if (p.error || p.audio.paused || !p.track) {
        this.abort('deck stopped');
        return;
      }
      const drift = main.currentTime - p.currentTime;
      this.drifts.push(drift);
      if (this.drifts.length > DRIFT_SAMPLES) this.drifts.shift();
      const steady = this.drifts.length === DRIFT_SAMPLES ? [...this.drifts].sort((x, y) => x - y)[DRIFT_SAMPLES >> 1]! : Infinity;
      if (Math.abs(drift) > JUMP_S) {
        this.abort('main player out of step');
        return;
      }
      const settled = this.mainHeardKey() === main.key;
      const preparing = this.decks.some((o, j) => j !== this.heard && o.phase !== 'idle' && o.phase !== 'leaving');
      if (!settled && !preparing && d.want !== main.key && now - d.cuedAt > GIVE_UP_MS) {
        this.abort('stuck');
        return;
      }
      if (settled && d.want === main.key && Math.abs(steady) <= HAND_BACK_S && Math.abs(drift) <= 2 * HAND_BACK_S) {
        this.handBack(steady);
        return;
      }
      // A newer choice than the deck's, and the player renders it already: it takes over as
      // a deck would (two renderings meet in the fade).
      if (settled && d.want !== main.key && Math.abs(steady) <= FADE_TO_S) {
        this.handBack(steady);
        return;
      }
      this.nudge(main.audio, drift);
      return;
    }
    if (this.decks.every((d) => d.phase === 'idle' || d.phase === 'leaving')) this.stopTimer();
  }

  /** Media at and past the heard playhead on this deck, of its key. */
  private ready(p: Player, heardT: number): boolean {
    return covers(p.bufferedRanges(), heardT, heardT + READY_S, 0.01);
  }

  /** The silent one catches up within about a quarter of a second. */
  private nudge(el: HTMLAudioElement, drift: number, gain = 6): void {
    el.playbackRate = Math.abs(drift) < 0.00002 ? 1 : 1 - Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, gain * drift));
  }

  private fadeTo(i: number, drift: number): void {
    const d = this.decks[i]!;
    const from = this.heard;
    // Two different renderings: an equal-power fade.
    if (from === null) this.mainOut.setAudible(false, 'power');
    else this.decks[from]!.output.setAudible(false, 'power');
    d.output.setAudible(true, 'power');
    d.player.audio.playbackRate = 1;
    this.heard = i;
    this.drifts = [];
    this.fades += 1;
    this.note({ what: 'fade', key: d.want ?? '', deck: i, driftMs: Math.round(drift * 1000) });
    // The deck heard before idles after the fade (unless it was cued again meanwhile).
    if (from !== null) this.idleLater(from);
  }

  private handBack(drift: number): void {
    const i = this.heard!;
    const d = this.decks[i]!;
    // The same rendering in step: equal gain keeps the level (two different ones: equal power).
    const shape = d.want === this.main.key ? 'gain' : 'power';
    this.mainOut.setAudible(true, shape);
    d.output.setAudible(false, shape);
    this.main.audio.playbackRate = 1;
    this.heard = null;
    this.backs += 1;
    this.note({ what: 'back', key: this.main.key, deck: i, driftMs: Math.round(drift * 10000) / 10 });
    this.idleLater(i);
  }

  /** Idle deck `i` once the fade away from it is over, if nothing else wanted it meanwhile. */
  private idleLater(i: number): void {
    const d = this.decks[i]!;
    d.phase = 'leaving';
    setTimeout(() => {
      if (this.heard !== i && d.phase === 'leaving') this.idle(d);
    }, 60);
  }

  private note(e: Omit<SwitchLogEntry, 'at'>): void {
    this.log.push({ at: performance.now(), ...e });
    if (this.log.length > LOG_MAX) this.log.splice(0, this.log.length - LOG_MAX);
  }
}
