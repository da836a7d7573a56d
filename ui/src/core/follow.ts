/**
 * The page as an output of the core: the MSE player loads, plays, pauses and seeks
 * as the core says, and reports back what it does (position, end of track, failure).
 * A track the user clicks starts loading at once (optimistic); the core's
 * `track_changed` for it does not load it again (TrackFollower).
 */
import type { Core } from './client';
import { upcomingTrack } from '../policy/timeline';
import { currentTrack, TrackFollower, type Event, type PlayerState } from './model';

/** What the follower needs of the MSE player (player.ts), so it can be tested without MSE. */
export interface OutputPlayer extends EventTarget {
  track: { id: string | number } | null;
  readonly currentTime: number;
  readonly error: string | null;
  readonly audio: { paused: boolean; ended: boolean };
  load(id: string, opts?: { autoplay?: boolean; position?: number }): Promise<void>;
  play(): Promise<void>;
  pause(): void;
  /** While a track loads, a seek moves where it starts. */
  seek(t: number): void;
  /** Gapless: the track that plays when the current one ends by itself (null: none). */
  setUpcoming?(id: string | null): void;
}

export const POSITION_EVERY_MS = 1000;
/** How long the core's echo of this page's own seek is waited for. */
const OWN_SEEK_MS = 5000;

export class CoreFollower {
  readonly tracks = new TrackFollower();
  private loading = 0;
  private pendingSeek: number | null = null;
  /** A seek made on this page (applied at once); the core's echo of it is not applied again. */
  private ownSeek: { t: number; at: number } | null = null;
  /** The track of the last load started. */
  private loadingId: string | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private wasPlaying = false;
  private lastReported = -1;
  /**
   * The page just opened while the core says "playing" (another page played, or this one
   * was reloaded): nothing plays by itself (a browser would refuse anyway without a
   * gesture); the core is asked to pause, and its status counts as paused until it answers.
   */
  private holdPaused = false;

  constructor(
    readonly core: Core,
    readonly player: OutputPlayer,
    private readonly opts: { resume?: boolean; reports?: boolean } = {},
  ) {
    core.addEventListener('event', (e) => this.onEvent((e as CustomEvent<Event>).detail));
    core.addEventListener('state', (e) => this.onState((e as CustomEvent<PlayerState>).detail));
    // `reports: false`: the sound is made elsewhere (the desktop's native output, which
    // reports to the core itself); this page only shows it.
    if (opts.reports === false) return;
    player.addEventListener('ended', () => {
      const id = this.playingId();
      if (id !== null) void core.send({ type: 'track_ended', track: id });
    });
    // Gapless: the player went on into the chained track on the same timeline. The core
    // hears that the track ended; its track_changed for the next one must not reload it.
    player.addEventListener('advance', (e) => {
      const { from, to } = (e as CustomEvent<{ from: string; to: string }>).detail;
      this.tracks.optimistic(to);
      void core.send({ type: 'track_ended', track: from });
    });
    player.addEventListener('failure', (e) => {
      const id = this.playingId() ?? this.tracks.loaded;
      if (id === null) return;
      const message = (e as CustomEvent<string>).detail || player.error || 'Playback of this track failed.';
      void core.send({ type: 'track_failed', track: id, message });
    });
    player.addEventListener('change', () => {
      // Paused (by the core, the OS, the end): say where.
      const playing = !player.audio.paused;
      if (this.wasPlaying && !playing) this.report(true);
      this.wasPlaying = playing;
    });
  }

  /**
   * A seek on this page's controls: the player goes there at once (a track still loading
   * starts there) and the core hears of it; its echo is not applied a second time. Waiting
   * for the echo let a track just clicked start playing from 0 first.
   */
  seekHere(t: number): void {
    this.ownSeek = { t, at: performance.now() };
    this.player.seek(t);
    void this.core.send({ type: 'seek', position_s: t });
  }

  /**
   * Follow the core's current state now (after connecting) and report the position every
   * second. With `resume` (the desktop app) a playing core goes on playing here.
   */
  start(): void {
    const s = this.core.state();
    if (s.status === 'playing' && currentTrack(s) !== null && !this.opts.resume) {
      this.holdPaused = true;
      void this.core.send({ type: 'pause' });
    }
    this.onState(s);
    if (this.timer === null) this.timer = setInterval(() => this.report(false), POSITION_EVERY_MS);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The user started `id` (a click): load it now, before the core answers. */
  playNow(id: string): Promise<void> {
    this.holdPaused = false;
    this.tracks.optimistic(id);
    return this.load(id, true, 0);
  }

  /** A click is on its way to the core (its answer has not come back). */
  get awaitingCore(): boolean {
    return this.tracks.expecting !== null;
  }

  /** The id of what the player has loaded, when it is the core's current track. */
  private playingId(): string | null {
    const t = this.player.track;
    return t === null ? null : String(t.id);
  }

  /** The core's status as the output follows it. */
  private status(s: PlayerState): PlayerState['status'] {
    return this.holdPaused && s.status === 'playing' ? 'paused' : s.status;
  }

  /**
   * Tell the player what follows the track it plays (the core's upcoming track), only while
   * it plays the core's current track and no answer from the core is awaited.
   */
  private hint(): void {
    if (!this.player.setUpcoming) return;
    const s = this.core.state();
    const id = this.playingId();
    const mine = id !== null && id === currentTrack(s) && !this.awaitingCore && this.loading === 0;
    this.player.setUpcoming(mine ? upcomingTrack(s) : null);
  }

  private onEvent(e: Event): void {
    this.handle(e);
    this.hint();
  }

  private handle(e: Event): void {
    const s = this.core.state();
    if (e.type === 'status_changed') this.holdPaused = false;
    switch (e.type) {
      case 'track_changed': {
        const d = this.tracks.trackChanged(e.track);
        if (d === 'load' && e.track !== null) void this.load(e.track, this.status(s) === 'playing', e.start_at_s);
        else if (d === 'stop') this.player.pause();
        // Its status_changed usually follows (play_now from stopped): never pause here.
        else this.sync(true);
        break;
      }
      case 'status_changed':
        this.sync();
        break;
      case 'seeked':
        // A click is on its way to the core: this seek was made before it (the clicked track
        // starts where the click said; a seek made since went to the player directly).
        if (this.awaitingCore) break;
        // This page's own seek, already applied (a later one of this page's replaces it).
        if (this.ownSeek && Math.abs(this.ownSeek.t - e.position_s) < 0.001 && performance.now() - this.ownSeek.at < OWN_SEEK_MS) {
          this.ownSeek = null;
          break;
        }
        if (this.loading > 0 && this.loadingId === currentTrack(s)) {
          // The core's track is loading: the player starts there, or seeks as soon as it
          // streams — not after the load has started playing from where it began.
          this.pendingSeek = null;
          this.player.seek(e.position_s);
        } else if (this.loading > 0 || this.playingId() !== currentTrack(s)) this.pendingSeek = e.position_s;
        else if (Math.abs(this.player.currentTime - e.position_s) > 0.01 || this.player.audio.ended) this.player.seek(e.position_s);
        break;
      default:
        break;
    }
  }

  private onState(s: PlayerState): void {
    this.follow(s);
    this.hint();
  }

  private follow(s: PlayerState): void {
    const id = currentTrack(s);
    const d = this.tracks.stateArrived(id);
    if (d === 'load' && id !== null) void this.load(id, this.status(s) === 'playing', s.position_s);
    else if (d === 'stop') this.player.pause();
    else {
      // Same track (a reconnect): catch up with a seek made meanwhile.
      if (id !== null && this.playingId() === id && this.loading === 0 && Math.abs(this.player.currentTime - s.position_s) > 3 && this.status(s) !== 'playing') {
        this.player.seek(s.position_s);
      }
      this.sync();
    }
  }

  private async load(id: string, autoplay: boolean, position: number): Promise<void> {
    this.loading++;
    this.loadingId = id;
    this.pendingSeek = null;
    try {
      await this.player.load(id, { autoplay, position });
    } finally {
      this.loading--;
    }
    if (this.loading > 0 || this.tracks.loaded !== id) return;
    this.hint();
    if (this.pendingSeek !== null) {
      const t = this.pendingSeek;
      this.pendingSeek = null;
      this.player.seek(t);
    }
    this.sync();
  }

  /**
   * Play or pause as the core says, once the player holds the core's current track.
   * `playOnly`: only start playing (the status may be about to change).
   */
  sync(playOnly = false): void {
    const s = this.core.state();
    if (this.loading > 0 || this.awaitingCore) return;
    const id = currentTrack(s);
    if (id === null || this.playingId() !== id) return;
    if (this.status(s) === 'playing') {
      if (this.player.audio.paused && !this.player.audio.ended) void this.player.play();
    } else if (!playOnly && !this.player.audio.paused) {
      this.player.pause();
    }
  }

  /** Tell the core where playback is: every second while playing, and once on pause. */
  private report(force: boolean): void {
    if (this.opts.reports === false) return;
    const s = this.core.state();
    const id = this.playingId();
    if (id === null || id !== currentTrack(s) || this.loading > 0) return;
    if (!force && this.player.audio.paused) return;
    const t = Math.round(this.player.currentTime * 1000) / 1000;
    if (!Number.isFinite(t) || t < 0 || (t === this.lastReported && !force)) return;
    this.lastReported = t;
    void this.core.send({ type: 'position', position_s: t });
  }
}
