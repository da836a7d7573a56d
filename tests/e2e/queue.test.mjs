// End-to-end test of the page following the player core: Next/Previous, a queue set from a
// script, the end of the queue, and the queue and current track surviving a restart.
//
// Pending: it needs the host's player core (GET/POST /api/player, GET /api/events,
// PUT /api/queue, the player state kept beside the cache dir). Move it to tests/e2e/ once
// that is merged (it imports ./helpers.mjs from there).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir } from './helpers.mjs';

const SECONDS = 12;
const TRACKS = [
  { file: 'a.flac', title: 'Alpha', hz: 440 },
  { file: 'b.flac', title: 'Bravo', hz: 550 },
  { file: 'c.flac', title: 'Charlie', hz: 660 },
];

let dir, music, cacheDir, server, browser;

async function waitForLibrary(url) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const scan = await (await fetch(new URL('api/library/scan', url))).json().catch(() => null);
    const res = await fetch(new URL('api/tracks?limit=1', url));
    if (scan && !scan.running && Number(res.headers.get('X-Total-Count')) === TRACKS.length) return;
    if (Date.now() > deadline) assert.fail(`the library did not list ${TRACKS.length} tracks`);
    await sleep(200);
  }
}

async function start() {
  server = await startServer([music], { cacheDir });
  await waitForLibrary(server.url);
}

before(async () => {
  dir = await tempDir();
  music = join(dir, 'music');
  cacheDir = join(dir, 'cache');
  await mkdir(music, { recursive: true });
  await mkdir(cacheDir, { recursive: true });
  await Promise.all(
    TRACKS.map((t) =>
      ffmpeg(['-f', 'lavfi', '-i', `sine=frequency=${t.hz}:duration=${SECONDS}:sample_rate=48000`, '-ac', '2', '-metadata', `title=${t.title}`, '-metadata', 'artist=Tester', '-metadata', 'album=Queue', join(music, t.file)]),
    ),
  );
  await start();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Open the page and wait until it follows the host's core. */
async function open() {
  const app = await openApp(browser.context, server.url);
  await app.page.waitForFunction(() => window.__sonance.core?.remote === true, null, { timeout: 10_000 });
  return app;
}

const nowTitle = (page) => page.locator('#now-title').textContent();
const coreState = (page) => page.evaluate(() => window.__sonance.core.state());
/** The songs view's rows: id and title, in order. */
const rows = (page) => page.$$eval('#track-list tr[data-id]', (rs) => rs.map((r) => ({ id: r.dataset.id, title: r.querySelector('button').textContent })));

async function waitTitle(page, title, timeout = 20_000) {
  await page.waitForFunction((t) => document.getElementById('now-title').textContent === t, title, { timeout });
}

/** Playing past `t` seconds of the track the now-playing area shows. */
async function waitPlaying(page, t = 0.5, timeout = 30_000) {
  await page.waitForFunction((x) => !window.__sonance.audio.paused && window.__sonance.audio.currentTime > x, t, { timeout, polling: 100 });
}

describe('queue', () => {
  test('a click plays the view; Next moves on, Previous early goes back', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await open();
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    await page.locator('#track-list tr[data-id] .track-title').first().click();
    await waitTitle(page, list[0].title);
    await waitPlaying(page);
    let s = await coreState(page);
    assert.deepEqual(s.tracks, list.map((r) => r.id), 'the core got the view in order');
    assert.equal(s.index, 0);
    assert.equal(s.status, 'playing');

    await page.getByRole('button', { name: 'Next', exact: true }).click();
    await waitTitle(page, list[1].title);
    await page.waitForFunction((id) => String(window.__sonance.player.track?.id) === id, list[1].id, { timeout: 20_000 });
    await waitPlaying(page, 0.5);
    s = await coreState(page);
    assert.equal(s.index, 1);

    // Within the first 3 s, Previous goes to the previous track (later it would restart).
    await page.evaluate(() => window.__sonance.core.send({ type: 'seek', position_s: 0 }));
    await page.locator('#prev').click();
    await waitTitle(page, list[0].title);
    await page.waitForFunction((id) => String(window.__sonance.player.track?.id) === id, list[0].id, { timeout: 20_000 });
    await waitPlaying(page, 0.3);
    assert.equal((await coreState(page)).index, 0);
    assert.equal(await page.locator('#track-list tr[aria-current=true] .track-title').textContent(), list[0].title);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('a queue set by a script plays on the open page', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await open();
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    const third = list[2];
    const res = await fetch(new URL('api/queue', server.url), {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ tracks: [third.id, list[0].id, list[1].id], index: 0 }),
    });
    assert.ok(res.ok, `PUT /api/queue answered ${res.status}`);
    await waitTitle(page, third.title);
    await page.waitForFunction((id) => String(window.__sonance.player.track?.id) === id, third.id, { timeout: 20_000 });
    const play = await fetch(new URL('api/player/play', server.url), { method: 'POST' });
    assert.ok(play.ok, `POST /api/player/play answered ${play.status}`);
    await waitPlaying(page, 0.5);
    const q = await (await fetch(new URL('api/queue', server.url))).json();
    assert.equal(JSON.stringify(q).includes(third.id), true, 'GET /api/queue lists the queue');
    // The queue panel shows it, the current one marked.
    await page.locator('#queue-toggle').click();
    await page.waitForFunction((id) => document.querySelector('#queue li[aria-current=true]')?.getAttribute('data-id') === id, third.id, { timeout: 5_000 });
    assert.equal(await page.locator('#queue li[data-index]').count(), 3);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('album levelling chosen on the page reaches the core and the chunks it plays', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await open();
    const chunks = [];
    page.on('response', (r) => {
      if (/\/chunks\/\d+\.webm/.test(r.url())) chunks.push({ url: r.url(), status: r.status() });
    });
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    await page.selectOption('#loudness', 'album');
    await page.waitForFunction(async () => (await (await fetch('api/player')).json()).loudness_mode === 'album', null, { timeout: 5_000, polling: 100 });
    await page.locator('#track-list tr[data-id] .track-title').nth(1).click();
    await waitTitle(page, list[1].title);
    await waitPlaying(page, 0.5);
    const album = chunks.filter((c) => new URL(c.url).searchParams.get('loudness') === 'album');
    assert.ok(album.length > 0 && album.every((c) => c.status === 200), `chunks asked with album levelling: ${JSON.stringify(chunks)}`);
    // Another page follows the core's setting; back to track levelling from there.
    const other = await open();
    await other.page.waitForFunction(() => document.getElementById('loudness').value === 'album', null, { timeout: 5_000 });
    await other.page.selectOption('#loudness', 'track');
    await page.waitForFunction(() => document.getElementById('loudness').value === 'track', null, { timeout: 5_000 });
    assert.deepEqual([...consoleErrors, ...other.consoleErrors], []);
    await other.page.close();
    await page.close();
  });

  test('the end of the queue stops', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await open();
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    const last = list[list.length - 1];
    await page.locator('#track-list tr[data-id] .track-title').last().click();
    await waitTitle(page, last.title);
    await waitPlaying(page);
    await page.evaluate((t) => window.__sonance.core.send({ type: 'seek', position_s: t }), SECONDS - 1.5);
    await page.waitForFunction(() => window.__sonance.core.state().status !== 'playing', null, { timeout: 20_000 });
    const s = await coreState(page);
    assert.ok(s.status === 'stopped' || s.status === 'paused', `status ${s.status}`);
    assert.equal(s.index, null, 'nothing current after the last track');
    await sleep(1500);
    assert.equal(await page.evaluate(() => window.__sonance.audio.paused), true);
    assert.equal(await page.evaluate(() => String(window.__sonance.player.track?.id)), last.id, 'no other track was loaded');
    const host = await (await fetch(new URL('api/player', server.url))).json();
    assert.notEqual(host.status, 'playing');
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('queue edits: the row menu adds, the panel reorders and removes, N moves on', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await open();
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    await page.locator('#track-list tr[data-id] .track-title').first().click();
    await waitTitle(page, list[0].title);
    await page.waitForFunction(() => window.__sonance.core.state().tracks.length === 3, null, { timeout: 10_000 });
    // The row menu: "Add to queue" appends the third track once more.
    await page.locator('#track-list tr[data-id]').nth(2).click({ button: 'right' });
    await page.getByRole('menuitem', { name: 'Add to queue' }).click();
    await page.waitForFunction(() => window.__sonance.core.state().tracks.length === 4, null, { timeout: 5_000 });
    assert.equal((await coreState(page)).tracks[3], list[2].id);
    // The panel: drag the last row to the top, then remove it.
    await page.locator('#queue-toggle').click();
    await page.waitForFunction(() => document.querySelectorAll('#queue li[data-index]').length === 4, null, { timeout: 5_000 });
    await page.locator('#queue li[data-index="3"]').dragTo(page.locator('#queue li[data-index="0"]'), { targetPosition: { x: 10, y: 2 } });
    await page.waitForFunction((id) => window.__sonance.core.state().tracks[0] === id, list[2].id, { timeout: 5_000 });
    let s = await coreState(page);
    assert.deepEqual(s.tracks, [list[2].id, list[0].id, list[1].id, list[2].id]);
    assert.equal(s.index, 1, 'the current track keeps playing');
    await page.locator('#queue li[data-index="0"] .queue-remove').click();
    await page.waitForFunction(() => window.__sonance.core.state().tracks.length === 3, null, { timeout: 5_000 });
    assert.equal((await coreState(page)).index, 0);
    // N: the next track.
    await page.locator('body').press('n');
    await waitTitle(page, list[1].title);
    assert.equal(await page.locator('#queue li[aria-current=true]').getAttribute('data-id'), list[1].id);
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('the queue and the current track survive a restart', { timeout: 120_000 }, async () => {
    let { page } = await open();
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, TRACKS.length);
    const list = await rows(page);
    await page.locator('#track-list tr[data-id] .track-title').nth(1).click();
    await waitTitle(page, list[1].title);
    await waitPlaying(page, 1);
    await page.locator('#play').click(); // pause
    await page.waitForFunction(() => window.__sonance.core.state().status === 'paused', null, { timeout: 10_000 });
    const before = await coreState(page);
    assert.equal(before.index, 1);
    await page.close();

    await server.stop();
    await start();
    const host = await (await fetch(new URL('api/player', server.url))).json();
    assert.deepEqual(host.tracks, before.tracks, 'the host restored the queue');
    assert.equal(host.index, before.index);

    const app = await open();
    page = app.page;
    await waitTitle(page, list[1].title);
    const after = await coreState(page);
    assert.deepEqual(after.tracks, before.tracks);
    assert.equal(after.index, 1);
    assert.notEqual(after.status, 'playing', 'nothing plays by itself after a restart');
    await page.waitForFunction((id) => String(window.__sonance.player.track?.id) === id, list[1].id, { timeout: 20_000 });
    assert.equal(await page.evaluate(() => window.__sonance.audio.paused), true);
    // The queue panel lists it.
    await page.locator('#queue-toggle').click();
    await page.waitForFunction(() => document.querySelectorAll('#queue li[data-index]').length === 3, null, { timeout: 5_000 });
    assert.deepEqual(app.consoleErrors, []);
    await page.close();
  });
});
