// End-to-end test of the library views (search, albums, album page, Play, the watched folder,
// the scan's progress bar) against the real `sonance serve --library-db` in headless Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { ffmpeg, launch, openApp, sleep, startServer, tempDir, waitForTime } from './helpers.mjs';

/** Files in the scanned folder of the progress test: enough for a scan of a few seconds. */
const SCAN_FILES = Number(process.env.SONANCE_E2E_SCAN_FILES || 40_000);

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


/** A 10 ms mono WAV (8 kHz, 16 bit, silence): the smallest file the scan reads as a track. */
function tinyWav() {
  const samples = 80;
  const b = Buffer.alloc(44 + samples * 2);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + samples * 2, 4);
  b.write('WAVE', 8);
  b.write('fmt ', 12);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20); // PCM
  b.writeUInt16LE(1, 22); // mono
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(samples * 2, 40);
  return b;
}

/** `n` WAV files, 100 to a folder. */
async function writeWavs(root, n) {
  const body = tinyWav();
  for (let f = 0; f * 100 < n; f++) {
    const sub = join(root, `folder ${String(f).padStart(4, '0')}`);
    await mkdir(sub, { recursive: true });
    const count = Math.min(100, n - f * 100);
    await Promise.all(Array.from({ length: count }, (_, i) => writeFile(join(sub, `track ${f * 100 + i}.wav`), body)));
  }
}

/** "40 000" (narrow no-break spaces between groups, as the page writes numbers) → 40000. */
const num = (s) => Number(s.replace(/[\s\u202f]/g, ''));

describe('library scan', () => {
  test('a scan of a big folder shows a progress bar whose count grows, then the whole library', { timeout: 120_000 }, async () => {
    const d = await tempDir();
    let srv;
    const page = await browser.context.newPage();
    try {
      const t0 = Date.now();
      await writeWavs(join(d, 'big'), SCAN_FILES);
      console.log(`wrote ${SCAN_FILES} files in ${Date.now() - t0} ms`);
      // Every state the scan box goes through, from the page's first paint.
      await page.addInitScript(() => {
        window.__scanSeen = [];
        document.addEventListener('DOMContentLoaded', () => {
          const box = document.getElementById('scan');
          const record = () =>
            window.__scanSeen.push({
              at: performance.now(),
              hidden: box.hidden,
              label: document.getElementById('scan-label').textContent,
              text: document.getElementById('scan-text').textContent,
              value: Number(document.getElementById('scan-bar').getAttribute('aria-valuenow')),
              width: document.getElementById('scan-fill').style.width,
            });
          record();
          new MutationObserver(record).observe(box, { subtree: true, childList: true, characterData: true, attributes: true });
        });
      });
      srv = await startServer([join(d, 'big')], { extraArgs: ['--library-db', join(d, 'library.db')] });
      const started = Date.now();
      await page.goto(srv.url);
      // The server's scan ends (capped), then the page's bar goes away.
      for (;;) {
        const s = await (await fetch(new URL('api/library/scan', srv.url))).json();
        if (!s.running) break;
        assert.ok(Date.now() - started < 90_000, `the scan of ${SCAN_FILES} files did not end within 90 s: ${JSON.stringify(s)}`);
        await sleep(200);
      }
      const scanMs = Date.now() - started;
      console.log(`the scan of ${SCAN_FILES} files took about ${scanMs} ms`);
      await page.waitForFunction(() => document.getElementById('scan').hidden, null, { timeout: 10_000 });
      const seen = await page.evaluate(() => window.__scanSeen);

      // While reading tags: "N of TOTAL files" with the bar at N/TOTAL, N growing.
      const reading = seen
        .filter((s) => !s.hidden)
        .map((s) => ({ ...s, m: /^([\d\u202f ]+) of ([\d\u202f ]+) files/.exec(s.text) }))
        .filter((s) => s.m && num(s.m[2]) === SCAN_FILES)
        .map((s) => ({ done: num(s.m[1]), value: s.value, width: s.width, label: s.label }));
      const distinct = [...new Map(reading.map((r) => [r.done, r])).values()];
      assert.ok(
        distinct.length >= 2,
        `the page showed no growing count (${scanMs} ms scan of ${SCAN_FILES} files; raise SONANCE_E2E_SCAN_FILES on a faster machine): ${JSON.stringify(seen.slice(0, 20))}`,
      );
      for (let i = 1; i < distinct.length; i++) assert.ok(distinct[i].done > distinct[i - 1].done, `the count went back: ${JSON.stringify(distinct)}`);
      assert.ok(distinct[0].done < SCAN_FILES, 'the bar was seen before the end');
      for (const r of distinct) {
        const pct = Math.round((r.done / SCAN_FILES) * 100);
        assert.equal(r.value, pct, `aria-valuenow for ${r.done} of ${SCAN_FILES}`);
        assert.equal(r.width, `${pct}%`, `the bar's width for ${r.done} of ${SCAN_FILES}`);
        assert.match(r.label, /^Scanning/);
      }
      assert.ok(distinct.some((r) => r.value > 0 && r.value < 100), `no partly filled bar: ${JSON.stringify(distinct)}`);
      console.log(`the page showed ${distinct.map((r) => r.done).join(', ')} of ${SCAN_FILES}`);

      // Then the finished library: every file listed, bar gone.
      const all = `${String(SCAN_FILES).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f')} tracks`;
      await page.waitForFunction((want) => document.getElementById('track-count').textContent === want, all, { timeout: 15_000 });
      assert.ok((await page.locator('#track-list tr[data-id]').count()) > 0, 'rows are listed');
      assert.equal(await page.locator('#scan').isHidden(), true);
    } finally {
      await page.close();
      await srv?.stop();
      await rm(d, { recursive: true, force: true });
    }
  });
});
