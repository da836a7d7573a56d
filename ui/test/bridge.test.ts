import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, Bridge, detectApi, formatIntensity, sentence } from '../src/bridge';
import { setWindow } from '../src/mse';
import { makeKey, parseKey, presetMessage } from '../src/player';

describe('where the API is', () => {
  const loc = (href: string) => ({ href, search: new URL(href).search });
  it("is the page's own folder in a browser (under serve's token), streaming", () => {
    expect(detectApi(loc('http://127.0.0.1:4321/index.html'), {}, 'X11; Linux')).toEqual({ base: 'http://127.0.0.1:4321/', streams: true });
    expect(detectApi(loc('http://127.0.0.1:4321/0a1b2c/'), {}, 'X11; Linux')).toEqual({ base: 'http://127.0.0.1:4321/0a1b2c/', streams: true });
    expect(detectApi(loc('http://127.0.0.1:4321/0a1b2c/index.html?x=1'), {}, 'X11; Linux').base).toBe('http://127.0.0.1:4321/0a1b2c/');
  });
  it("is the app's loopback server inside Tauri when the app names it, streaming", () => {
    const win = { __TAURI_INTERNALS__: {}, __SONANCE_API__: 'http://127.0.0.1:41234/0a1b2c' };
    expect(detectApi(loc('tauri://localhost/'), win, 'X11; Linux x86_64')).toEqual({ base: 'http://127.0.0.1:41234/0a1b2c/', streams: true });
  });
  it('is the custom scheme inside Tauri otherwise, with whole bodies', () => {
    expect(detectApi(loc('tauri://localhost/'), { __TAURI_INTERNALS__: {} }, 'X11; Linux x86_64')).toEqual({ base: 'sonance://localhost/', streams: false });
    expect(detectApi(loc('http://tauri.localhost/'), { __TAURI_INTERNALS__: {} }, 'Mozilla/5.0 (Windows NT 10.0)')).toEqual({ base: 'http://sonance.localhost/', streams: false });
    // Only the app's adapter sets the server; anything else is ignored.
    expect(detectApi(loc('tauri://localhost/'), { __TAURI_INTERNALS__: {}, __SONANCE_API__: 42 }, 'Linux').base).toBe('sonance://localhost/');
  });
  it('lets ?api= override all', () => {
    expect(detectApi(loc('http://x/?api=http://127.0.0.1:9/base'), { __TAURI_INTERNALS__: {} }, 'Linux').base).toBe('http://127.0.0.1:9/base/');
  });
});

describe('bridge requests', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('builds chunk URLs with preset and intensity', async () => {
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      seen.push(url);
      return new Response(new Uint8Array([1, 2, 3]));
    });
    const b = new Bridge('http://h:1/');
    const buf = await b.chunk('a b/c', 7, 'warm', 0.333);
    expect(buf.byteLength).toBe(3);
    expect(seen[0]).toBe('http://h:1/api/tracks/a%20b%2Fc/chunks/7.webm?preset=warm&intensity=0.33');
  });

  it('asks for album levelling on chunks (not on the init segment) once the setting says so', async () => {
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      seen.push(url);
      return new Response(new Uint8Array([1]));
    });
    const b = new Bridge('http://h:1/', true);
    await b.chunk('t', 0, 'adaptive', 1);
    b.loudness = 'album';
    await b.initSegment('t', 'adaptive', 1);
    await b.chunk('t', 0, 'adaptive', 1);
    await b.chunkStream('t', 1, 'adaptive', 1, () => {});
    expect(seen).toEqual([
      'http://h:1/api/tracks/t/chunks/0.webm?preset=adaptive&intensity=1',
      'http://h:1/api/tracks/t/init.webm?preset=adaptive&intensity=1',
      'http://h:1/api/tracks/t/chunks/0.webm?preset=adaptive&intensity=1&loudness=album',
      'http://h:1/api/tracks/t/chunks/1.webm?preset=adaptive&intensity=1&loudness=album',
    ]);
  });

  it('asks for the A/B original at the chosen preset\'s loudness, and for a span first when streaming', async () => {
    const seen: string[] = [];
    vi.stubGlobal('fetch', async (url: string) => {
      seen.push(url);
      return new Response(new Uint8Array([1]));
    });
    const streaming = new Bridge('http://h:1/', true);
    await streaming.initSegment('t', 'original-matched:warm', 1);
    await streaming.chunkStream('t', 2, 'original-matched:warm', 1, () => {}, undefined, 61.2345);
    expect(seen[0]).toBe('http://h:1/api/tracks/t/init.webm?preset=original-matched&intensity=1&match=warm');
    expect(seen[1]).toBe('http://h:1/api/tracks/t/chunks/2.webm?preset=original-matched&intensity=1&match=warm&at=61.235');
    // Whole bodies (the desktop scheme): no `at`.
    await new Bridge('http://h:1/', false).chunkStream('t', 2, 'warm', 1, () => {}, undefined, 61.2);
    expect(seen[2]).toBe('http://h:1/api/tracks/t/chunks/2.webm?preset=warm&intensity=1');
  });

  it('turns server errors into ApiError with the server sentence', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ kind: 'undecodable', message: 'This file is not audio.' }), { status: 422 }));
    const err = await new Bridge('http://h/').track('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(422);
    expect((err as ApiError).kind).toBe('undecodable');
    expect((err as ApiError).message).toBe('This file is not audio.');
  });

  it('keeps a plain sentence when the error body is not JSON', async () => {
    vi.stubGlobal('fetch', async () => new Response('<html>oops</html>', { status: 503 }));
    const err = (await new Bridge('http://h/').presets().catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(503);
    expect(err.message).toBe('The server is busy right now.');
  });

  it('reports network failures without a status', async () => {
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('Failed to fetch');
    });
    const err = (await new Bridge('http://h/').tracks().catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBeUndefined();
    expect(err.kind).toBe('network');
  });

  it('reports aborts as aborted', async () => {
    vi.stubGlobal('fetch', async (_u: string, init: RequestInit) => {
      if (init.signal?.aborted) throw new DOMException('aborted', 'AbortError');
      return new Response('');
    });
    const c = new AbortController();
    c.abort();
    const err = (await new Bridge('http://h/').chunk(1, 0, 'bypass', 1, c.signal).catch((e: unknown) => e)) as ApiError;
    expect(err.aborted).toBe(true);
  });
});

describe('chunk streams', () => {
  afterEach(() => vi.unstubAllGlobals());

  /** A response whose body arrives in `parts`, one per read; `hold` keeps the stream open after them. */
  function streamed(parts: number[][], opts: { status?: number; hold?: boolean; fail?: boolean } = {}) {
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < parts.length) c.enqueue(new Uint8Array(parts[i++]!));
        else if (opts.fail) c.error(new TypeError('network error'));
        else if (!opts.hold) c.close();
        else return new Promise(() => {}); // stays open
      },
    });
    return new Response(body, { status: opts.status ?? 200 });
  }

  it('hands the body over piece by piece, in order, and resolves after the last', async () => {
    vi.stubGlobal('fetch', async () => streamed([[1, 2], [], [3], [4, 5, 6]]));
    const got: number[][] = [];
    await new Bridge('http://h/').chunkStream('t', 0, 'bypass', 1, (p) => {
      got.push([...p]);
    });
    expect(got).toEqual([[1, 2], [3], [4, 5, 6]]);
  });

  it('waits for onPiece before reading on', async () => {
    vi.stubGlobal('fetch', async () => streamed([[1], [2], [3]]));
    const log: string[] = [];
    await new Bridge('http://h/').chunkStream('t', 0, 'bypass', 1, async (p) => {
      log.push(`start ${p[0]}`);
      await new Promise((r) => setTimeout(r, 5));
      log.push(`end ${p[0]}`);
    });
    expect(log).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
  });

  it('maps HTTP errors like the whole-body request, before any piece', async () => {
    vi.stubGlobal('fetch', async () => new Response(JSON.stringify({ kind: 'bad_preset', message: 'no such preset' }), { status: 400 }));
    const pieces: Uint8Array[] = [];
    const err = (await new Bridge('http://h/').chunkStream('t', 0, 'x', 1, (p) => void pieces.push(p)).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.message).toBe('No such preset.');
    expect(pieces).toEqual([]);
  });

  it('reports a body cut off half-way as a network failure (retryable), after the pieces that came', async () => {
    vi.stubGlobal('fetch', async () => streamed([[1], [2]], { fail: true }));
    const got: number[] = [];
    const err = (await new Bridge('http://h/').chunkStream('t', 0, 'bypass', 1, (p) => void got.push(...p)).catch((e: unknown) => e)) as ApiError;
    expect(got).toEqual([1, 2]);
    expect(err.kind).toBe('network');
    expect(err.status).toBeUndefined();
  });

  it('stops at an abort between two pieces and reports it as aborted', async () => {
    const c = new AbortController();
    vi.stubGlobal('fetch', async (_u: string, init: RequestInit) => {
      const res = streamed([[1], [2], [3]], { hold: true });
      init.signal?.addEventListener('abort', () => void res.body?.cancel().catch(() => {}));
      return res;
    });
    const got: number[] = [];
    const err = (await new Bridge('http://h/')
      .chunkStream(
        't',
        0,
        'bypass',
        1,
        (p) => {
          got.push(...p);
          if (p[0] === 1) c.abort();
        },
        c.signal,
      )
      .catch((e: unknown) => e)) as ApiError;
    expect(got).toEqual([1]);
    expect(err.aborted).toBe(true);
  });

  it('passes an error of onPiece on as it is', async () => {
    vi.stubGlobal('fetch', async () => streamed([[1], [2]]));
    const boom = new ApiError('The init segment is missing.', 404, 'not_found');
    const err = await new Bridge('http://h/')
      .chunkStream('t', 0, 'bypass', 1, () => {
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
  });
});

describe('small pieces', () => {
  it('turns server messages into sentences', () => {
    expect(sentence('there is no such track')).toBe('There is no such track.');
    expect(sentence('Done!')).toBe('Done!');
    expect(sentence('  ')).toBe('');
  });
  it('formats intensity in [0, 1]', () => {
    expect(formatIntensity(0.5)).toBe('0.5');
    expect(formatIntensity(1)).toBe('1');
    expect(formatIntensity(7)).toBe('1');
    expect(formatIntensity(-1)).toBe('0');
  });
  it('round-trips keys', () => {
    expect(parseKey(makeKey('original-matched', 0.25))).toEqual({ preset: 'original-matched', intensity: 0.25 });
  });
  it('names a refused preset once', () => {
    expect(presetMessage('warm', 'The preset “warm” is not available yet.')).toBe('The preset “warm” is not available yet.');
    expect(presetMessage('warm', 'Not implemented')).toBe('The preset “warm” is not available: Not implemented.');
  });
  it('sets the append window so that start < end after each assignment', () => {
    const log: string[] = [];
    const sb = {
      s: 0,
      e: Infinity,
      get appendWindowStart() {
        return this.s;
      },
      set appendWindowStart(v: number) {
        if (!(v < this.e)) throw new TypeError(`start ${v} >= end ${this.e}`);
        log.push(`start=${v}`);
        this.s = v;
      },
      get appendWindowEnd() {
        return this.e;
      },
      set appendWindowEnd(v: number) {
        if (!(v > this.s)) throw new TypeError(`end ${v} <= start ${this.s}`);
        log.push(`end=${v}`);
        this.e = v;
      },
    };
    setWindow(sb, 0, 5);
    setWindow(sb, 5, 10); // forward: end first
    setWindow(sb, 40, 45); // far forward
    setWindow(sb, 10, 15); // backward: start first
    expect(log).toEqual(['start=0', 'end=5', 'end=10', 'start=5', 'end=45', 'start=40', 'start=10', 'end=15']);
  });
});
