// Opening files the desktop way. The Open button brings up the system's file dialog (GTK),
// driven here with xdotool as a person would (type a path, Enter): an undecodable file chosen
// there shows why in the page while the queue plays on; a playable one joins the queue. And a
// folder dragged from another program (a GTK drag source, XDND, as from a file manager) and
// dropped on the window adds its tracks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { launchApp, listedOnce, makeHome, namedWhilePlaying, run, sleep, tempDir, tone, until } from './driver.mjs';

const DIALOG = 'Open audio files';

/** Choose `path` in the app's open dialog: click Open, wait for the dialog, type, Enter. */
async function openWithDialog(app, path) {
  await app.click('#open');
  const id = await until(async () => {
    try {
      const { stdout } = await run('xdotool', ['search', '--onlyvisible', '--name', `^${DIALOG}$`], { timeout: 5000 });
      return stdout.split('\n').find(Boolean) || null;
    } catch {
      return null; // not shown yet
    }
  }, { timeoutMs: 20_000, what: 'the open dialog to appear' });
  // No window manager on this X server: give the dialog the keyboard focus ourselves. Ctrl+L
  // opens the dialog's location field; the path goes there and Enter opens it.
  await run('xdotool', ['windowfocus', '--sync', id], { timeout: 5000 });
  await sleep(300);
  await run('xdotool', ['key', '--clearmodifiers', 'ctrl+l'], { timeout: 5000 });
  await sleep(200);
  await run('xdotool', ['type', '--delay', '15', path], { timeout: 20_000 });
  await sleep(200);
  // Enter opens the file; if the location field's completion popup took it, the next does.
  const closed = async () => {
    try {
      await run('xdotool', ['search', '--onlyvisible', '--name', `^${DIALOG}$`], { timeout: 5000 });
      return false;
    } catch {
      return true; // no such window any more
    }
  };
  for (let i = 0; i < 3 && !(await closed()); i++) {
    await run('xdotool', ['key', 'Return'], { timeout: 5000 });
    await until(closed, { timeoutMs: 2000, what: 'the open dialog to close' }).catch(() => {});
  }
  assert.ok(await closed(), 'the open dialog closed');
}

/** Drag `paths` from a GTK window at (1050, 700) and drop them at (x, y) on the app. */
async function dragAndDrop(paths, x, y) {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'drag_source.py');
  const source = spawn('/usr/bin/python3', [script, '1050', '700', ...paths], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve, reject) => {
      source.once('exit', (code) => reject(new Error(`the drag source exited (${code})`)));
      source.stdout.on('data', (d) => String(d).includes('ready') && resolve());
    });
    const xdo = (...args) => run('xdotool', args, { timeout: 5000 });
    await xdo('mousemove', '1150', '800');
    await sleep(300);
    await xdo('mousedown', '1');
    // Past GTK's drag threshold, then across to the target in steps (each a motion event the
    // XDND target answers), a moment on the target, and release.
    for (let i = 1; i <= 20; i++) {
      await xdo('mousemove', String(Math.round(1150 + (x - 1150) * (i / 20))), String(Math.round(800 + (y - 800) * (i / 20))));
      await sleep(40);
    }
    await sleep(300);
    await xdo('mousemove', String(x + 3), String(y + 3));
    await sleep(300);
    await xdo('mouseup', '1');
    await sleep(500);
  } finally {
    if (source.exitCode === null) {
      const gone = new Promise((r) => source.once('exit', r));
      source.kill();
      await gone;
    }
  }
}

test('Open files…: the dialog adds files; an undecodable one shows why and the queue plays on', { timeout: 120_000 }, async () => {
  const dir = await tempDir('sonance-open-');
  const first = await tone(join(dir, 'first.flac'), { title: 'First Tone', hz: 300 });
  const second = await tone(join(dir, 'second.flac'), { title: 'Second Tone', hz: 600 });
  const broken = join(dir, 'broken.flac');
  await writeFile(broken, Buffer.from('fLaC this is not audio at all '.repeat(40)));
  const app = await launchApp({ home: await makeHome(), files: [first], args: ['--chunk-seconds', '5'] });
  try {
    await until(async () => {
      const s = await app.state();
      return s.title === 'First Tone' && !s.audioPaused && s.currentTime > 0.3;
    }, { what: 'the first file to play' });
    const button = await app.exec(() => {
      const b = document.getElementById('open');
      return { hidden: b.hidden, text: b.textContent, width: b.getBoundingClientRect().width };
    });
    assert.equal(button.hidden, false, 'the desktop app shows the Open button');
    assert.ok(button.width > 0, 'the Open button takes room on the screen');

    await openWithDialog(app, broken);
    await namedWhilePlaying(app, /broken/i, 'First Tone');

    // A playable file chosen while music plays joins the queue; the music goes on.
    await openWithDialog(app, second);
    const rows = await listedOnce(app, /Second Tone/, 'the chosen file to be listed');
    assert.equal(rows.length, 3, `the list shows the queue (${rows.join(' | ')})`);
    const s = await app.state();
    assert.equal(s.title, 'First Tone');
    assert.equal(s.audioPaused, false);

    // A folder dropped on the window: its track joins the queue; the music goes on.
    const folder = join(dir, 'dropped');
    await mkdir(folder);
    await tone(join(folder, 'third.flac'), { title: 'Third Tone', hz: 900 });
    await dragAndDrop([folder], 500, 300);
    const after = await listedOnce(app, /Third Tone/, "the dropped folder's track to be listed");
    assert.equal(after.length, 4, `the list shows the queue (${after.join(' | ')})`);
    const still = await app.state();
    assert.equal(still.title, 'First Tone');
    assert.equal(still.audioPaused, false);
  } finally {
    await app.close();
  }
});

test('Add folder: a folder added in the desktop app is scanned, its tracks are listed, and it is remembered', { timeout: 180_000 }, async () => {
  const dir = await tempDir('sonance-folder-');
  const first = await tone(join(dir, 'first.flac'), { title: 'First Tone', hz: 300 });
  const folder = join(dir, 'My Music');
  await mkdir(folder);
  await tone(join(folder, 'a.flac'), { title: 'Folder Tone A', hz: 500 });
  await tone(join(folder, 'b.flac'), { title: 'Folder Tone B', hz: 700 });
  const home = await makeHome();
  let app = await launchApp({ home, files: [first], args: ['--chunk-seconds', '5'] });
  try {
    await until(async () => (await app.state()).title === 'First Tone', { what: 'the first file to load' });
    const shown = await app.exec(() => !document.getElementById('add-folder').hidden);
    assert.equal(shown, true, 'the desktop app shows Add folder…');
    // The folder goes in through the Folders view's path field (the Add folder… button opens
    // the system's folder dialog, which xdotool could not drive here: see src-tauri/README).
    await until(() => app.exec(() => {
      const nav = document.querySelector('.nav-item[data-view=folders]');
      if (!nav || nav.hidden) return false;
      nav.click();
      return !!document.querySelector('.folder-input');
    }), { what: 'the Folders view with its path field' });
    await app.exec((path) => {
      const input = document.querySelector('.folder-input');
      input.value = path;
      input.dispatchEvent(new Event('input', { bubbles: true }));
      document.querySelector('.folder-add').click();
    }, folder);
    await until(() => app.exec(() => [...document.querySelectorAll('.folder-path')].map((e) => e.textContent).join('|')).then((t) => t.includes('My Music')), { what: 'the folder to be listed in Folders' });
    await app.exec(() => document.querySelector('.nav-item[data-view=songs]').click());
    await listedOnce(app, /Folder Tone A/, "the folder's first track to be listed");
    await listedOnce(app, /Folder Tone B/, "the folder's second track to be listed");
  } finally {
    await app.close();
  }
  // The library remembers the folder: a new start lists its tracks without being told.
  app = await launchApp({ home, files: [first], args: ['--chunk-seconds', '5'] });
  try {
    await listedOnce(app, /Folder Tone B/, 'the folder to be remembered after a restart');
  } finally {
    await app.close();
  }
});

