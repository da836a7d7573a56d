/**
 * The page's side of the desktop app (src-tauri/), used by main.ts when the page runs in it
 * (`window.__TAURI_INTERNALS__`). In a browser none of this runs.
 *
 * The player core is the app's, reached over the stream API like `sonance serve`'s (core/
 * client.ts, RemoteCore): media keys, MPRIS and files opened with the app are commands to that
 * core in Rust, and the page follows its events. What is left for this module is what only
 * the desktop has:
 * - reporting what plays to the shell (`report`): the window title and, on the native path,
 *   the OS media session (the queue never travels this way: it is the core's);
 * - the shell's notices (`window.__sonanceDesktop.command`): new tracks in the library, a
 *   message for the alert;
 * - the native output path (cpal), which follows the core in Rust: the page shows its state
 *   (it stands in for the MSE player's methods, loading nothing itself);
 * - the Open files… and Add folder… buttons and Ctrl+O (system dialogs).
 *
 * The boot script (src-tauri/src/desktop.js) runs before the page's scripts and decides what
 * must be decided first (the API base, the output path); it leaves its decision in
 * `window.__SONANCE_BOOT__`.
 */
import type { AbSwitch } from './ab';
import type { Bridge } from './bridge';
import type { Player } from './player';
import type { KeySwitch } from './switch';

/** What the boot script decided. */
export interface Boot {
  output?: 'auto' | 'native';
  /** Why the native output plays (null: the web view's element plays). */
  nativeReason?: string | null;
  api?: string | null;
  webAudio?: boolean;
}

/** The native output's state (src-tauri/src/native, `NativeState`). */
export interface NativeState {
  trackId: string | null;
  positionS: number;
  durationS: number;
  playing: boolean;
  ended: boolean;
  device: string;
  audible: boolean;
  underruns: number;
}

/** What this module needs of the page (main.ts). */
export interface DesktopPage {
  audio: HTMLAudioElement;
  player: Player;
  bridge: Bridge;
  ab: AbSwitch;
  keySwitch: KeySwitch;
  reloadTracks?(): Promise<void>;
  library?: { foldersChanged?(): void };
}

interface TauriInternals {
  invoke(cmd: string, args?: Record<string, unknown>): Promise<unknown>;
}

declare global {
  interface Window {
    __TAURI_INTERNALS__?: TauriInternals;
    __SONANCE_BOOT__?: Boot;
    __sonanceDesktop?: {
      command(c: { name: string; arg?: unknown }): boolean;
      report(): void;
      boot: Boot;
      output(): 'native' | 'webview';
      nativeState(): Promise<NativeState | null>;
    };
  }
}

const REPORT_EVERY_MS = 2000;
const NATIVE_POLL_MS = 250;

/** Whether the page runs in the desktop app. */
export function inDesktop(): boolean {
  return typeof window !== 'undefined' && !!window.__TAURI_INTERNALS__ && typeof window.__TAURI_INTERNALS__.invoke === 'function';
}

/** Whether the boot script chose the native output (the page's element stays silent). */
export function nativeOutput(): boolean {
  return typeof window !== 'undefined' && !!window.__SONANCE_BOOT__?.nativeReason;
}

function invoke<T>(cmd: string, args?: Record<string, unknown>): Promise<T> {
  const t = window.__TAURI_INTERNALS__;
  if (!t || typeof t.invoke !== 'function') return Promise.reject(new Error('no IPC'));
  return t.invoke(cmd, args ?? {}) as Promise<T>;
}

function log(...args: unknown[]): void {
  try {
    console.info('[sonance desktop]', ...args);
  } catch {
    /* no console */
  }
}

const byId = (id: string): HTMLElement | null => document.getElementById(id);

function alertText(text: string): void {
  const el = byId('alert');
  if (el) el.textContent = text;
}

function messageOf(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as { message: unknown }).message);
  return String(e);
}

/** Start the desktop side of the page (once main.ts built it). */
export function startDesktop(page: DesktopPage): void {
  const boot: Boot = window.__SONANCE_BOOT__ ?? {};
  const player = page.player;
  let native: { state(): Promise<NativeState>; reason: string } | null = null;

  // ---- reports: what only the shell shows (window title, the native media session)
  let lastSent = '';
  let pending: ReturnType<typeof setTimeout> | null = null;
  function snapshot() {
    const t = player.track;
    const vol = byId('volume') as HTMLInputElement | null;
    return {
      trackId: t ? String(t.id) : null,
      title: t ? t.title : null,
      artist: t ? t.artist || null : null,
      album: t ? t.album || null : null,
      durationS: t ? Number(t.duration_s) || 0 : 0,
      positionS: Number(player.currentTime) || 0,
      playing: !!t && !page.audio.paused,
      preset: (byId('preset') as HTMLSelectElement | null)?.value || player.preset || null,
      intensity: Number(player.intensity),
      volume: vol ? Number(vol.value) / 100 : 1,
      error: player.error || null,
    };
  }
  function positionState(s: ReturnType<typeof snapshot>): void {
    const ms = navigator.mediaSession;
    if (!ms || typeof ms.setPositionState !== 'function' || native) return;
    try {
      if (s.trackId && s.durationS > 0) ms.setPositionState({ duration: s.durationS, position: Math.min(s.positionS, s.durationS), playbackRate: 1 });
    } catch {
      /* not supported */
    }
  }
  function report(force: boolean): void {
    const s = snapshot();
    positionState(s);
    const text = JSON.stringify(s);
    if (!force && text === lastSent) return;
    lastSent = text;
    invoke('report', { ui: s }).catch((e) => log('report failed', e));
  }
  function soon(): void {
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      report(false);
    }, 30);
  }

  // ---- notices from the shell (not player commands: those go to the core)
  function command(c: { name: string; arg?: unknown }): boolean {
    if (!c || typeof c.name !== 'string') return false;
    switch (c.name) {
      case 'message':
        alertText(String(c.arg ?? ''));
        return true;
      case 'tracksChanged':
        // New tracks in the library: the page lists them again (what plays goes on; the
        // core's queue already has them).
        void page.reloadTracks?.();
        return true;
      default:
        return false;
    }
  }

  // ---- the native output path: the output follows the core in Rust (src-tauri/src/native/
  // follow.rs: it loads, plays, pauses, seeks and switches presets as the core says, and
  // reports the position and the end of each track). The page only shows what plays: it
  // stands in for the MSE player's methods, so the core's follower here takes the native
  // output's position and state for the element's, and loads nothing itself.
  function useNative(reason: string): void {
    // Nothing plays in the page: no second A/B deck either.
    page.ab.disable();
    page.keySwitch.disable();
    let st: NativeState = { trackId: null, positionS: 0, durationS: 0, playing: false, ended: false, device: '', audible: false, underruns: 0 };
    const changed = () => player.dispatchEvent(new Event('change'));
    const call = (): Promise<NativeState> =>
      invoke<NativeState>('native', { request: { action: 'state' } }).then(
        (s) => {
          const was = st;
          st = s;
          if (was.playing !== s.playing || was.trackId !== s.trackId) changed();
          player.dispatchEvent(new Event('time'));
          return s;
        },
        (e: unknown) => {
          const msg = messageOf(e);
          alertText(msg);
          log('native state failed:', msg);
          return st;
        },
      );
    const p = player as unknown as Record<string, unknown> & Player;
    const state0 = player.state.bind(player);
    Object.defineProperty(player, 'currentTime', { get: () => st.positionS, configurable: true });
    Object.defineProperty(page.audio, 'paused', { get: () => !st.playing, configurable: true });
    // What the core's follower asks of "the player": the track's detail for the page; the
    // sound is the Rust follower's.
    p.load = async (id) => {
      try {
        player.track = await page.bridge.track(id);
      } catch (e) {
        alertText(messageOf(e));
        return;
      }
      changed();
    };
    p.play = async () => {};
    p.pause = () => {};
    p.toggle = () => {};
    p.seek = () => {};
    p.setPreset = (preset: string, intensity = player.intensity) => {
      player.preset = preset;
      player.intensity = Math.max(0, Math.min(1, Number(intensity)));
      changed();
    };
    p.setIntensity = (x: number) => p.setPreset(player.preset, x);
    p.setUpcoming = () => {};
    p.bufferedRanges = () => [];
    p.processedRanges = () => [];
    p.state = () => Object.assign(state0(), { currentTime: st.positionS, paused: !st.playing, trackId: st.trackId, output: 'native', native: st });
    setInterval(() => void call(), NATIVE_POLL_MS);
    native = { state: call, reason };
    log('native output:', reason);
  }

  function showOutput(text: string, title: string): void {
    const now = document.querySelector('.now');
    if (!now) return;
    let el = byId('output-path');
    if (!el) {
      el = document.createElement('div');
      el.id = 'output-path';
      el.className = 'now-sub';
      now.appendChild(el);
    }
    el.textContent = text;
    el.title = title;
  }

  window.__sonanceDesktop = Object.freeze({
    command,
    report: () => report(true),
    boot,
    output: () => (native ? 'native' : 'webview') as 'native' | 'webview',
    nativeState: () => (native ? native.state() : Promise.resolve(null)),
  });

  if (boot.nativeReason) useNative(boot.nativeReason);
  const out = native as { state(): Promise<NativeState> } | null;
  if (out) {
    void out.state().then((s) =>
      showOutput(`Native audio · ${s.audible ? s.device : 'no sound device (silent)'}`, `Playing through the native output: ${boot.nativeReason ?? ''}`),
    );
  } else {
    showOutput('Web view audio', 'Playing through the web view (Media Source Extensions)');
  }

  for (const ev of ['play', 'playing', 'pause', 'ended', 'seeked', 'volumechange', 'durationchange']) page.audio.addEventListener(ev, soon);
  player.addEventListener('change', soon);
  byId('volume')?.addEventListener('input', soon);
  setInterval(() => report(false), REPORT_EVERY_MS);

  // ---- opening files: the Open button (hidden in a browser), Ctrl+O; a drop is the shell's
  const openFiles = () => void invoke('open_files').catch((e) => log('open failed', e));
  const openButton = byId('open');
  if (openButton) {
    openButton.hidden = false;
    openButton.addEventListener('click', openFiles);
  }
  // Adding a folder to the library: the system's folder dialog; the library remembers it,
  // scans it in the background and watches it.
  const addFolder = byId('add-folder');
  if (addFolder) {
    addFolder.hidden = false;
    addFolder.addEventListener('click', () =>
      invoke<string | null>('add_folder')
        .then((added) => {
          if (added) page.library?.foldersChanged?.();
        })
        .catch((e) => {
          alertText(messageOf(e));
          log('add folder failed', e);
        }),
    );
  }
  const empty = byId('empty');
  if (empty) empty.textContent = 'No tracks yet. Drop audio files or folders here, or choose Open files… (Ctrl+O).';
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === 'o' || e.key === 'O')) {
      e.preventDefault();
      openFiles();
    }
  });
  report(true);
}
