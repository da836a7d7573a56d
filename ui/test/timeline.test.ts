import { describe, expect, it } from 'vitest';
import {
  BufferPolicy,
  chainBroken,
  chunkWindow,
  crossed,
  follow,
  segmentAt,
  segmentEnd,
  shiftRanges,
  shouldPrefetchNext,
  toMedia,
  toTrack,
  upcomingTrack,
  type Segment,
  type Snapshot,
  type TrackGrid,
} from '../src/policy';
import { World } from './sim';

// Three tracks cut from one signal at non-packet-aligned sample points (48 kHz).
const D1 = 384_658 / 48_000; // 8.013708333… s
const D2 = (817_022 - 384_658) / 48_000; // 9.00758333… s
const D3 = 5.5;
const g = (duration: number, chunkSeconds = 5): TrackGrid => ({ duration, chunkSeconds, chunkCount: Math.ceil(duration / chunkSeconds - 1e-9) });

function album(): Segment[] {
  const s1: Segment = { id: 'a', start: 0, ...g(D1) };
  const s2 = follow(s1, 'b', g(D2));
  const s3 = follow(s2, 'c', g(D3));
  return [s1, s2, s3];
}

describe('timeline: offsets', () => {
  it('starts each track exactly where the previous one ends (its duration, not a packet boundary)', () => {
    const [s1, s2, s3] = album();
    expect(s1!.start).toBe(0);
    expect(s2!.start).toBe(D1);
    expect(s3!.start).toBe(D1 + D2);
    expect(segmentEnd(s1!)).toBe(s2!.start);
    expect(segmentEnd(s2!)).toBe(s3!.start);
    // Not on the 20 ms grid: no rounding happened.
    expect(Math.abs(s2!.start / 0.02 - Math.round(s2!.start / 0.02))).toBeGreaterThan(0.01);
    // Gap < 1 ms between consecutive tracks (here: exactly 0).
    expect(Math.abs(s3!.start - (s2!.start + D2))).toBeLessThan(1e-9);
  });

  it('gives the append windows [T + k·S, T + min((k+1)·S, d)) in media time', () => {
    const [s1, s2] = album();
    expect(chunkWindow(s1!, 0)).toEqual([0, 5]);
    expect(chunkWindow(s1!, 1)).toEqual([5, D1]);
    expect(chunkWindow(s2!, 0)).toEqual([D1, D1 + 5]);
    const [a, b] = chunkWindow(s2!, 1);
    expect(a).toBe(D1 + 5);
    expect(b).toBe(D1 + D2);
    // The last window of track j ends where the first of j+1 starts.
    expect(chunkWindow(s1!, s1!.chunkCount - 1)[1]).toBe(chunkWindow(s2!, 0)[0]);
  });

  it('converts between track time and media time, and shifts ranges', () => {
    const [, s2] = album();
    expect(toTrack(s2!, D1 + 1.5)).toBeCloseTo(1.5, 12);
    expect(toMedia(s2!, 1.5)).toBe(D1 + 1.5);
    expect(shiftRanges([[D1 - 2, D1 + 5]], -D1)).toEqual([[D1 - 2 - D1, D1 + 5 - D1]]);
  });
});

describe('timeline: which track holds a time', () => {
  it('finds the segment, the boundary belonging to the next track', () => {
    const segs = album();
    expect(segmentAt(segs, 0)).toBe(0);
    expect(segmentAt(segs, D1 - 1e-6)).toBe(0);
    expect(segmentAt(segs, D1)).toBe(1);
    expect(segmentAt(segs, D1 + D2 - 1e-6)).toBe(1);
    expect(segmentAt(segs, D1 + D2)).toBe(2);
    expect(segmentAt(segs, D1 + D2 + D3)).toBe(2); // the very end: the last track
    expect(segmentAt(segs, D1 + D2 + D3 + 0.1)).toBe(-1);
    expect(segmentAt(segs, -0.1)).toBe(-1);
  });

  it('crosses into the next track at its start, not before', () => {
    const [, s2] = album();
    expect(crossed(s2!, D1 - 0.001)).toBe(false);
    expect(crossed(s2!, D1)).toBe(true);
  });
});

describe('timeline: prefetch trigger', () => {
  const long: Segment = { id: 'x', start: 100, ...g(180) };
  it('fetches the next track 20 s before the end, once the current one is complete', () => {
    expect(shouldPrefetchNext(long, 259.9, 'y', true)).toBe(false);
    expect(shouldPrefetchNext(long, 260, 'y', true)).toBe(true);
    expect(shouldPrefetchNext(long, 279.9, 'y', true)).toBe(true);
    // Not while the current track still has chunks on their way.
    expect(shouldPrefetchNext(long, 270, 'y', false)).toBe(false);
    // Nothing known to follow.
    expect(shouldPrefetchNext(long, 270, null, true)).toBe(false);
    // Past the end: too late (the track ends as before).
    expect(shouldPrefetchNext(long, 280, 'y', true)).toBe(false);
  });
  it('fetches at once for a track shorter than the lead', () => {
    const [s1] = album();
    expect(shouldPrefetchNext(s1!, 0, 'b', true)).toBe(true);
  });
});

describe('timeline: upcoming track and broken chains', () => {
  const tracks = ['a', 'b', 'c'];
  it('is the next in play order, wraps with repeat all, repeats with repeat one', () => {
    expect(upcomingTrack({ tracks, index: 0, repeat: 'off' })).toBe('b');
    expect(upcomingTrack({ tracks, index: 2, repeat: 'off' })).toBe(null);
    expect(upcomingTrack({ tracks, index: 2, repeat: 'all' })).toBe('a');
    expect(upcomingTrack({ tracks, index: 1, repeat: 'one' })).toBe('b');
    expect(upcomingTrack({ tracks, index: null, repeat: 'all' })).toBe(null);
    expect(upcomingTrack({ tracks: [], index: 0, repeat: 'all' })).toBe(null);
  });
  it('breaks the chain when a queue change changes what plays next', () => {
    const before = upcomingTrack({ tracks, index: 0, repeat: 'off' });
    // "Play next" of another track puts it after the current one.
    const after = upcomingTrack({ tracks: ['a', 'z', 'b', 'c'], index: 0, repeat: 'off' });
    expect(chainBroken(before, after)).toBe(true);
    // Appending at the end does not change the next track.
    const appended = upcomingTrack({ tracks: ['a', 'b', 'c', 'd'], index: 0, repeat: 'off' });
    expect(chainBroken(before, appended)).toBe(false);
    // Removing the next track does; nothing planned, nothing to break.
    expect(chainBroken(before, upcomingTrack({ tracks: ['a', 'c'], index: 0, repeat: 'off' }))).toBe(true);
    expect(chainBroken(null, 'b')).toBe(false);
    expect(chainBroken('b', null)).toBe(true);
  });
});

describe('policy hand-over (adopt)', () => {
  const snap = (ct: number, buffered: [number, number][], now = 0): Snapshot => ({ now, currentTime: ct, buffered });

  it('continues a track whose chunk 0 is already in: fetches chunk 1, never chunk 0, clears nothing', () => {
    const p = new BufferPolicy<string>();
    const grid = g(D2);
    // Track time: the previous track lies before 0, chunk 0 of this one is buffered.
    const acts = p.adopt(grid, 'k', [0], snap(0.1, [[-7, 5]]));
    const fetches = acts.filter((a) => a.type === 'fetch').map((a) => (a.type === 'fetch' ? a.req.chunk : -1));
    expect(fetches).toEqual([1]);
    expect(acts.some((a) => a.type === 'remove')).toBe(false);
    expect(p.state().phase).toBe('streaming');
    expect(p.state().pendingSeek).toBe(null);
    expect(p.processedRanges()).toEqual([[0, 5]]);
    expect(p.settled()).toBe(false);
  });

  it('puts the init segment in front of its first append and trims the previous track later', () => {
    const p = new BufferPolicy<string>();
    const grid = g(D2);
    const acts = p.adopt(grid, 'k', [0], snap(0.1, [[-7, 5]]));
    const req = acts.find((a) => a.type === 'fetch')!;
    if (req.type !== 'fetch') throw new Error();
    const out = p.fetchDone(req.req, 'body', snap(0.2, [[-7, 5]]));
    const app = out.find((a) => a.type === 'append');
    expect(app && app.type === 'append' && app.init).toBe(true);
    expect(app && app.type === 'append' && [app.windowStart, app.windowEnd]).toEqual([5, D2]);
    const done = p.sbDone(snap(0.3, [[-7, D2]]));
    // Everything of this track is in; the old track's media behind is removed once > 35 s behind (not yet).
    expect(done.some((a) => a.type === 'remove')).toBe(false);
    expect(p.settled()).toBe(true);
  });

  it('is settled only when nothing of the track is on its way (World run to the end)', () => {
    const w = new World({ latencyMs: 50, grid: g(23.47) });
    w.start('k');
    expect(w.policy.settled()).toBe(false);
    w.run(30_000);
    expect(w.policy.settled()).toBe(true);
  });

  it('never removes beyond its own track end (the chained next track stays)', () => {
    const p = new BufferPolicy<string>();
    const grid = g(20);
    const first = p.adopt(grid, 'k', [0, 1, 2, 3], snap(15, [[0, 25]]));
    // Everything is in: it ends the stream (the player holds that back while a track is chained).
    expect(first.some((a) => a.type === 'endOfStream')).toBe(true);
    // A seek out of the buffer clears only [0, duration) of this track.
    const acts = [...p.seek(2, snap(15, [[10, 25]])), ...p.sbDone(snap(2, [[10, 25]]))];
    const rm = acts.find((a) => a.type === 'remove');
    expect(rm && rm.type === 'remove' && rm.end).toBe(20);
  });
});
