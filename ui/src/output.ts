/**
 * Audio output: <audio> → MediaElementSource → fade (GainNode) → tap
 * (GainNode, unity) → gate (GainNode) → volume (GainNode) → destination.
 *
 * `gate` mutes an output that plays in step with another without being heard
 * (the A/B original, ab.ts): {@link setAudible} cross-fades it in ~20 ms.
 *
 * The fade hides the decoder restart after every seek/start (30–50 ms ramp).
 * `tap` is a node tests can connect an AudioWorklet / Analyser to (after the
 * fade, before the volume). Without Web Audio (or while the context cannot
 * run) the element plays directly and volume falls back to element.volume.
 */

const FADE_IN_S = 0.04;
const FADE_OUT_S = 0.008;
/** An A/B flip or a deck switch (switch.ts): short enough to feel instant, long enough not to click. */
const DECK_FADE_S = 0.02;

type Ctor = typeof AudioContext;

/**
 * Ramp `g` to 1 (`on`) or 0 over {@link DECK_FADE_S}, from where it is (an interrupted fade
 * goes on from there), as a value curve: `power` along a quarter sine (two outputs faded
 * this way at once keep their summed power, where linear ramps dip by 3 dB half-way),
 * `gain` along a line (two outputs of the same audio in step keep their sum).
 */
export function crossFade(g: AudioParam, t: number, on: boolean, shape: 'gain' | 'power'): void {
  const from = Math.max(0, Math.min(1, g.value));
  const to = on ? 1 : 0;
  const steps = 32;
  const curve = new Float32Array(steps + 1);
  let share: number;
  if (shape === 'power') {
    // Where on the quarter sine the gain stands now.
    const phase0 = Math.asin(from);
    const phase1 = on ? Math.PI / 2 : 0;
    for (let k = 0; k <= steps; k++) curve[k] = Math.sin(phase0 + ((phase1 - phase0) * k) / steps);
    share = Math.abs(phase1 - phase0) / (Math.PI / 2);
  } else {
    for (let k = 0; k <= steps; k++) curve[k] = from + ((to - from) * k) / steps;
    share = Math.abs(to - from);
  }
  const dur = DECK_FADE_S * Math.max(0.1, share);
  const hold = (g as AudioParam & { cancelAndHoldAtTime?: (t: number) => AudioParam }).cancelAndHoldAtTime;
  try {
    if (hold) hold.call(g, t);
    else {
      g.cancelScheduledValues(t);
      g.setValueAtTime(from, t);
    }
    g.setValueCurveAtTime(curve, t, dur);
  } catch {
    // A curve still running where this one would start (no cancelAndHoldAtTime): a linear ramp.
    g.cancelScheduledValues(0);
    g.setValueAtTime(from, t);
    g.linearRampToValueAtTime(to, t + DECK_FADE_S);
  }
}

export class AudioOutput {
  context: AudioContext | null = null;
  tap: GainNode | null = null;
  private source: MediaElementAudioSourceNode | null = null;
  private fade: GainNode | null = null;
  private volumeNode: GainNode | null = null;
  /** After the tap: whether this output is heard (A/B). Tests read what passes it. */
  gate: GainNode | null = null;
  private volume = 1;
  private audible = true;
  private routed = false;
  private fallbackTimer: ReturnType<typeof setInterval> | null = null;
  /**
   * The ramp after a seek or start. A switch deck (switch.ts) starts silent and is brought in
   * by its own cross-fade, so it ramps for a few milliseconds only.
   */
  fadeInS = FADE_IN_S;

  /** With `context`, shares that AudioContext (a second deck) instead of opening one. */
  constructor(
    readonly audio: HTMLAudioElement,
    context?: AudioContext | null,
  ) {
    if (context !== undefined) this.context = context;
    else this.createContext();
    // Autoplay allowed (tests, the Tauri app): route at once.
    if (this.context?.state === 'running') this.route();
    this.context?.addEventListener('statechange', () => {
      if (this.context?.state === 'running') this.route();
    });
  }

  /** Call from a user gesture: resumes the context and routes the element through it. */
  async ensure(): Promise<void> {
    const ctx = this.context;
    if (!ctx) return;
    if (ctx.state !== 'running') {
      try {
        await Promise.race([ctx.resume(), new Promise((r) => setTimeout(r, 500))]);
      } catch {
        /* stays on the element path */
      }
    }
    if (ctx.state === 'running') this.route();
  }

  get webAudio(): boolean {
    return this.routed;
  }

  get isAudible(): boolean {
    return this.audible;
  }

  /**
   * Heard or not (the element plays on either way): a ~20 ms cross-fade with Web Audio.
   * `gain` ramps linearly: two outputs of the same audio in step keep their sum (A/B's
   * original against a rendering of it, a switch deck handing back to the player); `power`
   * along a quarter sine: two different renderings keep their summed power (a switch).
   */
  setAudible(on: boolean, shape: 'gain' | 'power' = 'gain'): void {
    if (on === this.audible) return;
    this.audible = on;
    if (this.routed && this.context && this.gate) {
      crossFade(this.gate.gain, this.context.currentTime, on, shape);
    } else {
      this.audio.volume = on ? this.volume * this.volume : 0;
    }
  }

  setVolume(v: number): void {
    this.volume = Math.max(0, Math.min(1, v));
    const gain = this.volume * this.volume; // perceptual curve
    if (this.routed && this.context && this.volumeNode) {
      const t = this.context.currentTime;
      this.volumeNode.gain.cancelScheduledValues(t);
      this.volumeNode.gain.setValueAtTime(this.volumeNode.gain.value, t);
      this.volumeNode.gain.setTargetAtTime(gain, t, 0.015);
    } else {
      this.audio.volume = this.audible ? gain : 0;
    }
  }

  /** Silence quickly (before a seek or a pause). */
  fadeOut(): void {
    if (this.routed && this.context && this.fade) {
      const t = this.context.currentTime;
      const g = this.fade.gain;
      g.cancelScheduledValues(t);
      g.setValueAtTime(g.value, t);
      g.linearRampToValueAtTime(0, t + FADE_OUT_S);
    } else {
      this.stopFallback();
      this.audio.volume = 0;
    }
  }

  /** Ramp in from silence (after a seek, a start or resuming). */
  fadeIn(): void {
    if (this.routed && this.context && this.fade) {
      const t = this.context.currentTime;
      const g = this.fade.gain;
      g.cancelScheduledValues(t);
      g.setValueAtTime(0, t);
      g.linearRampToValueAtTime(1, t + this.fadeInS);
    } else {
      // Element volume in a few steps.
      this.stopFallback();
      const target = this.audible ? this.volume * this.volume : 0;
      const t0 = performance.now();
      this.audio.volume = 0;
      this.fallbackTimer = setInterval(() => {
        const k = Math.min(1, (performance.now() - t0) / (this.fadeInS * 1000));
        this.audio.volume = target * k;
        if (k >= 1) this.stopFallback();
      }, 5);
    }
  }

  private stopFallback(): void {
    if (this.fallbackTimer !== null) clearInterval(this.fallbackTimer);
    this.fallbackTimer = null;
  }

  private createContext(): void {
    const w = window as unknown as { AudioContext?: Ctor; webkitAudioContext?: Ctor };
    const C = w.AudioContext ?? w.webkitAudioContext;
    if (!C) return;
    try {
      // The output device's own rate: a context forced to another rate is resampled, and
      // WebKitGTK (2.50) then slips ~3 ms of audio about once a second (measured by
      // tests/desktop/capture.test.mjs with a 48 kHz context on its 44.1 kHz output).
      this.context = new C({ latencyHint: 'playback' });
    } catch {
      try {
        this.context = new C();
      } catch {
        this.context = null;
      }
    }
  }

  private route(): void {
    if (this.routed || !this.context) return;
    try {
      const ctx = this.context;
      this.source = ctx.createMediaElementSource(this.audio);
      this.fade = ctx.createGain();
      this.tap = ctx.createGain();
      this.gate = ctx.createGain();
      this.volumeNode = ctx.createGain();
      this.source.connect(this.fade).connect(this.tap).connect(this.gate).connect(this.volumeNode).connect(ctx.destination);
      this.fade.gain.value = this.audio.paused ? 0 : 1;
      this.gate.gain.value = this.audible ? 1 : 0;
      this.volumeNode.gain.value = this.volume * this.volume;
      this.stopFallback();
      this.audio.volume = 1;
      this.routed = true;
    } catch {
      this.routed = false;
    }
  }
}
