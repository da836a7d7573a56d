/**
 * The one module that talks to the Sonance backend.
 *
 * Base URL:
 * - `?api=<url>` in the page address wins (development, tests);
 * - inside the Tauri app (`window.__TAURI_INTERNALS__` exists): the app's
 *   loopback server when the app set `window.__SONANCE_API__` (its URL holds
 *   the server's token), else the custom scheme, `http://sonance.localhost/`
 *   on Windows, `sonance://localhost/` elsewhere;
 * - otherwise the page's own folder, same-origin (the page served by `sonance serve`,
 *   under its access token: `http://127.0.0.1:8411/TOKEN/`).
 * Every transport but the scheme streams chunk bodies as they are made.
 */

import type { Command } from './generated/player/Command';
import type { PlayerState as CoreState } from './generated/player/PlayerState';
import type { LoudnessMode } from './generated/player/LoudnessMode';

export interface Preset {
  name: string;
  description: string;
}

export type TrackId = string | number;

export interface Track {
  id: TrackId;
  title: string;
  artist: string | null;
  album: string | null;
  /** null when the file cannot be decoded. */
  duration_s: number | null;
  /** Why the file cannot be played, when it cannot. */
  error?: string | null;
  // Library fields (a server with a library database sends them; older servers do not).
  album_artist?: string | null;
  album_id?: LibraryId | null;
  track_no?: number | null;
  disc_no?: number | null;
  year?: number | null;
  genre?: string | null;
  /** The file is gone from disk (the library still lists it). */
  missing?: boolean;
  codec?: string | null;
  sample_rate?: number | null;
  channels?: number | null;
  has_cover?: boolean;
  play_count?: number;
}

export type LibraryId = string | number;

export interface Album {
  id: LibraryId;
  title: string;
  album_artist: string | null;
  year: number | null;
  track_count: number;
  duration_s: number;
  /** A track whose cover stands for the album, or null when none has one. */
  cover_track_id: TrackId | null;
}

export interface AlbumDetail extends Album {
  /** In disc/track order. */
  tracks: Track[];
}

export interface Artist {
  name: string;
  album_count: number;
  track_count: number;
}

export interface ScanStatus {
  running: boolean;
  done: number;
  total: number;
  files_per_s: number;
  phase?: string | null;
  current_folder?: string | null;
}

export interface LibraryFolder {
  id: LibraryId;
  path: string;
  track_count: number;
}

/** One window of a list and the size of the whole list. */
export interface Page<T> {
  items: T[];
  /** How many items the whole list has (`X-Total-Count`). */
  total: number;
  /**
   * The server sent no `X-Total-Count`: it does not page (an older server) and
   * `items` is the whole list, whatever was asked.
   */
  whole: boolean;
}

export interface ListQuery {
  q?: string;
  limit?: number;
  offset?: number;
  /** A column name, `-` in front for descending. */
  sort?: string;
}

export interface TrackQuery extends ListQuery {
  album?: LibraryId;
  artist?: string;
  genre?: string;
}

export interface TrackDetail extends Track {
  duration_s: number;
  chunk_seconds: number;
  chunk_count: number;
  mime: string;
}

/** A failed request. `status` is undefined when the server was not reached. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
  get aborted(): boolean {
    return this.kind === 'aborted';
  }
}

interface TauriWindow {
  __TAURI_INTERNALS__?: unknown;
  __SONANCE_API__?: unknown;
}

/** Where the stream API is. */
export interface Api {
  /** Base URL, always ending with '/'. */
  base: string;
  /** Whether chunk bodies arrive as they are made (see {@link Bridge.streams}). */
  streams: boolean;
}

/** Work out where this page's stream API is. */
export function detectApi(loc: { href: string; search: string } = window.location, win: TauriWindow = window as TauriWindow, userAgent = navigator.userAgent): Api {
  const slash = (u: string) => new URL(u.endsWith('/') ? u : `${u}/`, loc.href).href;
  const param = new URLSearchParams(loc.search).get('api');
  if (param) return { base: slash(param), streams: true };
  if (win.__TAURI_INTERNALS__ !== undefined) {
    if (typeof win.__SONANCE_API__ === 'string') return { base: slash(win.__SONANCE_API__), streams: true };
    return { base: /Windows/i.test(userAgent) ? 'http://sonance.localhost/' : 'sonance://localhost/', streams: false };
  }
  // The page's own folder: `sonance serve` puts its access token first in the path
  // (http://127.0.0.1:8411/TOKEN/), and the API lives beside the page.
  return { base: new URL('./', loc.href).href, streams: true };
}

/** Intensity as sent to the server: a number in [0, 1] with at most two decimals. */
export function formatIntensity(x: number): string {
  const v = Math.max(0, Math.min(1, x));
  return String(Math.round(v * 100) / 100);
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The server did not accept the request.',
  404: 'The server does not know this item.',
  422: 'The server could not process this item.',
  500: 'The server hit an internal error.',
  502: 'The server is not reachable right now.',
  503: 'The server is busy right now.',
};

export class Bridge {
  readonly base: string;
  /**
   * Whether chunk bodies arrive as they are made (`sonance serve`, the desktop
   * app's loopback server), so asking for the span of a seek target or switch
   * point first (`at`) pays off. The desktop app's custom scheme delivers whole
   * bodies: there the chunk comes in span order, as made.
   */
  readonly streams: boolean;
  /**
   * How chunks are levelled (`loudness=` on every chunk request): each track on its own, or
   * with the album it is on (the server keeps an album's loudness differences). The player
   * core's setting; a change applies to the chunks fetched after it.
   */
  loudness: LoudnessMode = 'track';

  /** With no `base`, the page's own API ({@link detectApi}); a given `base` streams unless told. */
  constructor(base?: string, streams?: boolean) {
    const api = base === undefined ? detectApi() : { base, streams: true };
    this.base = api.base;
    this.streams = streams ?? api.streams;
  }

  url(path: string, query?: Record<string, string>): string {
    const u = new URL(path.replace(/^\//, ''), this.base);
    if (query) for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
    return u.href;
  }

  presets(signal?: AbortSignal): Promise<Preset[]> {
    return this.json<Preset[]>('api/presets', undefined, signal);
  }

  tracks(signal?: AbortSignal): Promise<Track[]> {
    return this.json<Track[]>('api/tracks', undefined, signal);
  }

  /** A window of the library's tracks (search, sort, filters). */
  trackPage(query: TrackQuery, signal?: AbortSignal): Promise<Page<Track>> {
    return this.page<Track>('api/tracks', listQuery(query), signal);
  }

  albumPage(query: ListQuery, signal?: AbortSignal): Promise<Page<Album>> {
    return this.page<Album>('api/albums', listQuery(query), signal);
  }

  album(id: LibraryId, signal?: AbortSignal): Promise<AlbumDetail> {
    return this.json<AlbumDetail>(`api/albums/${encodeURIComponent(String(id))}`, undefined, signal);
  }

  artists(signal?: AbortSignal): Promise<Artist[]> {
    return this.json<Artist[]>('api/artists', undefined, signal);
  }

  /** The address of a track's cover art (a JPEG; 404 when it has none), `size` pixels square at most. */
  coverUrl(id: TrackId, size: number): string {
    return this.url(`api/covers/${encodeURIComponent(String(id))}`, { size: String(Math.max(1, Math.round(size))) });
  }

  scanStatus(signal?: AbortSignal): Promise<ScanStatus> {
    return this.json<ScanStatus>('api/library/scan', undefined, signal);
  }

  folders(signal?: AbortSignal): Promise<LibraryFolder[]> {
    return this.json<LibraryFolder[]>('api/library/folders', undefined, signal);
  }

  async addFolder(path: string, signal?: AbortSignal): Promise<void> {
    await this.request('api/library/folders', undefined, signal, { method: 'POST', body: JSON.stringify({ path }) });
  }

  async removeFolder(id: LibraryId, signal?: AbortSignal): Promise<void> {
    await this.request(`api/library/folders/${encodeURIComponent(String(id))}`, undefined, signal, { method: 'DELETE' });
  }

  /** The player core's state (`GET /api/player`); 404: a server without a core. */
  playerState(signal?: AbortSignal): Promise<CoreState> {
    return this.json<CoreState>('api/player', undefined, signal);
  }

  /** One command to the player core (`POST /api/player`, 202); its effects come back as events. */
  async sendCommand(cmd: Command, signal?: AbortSignal): Promise<void> {
    await this.request('api/player', undefined, signal, { method: 'POST', body: JSON.stringify(cmd) });
  }

  /** The player core's event stream (Server-Sent Events: `state` first, then one `Event` per message). */
  eventsUrl(): string {
    return this.url('api/events');
  }

  track(id: TrackId, signal?: AbortSignal): Promise<TrackDetail> {
    return this.json<TrackDetail>(`api/tracks/${encodeURIComponent(String(id))}`, undefined, signal);
  }

  initSegment(id: TrackId, preset: string, intensity: number, signal?: AbortSignal): Promise<ArrayBuffer> {
    return this.bytes(`api/tracks/${encodeURIComponent(String(id))}/init.webm`, chunkQuery(preset, intensity), signal);
  }

  /** A whole chunk in one buffer (see {@link chunkStream} to read it as it arrives). */
  chunk(id: TrackId, n: number, preset: string, intensity: number, signal?: AbortSignal): Promise<ArrayBuffer> {
    return this.bytes(chunkPath(id, n), chunkQuery(preset, intensity, this.loudness), signal);
  }

  /**
   * GET a chunk and hand its body to `onPiece` as it arrives: in order, never
   * empty, one piece per network read (whole bodies, e.g. from the desktop
   * app's custom scheme or the server's cache, may come as a single piece).
   * The next read waits for the promise `onPiece` returns. Resolves after the
   * last piece; rejects with an ApiError like {@link chunk} (an error thrown by
   * `onPiece` is passed on as it is), and stops reading once `signal` aborts.
   * With `at` (seconds into the track) a streaming server sends the span that
   * plays then first, then the rest of the chunk, then the spans before it.
   * `onPiece` also gets where the first piece's media ends, when the server
   * says (`X-First-Span-End`).
   */
  async chunkStream(
    id: TrackId,
    n: number,
    preset: string,
    intensity: number,
    onPiece: (piece: Uint8Array<ArrayBuffer>, firstEnd?: number) => void | Promise<void>,
    signal?: AbortSignal,
    at?: number,
  ): Promise<void> {
    const query = chunkQuery(preset, intensity, this.loudness);
    if (at !== undefined && this.streams) query.at = String(Math.max(0, Math.round(at * 1000) / 1000));
    const res = await this.request(chunkPath(id, n), query, signal);
    // Where the media of the first piece ends (`sonance serve` says): passed with every piece.
    const spanEnd = Number(res.headers.get('X-First-Span-End') ?? NaN);
    const firstEnd = Number.isFinite(spanEnd) ? spanEnd : undefined;
    const aborted = () => new ApiError('The request was cancelled.', undefined, 'aborted');
    if (!res.body) {
      let whole: ArrayBuffer;
      try {
        whole = await res.arrayBuffer();
      } catch (e) {
        throw toApiError(e, signal);
      }
      if (signal?.aborted) throw aborted();
      if (whole.byteLength > 0) await onPiece(new Uint8Array(whole), firstEnd);
      return;
    }
    const reader = res.body.getReader();
    try {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array<ArrayBuffer>>;
        try {
          r = await reader.read();
        } catch (e) {
          throw toApiError(e, signal);
        }
        if (r.done) return;
        if (signal?.aborted) throw aborted();
        if (r.value.byteLength > 0) await onPiece(r.value, firstEnd);
      }
    } catch (e) {
      reader.cancel().catch(() => {});
      throw e;
    }
  }

  private async json<T>(path: string, query?: Record<string, string>, signal?: AbortSignal): Promise<T> {
    const res = await this.request(path, query, signal);
    try {
      return (await res.json()) as T;
    } catch {
      throw new ApiError('The server sent an answer that could not be read.', res.status, 'bad_response');
    }
  }

  private async page<T>(path: string, query: Record<string, string>, signal?: AbortSignal): Promise<Page<T>> {
    const res = await this.request(path, query, signal);
    let items: T[];
    try {
      items = (await res.json()) as T[];
    } catch (e) {
      if (signal?.aborted) throw toApiError(e, signal);
      throw new ApiError('The server sent an answer that could not be read.', res.status, 'bad_response');
    }
    if (!Array.isArray(items)) throw new ApiError('The server sent an answer that could not be read.', res.status, 'bad_response');
    const header = res.headers.get('X-Total-Count');
    const total = header === null || header.trim() === '' ? NaN : Number(header);
    if (Number.isInteger(total) && total >= 0) return { items, total, whole: false };
    return { items, total: items.length, whole: true };
  }

  private async bytes(path: string, query?: Record<string, string>, signal?: AbortSignal): Promise<ArrayBuffer> {
    const res = await this.request(path, query, signal);
    try {
      return await res.arrayBuffer();
    } catch (e) {
      throw toApiError(e, signal);
    }
  }

  private async request(
    path: string,
    query: Record<string, string> | undefined,
    signal?: AbortSignal,
    send?: { method: 'POST' | 'DELETE'; body?: string },
  ): Promise<Response> {
    let res: Response;
    const init: RequestInit = { signal, cache: 'no-store' };
    if (send) {
      init.method = send.method;
      if (send.body !== undefined) {
        init.body = send.body;
        init.headers = { 'Content-Type': 'application/json' };
      }
    }
    try {
      res = await fetch(this.url(path, query), init);
    } catch (e) {
      throw toApiError(e, signal);
    }
    if (res.ok) return res;
    let kind = 'http';
    let message = STATUS_TEXT[res.status] ?? `The server answered with status ${res.status}.`;
    try {
      const body = (await res.json()) as { kind?: unknown; message?: unknown };
      if (typeof body.kind === 'string') kind = body.kind;
      if (typeof body.message === 'string' && body.message.trim()) message = sentence(body.message);
    } catch {
      /* not JSON: keep the generic sentence */
    }
    throw new ApiError(message, res.status, kind);
  }
}

/** The query string of a list request: only the parameters given, in a fixed order. */
export function listQuery(query: TrackQuery): Record<string, string> {
  const q: Record<string, string> = {};
  if (query.q !== undefined && query.q.trim() !== '') q.q = query.q.trim();
  if (query.limit !== undefined) q.limit = String(Math.max(0, Math.floor(query.limit)));
  if (query.offset !== undefined) q.offset = String(Math.max(0, Math.floor(query.offset)));
  if (query.sort) q.sort = query.sort;
  if (query.album !== undefined) q.album = String(query.album);
  if (query.artist !== undefined) q.artist = query.artist;
  if (query.genre !== undefined) q.genre = query.genre;
  return q;
}

function chunkPath(id: TrackId, n: number): string {
  return `api/tracks/${encodeURIComponent(String(id))}/chunks/${n}.webm`;
}

/**
 * The query for a rendering. A preset may be `original-matched:CHOSEN` (the A/B
 * original at CHOSEN's loudness): that is `preset=original-matched&match=CHOSEN`.
 * Album levelling adds `loudness=album` (track levelling is the server's default).
 */
export function chunkQuery(preset: string, intensity: number, loudness: LoudnessMode = 'track'): Record<string, string> {
  const [name, match] = preset.split(':', 2) as [string, string | undefined];
  const q: Record<string, string> = { preset: name, intensity: formatIntensity(intensity) };
  if (match) q.match = match;
  if (loudness === 'album') q.loudness = 'album';
  return q;
}

/** A server message as a sentence: capital first letter, final punctuation. */
export function sentence(text: string): string {
  const t = text.trim();
  if (!t) return t;
  const first = t.charAt(0).toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(first) ? first : `${first}.`;
}

function toApiError(e: unknown, signal?: AbortSignal): ApiError {
  if (e instanceof ApiError) return e;
  if (signal?.aborted || (e instanceof DOMException && e.name === 'AbortError')) {
    return new ApiError('The request was cancelled.', undefined, 'aborted');
  }
  return new ApiError('The Sonance server could not be reached.', undefined, 'network');
}
