// End-to-end test of the library views (search, albums, album page, Play) against the real
// `sonance serve --library-db` in headless Chromium.
//
// Pending: it needs the library backend (GET /api/tracks?q=…, /api/albums, /api/library/scan).
// Move it to tests/e2e/ once that is merged (it imports ./helpers.mjs from there).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, rm } from 'node:fs/promises';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir, waitForTime } from './helpers.mjs';

/** Two albums, one by Beyoncé; files named so that file order is not track order. */
const LIBRARY = [
  { file: 'lemonade/b.flac', title: 'Hold Up', artist: 'Beyoncé', album: 'Lemonade', track: 2, hz: 330 },
  { file: 'lemonade/a.flac', title: 'Pray You Catch Me', artist: 'Beyoncé', album: 'Lemonade', track: 1, hz: 440 },
  { file: 'train/1.flac', title: 'Blue Train', artist: 'John Coltrane', album: 'Blue Train', track: 1, hz: 550 },
  { file: 'train/2.flac', title: "Moment's Notice", artist: 'John Coltrane', album: 'Blue Train', track: 2, hz: 660 },
];

let dir, server, browser;

before(async () => {
  dir = await tempDir();
  const music = join(dir, 'music');
  await mkdir(join(music, 'lemonade'), { recursive: true });
  await mkdir(join(music, 'train'), { recursive: true });
  await Promise.all(
    LIBRARY.map((t) =>
      ffmpeg([
        '-f', 'lavfi', '-i', `sine=frequency=${t.hz}:duration=20:sample_rate=48000`, '-ac', '2',
        '-metadata', `title=${t.title}`, '-metadata', `artist=${t.artist}`, '-metadata', `album_artist=${t.artist}`,
        '-metadata', `album=${t.album}`, '-metadata', `track=${t.track}`,
        join(music, t.file),
      ]),
    ),
  );
  server = await startServer([music], { extraArgs: ['--library-db', join(dir, 'library.db')] });
  // The first scan runs at start: wait until it has listed all four files.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const scan = await (await fetch(new URL('api/library/scan', server.url))).json().catch(() => null);
    const res = await fetch(new URL('api/tracks?limit=1', server.url));
    if (scan && !scan.running && Number(res.headers.get('X-Total-Count')) === LIBRARY.length) break;
    if (Date.now() > deadline) assert.fail(`the library did not list ${LIBRARY.length} tracks: ${JSON.stringify(scan)}, total ${res.headers.get('X-Total-Count')}`);
    await sleep(200);
  }
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Titles and artists of the songs view's rows. */
function listed(page) {
  return page.$$eval('#track-list tr[data-id]', (rows) => rows.map((r) => ({ title: r.querySelector('button').textContent, artist: r.children[2].textContent })));
}

describe('library', () => {
  test('search as you type lists only the matching artist', { timeout: 60_000 }, async () => {
    const { page, consoleErrors } = await openApp(browser.context, server.url);
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, LIBRARY.length);
    // `/` focuses the search box.
    await page.locator('body').press('/');
    const search = page.getByRole('searchbox', { name: 'Search the library' });
    assert.equal(await search.evaluate((el) => el === document.activeElement), true, '/ focuses the search box');
    await page.keyboard.type('beyon');
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('#track-list tr[data-id]')];
      return rows.length === 2 && rows.every((r) => r.children[2].textContent === 'Beyoncé');
    }, null, { timeout: 10_000 });
    const rows = await listed(page);
    assert.deepEqual(rows.map((r) => r.title).sort(), ['Hold Up', 'Pray You Catch Me']);
    // Clearing the search lists everything again.
    await search.fill('');
    await page.waitForFunction((n) => document.querySelectorAll('#track-list tr[data-id]').length === n, LIBRARY.length, { timeout: 10_000 });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('an album page lists its tracks in order and Play plays the first', { timeout: 90_000 }, async () => {
    const { page, consoleErrors } = await openApp(browser.context, server.url);
    await page.locator('.sidebar').getByRole('button', { name: 'Albums', exact: true }).click();
    const card = page.locator('#album-grid').getByRole('button', { name: /Lemonade/ });
    await card.waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#album-grid .album-card[data-album-id]').count(), 2, 'two albums');
    await card.click();
    const albumView = page.locator('#view-album');
    await albumView.locator('tr[data-id]').first().waitFor({ timeout: 10_000 });
    assert.equal(await albumView.getByRole('heading', { name: 'Lemonade' }).count(), 1);
    const titles = await albumView.locator('tr[data-id] .track-title').allTextContents();
    assert.deepEqual(titles, ['Pray You Catch Me', 'Hold Up'], 'disc/track order');

    await albumView.getByRole('button', { name: 'Play album' }).click();
    await waitForTime(page, 1.5, 30_000);
    assert.equal(await page.locator('#now-title').textContent(), 'Pray You Catch Me');
    assert.equal(await albumView.locator('tr[aria-current=true] .track-title').textContent(), 'Pray You Catch Me');
    // The album goes on: the second track follows the first (seek near the end of track 1).
    await page.evaluate(() => window.__sonance.player.seek(18.5));
    await page.waitForFunction(() => document.getElementById('now-title').textContent === 'Hold Up', null, { timeout: 30_000 });
    await page.waitForFunction(() => window.__sonance.audio.currentTime > 0.5 && !window.__sonance.audio.paused, null, { timeout: 30_000 });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  test('the watched folder: a new file appears, a deleted one turns missing, and playing it says why while the queue goes on', { timeout: 90_000 }, async () => {
    const music = join(dir, 'music');
    const count = async () => Number((await fetch(new URL('api/tracks?limit=1', server.url))).headers.get('X-Total-Count'));
    const before = await count();
    // Added while the server runs: no rescan asked for.
    await ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=770:duration=6:sample_rate=48000', '-ac', '2', '-metadata', 'title=Late Arrival', '-metadata', 'artist=Newcomer', join(music, 'late.flac')]);
    const t0 = Date.now();
    while ((await count()) !== before + 1) {
      assert.ok(Date.now() - t0 < 5_000, 'the new file was not listed within 5 s');
      await sleep(100);
    }
    console.log(`a file added to a watched folder was listed after ${Date.now() - t0} ms`);
    const all = await (await fetch(new URL('api/tracks', server.url))).json();
    const late = all.find((t) => t.title === 'Late Arrival');
    const coltrane = all.find((t) => t.title === 'Blue Train');
    assert.ok(late && coltrane);

    // Deleted: kept in the library, marked missing.
    await rm(join(music, 'train/1.flac'));
    const t1 = Date.now();
    for (;;) {
      const t = await (await fetch(new URL(`api/tracks/${coltrane.id}`, server.url))).json().catch(() => ({}));
      const listed = (await (await fetch(new URL('api/tracks', server.url))).json()).find((x) => x.id === coltrane.id);
      if (listed?.missing === true) break;
      assert.ok(Date.now() - t1 < 5_000, `the deleted file did not turn missing within 5 s: ${JSON.stringify(t)}`);
      await sleep(100);
    }
    console.log(`a deleted file turned missing after ${Date.now() - t1} ms`);

    // The page greys it out with the reason, and a queue through it skips it with a message.
    const { page } = await openApp(browser.context, server.url);
    const row = page.locator(`#track-list tr[data-id="${coltrane.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.getAttribute('class'), /missing/);
    await page.evaluate((ids) => window.__sonance.core.send({ type: 'play_now', tracks: ids, index: 0 }), [coltrane.id, late.id]);
    await page.waitForFunction(() => document.getElementById('now-title').textContent === 'Late Arrival' && window.__sonance.audio.currentTime > 0.3, null, { timeout: 30_000 });
    const alert = await page.locator('#alert').textContent();
    assert.match(alert, /missing|cannot read|not found/i, `the skipped track was not explained: ${alert}`);
    await page.close();
  });
});

