// Progressive start: when the server streams a chunk's body (HTTP/1.1 chunked, WebM
// Clusters as they are encoded), the page appends the pieces as they arrive, so
// playback starts before the first chunk has finished downloading.
//
// 30 s chunks (the product default) on a track the server has never rendered.
// Whether the server streams is read from the chunk response: no Content-Length
// (Transfer-Encoding: chunked). A server that sends whole bodies with a
// Content-Length makes this test skip with a message, nothing else does.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { audio, events, launch, openApp, startServer, state, tempDir, trackButton, waitForTime } from './helpers.mjs';

const CHUNK = 30;
let dir, server, browser, track;

before(async () => {
  dir = await tempDir();
  const file = join(dir, 'progressive90.flac');
  await audio.pink(file, 90);
  server = await startServer([file], { chunkSeconds: CHUNK });
  const list = await (await fetch(new URL('api/tracks', server.url))).json();
  track = list.find((t) => String(t.title).includes('progressive90'));
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('a streamed first chunk starts playing before its download ends', { timeout: 90_000 }, async (t) => {
  assert.ok(track, 'the server lists the test file');
  const { page, consoleErrors } = await openApp(browser.context, server.url);
  const chunk0 = /\/chunks\/0\.webm/;
  const headers = new Promise((resolve) => {
    page.on('response', (r) => {
      if (chunk0.test(r.url())) r.allHeaders().then(resolve, () => resolve({}));
    });
  });
  await trackButton(page, track.title).click();
  await page.waitForFunction(() => window.__events.some((e) => e.ev === 'playing'), null, { timeout: 30_000 });
  const h = await headers;
  if (h['content-length'] !== undefined) {
    t.skip(`the server sent chunk 0 in one go (Content-Length ${h['content-length']}, no chunked transfer): it does not stream chunks yet`);
    await page.close();
    return;
  }
  // Let chunk 0 finish downloading, then compare on the page's clock.
  await page.waitForFunction(() => performance.getEntriesByType('resource').some((e) => /\/chunks\/0\.webm/.test(e.name)), null, {
    timeout: 60_000,
    polling: 50,
  });
  await waitForTime(page, 2, 30_000);
  const timing = await page.evaluate(() => {
    const e = performance.getEntriesByType('resource').find((x) => /\/chunks\/0\.webm/.test(x.name));
    const playing = window.__events.find((x) => x.ev === 'playing');
    return { startTime: e.startTime, responseStart: e.responseStart, responseEnd: e.responseEnd, playingAt: playing.at };
  });
  const st = await state(page);
  const parts = st.appends.filter((a) => a.chunk === 0 && a.epoch === st.appends[0].epoch);
  const ev = await events(page);
  const firstPlaying = ev.find((e) => e.ev === 'playing');
  const waits = ev.filter((e) => e.ev === 'waiting' && e.at > firstPlaying.at);
  console.log(
    `# 30 s chunk 0: headers ${(timing.responseStart - timing.startTime).toFixed(0)} ms, ` +
      `playing ${(timing.playingAt - timing.startTime).toFixed(0)} ms, ` +
      `download ended ${(timing.responseEnd - timing.startTime).toFixed(0)} ms after the request; ` +
      `${parts.length} appends (${parts.map((a) => a.pieces).join('+')} network pieces), waiting after playing: ${waits.length}`,
  );
  assert.equal(h['transfer-encoding'], 'chunked');
  assert.ok(parts.length > 1, `chunk 0 was appended in ${parts.length} part(s)`);
  assert.deepEqual(
    parts.map((a) => [a.part, a.windowStart, a.windowEnd, a.reset, a.init]),
    parts.map((_, i) => [i, 0, CHUNK, false, i === 0]),
    'one window for every part, the init segment only in front of the first',
  );
  assert.ok(
    timing.playingAt < timing.responseEnd,
    `playing at ${timing.playingAt.toFixed(0)} ms, chunk 0 downloaded at ${timing.responseEnd.toFixed(0)} ms (page clock)`,
  );
  assert.equal(st.error, null);
  assert.deepEqual(consoleErrors, []);
  await page.close();
});
