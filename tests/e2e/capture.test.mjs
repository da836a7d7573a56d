// The join test, the way joins are heard: play a track through MSE in
// Chromium, record the element's output with an AudioWorklet on
// window.__sonance.tap at the context's rate, align it with the source by
// cross-correlation and compare the error in ±20 ms around each join with the
// 99th percentile of the error in 40 ms windows inside the chunks (NOTES §1).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { rm } from 'node:fs/promises';
import { audio, decodeF32, launch, openApp, readCapture, startServer, tempDir, trackButton, RECORDER } from './helpers.mjs';
import { analyseJoins, joinTimes } from './joins.mjs';

const CHUNK = 5;
const SECONDS = 20;
const MAX_JOIN_DB = 3;
let dir, server, browser, file;

before(async () => {
  dir = await tempDir();
  file = join(dir, 'pinkjoin.flac');
  await audio.pink(file, SECONDS);
  server = await startServer([file], { chunkSeconds: CHUNK });
  // The recorder worklet is loaded from a blob: URL, which the page's CSP
  // (script-src 'self') forbids; Playwright cannot route worklet requests.
  browser = await launch({ context: { bypassCSP: true } });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('capture: joins of pink noise are not louder than coding noise (≤ 3 dB)', { timeout: 120_000 }, async () => {
  const { page } = await openApp(browser.context, server.url);
  const rate = await page.evaluate(async (code) => {
    const s = window.__sonance;
    const url = URL.createObjectURL(new Blob([code], { type: 'text/javascript' }));
    const routed = await s.audioReady();
    if (!routed) throw new Error('the element is not routed through Web Audio');
    const ctx = s.context;
    await ctx.audioWorklet.addModule(url);
    const node = new AudioWorkletNode(ctx, 'e2e-recorder', { numberOfInputs: 1, numberOfOutputs: 1, channelCount: 2, channelCountMode: 'explicit' });
    const sink = ctx.createGain();
    sink.gain.value = 0;
    s.tap.connect(node);
    node.connect(sink).connect(ctx.destination);
    window.__rec = { parts: [], node, stopped: false };
    node.port.onmessage = (e) => {
      if (e.data === 'stopped') window.__rec.stopped = true;
      else window.__rec.parts.push(e.data);
    };
    return ctx.sampleRate;
  }, RECORDER);
  assert.ok(rate === 44100 || rate === 48000, `the AudioContext runs at the device's rate (${rate} Hz)`);

  const tracks = await (await fetch(new URL('api/tracks', server.url))).json();
  await trackButton(page, tracks[0].title).click();
  await page.waitForFunction(
    (d) => window.__sonance.audio.ended || window.__sonance.audio.currentTime >= d - 0.3,
    SECONDS,
    { timeout: 60_000, polling: 200 },
  );
  await page.waitForTimeout(400);
  const waits = await page.evaluate(() => {
    const ev = window.__events;
    const p = ev.find((e) => e.ev === 'playing');
    return ev.filter((e) => e.ev === 'waiting' && p && e.at > p.at);
  });
  await page.evaluate(() => window.__rec.node.port.postMessage('stop'));
  await page.waitForFunction(() => window.__rec.stopped);
  const captured = await readCapture(page);
  const source = await decodeF32(file, rate);

  // Chunk joins and the span joins inside each chunk, where one encoder hands over to the next.
  const joins = joinTimes(CHUNK, SECONDS);
  const r = analyseJoins(source, captured, joins, rate);
  for (const j of r.joins) console.log(`# join at ${j.time.toFixed(2)} s: ${j.db.toFixed(1)} dB over the 99th percentile of coding error (offset ${j.offset})`);
  console.log(`# aligned SNR ${r.snrDb.toFixed(1)} dB, gain ${r.gain.toFixed(3)}`);
  assert.deepEqual(waits, [], 'no waiting while playing through the joins');
  assert.ok(r.snrDb > 3, `capture aligned with the source (SNR ${r.snrDb.toFixed(1)} dB)`);
  assert.equal(r.joins.length, joins.length);
  for (const j of r.joins) assert.ok(j.db <= MAX_JOIN_DB, `join at ${j.time} s: ${j.db.toFixed(1)} dB > ${MAX_JOIN_DB} dB`);
  await page.close();
});
