// How the page reaches the stream API in the real app. By default (Linux) it is the app's own
// loopback server: the page plays from it, a chunk it has not rendered yet goes out in pieces
// as it is made (HTTP/1.1 chunked), and it answers only the page (its token in the path, a
// loopback Host, the page's Origin). `SONANCE_TRANSPORT=scheme` falls back to the `sonance:`
// scheme (whole bodies), which plays the same way and follows the same player core (polled).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';

import { launchApp, makeHome, tempDir, tone, until } from './driver.mjs';

const PAGE_ORIGIN = 'tauri://localhost';

/** A GET with exactly these headers (Node's fetch would add its own Origin rules). */
function get(url, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Start the app on a never-rendered 40 s tone (30 s chunks, the default) and press Play. */
async function playFresh(env) {
  const dir = await tempDir('sonance-transport-');
  const file = await tone(join(dir, 'transport.flac'), { seconds: 40, title: 'Transport' });
  const app = await launchApp({ home: await makeHome(), files: [file], env });
  await until(async () => {
    const s = await app.state();
    return s && s.title === 'Transport' && s.duration > 0;
  }, { what: 'the tone to be loaded' });
  const info = await app.exec(() => ({ api: window.__SONANCE_API__ ?? null, base: window.__sonance.bridge.base, streams: window.__sonance.bridge.streams }));
  await until(async () => {
    const s = await app.state();
    if (s.audioPaused) await app.click('#play');
    return s.currentTime > 1 && !s.audioPaused;
  }, { timeoutMs: 30_000, what: 'playback to start' });
  const appends = await app.exec(() => window.__sonance.state().appends.filter((a) => a.chunk === 0).length);
  return { app, info, appends };
}

test("the page streams from the app's loopback server, which answers only the page", { timeout: 120_000 }, async (t) => {
  const { app, info, appends } = await playFresh({});
  try {
    assert.match(info.api, /^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}\/$/, 'a loopback URL with a 128-bit token');
    assert.equal(info.base, info.api);
    assert.equal(info.streams, true, 'the page asks for spans first and appends pieces as they come');
    t.diagnostic(`chunk 0 went into the SourceBuffer in ${appends} appends`);

    const url = new URL(info.api);
    const host = url.host;
    const tracks = `${info.api}api/tracks`;
    const page = await get(tracks, { Host: host, Origin: PAGE_ORIGIN });
    assert.equal(page.status, 200);
    assert.equal(page.headers['access-control-allow-origin'], PAGE_ORIGIN);
    assert.match(page.body, /Transport/);
    // Chunk 1 in another rendering, which nothing has asked for: it streams.
    const id = JSON.parse(page.body).find((x) => x.title === 'Transport').id;
    const chunk = await get(`${info.api}api/tracks/${id}/chunks/1.webm?preset=bypass`, { Host: host, Origin: PAGE_ORIGIN });
    assert.equal(chunk.status, 200);
    assert.equal(chunk.headers['transfer-encoding'], 'chunked', 'a chunk being made goes out as it is made');
    assert.equal(chunk.headers['content-length'], undefined);
    const refused = [
      ['no token', `http://${host}/api/tracks`, { Host: host, Origin: PAGE_ORIGIN }],
      ['another token', `http://${host}/${'0'.repeat(32)}/api/tracks`, { Host: host, Origin: PAGE_ORIGIN }],
      ['another origin', tracks, { Host: host, Origin: 'http://127.0.0.1:8080' }],
      ['a rebound name', tracks, { Host: `evil.example:${url.port}`, Origin: PAGE_ORIGIN }],
    ];
    for (const [what, u, headers] of refused) {
      const r = await get(u, headers);
      assert.equal(r.status, 403, `${what}: ${r.status} ${r.body}`);
    }
  } finally {
    await app.close();
  }
});

test('SONANCE_TRANSPORT=scheme: the page plays through the sonance: scheme, whole chunks', { timeout: 120_000 }, async () => {
  const { app, info } = await playFresh({ SONANCE_TRANSPORT: 'scheme' });
  try {
    assert.equal(info.api, null);
    assert.equal(info.base, 'sonance://localhost/');
    assert.equal(info.streams, false, 'whole bodies: no spans first');
    // The app's player core is hosted here too; the scheme cannot stream its events, so the
    // page polls it. A pause made through the core is followed by the page.
    assert.equal(await app.exec(() => !!window.__sonance.core?.remote), true, 'the page follows the app’s core');
    const core = () => app.execAsync(() => window.__sonance.bridge.playerState());
    assert.equal((await core()).status, 'playing');
    await app.execAsync(() => window.__sonance.bridge.sendCommand({ type: 'pause' }));
    await until(async () => (await app.state()).audioPaused, { what: 'the page to follow a pause of the core (polling)' });
    assert.equal((await core()).status, 'paused');
  } finally {
    await app.close();
  }
});
