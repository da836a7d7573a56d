// The stream API contract and its refusals, with plain Node http.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { audio, startServer, tempDir } from './helpers.mjs';

let dir, server;

before(async () => {
  dir = await tempDir();
  const f = join(dir, 'tone.flac');
  await audio.sine(f, 12, 330);
  // Debug logging: every request is logged, so a token in a log would show.
  server = await startServer([f], { chunkSeconds: 5, env: { RUST_LOG: 'debug' } });
});

after(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** GET with a raw path under the server's token (no normalisation) and optional headers. */
function get(path, headers = {}, { token = true, method = 'GET', body } = {}) {
  return new Promise((resolve, reject) => {
    const full = token ? server.prefix + path : path;
    const req = http.request({ host: '127.0.0.1', port: server.port, path: full, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

function errorBody(r) {
  const j = JSON.parse(r.body.toString('utf8'));
  assert.equal(typeof j.kind, 'string');
  assert.equal(typeof j.message, 'string');
  assert.ok(j.message.length > 0);
  return j;
}

test('contract: presets, tracks, track detail, init and chunks', async () => {
  const p = await get('/api/presets');
  assert.equal(p.status, 200);
  const presets = JSON.parse(p.body);
  assert.ok(presets.some((x) => x.name === 'bypass'));
  for (const x of presets) assert.equal(typeof x.description, 'string');
  const t = await get('/api/tracks');
  assert.equal(t.status, 200);
  const tracks = JSON.parse(t.body);
  assert.equal(tracks.length, 1);
  const id = encodeURIComponent(tracks[0].id);
  const d = JSON.parse((await get(`/api/tracks/${id}`)).body);
  assert.equal(d.chunk_seconds, 5);
  assert.equal(d.chunk_count, 3);
  assert.ok(Math.abs(d.duration_s - 12) < 0.05, `duration ${d.duration_s}`);
  assert.equal(d.mime, 'audio/webm; codecs="opus"');
  const init = await get(`/api/tracks/${id}/init.webm?preset=bypass&intensity=1`);
  assert.equal(init.status, 200);
  assert.deepEqual([...init.body.subarray(0, 4)], [0x1a, 0x45, 0xdf, 0xa3], 'EBML header');
  for (const n of [0, 1, 2]) {
    const c = await get(`/api/tracks/${id}/chunks/${n}.webm?preset=bypass&intensity=1`);
    assert.equal(c.status, 200, `chunk ${n}`);
    assert.deepEqual([...c.body.subarray(0, 4)], [0x1f, 0x43, 0xb6, 0x75], `chunk ${n} starts with a Cluster`);
  }
  const past = await get(`/api/tracks/${id}/chunks/3.webm?preset=bypass&intensity=1`);
  assert.ok(past.status >= 400 && past.status < 500, `chunk past the end: ${past.status}`);
  errorBody(past);
});

test('404 with a JSON error for an unknown track id', async () => {
  const r = await get('/api/tracks/no-such-track');
  assert.equal(r.status, 404);
  errorBody(r);
  const c = await get('/api/tracks/no-such-track/chunks/0.webm?preset=bypass&intensity=1');
  assert.equal(c.status, 404);
});

test('a path-like id is refused', async () => {
  for (const path of ['/api/tracks/..%2F..%2Fetc%2Fpasswd', '/api/tracks/..%2F..%2Fetc%2Fpasswd/init.webm?preset=bypass&intensity=1', '/..%2F..%2Fetc%2Fpasswd', '/../../etc/passwd']) {
    const r = await get(path);
    assert.ok(r.status >= 400 && r.status < 500, `${path}: ${r.status}`);
    assert.ok(!r.body.toString('latin1').includes('root:'), `${path} leaked a file`);
  }
});

test('sonance serve answers only under the access token it printed', async () => {
  assert.match(server.prefix, /^\/[0-9a-f]{32}$/, 'the address has a 128-bit token');
  const wrong = `/${'0'.repeat(32)}`;
  for (const path of ['/', '/index.html', '/api/presets', '/api/tracks', `${wrong}/api/tracks`, `${wrong}/`]) {
    const r = await get(path, {}, { token: false });
    assert.equal(r.status, 403, `${path}: ${r.status}`);
    assert.ok(!r.body.toString('utf8').includes('"duration_s"'));
  }
  const ok = await get('/', {}, { token: true });
  assert.equal(ok.status, 200);
  assert.match(ok.body.toString('utf8'), /<title>Sonance<\/title>/);
  // The token is printed once; the log never shows it.
  const logged = server.stderr();
  assert.ok(!logged.includes(server.prefix.slice(1)), 'the token reached the log');
});

test('a request for another Host is refused', async () => {
  for (const path of ['/api/tracks', '/']) {
    const r = await get(path, { Host: 'evil.example' });
    assert.ok(r.status >= 400 && r.status < 500, `${path} with Host evil.example: ${r.status}`);
    assert.ok(!r.body.toString('utf8').includes('"duration_s"'));
  }
  const ok = await get('/api/tracks', { Host: `127.0.0.1:${server.port}` });
  assert.equal(ok.status, 200);
});

test('bad query values are refused with a sentence', async () => {
  const tracks = JSON.parse((await get('/api/tracks')).body);
  const id = encodeURIComponent(tracks[0].id);
  for (const q of ['preset=no-such-preset&intensity=1', 'preset=bypass&intensity=abc']) {
    const r = await get(`/api/tracks/${id}/chunks/0.webm?${q}`);
    assert.ok(r.status >= 400 && r.status < 500, `${q}: ${r.status}`);
    errorBody(r);
  }
});
