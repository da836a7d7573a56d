/**
 * Chunks whose body arrives in pieces (the server streams WebM Clusters as they
 * are encoded): the first piece plays at once, the rest follows into the same
 * append window, and seeks, switches, failures and stale pieces keep working.
 * The simulated SourceBuffer (sim.ts) throws when a piece lands in the middle of
 * another chunk or media arrives without its init segment.
 */
import { describe, expect, it } from 'vitest';
import type { TrackGrid } from '../src/policy';
import { World } from './sim';

const LONG: TrackGrid = { duration: 120, chunkSeconds: 30, chunkCount: 4 };

describe('progressive chunks', () => {
  it('appends the first piece at once and the rest into the same window, without reset or init', () => {
    const w = new World({ pieces: 6, latencyMs: 600, firstPieceMs: 60 });
    w.start('k');
    w.run(70);
    // The first piece is in before the response has ended…
    expect(w.appends).toHaveLength(1);
    expect(w.appends[0]).toMatchObject({ part: 0, init: true, reset: false, windowStart: 0, windowEnd: 5, pieces: [0] });
    expect(w.policy.state().open).toBe(0);
    // …the chunk is not done yet, and nothing else is fetched while it arrives.
    expect(w.policy.state().fetchedChunks).toEqual([]);
    expect(w.fetchLog).toHaveLength(1);
    w.run(100);
    expect(w.ct).toBeGreaterThan(0); // playing from the first piece
    w.resetWaiting();
    w.run(600);
    const first = w.appendsOf(0);
    expect(first.length).toBeGreaterThan(1);
    expect(first.flatMap((a) => a.pieces)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const a of first.slice(1)) expect(a).toMatchObject({ reset: false, init: false, windowStart: 0, windowEnd: 5 });
    expect(first.map((a) => a.part)).toEqual(first.map((_, i) => i));
    expect(w.policy.state().fetchedChunks).toContain(0);
    // Prefetch began only after the start chunk's response ended.
    const pre = w.fetchLog.find((f) => f.req.purpose === 'prefetch')!;
    expect(pre.at).toBeGreaterThanOrEqual(600);
    w.run(20_000);
    expect(w.waitingEvents).toBe(0);
    // One init segment for the one key.
    expect(w.appends.filter((a) => a.init)).toHaveLength(1);
  });

  it('coalesces the pieces that arrive while the SourceBuffer is busy', () => {
    const w = new World({ pieces: 10, latencyMs: 200, firstPieceMs: 20, sbOpMs: 45 });
    w.start('k');
    w.run(1000);
    const a0 = w.appendsOf(0);
    expect(a0.flatMap((a) => a.pieces)).toEqual([...Array(10).keys()]);
    expect(a0.length).toBeLessThan(6);
    expect(a0.some((a) => a.pieces.length > 1)).toBe(true);
  });

  it('keeps the limits with pieces: two chunks pending at most, 90 s at most, evicts behind at 8x', () => {
    const grid = { duration: 1200, chunkSeconds: 5, chunkCount: 240 };
    const w = new World({ grid, latencyMs: 300, pieces: 4, firstPieceMs: 40, rate: 8 });
    w.start('k');
    w.run(1_000);
    w.resetWaiting();
    w.run(160_000, (x) => expect(x.policy.state().pending).toBeLessThanOrEqual(2));
    expect(w.ended).toBe(true);
    expect(w.maxInFlight).toBeLessThanOrEqual(2);
    expect(w.maxBuffered).toBeLessThanOrEqual(90);
    expect(w.maxBehind).toBeLessThanOrEqual(30 + 5 + 1.5);
    expect(w.errors).toEqual([]);
  });

  it('a seek between two pieces of the urgent chunk: clears, fetches the target, drops the late pieces', () => {
    const w = new World({ pieces: 5, latencyMs: 1000, firstPieceMs: 50 });
    w.start('k');
    w.run(60);
    expect(w.appendsOf(0)).toHaveLength(1);
    const old = w.fetches[0]!.req;
    const before = w.policy.currentEpoch();
    w.seek(41.5);
    const epoch = w.policy.currentEpoch();
    expect(epoch).toBe(before + 1);
    expect(w.fetches.map((f) => f.req.chunk)).toEqual([8]);
    // Piece 1 of the old chunk arrives anyway (abort() lost the race): dropped.
    const late = w.policy.fetchProgress(old, w.pieceOf(old, 1, 5), w.snap());
    expect(late[0]).toMatchObject({ type: 'drop', why: 'stale epoch' });
    w.exec(late);
    const seekAt = w.now;
    w.run(1500);
    const after = w.appends.filter((a) => a.at >= seekAt);
    expect(after[0]).toMatchObject({ part: 0, reset: true, init: true, windowStart: 40, windowEnd: 45 });
    expect(after[0]!.req.chunk).toBe(8);
    expect(after.every((a) => a.req.epoch === epoch)).toBe(true);
    expect(w.appendsOf(0)).toHaveLength(1);
    expect(w.removes.some((r) => r.reason === 'clear' && r.at >= seekAt)).toBe(true);
    w.resetWaiting();
    w.run(10_000);
    expect(w.waitingEvents).toBe(0);
    expect(w.segments.every((s) => s.epoch === epoch)).toBe(true);
  });

  it('a seek ahead inside the chunk that is still arriving keeps that download', () => {
    const w = new World({ grid: LONG, pieces: 7, latencyMs: 700, firstPieceMs: 50 });
    w.start('k');
    w.run(120);
    const epoch = w.policy.currentEpoch();
    const nFetches = w.fetchLog.length;
    w.seek(12); // not buffered yet, but chunk 0 is arriving
    expect(w.policy.currentEpoch()).toBe(epoch);
    expect(w.fetchLog).toHaveLength(nFetches);
    w.run(1200);
    expect(w.ct).toBeGreaterThan(12);
    expect(w.appendsOf(0).flatMap((a) => a.pieces)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(w.appendsOf(0).filter((a) => a.reset)).toEqual([]);
  });

  it('a switch during a progressive fetch: old pieces stop, the new key takes over from just ahead, one init per key', () => {
    const w = new World({ grid: LONG, pieces: 7, latencyMs: 1400, firstPieceMs: 100 });
    w.start('a');
    w.run(400); // pieces 0 and 1 of chunk 0 are in: [0, ~5.8)
    expect(w.appendsOf(0).length).toBeGreaterThanOrEqual(1);
    expect(w.policy.state().open).toBe(0);
    w.resetWaiting();
    const switchAt = w.now;
    w.setKey('b');
    const sw = w.fetchLog[w.fetchLog.length - 1]!.req;
    expect(sw).toMatchObject({ key: 'b', chunk: 0, purpose: 'switch' });
    w.run(3000);
    // Nothing more of key a after the switch.
    expect(w.appends.filter((a) => a.req.key === 'a' && a.at > switchAt)).toEqual([]);
    const b = w.appends.filter((a) => a.req.key === 'b');
    // The switch point (≈ 0.6 s) lies in the 1 s first span, too close to its end to go in on
    // that piece alone: placed whole.
    expect(b[0]).toMatchObject({ part: 0, reset: true, init: true, pieces: [0, 1, 2, 3, 4, 5, 6] });
    expect(b[0]!.windowStart).toBeGreaterThanOrEqual(sw.at!);
    expect(b[0]!.windowStart - b[0]!.ct).toBeGreaterThanOrEqual(0.3 - 0.01 - 1e-9);
    w.run(30_000);
    expect(w.waitingEvents).toBe(0);
    expect(w.heard.filter(([t]) => t >= b[0]!.windowStart).every(([, k]) => k === 'b')).toBe(true);
    expect(w.appends.filter((a) => a.init).map((a) => a.req.key)).toEqual(['a', 'b']);
  });

  it('a switch chunk from a server that sends spans in order is placed whole: the old media plays until then, no stall', () => {
    const w = new World({ grid: LONG, pieces: 7, latencyMs: (r) => (r.key === 'b' ? 1500 : 300), firstPieceMs: 50, cfg: { spansFirst: false } });
    w.start('a');
    w.run(12_300); // chunk 0 of key a fully in; ct ≈ 12
    w.resetWaiting();
    const switchAt = w.now;
    w.setKey('b'); // switch point ≈ 12.3 s: in the sixth piece of chunk 0
    w.run(700);
    expect(w.appends.filter((a) => a.req.key === 'b')).toEqual([]);
    expect(w.removes.filter((r) => r.at >= switchAt)).toEqual([]);
    w.run(1000);
    const b = w.appends.filter((a) => a.req.key === 'b');
    expect(b[0]).toMatchObject({ part: 0, reset: true, init: true, pieces: [0, 1, 2, 3, 4, 5, 6] });
    // Planned 0.3 s ahead; appended one 10 ms step later, after the removal of the old media from there.
    expect(b[0]!.windowStart - b[0]!.ct).toBeGreaterThanOrEqual(0.3 - 0.01 - 1e-9);
    w.run(10_000);
    expect(w.waitingEvents).toBe(0);
    expect(w.heard.filter(([t]) => t >= b[0]!.windowStart).every(([, k]) => k === 'b')).toBe(true);
  });

  it('a switch chunk goes in on its first piece while that piece holds the switch point; else whole', () => {
    // Chunk 0 is spans [0, 1), then 4.83 s each: the switch point ≈ 12.3 s lies in [10.67, 15.5).
    for (const [firstMs, lastMs, early] of [
      [50, 1500, true],
      [1200, 1500, true], // late, but the playhead (≈ 13.5 s) is still well inside the span
      [3000, 4000, false], // the playhead (≈ 15.3 s) came within 0.5 s of the span's end
    ] as const) {
      const w = new World({ grid: LONG, pieces: 7, latencyMs: (r) => (r.key === 'b' ? lastMs : 300), firstPieceMs: (r) => (r.key === 'b' ? firstMs : 50) });
      w.start('a');
      w.run(12_000);
      w.resetWaiting();
      const switchAt = w.now;
      w.setKey('b');
      const sw = w.fetchLog[w.fetchLog.length - 1]!.req;
      expect(sw.at! - w.ct).toBeCloseTo(0.3, 1);
      w.run(lastMs + 100);
      const b = w.appends.filter((a) => a.req.key === 'b');
      expect(b[0]).toMatchObject({ part: 0, reset: true, init: true });
      // Either way the new media starts just ahead of the playhead, on the 20 ms grid.
      expect(b[0]!.windowStart - b[0]!.ct).toBeGreaterThanOrEqual(0.3 - 0.01 - 1e-9);
      expect(b[0]!.windowStart - b[0]!.ct).toBeLessThan(0.3 + 0.021);
      if (early) {
        expect(b[0]!.at - switchAt).toBeLessThanOrEqual(firstMs + 20);
        expect(b[0]!.pieces).toEqual([0]);
      } else {
        expect(b[0]!.pieces).toEqual([0, 1, 2, 3, 4, 5, 6]);
      }
      w.run(10_000);
      expect(w.waitingEvents).toBe(0);
      expect(w.heard.filter(([t]) => t >= b[0]!.windowStart).every(([, k]) => k === 'b')).toBe(true);
    }
  });

  it('a new key between a switch chunk\'s removal and its append: that piece still goes in (no hole, no stall)', () => {
    // b's switch chunk is placed on its first piece: the old media goes from the switch point
    // on, then b's piece goes in. A change to c in between must not drop that piece.
    const w = new World({
      grid: LONG,
      pieces: 7,
      sbOpMs: 40,
      latencyMs: (r) => (r.key === 'c' ? 3000 : r.key === 'b' ? 1500 : 300),
      firstPieceMs: (r) => (r.key === 'c' ? 2000 : 50),
    });
    w.start('a');
    w.run(12_000);
    w.resetWaiting();
    w.setKey('b');
    let steps = 0;
    while (!/^remove/.test(w.policy.state().sbBusy ?? '') && steps++ < 500) w.run(1);
    expect(w.policy.state().sbBusy).toMatch(/^remove/);
    expect(w.policy.state().sbQueued.some((op) => op.startsWith('append'))).toBe(true);
    w.setKey('c');
    w.run(6000);
    expect(w.appends.some((a) => a.req.key === 'b' && a.part === 0)).toBe(true);
    expect(w.waitingEvents).toBe(0);
    expect(w.appends.some((a) => a.req.key === 'c')).toBe(true);
    // What plays after c's switch point is c.
    const c = w.appends.find((a) => a.req.key === 'c')!;
    expect(w.heard.filter(([t]) => t >= c.windowStart + 0.05).every(([, k]) => k === 'c')).toBe(true);
  });

  it('without the span end from the server a switch chunk is placed whole', () => {
    const w = new World({ grid: LONG, pieces: 7, latencyMs: (r) => (r.key === 'b' ? 1500 : 300), firstPieceMs: 50, spanEnds: false });
    w.start('a');
    w.run(12_000);
    w.resetWaiting();
    w.setKey('b');
    w.run(1600);
    const b = w.appends.filter((a) => a.req.key === 'b');
    expect(b[0]).toMatchObject({ part: 0, pieces: [0, 1, 2, 3, 4, 5, 6] });
    w.run(10_000);
    expect(w.waitingEvents).toBe(0);
  });

  it('a switch while the old chunk is still arriving starts the new key where the old media ends (no gap)', () => {
    // The old key's chunk 1 arrives slowly; the playhead is near the end of what has arrived.
    const grid: TrackGrid = { duration: 60, chunkSeconds: 5, chunkCount: 12 };
    const slow = (r: { key: string; chunk: number }) => r.key === 'a' && r.chunk === 1;
    const w = new World({
      grid,
      pieces: (r) => (slow(r) ? 5 : 1),
      latencyMs: (r) => (slow(r) ? 20_000 : 100),
      firstPieceMs: (r) => (slow(r) ? 200 : 100),
    });
    w.start('a');
    w.playing = false;
    w.run(400); // chunk 0 in, chunk 1 arriving: pieces [4.9, 6) and [6, 7) in by 5.5 s, the next at ~10.4 s
    w.playing = true;
    w.run(6800); // ct ≈ 6.8
    const buf = w.buffered();
    const end = buf[buf.length - 1]![1];
    expect(end).toBeLessThan(w.ct + 0.3);
    w.setKey('b');
    w.run(400);
    const b = w.appends.find((a) => a.req.key === 'b')!;
    expect(b.windowStart).toBeLessThanOrEqual(end + 1e-9);
    expect(b.windowStart).toBeGreaterThan(end - 0.021);
    w.resetWaiting();
    w.run(5000);
    expect(w.waitingEvents).toBe(0);
  });

  it('a network failure half-way through a chunk: the retry goes into the same window from a clean parser', () => {
    const w = new World({ pieces: 5, latencyMs: 1000, firstPieceMs: 50 });
    w.start('k');
    w.run(300); // pieces 0 and 1 appended
    const f = w.fetches[0]!;
    w.fetches = [];
    w.exec(w.policy.fetchFailed(f.req, { message: 'The connection was reset.' }, w.snap()));
    expect(w.policy.state().open).toBeNull();
    w.run(3000);
    const retry = w.appends.filter((a) => a.req.attempt === 1);
    expect(retry[0]).toMatchObject({ part: 0, reset: true, init: true, windowStart: 0, windowEnd: 5 });
    expect(retry.flatMap((a) => a.pieces)).toEqual([0, 1, 2, 3, 4]);
    expect(w.errors).toEqual([]);
    w.run(10_000);
    expect(w.ct).toBeGreaterThan(8);
  });
});

describe('odd bodies', () => {
  it('an empty body appends no init; the first append with bytes of that key gets it', () => {
    const w = new World({ latencyMs: 50 });
    w.start('k');
    const req = w.fetches[0]!.req;
    w.fetches = [];
    w.exec(w.policy.fetchDone(req, null, w.snap())); // 200 with no bytes
    w.run(100);
    const empty = w.appendsOf(0)[0]!;
    expect(empty).toMatchObject({ init: false, pieces: [] });
    w.run(2000);
    expect(w.appends.find((a) => a.pieces.length > 0)).toMatchObject({ init: true });
    expect(w.appends.filter((a) => a.init)).toHaveLength(1);
    expect(w.errors).toEqual([]);
  });
});
