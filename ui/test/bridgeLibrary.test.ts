import { afterEach, describe, expect, it, vi } from 'vitest';
import { ApiError, Bridge, listQuery } from '../src/bridge';

type Seen = { url: string; method: string; body: unknown; contentType: string | null };

function fakeFetch(respond: (url: string) => Response) {
  const seen: Seen[] = [];
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    seen.push({
      url,
      method: init.method ?? 'GET',
      body: init.body === undefined ? undefined : JSON.parse(String(init.body)),
      contentType: new Headers(init.headers).get('Content-Type'),
    });
    return respond(url);
  });
  return seen;
}

const json = (v: unknown, headers: Record<string, string> = {}, status = 200) => new Response(JSON.stringify(v), { status, headers });

describe('library requests', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('pages tracks with search, sort and filters, and reads X-Total-Count', async () => {
    const seen = fakeFetch(() => json([{ id: 1, title: 'Halo' }], { 'X-Total-Count': '1234' }));
    const b = new Bridge('http://h:1/base/');
    const page = await b.trackPage({ q: ' Beyoncé ', limit: 200, offset: 400, sort: '-year', artist: 'Beyoncé', album: 7, genre: 'Pop' });
    expect(page).toEqual({ items: [{ id: 1, title: 'Halo' }], total: 1234, whole: false });
    const u = new URL(seen[0]!.url);
    expect(u.origin + u.pathname).toBe('http://h:1/base/api/tracks');
    expect(Object.fromEntries(u.searchParams)).toEqual({ q: 'Beyoncé', limit: '200', offset: '400', sort: '-year', album: '7', artist: 'Beyoncé', genre: 'Pop' });
    expect(seen[0]!.url).toContain('q=Beyonc%C3%A9');
  });

  it('leaves out empty parameters', () => {
    expect(listQuery({ q: '  ', limit: 10.7, offset: -3 })).toEqual({ limit: '10', offset: '0' });
    expect(listQuery({})).toEqual({});
  });

  it('takes an answer without X-Total-Count as the whole list (a server that does not page)', async () => {
    fakeFetch(() => json([{ id: 1 }, { id: 2 }, { id: 3 }]));
    expect(await new Bridge('http://h/').trackPage({ limit: 2, offset: 0 })).toEqual({ items: [{ id: 1 }, { id: 2 }, { id: 3 }], total: 3, whole: true });
  });

  it('refuses a list that is not an array', async () => {
    fakeFetch(() => json({ oops: true }, { 'X-Total-Count': '1' }));
    const err = await new Bridge('http://h/').albumPage({}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).kind).toBe('bad_response');
  });

  it('pages albums and gets one album, the artists, covers', async () => {
    const seen = fakeFetch((url) => {
      if (url.includes('/api/albums?')) return json([{ id: 3, title: 'A' }], { 'X-Total-Count': '40' });
      if (url.includes('/api/albums/')) return json({ id: 'x/y', title: 'A', tracks: [] });
      return json([{ name: 'Beyoncé', album_count: 2, track_count: 3 }]);
    });
    const b = new Bridge('http://h/');
    expect((await b.albumPage({ q: 'da', limit: 100, offset: 0, sort: 'year' })).total).toBe(40);
    expect((await b.album('x/y')).tracks).toEqual([]);
    expect(await b.artists()).toEqual([{ name: 'Beyoncé', album_count: 2, track_count: 3 }]);
    expect(seen.map((s) => s.url)).toEqual([
      'http://h/api/albums?q=da&limit=100&offset=0&sort=year',
      'http://h/api/albums/x%2Fy',
      'http://h/api/artists',
    ]);
    expect(b.coverUrl('t 1', 200.4)).toBe('http://h/api/covers/t%201?size=200');
    expect(new Bridge('sonance://localhost/').coverUrl(5, 64)).toBe('sonance://localhost/api/covers/5?size=64');
  });

  it('reads the scan and manages folders', async () => {
    const seen = fakeFetch((url) => {
      if (url.endsWith('/scan')) return json({ running: true, done: 1, total: 2, files_per_s: 3, phase: 'scan', current_folder: '/m' });
      if (url.endsWith('/folders')) return json([{ id: 1, path: '/m', track_count: 2 }]);
      return new Response(null, { status: 204 });
    });
    const b = new Bridge('http://h/');
    expect((await b.scanStatus()).running).toBe(true);
    expect(await b.folders()).toEqual([{ id: 1, path: '/m', track_count: 2 }]);
    await b.addFolder('/home/me/Music');
    await b.removeFolder(1);
    expect(seen.map((s) => [s.method, s.url])).toEqual([
      ['GET', 'http://h/api/library/scan'],
      ['GET', 'http://h/api/library/folders'],
      ['POST', 'http://h/api/library/folders'],
      ['DELETE', 'http://h/api/library/folders/1'],
    ]);
    expect(seen[2]!.body).toEqual({ path: '/home/me/Music' });
    expect(seen[2]!.contentType).toBe('application/json');
  });

  it('maps a refused folder to the server sentence', async () => {
    fakeFetch(() => json({ kind: 'bad_folder', message: 'not a folder' }, {}, 400));
    const err = (await new Bridge('http://h/').addFolder('/nope').catch((e: unknown) => e)) as ApiError;
    expect(err.status).toBe(400);
    expect(err.kind).toBe('bad_folder');
    expect(err.message).toBe('Not a folder.');
  });
});
