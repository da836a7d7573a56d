/** The policy's knobs, their defaults (and why), and the retry back-off. */

export interface PolicyConfig {
  /** Seconds of media to keep ahead of the playhead. */
  goalAhead: number;
  /** Lower bound for goalAhead after quota errors. */
  minGoalAhead: number;
  /** Seconds of media kept behind the playhead. */
  keepBehind: number;
  /** Lower bound for keepBehind after quota errors. */
  minKeepBehind: number;
  /** Only evict behind once this much more than keepBehind has piled up. */
  evictHysteresis: number;
  /** Hard cap on the seconds held in the SourceBuffer. */
  maxBuffered: number;
  /** Max chunks fetching + waiting for retry + queued/being appended. */
  maxPending: number;
  /**
   * A preset switch replaces media from >= currentTime + switchLead. Measured in
   * Chromium 156: its audio renderer has ~0.25 s decoded ahead, so with 0.1 s the
   * new sound started ~0.15 s after the switch point at an uncontrolled frame;
   * with 0.3 s it started exactly at the switch point (decoder primed by the
   * pre-roll packet before the window), about as soon after the append.
   */
  switchLead: number;
  /** If the switch chunk starts within this many seconds after the switch point, switch at its start. */
  switchSnap: number;
  /**
   * A switch chunk goes in on its first piece when that piece's media reaches at
   * least this far past the switch point (seconds): time for the next span.
   */
  switchSpare: number;
  /**
   * The server sends the span of a request's `at` first (a streaming `sonance
   * serve`). Without it (the desktop app's whole bodies) requests carry no `at`
   * and a switch chunk is always placed whole.
   */
  spansFirst: boolean;
  /** Packet grid in seconds (20 ms Opus packets). */
  packet: number;
  /** Retries for network failures / 5xx before giving up. */
  maxRetries: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** Quota errors in a row before giving up. */
  maxQuotaStrikes: number;
  /** Tolerance when deciding whether a span is covered by buffered ranges. */
  eps: number;
}

export const DEFAULT_CONFIG: PolicyConfig = {
  goalAhead: 15,
  minGoalAhead: 3,
  keepBehind: 30,
  minKeepBehind: 2,
  evictHysteresis: 5,
  maxBuffered: 90,
  maxPending: 2,
  switchLead: 0.3,
  switchSnap: 0.5,
  switchSpare: 0.5,
  spansFirst: true,
  packet: 0.02,
  maxRetries: 5,
  backoffBaseMs: 500,
  backoffMaxMs: 8000,
  maxQuotaStrikes: 6,
  eps: 0.05,
};

export function backoffMs(cfg: PolicyConfig, attempt: number): number {
  return Math.min(cfg.backoffMaxMs, cfg.backoffBaseMs * 2 ** attempt);
}

/** Failures worth retrying: no answer, 5xx, 408, 429. */
export function isTransient(status: number | undefined): boolean {
  return status === undefined || status >= 500 || status === 408 || status === 429;
}
