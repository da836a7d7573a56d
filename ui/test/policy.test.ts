import { describe, expect, it } from 'vitest';
import {
  BufferPolicy,
  backoffMs,
  chunkAt,
  chunkEnd,
  chunksToRanges,
  covers,
  DEFAULT_CONFIG,
  gridCeil,
  type ChunkRequest,
  type TrackGrid,
} from '../src/policy';
import { World } from './sim';

const GRID: TrackGrid = { duration: 60, chunkSeconds: 5, chunkCount: 12 };

describe('helpers', () => {
  it('maps times to chunks and chunk bounds', () => {
    const g: TrackGrid = { duration: 12.34, chunkSeconds: 5, chunkCount: 3 };
    expect(chunkAt(g, 0)).toBe(0);
    expect(chunkAt(g, 4.999)).toBe(0);
    expect(chunkAt(g, 5)).toBe(1);
    expect(chunkAt(g, 12.34)).toBe(2);
    expect(chunkAt(g, 99)).toBe(2);
    expect(chunkEnd(g, 1)).toBe(10);
    expect(chunkEnd(g, 2)).toBe(12.34);
  });
  it('rounds up to the 20 ms packet grid', () => {
    expect(gridCeil(10.0, 0.02)).toBe(10);
    expect(gridCeil(10.001, 0.02)).toBe(10.02);
    expect(gridCeil(3.1 + 0.1, 0.02)).toBe(3.2);
    expect(gridCeil(7.219, 0.02)).toBe(7.22);
  });
  it('decides coverage with a tolerance', () => {
    expect(covers([[0, 9.98]], 5, 10, 0.05)).toBe(true);
    expect(covers([[0, 9.8]], 5, 10, 0.05)).toBe(false);
    expect(covers([[0, 4], [4.5, 10]], 3, 6, 0.05)).toBe(false);
    expect(covers([], 0, 1, 0.05)).toBe(false);
  });
  it('merges processed chunks into ranges', () => {
    expect(chunksToRanges(GRID, [3, 0, 1, 5])).toEqual([[0, 10], [15, 20], [25, 30]]);
  });
  it('backs off exponentially with a cap', () => {
    expect(backoffMs(DEFAULT_CONFIG, 0)).toBe(500);
    expect(backoffMs(DEFAULT_CONFIG, 1)).toBe(1000);
    expect(backoffMs(DEFAULT_CONFIG, 10)).toBe(8000);
  });
});

describe('start', () => {
  it('fetches the chunk under the start position first and plays without stalls', () => {
    const w = new World({ latencyMs: 150 });
    w.start('bypass|0.5', 12);
    expect(w.fetchLog[0]!.req.chunk).toBe(2);
    expect(w.fetchLog[0]!.req.purpose).toBe('start');
    // Only the start chunk until it is appended.
    expect(w.fetchLog).toHaveLength(1);
    w.run(400);
    expect(w.appends[0]!.req.chunk).toBe(2);
    expect(w.appends[0]!.windowStart).toBe(10);
    expect(w.appends[0]!.windowEnd).toBe(15);
    w.resetWaiting();
    w.run(40_000);
    expect(w.waitingEvents).toBe(0);
    expect(w.ct).toBeGreaterThan(50);
    expect(w.policy.state().phase).not.toBe('error');
    // Chunks were appended in order, each once.
    const order = w.appends.map((a) => a.req.chunk);
    expect(order).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('sets the append window to [n·S, end) with the exact duration for the last chunk', () => {
    const grid: TrackGrid = { duration: 23.47, chunkSeconds: 5, chunkCount: 5 };
    const w = new World({ grid, latencyMs: 50 });
    w.start('k');
    w.run(30_000);
    const last = w.appendsOf(4)[0]!;
    expect(last.windowStart).toBe(20);
    expect(last.windowEnd).toBe(23.47);
    for (const a of w.appends) expect(a.windowStart).toBe(a.req.chunk * 5);
  });
});

describe('append order', () => {
  it('appends in timeline order even when a later chunk arrives first', () => {
    // Chunk 1 is slow, chunk 2 fast: 2 must wait for 1.
    const w = new World({ latencyMs: (r) => (r.chunk === 1 ? 900 : 50) });
    w.start('k');
    w.run(4000);
    const order = w.appends.map((a) => a.req.chunk);
    expect(order.slice(0, 4)).toEqual([0, 1, 2, 3]);
    expect(w.fetchLog.findIndex((f) => f.req.chunk === 2)).toBeLessThan(w.fetchLog.findIndex((f) => f.req.chunk === 3));
  });
});

describe('prefetch limits', () => {
  it('never has more than two chunks in flight or queued, even with slow responses', () => {
    const w = new World({ latencyMs: 3000, grid: { duration: 300, chunkSeconds: 5, chunkCount: 60 } });
    w.start('k');
    let maxFetches = 0;
    w.run(120_000, (x) => {
      maxFetches = Math.max(maxFetches, x.fetches.length);
      expect(x.policy.state().pending).toBeLessThanOrEqual(2);
    });
    expect(maxFetches).toBeLessThanOrEqual(2);
    expect(w.maxPending).toBe(2); // it does use the two slots
  });

  it('keeps roughly the goal ahead and no more', () => {
    const w = new World({ latencyMs: 50, grid: { duration: 300, chunkSeconds: 5, chunkCount: 60 } });
    w.start('k');
    let maxAhead = 0;
    w.run(100_000, (x) => {
      const b = x.buffered();
      const end = b.length ? b[b.length - 1]![1] : 0;
      maxAhead = Math.max(maxAhead, end - x.ct);
    });
    expect(maxAhead).toBeLessThanOrEqual(DEFAULT_CONFIG.goalAhead + 5 + 0.01);
    expect(maxAhead).toBeGreaterThan(DEFAULT_CONFIG.goalAhead - 0.5);
  });

  it('prefetches while paused but stops at the goal', () => {
    const w = new World({ latencyMs: 50, grid: { duration: 300, chunkSeconds: 5, chunkCount: 60 } });
    w.start('k');
    w.playing = false;
    w.run(20_000);
    const chunks = new Set(w.fetchLog.map((f) => f.req.chunk));
    expect([...chunks].sort((a, b) => a - b)).toEqual([0, 1, 2]);
  });
});

describe('trimming', () => {
  it('keeps the SourceBuffer under 90 s and evicts media > ~30 s behind at 8x', () => {
    const grid = { duration: 1200, chunkSeconds: 5, chunkCount: 240 };
    const w = new World({ grid, latencyMs: 80, rate: 8 });
    w.start('k');
    w.run(2_000);
    w.resetWaiting();
    w.run(160_000);
    expect(w.ended).toBe(true);
    expect(w.maxBuffered).toBeLessThanOrEqual(90);
    // behind = keepBehind + hysteresis + the distance travelled between ticks
    expect(w.maxBehind).toBeLessThanOrEqual(30 + 5 + 1.5);
    expect(w.removes.filter((r) => r.reason === 'behind').length).toBeGreaterThan(10);
    for (const r of w.removes.filter((x) => x.reason === 'behind')) expect(r.end).toBeLessThanOrEqual(r.start + 40);
  });

  it('never exceeds 90 s even with 30 s chunks', () => {
    const grid = { duration: 600, chunkSeconds: 30, chunkCount: 20 };
    const w = new World({ grid, latencyMs: 100, rate: 4 });
    w.start('k');
    w.run(200_000);
    expect(w.ended).toBe(true);
    expect(w.maxBuffered).toBeLessThanOrEqual(90);
  });
});

describe('seek', () => {
  it('inside the buffer just seeks: same epoch, no cancel, no clear', () => {
    const w = new World({ latencyMs: 50 });
    w.start('k');
    w.run(3000);
    const epoch = w.policy.currentEpoch();
    const nRemoves = w.removes.length;
    const nActions = w.actions.length;
    w.seek(9.3);
    expect(w.policy.currentEpoch()).toBe(epoch);
    const acts = w.actions.slice(nActions).map((a) => a.action);
    expect(acts.filter((a) => a.type === 'cancel')).toEqual([]);
    expect(acts.filter((a) => a.type === 'fetch' && a.req.purpose !== 'prefetch')).toEqual([]);
    w.run(50);
    expect(w.removes.length).toBe(nRemoves);
  });

  it('outside the buffer clears, fetches the target chunk first and drops late responses', () => {
    // Chunk 4 hangs for a long time, so its response arrives after the seek.
    const w = new World({ latencyMs: (r) => (r.chunk === 3 && r.epoch === 1 ? 2500 : 100) });
    w.start('k');
    w.run(1000);
    const before = w.policy.currentEpoch();
    const stale = w.fetches.map((f) => f.req);
    expect(stale.some((r) => r.chunk === 3)).toBe(true);
    w.seek(41.5);
    const epoch = w.policy.currentEpoch();
    expect(epoch).toBe(before + 1);
    const cancel = w.actions.find((a) => a.action.type === 'cancel' && a.at === w.now && a.action.before === epoch);
    expect(cancel).toBeDefined();
    const seekFetch = w.fetchLog.find((f) => f.req.epoch === epoch)!;
    expect(seekFetch.req.chunk).toBe(8);
    expect(seekFetch.req.purpose).toBe('seek');
    // The stale response is delivered anyway (as if abort() lost the race):
    const late = stale.find((r) => r.chunk === 3)!;
    const dropped = w.policy.fetchDone(late, w.pieceOf(late), w.snap());
    expect(dropped[0]).toMatchObject({ type: 'drop', why: 'stale epoch' });
    w.exec(dropped);
    const seekAt = w.now;
    w.run(400);
    expect(w.removes.some((r) => r.reason === 'clear' && r.at >= seekAt)).toBe(true);
    const after = w.appends.filter((a) => a.at >= seekAt);
    expect(after[0]!.req.chunk).toBe(8);
    expect(after[0]!.reset).toBe(true);
    expect(after.every((a) => a.req.epoch === epoch)).toBe(true);
    w.resetWaiting();
    w.run(10_000);
    expect(w.ct).toBeGreaterThan(50);
    expect(w.waitingEvents).toBe(0);
    // Nothing of the old epoch was appended after the seek.
    expect(w.appends.filter((a) => a.at >= seekAt && a.req.epoch < epoch)).toEqual([]);
    // And the clear really removed the old media.
    expect(w.segments.every((s) => s.epoch === epoch)).toBe(true);
  });

  it('rapid scrubbing keeps at most two fetches and ends on the last target', () => {
    const w = new World({ latencyMs: 300, grid: { duration: 300, chunkSeconds: 5, chunkCount: 60 } });
    w.start('k');
    w.run(500);
    for (const t of [100, 150, 200, 250, 120]) {
      w.seek(t);
      w.run(50);
      expect(w.fetches.length).toBeLessThanOrEqual(2);
    }
    w.run(1000);
    expect(w.appends[w.appends.length - 1]!.req.chunk).toBeGreaterThanOrEqual(24);
    expect(w.ct).toBeGreaterThanOrEqual(120);
    expect(w.ct).toBeLessThan(122);
    expect(w.segments.every((s) => s.start >= 115)).toBe(true);
  });
});

describe('preset switch', () => {
  it.each([
    ['whole bodies in span order (desktop)', false],
    ['a server that sends the switch point\'s span first', true],
  ])('replaces the future from a grid point just ahead of the playhead with no stall: %s', (_, spansFirst) => {
    const w = new World({ latencyMs: 120, cfg: { spansFirst } });
    w.start('warm|0.5');
    w.run(7000);
    w.resetWaiting();
    const switchAt = w.now;
    w.setKey('bright|0.5');
    const f = w.fetchLog[w.fetchLog.length - 1]!;
    expect(f.req.key).toBe('bright|0.5');
    expect(f.req.purpose).toBe('switch');
    const lead = DEFAULT_CONFIG.switchLead;
    expect(lead).toBeGreaterThanOrEqual(0.1);
    expect(f.req.chunk).toBe(chunkAt(GRID, w.ct + lead));
    expect(f.req.at).toBe(spansFirst ? gridCeil(w.ct + lead, 0.02) : undefined);
    w.run(600);
    const app = w.appends.find((a) => a.req.key === 'bright|0.5')!;
    expect(app).toBeDefined();
    // the window starts on the 20 ms grid, lead..lead+20 ms after the playhead at append time
    expect(Math.abs(app.windowStart / 0.02 - Math.round(app.windowStart / 0.02))).toBeLessThan(1e-6);
    expect(app.windowStart - app.ct).toBeGreaterThanOrEqual(lead - 1e-9);
    expect(app.windowStart - app.ct).toBeLessThan(lead + 0.021);
    expect(app.reset).toBe(true);
    // a removal of [p, ∞) came right before it
    const rem = w.removes.find((r) => r.reason === 'replace' && r.at >= switchAt)!;
    expect(rem.start).toBeCloseTo(app.windowStart, 9);
    w.run(20_000);
    expect(w.waitingEvents).toBe(0);
    // From the switch point on, only the new preset was heard.
    const heardAfter = w.heard.filter(([t]) => t >= app.windowStart);
    expect(heardAfter.length).toBeGreaterThan(100);
    expect(heardAfter.every(([, k]) => k === 'bright|0.5')).toBe(true);
    // Old media behind the switch point is removed once the playhead passed it.
    expect(w.segments.every((s) => s.key === 'bright|0.5')).toBe(true);
    // Seeking back to before the switch point must not play stale audio.
    w.seek(Math.max(0, app.windowStart - 1));
    w.run(3000);
    const heardLate = w.heard.slice(-200);
    expect(heardLate.every(([, k]) => k === 'bright|0.5')).toBe(true);
  });

  it('refetches when the switch chunk arrives after the playhead left it', () => {
    // Switch near the end of chunk 1, slow first response.
    const w = new World({ latencyMs: (r) => (r.purpose === 'switch' && r.chunk === 1 ? 1500 : 100) });
    w.start('a');
    w.run(9400 - 10); // ct ≈ 9.3 (start latency ~0.1 s)
    w.resetWaiting();
    w.setKey('b');
    expect(w.fetchLog[w.fetchLog.length - 1]!.req.chunk).toBe(1);
    w.run(2500);
    const dropped = w.actions.filter((a) => a.action.type === 'drop' && a.action.why.startsWith('playhead passed'));
    expect(dropped).toHaveLength(1);
    const app = w.appends.find((a) => a.req.key === 'b')!;
    expect(app.req.chunk).toBe(2);
    w.run(5000);
    expect(w.waitingEvents).toBe(0);
  });

  it('goes back to the working preset when the server refuses the new one', () => {
    const w = new World({
      latencyMs: 100,
      outcome: (r) => (r.key === 'adaptive' ? { status: 400, message: 'The preset “adaptive” is not implemented yet.' } : 'ok'),
    });
    w.start('bypass');
    w.run(3000);
    w.resetWaiting();
    w.setKey('adaptive');
    w.run(300);
    expect(w.rejected).toEqual(['adaptive']);
    expect(w.errors).toEqual([]);
    expect(w.policy.currentKey()).toBe('bypass');
    w.run(30_000);
    expect(w.waitingEvents).toBe(0);
    expect(w.ct).toBeGreaterThan(30);
  });

  it('a key change during a pending seek fetches the target in the new key', () => {
    const w = new World({ latencyMs: 400 });
    w.start('a');
    w.run(1000);
    w.seek(33);
    w.run(100);
    w.setKey('b');
    w.run(2000);
    const after = w.appends.filter((x) => x.req.key === 'b');
    expect(after[0]!.req.chunk).toBe(6);
    expect(w.appends.filter((x) => x.req.key === 'a' && x.at > 1000)).toEqual([]);
  });
});

describe('quota', () => {
  it('evicts behind, shrinks the goal and retries the same chunk', () => {
    let thrown = 0;
    const grid = { duration: 300, chunkSeconds: 5, chunkCount: 60 };
    const w = new World({
      grid,
      latencyMs: 50,
      quota: (r, world) => {
        if (r.chunk === 10 && thrown === 0) {
          thrown++;
          return world.ct > 20;
        }
        return false;
      },
    });
    w.start('k');
    w.run(60_000);
    expect(thrown).toBe(1);
    const st = w.policy.state();
    expect(st.goalAhead).toBeCloseTo(15 * 0.8, 6);
    expect(st.keepBehind).toBeCloseTo(30 * 0.8, 6);
    expect(w.removes.some((r) => r.reason === 'quota')).toBe(true);
    expect(w.appendsOf(10)).toHaveLength(2); // failed once, retried once
    expect(w.segments.some((s) => s.chunk === 10) || w.ct > 55).toBe(true);
    expect(w.errors).toEqual([]);
  });

  it('gives up with an error after repeated quota failures', () => {
    const w = new World({ latencyMs: 50, quota: (r) => r.chunk >= 1 });
    w.start('k');
    w.run(60_000);
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toMatch(/no room/);
    expect(w.policy.state().phase).toBe('error');
  });
});

describe('failures', () => {
  it('retries 5xx and network failures with growing back-off', () => {
    let fails = 0;
    const w = new World({
      latencyMs: 20,
      outcome: (r) => {
        if (r.chunk === 0 && fails < 3) {
          fails++;
          return fails === 2 ? { message: 'Failed to fetch' } : { status: 503, message: 'busy' };
        }
        return 'ok';
      },
    });
    w.start('k');
    w.run(10_000);
    const tries = w.fetchLog.filter((f) => f.req.chunk === 0);
    expect(tries.map((t) => t.req.attempt)).toEqual([0, 1, 2, 3]);
    const gaps = tries.slice(1).map((t, i) => t.at - tries[i]!.at);
    // 20 ms latency + 500 / 1000 / 2000 ms back-off (rounded to the 10 ms steps)
    expect(gaps[0]).toBeGreaterThanOrEqual(520);
    expect(gaps[0]).toBeLessThan(600);
    expect(gaps[1]).toBeGreaterThanOrEqual(1020);
    expect(gaps[2]).toBeGreaterThanOrEqual(2020);
    expect(w.wakeCount).toBeGreaterThanOrEqual(3);
    expect(w.errors).toEqual([]);
    expect(w.appendsOf(0)).toHaveLength(1);
  });

  it('gives up after the bounded number of retries', () => {
    const w = new World({ latencyMs: 20, outcome: () => ({ status: 500, message: 'The renderer crashed.' }) });
    w.start('k');
    w.run(60_000);
    expect(w.fetchLog).toHaveLength(DEFAULT_CONFIG.maxRetries + 1);
    expect(w.errors).toHaveLength(1);
    expect(w.errors[0]).toContain('The renderer crashed.');
    expect(w.policy.state().phase).toBe('error');
  });

  it('stops at once with the server message on 4xx / 422', () => {
    const w = new World({ latencyMs: 20, outcome: () => ({ status: 422, message: 'This file could not be decoded.' }) });
    w.start('k');
    w.run(5_000);
    expect(w.fetchLog).toHaveLength(1);
    expect(w.errors).toEqual(['This file could not be decoded.']);
    w.run(5_000);
    expect(w.fetchLog).toHaveLength(1);
  });

  it('ignores failures of requests from an older epoch', () => {
    const p = new BufferPolicy<ChunkRequest>();
    const snap = { now: 0, currentTime: 0, buffered: [] };
    const a = p.start(GRID, 'k', 0, snap);
    const req = (a.find((x) => x.type === 'fetch') as { req: ChunkRequest }).req;
    p.seek(30, snap);
    const out = p.fetchFailed(req, { status: 404, message: 'gone' }, snap);
    expect(out.filter((x) => x.type === 'error')).toEqual([]);
    expect(p.state().phase).toBe('seeking');
  });
});

describe('end of stream', () => {
  it('calls endOfStream once after the last chunk is appended and playback ends', () => {
    const grid: TrackGrid = { duration: 17.5, chunkSeconds: 5, chunkCount: 4 };
    const w = new World({ grid, latencyMs: 50 });
    w.start('k');
    w.run(25_000);
    const eos = w.actions.filter((a) => a.action.type === 'endOfStream');
    expect(eos).toHaveLength(1);
    const lastAppend = w.appends[w.appends.length - 1]!;
    expect(lastAppend.req.chunk).toBe(3);
    expect(eos[0]!.at).toBeGreaterThanOrEqual(lastAppend.at);
    expect(w.ended).toBe(true);
    expect(w.policy.state().phase).toBe('complete');
  });

  it('re-issues endOfStream after a removal reopened the MediaSource', () => {
    const grid: TrackGrid = { duration: 60, chunkSeconds: 5, chunkCount: 12 };
    const w = new World({ grid, latencyMs: 50, cfg: { keepBehind: 5, evictHysteresis: 1 } });
    w.start('k', 40);
    w.run(30_000);
    const eosAt = w.actions.filter((a) => a.action.type === 'endOfStream').map((a) => a.at);
    const removeAt = w.removes.map((r) => r.at);
    expect(eosAt.length).toBeGreaterThanOrEqual(2);
    // the last operation before the end is an endOfStream, not a removal
    expect(Math.max(...eosAt)).toBeGreaterThan(Math.max(...removeAt));
    expect(w.ended).toBe(true);
  });

  it('does not end the stream while a chunk is missing', () => {
    const grid: TrackGrid = { duration: 20, chunkSeconds: 5, chunkCount: 4 };
    const w = new World({ grid, latencyMs: (r) => (r.chunk === 2 ? 1e9 : 20), outcome: (r) => (r.chunk === 2 ? 'hang' : 'ok') });
    w.start('k');
    w.run(20_000);
    expect(w.actions.filter((a) => a.action.type === 'endOfStream')).toEqual([]);
    expect(w.ended).toBe(false);
  });
});

