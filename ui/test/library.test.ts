import { describe, expect, it, vi } from 'vitest';
import type { Page, Track } from '../src/bridge';
import { albumSummary, groupDigits, scanFraction, scanText, unplayableReason } from '../src/library/format';
import { PageCache } from '../src/library/pages';
import { arraySource } from '../src/library/queue';
import { isSearchShortcut, LatestSearch, type Timers } from '../src/library/search';
import { sortOrder, toggleSort } from '../src/library/sort';
import { pagesFor, rowWindow, scrollToRow } from '../src/library/virtualList';

describe('windowing', () => {
  const base = { viewport: 340, rowHeight: 34, total: 100_000, overscan: 5 };
  it('shows the rows under the scroll position plus overscan', () => {
    expect(rowWindow({ ...base, scrollTop: 0 })).toEqual({ start: 0, end: 15, padTop: 0, padBottom: (100_000 - 15) * 34, height: 3_400_000 });
    const w = rowWindow({ ...base, scrollTop: 34 * 1000 + 10 });
    expect(w.start).toBe(995);
    expect(w.end).toBe(1000 + 11 + 5); // rows 1000..1010 visible (partly), + 5
    expect(w.padTop + (w.end - w.start) * 34 + w.padBottom).toBe(w.height);
  });
  it('keeps the DOM small at any depth of 100 000 rows', () => {
    for (const top of [0, 1234, 1_700_000, 3_399_000, 9e9]) {
      const w = rowWindow({ ...base, scrollTop: top });
      expect(w.end - w.start).toBeLessThanOrEqual(10 + 1 + 2 * 5);
      expect(w.end).toBeLessThanOrEqual(100_000);
      expect(w.start).toBeGreaterThanOrEqual(0);
      expect(w.end).toBeGreaterThan(w.start);
    }
  });
  it('clamps at the end and handles a header above the rows', () => {
    const w = rowWindow({ ...base, total: 20, scrollTop: 1000 });
    expect(w).toMatchObject({ end: 20, padBottom: 0, height: 680 });
    expect(rowWindow({ ...base, scrollTop: 40, bodyTop: 40 }).start).toBe(0);
    expect(rowWindow({ ...base, scrollTop: 40 + 34 * 10, bodyTop: 40 }).start).toBe(5);
  });
  it('is empty for an empty list', () => {
    expect(rowWindow({ ...base, total: 0, scrollTop: 50 })).toEqual({ start: 0, end: 0, padTop: 0, padBottom: 0, height: 0 });
  });
  it('names the pages under a range of rows', () => {
    expect(pagesFor(0, 15, 200)).toEqual([0]);
    expect(pagesFor(195, 215, 200)).toEqual([0, 1]);
    expect(pagesFor(400, 400, 200)).toEqual([]);
  });
  it('scrolls a row into view only when it is not', () => {
    const w = { scrollTop: 340, viewport: 340, rowHeight: 34 };
    expect(scrollToRow(12, w)).toBe(340);
    expect(scrollToRow(2, w)).toBe(68);
    expect(scrollToRow(25, w)).toBe(26 * 34 - 340);
  });
});

type Item = { id: number };
function fakeList(total: number, opts: { whole?: boolean } = {}) {
  const calls: { offset: number; limit: number; signal: AbortSignal }[] = [];
  const pending: (() => void)[] = [];
  let hold = false;
  const fetcher = (offset: number, limit: number, signal: AbortSignal): Promise<Page<Item>> => {
    calls.push({ offset, limit, signal });
    const all = Array.from({ length: total }, (_, i) => ({ id: i }));
    const page: Page<Item> = opts.whole ? { items: all, total, whole: true } : { items: all.slice(offset, offset + limit), total, whole: false };
    if (!hold) return Promise.resolve(page);
    return new Promise((r) => pending.push(() => r(page)));
  };
  return {
    fetcher,
    calls,
    hold: (on: boolean) => (hold = on),
    releaseAll: async () => {
      for (const r of pending.splice(0)) r();
      await Promise.resolve();
    },
  };
}

describe('page cache', () => {
  it('fetches each page once, also when asked twice at the same time', async () => {
    const f = fakeList(1000);
    const onChange = vi.fn();
    const c = new PageCache(f.fetcher, { pageSize: 100, onChange });
    await Promise.all([c.ensure(0, 30), c.ensure(10, 150)]);
    await c.ensure(0, 150);
    expect(f.calls.map((x) => x.offset)).toEqual([0, 100]);
    expect(f.calls.every((x) => x.limit === 100)).toBe(true);
    expect(c.total).toBe(1000);
    expect(c.get(142)).toEqual({ id: 142 });
    expect(c.get(300)).toBeUndefined();
    expect(onChange).toHaveBeenCalledTimes(2);
  });
  it('keeps at most maxPages, dropping the least recently used and never the shown ones', async () => {
    const f = fakeList(10_000);
    const c = new PageCache(f.fetcher, { pageSize: 100, maxPages: 3 });
    await c.ensure(0, 10); // page 0
    await c.ensure(100, 110); // 1
    await c.ensure(0, 10); // 0 used again
    await c.ensure(200, 210); // 2
    await c.ensure(300, 410); // 3 and 4: evicts 1 then 0
    expect(c.cachedPages).toBe(3);
    expect(c.hasPage(3) && c.hasPage(4) && c.hasPage(2)).toBe(true);
    expect(c.hasPage(0) || c.hasPage(1)).toBe(false);
    await c.ensure(0, 10);
    expect(f.calls.filter((x) => x.offset === 0)).toHaveLength(2);
  });
  it('drops answers that arrive after a reset or dispose, and aborts them', async () => {
    const f = fakeList(500);
    const onChange = vi.fn();
    const c = new PageCache(f.fetcher, { pageSize: 100, onChange });
    f.hold(true);
    const p = c.ensure(0, 10);
    c.dispose();
    expect(f.calls[0]!.signal.aborted).toBe(true);
    await f.releaseAll();
    await p;
    expect(c.get(0)).toBeUndefined();
    expect(c.total).toBeNull();
    expect(onChange).not.toHaveBeenCalled();
    await c.ensure(0, 10);
    expect(f.calls).toHaveLength(1); // disposed: no new requests
  });
  it('reports failures (not aborts) and fetches the page again next time', async () => {
    let fail = true;
    const onError = vi.fn();
    const c = new PageCache<Item>(
      async (offset, limit) => {
        if (fail) throw new Error('down');
        return { items: [{ id: offset }], total: 1, whole: false };
      },
      { onError },
    );
    await c.ensure(0, 5);
    expect(onError).toHaveBeenCalledTimes(1);
    fail = false;
    await c.ensure(0, 5);
    expect(c.get(0)).toEqual({ id: 0 });
  });
  it('takes a whole-list answer (an older server) as all there is', async () => {
    const f = fakeList(450, { whole: true });
    const c = new PageCache(f.fetcher, { pageSize: 100 });
    await c.ensure(0, 30);
    expect(c.whole).toBe(true);
    expect(c.total).toBe(450);
    expect(c.get(449)).toEqual({ id: 449 });
    await c.ensure(300, 330);
    expect(f.calls).toHaveLength(1);
  });
  it('reads items anywhere and collects the whole list in order', async () => {
    const f = fakeList(250);
    const c = new PageCache(f.fetcher, { pageSize: 100, maxPages: 1 });
    expect(await c.at(170)).toEqual({ id: 170 });
    expect(await c.at(250)).toBeUndefined();
    const ids = await c.collect((x) => x.id);
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(c.cachedPages).toBeLessThanOrEqual(2);
    expect(c.findLoaded((x) => x.id === 249)).toBe(249);
  });
});

describe('search as you type', () => {
  function fakeTimers() {
    let now = 0;
    const q: { at: number; fn: () => void; id: number }[] = [];
    let id = 0;
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        q.push({ at: now + ms, fn, id: ++id });
        return id;
      },
      clearTimeout: (h) => {
        const i = q.findIndex((x) => x.id === h);
        if (i >= 0) q.splice(i, 1);
      },
    };
    const advance = (ms: number) => {
      now += ms;
      for (const t of q.filter((x) => x.at <= now)) {
        q.splice(q.indexOf(t), 1);
        t.fn();
      }
    };
    return { timers, advance };
  }

  it('runs once typing pauses for the delay, with the last text', () => {
    const t = fakeTimers();
    const run = vi.fn(async (q: string) => q);
    const s = new LatestSearch(run, () => {}, { delay: 120, timers: t.timers });
    s.input('b');
    t.advance(50);
    s.input('be');
    t.advance(100);
    s.input('bey');
    expect(run).not.toHaveBeenCalled();
    t.advance(120);
    expect(run).toHaveBeenCalledTimes(1);
    expect(run.mock.calls[0]![0]).toBe('bey');
  });

  it('applies only the latest answer and aborts the older request', async () => {
    const resolvers = new Map<string, (v: string) => void>();
    const signals = new Map<string, AbortSignal>();
    const applied: string[] = [];
    const s = new LatestSearch(
      (q, signal) => {
        signals.set(q, signal);
        return new Promise<string>((r) => resolvers.set(q, r));
      },
      (r) => applied.push(r),
    );
    const first = s.now('be');
    const second = s.now('bey');
    expect(signals.get('be')!.aborted).toBe(true);
    resolvers.get('bey')!('answer to bey');
    resolvers.get('be')!('answer to be'); // late, stale
    await Promise.all([first, second]);
    expect(applied).toEqual(['answer to bey']);
    expect(s.applied).toBe('bey');
  });

  it('reports a failure of the latest query only', async () => {
    const onError = vi.fn();
    const s = new LatestSearch(
      async (q) => {
        throw new Error(q);
      },
      () => {},
      { onError },
    );
    const a = s.now('a');
    const b = s.now('b');
    await Promise.all([a, b]);
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]![1]).toBe('b');
  });

  it('focuses the box on Ctrl+F anywhere and on / when not typing', () => {
    const k = (key: string, mods: Partial<{ ctrlKey: boolean; metaKey: boolean; altKey: boolean }> = {}) => ({ key, ctrlKey: false, metaKey: false, altKey: false, ...mods });
    expect(isSearchShortcut(k('f', { ctrlKey: true }), true)).toBe(true);
    expect(isSearchShortcut(k('F', { metaKey: true }), false)).toBe(true);
    expect(isSearchShortcut(k('/'), false)).toBe(true);
    expect(isSearchShortcut(k('/'), true)).toBe(false);
    expect(isSearchShortcut(k('f'), false)).toBe(false);
  });
});

describe('sorting', () => {
  it('flips the order of the same column and starts another ascending', () => {
    expect(toggleSort(null, 'title')).toBe('title');
    expect(toggleSort('title', 'title')).toBe('-title');
    expect(toggleSort('-title', 'title')).toBe('title');
    expect(toggleSort('-title', 'year')).toBe('year');
  });
  it('says the order for aria-sort', () => {
    expect(sortOrder('title', 'title')).toBe('ascending');
    expect(sortOrder('-title', 'title')).toBe('descending');
    expect(sortOrder('-title', 'artist')).toBe('none');
  });
});

describe('track sources', () => {
  const tr = (id: number, extra: Partial<Track> = {}): Track => ({ id, title: `t${id}`, artist: null, album: null, duration_s: 10, ...extra });
  it('an array source hands over its ids in order', async () => {
    const src = arraySource([tr(1), tr(2), tr(3, { missing: true })]);
    expect(await src.collect((t) => t.id)).toEqual([1, 2, 3]);
    expect(src.findLoaded((t) => t.id === 2)).toBe(1);
  });
  it('a paged list collects every page in order', async () => {
    const items = Array.from({ length: 300 }, (_, i) => tr(i));
    const c = new PageCache<Track>(async (o, l) => ({ items: items.slice(o, o + l), total: 300, whole: false }), { pageSize: 100 });
    const ids = await c.collect((t) => t.id);
    expect(ids).toHaveLength(300);
    expect(ids[299]).toBe(299);
  });
});

describe('library text', () => {
  it('formats scan progress', () => {
    const s = { running: true, done: 1234, total: 5000, files_per_s: 2100.4 };
    expect(scanText(s)).toBe('1\u202f234 of 5\u202f000 files, 2\u202f100 files/s');
    expect(scanFraction(s)).toBeCloseTo(0.2468);
    expect(scanFraction({ ...s, total: 0 })).toBe(0);
    expect(groupDigits(999)).toBe('999');
  });
  it('sums up an album and says why a row is greyed out', () => {
    expect(albumSummary(12, 48 * 60 + 10)).toBe('12 tracks, 48 min');
    expect(albumSummary(1, 3900)).toBe('1 track, 1 h 5 min');
    expect(unplayableReason({ missing: true, error: '/music/a.flac' })).toBe('File missing: /music/a.flac');
    expect(unplayableReason({ error: 'not audio' })).toBe('Cannot be played: not audio');
    expect(unplayableReason({})).toBeNull();
  });
});

describe('scan polling', () => {
  it('polls every 500 ms while a scan runs, every 5 s otherwise, and says when the library changed', async () => {
    const { ScanPoller } = await import('../src/library/sidebar');
    const delays: number[] = [];
    let fire: (() => void) | null = null;
    const timers: Timers = {
      setTimeout: (fn, ms) => {
        delays.push(ms);
        fire = fn;
        return 1;
      },
      clearTimeout: () => {},
    };
    const answers = [
      { running: false, done: 0, total: 0, files_per_s: 0 },
      { running: true, done: 1, total: 10, files_per_s: 5 },
      { running: true, done: 5, total: 10, files_per_s: 5 },
      { running: false, done: 10, total: 10, files_per_s: 0 },
    ];
    const seen: unknown[] = [];
    const changed = vi.fn();
    const p = new ScanPoller({ scanStatus: async () => answers.shift()! }, (s) => seen.push(s), { timers, onLibraryChanged: changed, progressEvery: 100 });
    p.start();
    const flush = async () => {
      for (let i = 0; i < 5; i++) await Promise.resolve();
    };
    await flush();
    for (let i = 0; i < 3; i++) {
      fire!();
      await flush();
    }
    expect(delays).toEqual([5000, 500, 500, 5000]);
    expect(changed).toHaveBeenCalledTimes(1);
    expect(seen).toHaveLength(4);
    p.stop();
  });
  it('stops asking a server without a library', async () => {
    const { ScanPoller } = await import('../src/library/sidebar');
    const setT = vi.fn();
    const seen: unknown[] = [];
    const p = new ScanPoller(
      {
        scanStatus: async () => {
          throw Object.assign(new Error('no'), { status: 404 });
        },
      },
      (s) => seen.push(s),
      { timers: { setTimeout: setT, clearTimeout: () => {} } },
    );
    p.start();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect(seen).toEqual([null]);
    expect(setT).not.toHaveBeenCalled();
  });
});

describe('artists', () => {
  it('filters by word prefix, case and accent-insensitive', async () => {
    const { filterArtists } = await import('../src/library/artistsView');
    const list = [
      { name: 'Beyoncé', album_count: 2, track_count: 3 },
      { name: 'The Beatles', album_count: 1, track_count: 1 },
      { name: 'Abbey', album_count: 1, track_count: 1 },
    ];
    expect(filterArtists(list, 'beyon').map((a) => a.name)).toEqual(['Beyoncé']);
    expect(filterArtists(list, 'BEYONCE').map((a) => a.name)).toEqual(['Beyoncé']);
    expect(filterArtists(list, 'bea').map((a) => a.name)).toEqual(['The Beatles']);
    expect(filterArtists(list, '')).toHaveLength(3);
  });
  it('makes albums from an artist’s tracks', async () => {
    const { albumsOfTracks } = await import('../src/library/artistsView');
    const t = (id: number, album_id: number, has_cover = false): Track => ({ id, title: '', artist: 'X', album: `A${album_id}`, duration_s: 1, album_id, has_cover, year: 2000 });
    expect(albumsOfTracks([t(1, 1), t(2, 1, true), t(3, 2)])).toEqual([
      { id: 1, title: 'A1', album_artist: 'X', year: 2000, cover_track_id: 2 },
      { id: 2, title: 'A2', album_artist: 'X', year: 2000, cover_track_id: null },
    ]);
  });
});
