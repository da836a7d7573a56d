/**
 * Page entry: builds the player and wires the page's controls to it.
 * No framework; the markup lives in index.html.
 */
import { AB_PRESET, AbSwitch, type AbState } from './ab';
import { Bridge, type Preset, type Track, type TrackId } from './bridge';
import { formatTime } from './format';
import { AudioOutput } from './output';
import { messageOf, Player, type PlayerState } from './player';
import { $ } from './ui/dom';
import { NowCover } from './library/covers';
import type { TrackSource } from './library/queue';
import { Library } from './library/views';
import { SeekBar } from './ui/seekBar';
import { KeySwitch, type SwitchState } from './switch';
import { connectCore, forgetStoredSettings, storedSettings, type Core } from './core/client';
import { CoreFollower } from './core/follow';
import { currentTrack, keyAction, MAX_TRACKS, nextRepeat, playNowCommand, repeatLabel, seekCommand, unit, type Command, type Event as CoreEvent, type PlayerState as CoreState } from './core/model';
import { QueuePanel, type TrackLabel } from './ui/queuePanel';
import { showMenu } from './ui/trackMenu';
import { inDesktop, nativeOutput, startDesktop } from './desktop';

declare global {
  interface Window {
    __sonance?: {
      audio: HTMLAudioElement;
      readonly context: AudioContext | null;
      readonly tap: AudioNode | null;
      /** Resolves once the element is routed through Web Audio (true) or not (false). */
      audioReady(): Promise<boolean>;
      state(): PlayerState;
      player: Player;
      bridge: Bridge;
      /** Fetch the track list again (the desktop app added files); what plays goes on. */
      reloadTracks?(): Promise<void>;
      /** The library views (search, songs, albums, artists). */
      library?: Library;
      /** Ids of the songs view's tracks in order (what a queue would get). */
      viewIds?(): Promise<TrackId[]>;
      /** The A/B switch (its second deck): the desktop's native path disables it. */
      ab: AbSwitch;
      abState(): AbState;
      /** Preset and intensity changes heard at once through decks in step (switch.ts). */
      keySwitch: KeySwitch;
      switchState(): SwitchState;
      /** The player core the page follows (the host's, or the page's own stand-in on an older server). */
      core?: { state(): CoreState; send(cmd: Command): Promise<void>; readonly remote: boolean };
    };
  }
}

const VOLUME_STEP = 5;
/** How much of a view a click hands the core. */
const QUEUE_CAP = MAX_TRACKS;

function start(): void {
  const desktop = inDesktop();
  const audio = $('audio') as HTMLAudioElement;
  const bridge = new Bridge();
  const output = new AudioOutput(audio);
  const player = new Player(audio, bridge, output);
  // The media session sends commands to the core (below), not to the player.
  player.mediaSession = false;
  // The A/B original plays on a second, silent deck, so a flip is a cross-fade (ab.ts).
  const ab = new AbSwitch(player, output, () => {
    const el = document.createElement('audio');
    const out = new AudioOutput(el, output.context);
    out.setVolume(Number(($('volume') as HTMLInputElement).value) / 100);
    return { player: new Player(el, bridge, out), output: out };
  });
  // A preset or intensity change while playing: heard through a deck in step (switch.ts).
  const keySwitch = new KeySwitch(
    player,
    output,
    () => {
      const el = document.createElement('audio');
      const out = new AudioOutput(el, output.context);
      out.setVolume(Number(($('volume') as HTMLInputElement).value) / 100);
      return { player: new Player(el, bridge, out), output: out };
    },
    () => abOn,
  );

  const exposed: NonNullable<Window['__sonance']> = {
    audio,
    get context() {
      return output.context;
    },
    get tap() {
      return output.tap;
    },
    audioReady: () => output.ensure().then(() => output.webAudio),
    state: () => player.state(),
    player,
    bridge,
    ab,
    abState: () => ab.state(),
    keySwitch,
    switchState: () => keySwitch.state(),
  };
  window.__sonance = exposed;

  const playBtn = $('play') as HTMLButtonElement;
  const prevBtn = $('prev') as HTMLButtonElement;
  const nextBtn = $('next') as HTMLButtonElement;
  const shuffleBtn = $('shuffle') as HTMLButtonElement;
  const repeatBtn = $('repeat') as HTMLButtonElement;
  const alertEl = $('alert');
  const nowTitle = $('now-title');
  const nowSub = $('now-sub');
  const elapsed = $('elapsed');
  const total = $('total');
  const presetSel = $('preset') as HTMLSelectElement;
  const intensity = $('intensity') as HTMLInputElement;
  const loudnessSel = $('loudness') as HTMLSelectElement;
  const volume = $('volume') as HTMLInputElement;
  const seekInput = $('seek') as HTMLInputElement;
  const abBtn = $('ab') as HTMLButtonElement;
  const presetDesc = $('preset-desc');
  const descriptions = new Map<string, string>();
  /** A/B on: `original-matched` plays while the selector keeps the chosen preset. */
  let abOn = false;
  let preview: number | null = null;
  /** A failed track's message stays while the core skips to the next one (until the track after). */
  let sticky: string | null = null;
  let stickyLeft = 0;

  const nowCover = new NowCover($('now-cover') as HTMLImageElement, bridge, 96);
  /** What the page knows about tracks (a list row, a detail), by id: the now-playing area, the queue panel. */
  const known = new Map<string, Track>();
  const remember = (t: Track) => known.set(String(t.id), t);

  // ---- the core: the host's, or the page's own stand-in (404: no core there)
  const coreReady: Promise<Core> = connectCore(bridge, {
    findInView: () => library.ids().then((ids) => ids.map(String)),
  });
  let core: Core | null = null;
  let follower: CoreFollower | null = null;
  /** Resolves once the page follows the core (settings taken in); set below. */
  let ready: Promise<CoreFollower> = new Promise(() => {});
  const withCore = (f: (c: Core) => void | Promise<void>) => void ready.then((fl) => f(fl.core));
  const send = (cmd: Command) => withCore((c) => c.send(cmd));

  const library = new Library(bridge, {
    play: (source, index) => void startFrom(source, index),
    message: (text) => showMessage(text),
    queue: {
      enqueue: (ids, how) => enqueue(ids, how),
      menu: (ids, x, y, from) =>
        showMenu(
          x,
          y,
          [
            { label: 'Play next', run: () => enqueue(ids, 'next') },
            { label: 'Add to queue', run: () => enqueue(ids, 'end') },
          ],
          from,
        ),
    },
  });
  exposed.library = library;
  exposed.viewIds = () => library.ids();

  function enqueue(ids: TrackId[], how: 'next' | 'end'): void {
    const tracks = ids.map(String);
    if (tracks.length === 0) return;
    send(how === 'next' ? { type: 'play_next', tracks } : { type: 'append', tracks });
  }

  /** Whether what the player holds is the core's current track (not one the desktop shell loaded directly, nor a click on its way). */
  function coreOwnsPlayer(): boolean {
    if (!core || !follower || follower.awaitingCore || !player.track) return false;
    return currentTrack(core.state()) === String(player.track.id);
  }

  const seekBar = new SeekBar(
    seekInput,
    $('processed'),
    $('buffered'),
    $('played'),
    (t) => seekTo(t),
    (t) => {
      preview = t;
      renderTime();
    },
  );

  function seekTo(t: number): void {
    if (!player.track) return;
    const cmd = seekCommand(t, player.duration);
    if (coreOwnsPlayer() && follower) follower.seekHere(cmd.position_s);
    else player.seek(cmd.position_s);
  }

  let clicks = 0;
  /**
   * Play `index` of `source` (a view's list, an album): the track starts loading at once,
   * then the core gets the list (`play_now`) and decides what follows.
   */
  async function startFrom(source: TrackSource, index: number): Promise<void> {
    const token = ++clicks;
    const t = source.get(index) ?? (await source.at(index));
    if (!t || token !== clicks) return;
    remember(t);
    sticky = null;
    stickyLeft = 0;
    library.setCurrent(t.id);
    const fl = await ready;
    const c = fl.core;
    if (token !== clicks) return;
    void fl.playNow(String(t.id));
    renderTrack();
    // Missing files cannot play: they stay out of the queue (the clicked one stays in).
    let all: { id: string; missing: boolean }[];
    try {
      all = await source.collect((x) => ({ id: String(x.id), missing: !!x.missing }));
    } catch (e) {
      // The list could not be read whole: the clicked track alone.
      if (token === clicks) showMessage(`The list could not be queued: ${messageOf(e)}`);
      all = [];
    }
    if (token !== clicks) return;
    let at = all[index]?.id === String(t.id) ? index : all.findIndex((x) => x.id === String(t.id));
    if (at < 0) {
      all.splice(0, all.length, { id: String(t.id), missing: false });
      at = 0;
    }
    const ids: string[] = [];
    let i0 = 0;
    all.forEach((x, i) => {
      if (i === at) i0 = ids.length;
      if (!x.missing || i === at) ids.push(x.id);
    });
    await c.send(playNowCommand(ids, i0, QUEUE_CAP));
  }

  // ---- rendering
  function renderButton(): void {
    const playing = !audio.paused && player.track !== null;
    const label = playing ? 'Pause' : 'Play';
    if (playBtn.getAttribute('aria-label') !== label) {
      playBtn.setAttribute('aria-label', label);
      playBtn.title = `${label} (Space)`;
    }
    playBtn.classList.toggle('is-playing', playing);
  }

  function renderModes(): void {
    const s = core?.state();
    shuffleBtn.setAttribute('aria-pressed', String(!!s?.shuffle));
    const mode = s?.repeat ?? 'off';
    repeatBtn.setAttribute('aria-label', repeatLabel(mode));
    repeatBtn.title = `${repeatLabel(mode)} (click: ${repeatLabel(nextRepeat(mode)).toLowerCase()})`;
    repeatBtn.dataset.mode = mode;
    repeatBtn.setAttribute('aria-pressed', String(mode !== 'off'));
    const queued = (s?.tracks.length ?? 0) > 0;
    prevBtn.disabled = nextBtn.disabled = !queued;
  }

  /** Text written only when it changes (the now-playing area is redrawn several times a second). */
  function setText(el: HTMLElement, text: string): void {
    if (el.textContent !== text) el.textContent = text;
  }

  function renderTime(): void {
    const t = preview ?? player.currentTime;
    setText(elapsed, formatTime(t));
    setText(total, formatTime(player.duration));
    seekBar.update(t, player.bufferedRanges(), player.processedRanges());
  }

  let intensityTimer: ReturnType<typeof setTimeout> | null = null;
  /**
   * The preset this page last sent the core: until the core says it back (or 3 s pass), its
   * older settings are echoes of earlier choices, not a change made elsewhere (quick changes
   * would otherwise be undone and redone, each through a deck).
   */
  let presetSent: { preset: string; at: number } | null = null;
  /** The intensity last sent to the core, until the core says it back (or 3 s pass). */
  let intensitySent: { intensity: number; at: number } | null = null;
  let detailFor: string | null = null;

  /** The id the now-playing area shows: what the player loads or holds. */
  function shownId(): string | null {
    const loaded = follower?.tracks.loaded ?? null;
    if (loaded !== null) return loaded;
    return player.track ? String(player.track.id) : null;
  }

  function renderTrack(): void {
    const id = shownId();
    const detail = player.track && String(player.track.id) === id ? player.track : null;
    if (detail) remember({ ...known.get(String(detail.id)), ...detail });
    let meta: Track | null = id === null ? null : (known.get(id) ?? null);
    if (id !== null && !meta) {
      // What the songs view knows about it, if it is at hand; else ask for its detail.
      const src = library.songs.source;
      meta = src.get(src.findLoaded((x) => String(x.id) === id)) ?? null;
      if (meta) remember(meta);
      else if (detailFor !== id) {
        detailFor = id;
        void bridge
          .track(id)
          .then((d) => {
            remember(d);
            renderTrack();
          })
          .catch(() => {});
      }
    }
    setText(nowTitle, meta ? meta.title || 'Untitled' : id !== null ? 'Loading…' : 'Nothing playing');
    setText(nowSub, meta ? [meta.artist, meta.album].filter(Boolean).join(' — ') : '');
    nowCover.show(id, meta?.has_cover);
    setMediaMetadata(id, meta);
    seekBar.setDuration(player.track?.duration_s ?? 0);
    if (!abOn && presetSel.value !== player.preset && [...presetSel.options].some((o) => o.value === player.preset)) {
      presetSel.value = player.preset;
    }
    const iv = String(Math.round(player.intensity * 100));
    // Never overwrite a change the user made that is still waiting for its debounce.
    if (intensity.value !== iv && document.activeElement !== intensity && intensityTimer === null) {
      intensity.value = iv;
    }
  }

  let mediaFor: string | null = null;
  function setMediaMetadata(id: string | null, meta: Track | null): void {
    const ms = (navigator as Navigator & { mediaSession?: MediaSession }).mediaSession;
    const key = id === null ? null : `${id}|${meta?.title ?? ''}`;
    if (!ms || typeof MediaMetadata === 'undefined' || key === mediaFor) return;
    mediaFor = key;
    try {
      ms.metadata =
        id === null || !meta
          ? null
          : new MediaMetadata({
              title: meta.title,
              artist: meta.artist ?? '',
              album: meta.album ?? '',
              artwork: meta.has_cover ? [{ src: bridge.coverUrl(id, 512), sizes: '512x512', type: 'image/jpeg' }] : [],
            });
    } catch {
      /* not supported here */
    }
  }

  function setupMediaSession(): void {
    const ms = (navigator as Navigator & { mediaSession?: MediaSession }).mediaSession;
    if (!ms) return;
    const handlers: [MediaSessionAction, MediaSessionActionHandler][] = [
      ['play', () => (coreOwnsPlayer() || !player.track ? send({ type: 'play' }) : void player.play())],
      ['pause', () => (coreOwnsPlayer() ? send({ type: 'pause' }) : player.pause())],
      ['nexttrack', () => send({ type: 'next' })],
      ['previoustrack', () => send({ type: 'previous' })],
      ['seekto', (d) => d.seekTime !== undefined && seekTo(d.seekTime)],
    ];
    for (const [action, f] of handlers) {
      try {
        ms.setActionHandler(action, f);
      } catch {
        /* this action is not supported here */
      }
    }
  }

  function renderPreset(): void {
    abBtn.setAttribute('aria-pressed', String(abOn));
    abBtn.disabled = !descriptions.has(AB_PRESET) || presetSel.value === AB_PRESET;
    presetDesc.textContent = abOn ? `B: ${descriptions.get(AB_PRESET) ?? AB_PRESET}` : (descriptions.get(presetSel.value) ?? '');
    presetDesc.title = presetDesc.textContent;
  }

  function setAb(on: boolean): void {
    abOn = on && descriptions.has(AB_PRESET) && presetSel.value !== AB_PRESET;
    // The outputs are A/B's now: a switch under way hands back to the player first.
    if (abOn) keySwitch.stop();
    ab.set(abOn, presetSel.value);
    renderPreset();
  }

  function showMessage(msg: string | null): void {
    alertEl.textContent = msg ?? sticky ?? '';
  }

  player.addEventListener('change', () => {
    renderButton();
    renderTrack();
    renderTime();
  });
  player.addEventListener('time', renderTime);
  player.addEventListener('message', (e) => showMessage((e as CustomEvent<string | null>).detail));
  player.addEventListener('failure', (e) => {
    const id = shownId();
    library.setCurrent(id, true);
    sticky = (e as CustomEvent<string>).detail || player.error;
    stickyLeft = 1;
  });
  // The player fell back to another rendering (a preset the server refused): the core keeps
  // what plays. (Only then: other notices say nothing of the settings.)
  player.addEventListener('fallback', () => {
    if (!core || player.preset.includes(':')) return;
    const s = core.state();
    if (s.preset !== player.preset) void core.send({ type: 'set_preset', preset: player.preset });
    if (Math.abs(s.intensity - player.intensity) > 0.005) void core.send({ type: 'set_intensity', intensity: player.intensity });
  });
  setInterval(renderTime, 250);

  // ---- controls
  playBtn.addEventListener('click', () => {
    const c = core;
    if (c && player.track && !coreOwnsPlayer() && !follower?.awaitingCore) {
      // Loaded by someone else (the desktop shell): play or pause it as it is.
      player.toggle();
      return;
    }
    if (!c || c.state().tracks.length === 0) {
      if (c && player.track) {
        player.toggle();
        return;
      }
      const first = library.firstSource();
      void startFrom(first.source, first.index);
      return;
    }
    void c.send({ type: 'toggle_play' });
  });
  prevBtn.addEventListener('click', () => send({ type: 'previous' }));
  nextBtn.addEventListener('click', () => send({ type: 'next' }));
  shuffleBtn.addEventListener('click', () => withCore((c) => c.send({ type: 'set_shuffle', on: !c.state().shuffle })));
  repeatBtn.addEventListener('click', () => withCore((c) => c.send({ type: 'set_repeat', mode: nextRepeat(c.state().repeat) })));
  loudnessSel.addEventListener('change', () => send({ type: 'set_loudness_mode', mode: loudnessSel.value === 'album' ? 'album' : 'track' }));

  const queuePanel = new QueuePanel($('queue'), $('queue-toggle') as HTMLButtonElement, {
    send: (cmd) => send(cmd),
    label: (id, ready) => trackLabel(id, ready),
  });

  // Labels for the queue panel: from what the page has seen, else the track's detail (a few at a time).
  const labelWaiting = new Map<string, (() => void)[]>();
  let labelFetches = 0;
  function trackLabel(id: string, ready: () => void): TrackLabel | null {
    const t = known.get(id);
    if (t) return t;
    const src = library.songs.source;
    const found = src.get(src.findLoaded((x) => String(x.id) === id));
    if (found) {
      remember(found);
      return found;
    }
    const waiting = labelWaiting.get(id);
    if (waiting) waiting.push(ready);
    else {
      labelWaiting.set(id, [ready]);
      pumpLabels();
    }
    return null;
  }
  function pumpLabels(): void {
    while (labelFetches < 4) {
      const next = [...labelWaiting.keys()].find((k) => !inFlight.has(k));
      if (next === undefined) return;
      inFlight.add(next);
      labelFetches++;
      void bridge
        .track(next)
        .then((d) => remember(d))
        .catch(() => remember({ id: next, title: next, artist: null, album: null, duration_s: null }))
        .finally(() => {
          labelFetches--;
          inFlight.delete(next);
          const fs = labelWaiting.get(next) ?? [];
          labelWaiting.delete(next);
          for (const f of fs) f();
          pumpLabels();
        });
    }
  }
  const inFlight = new Set<string>();

  presetSel.addEventListener('change', () => {
    abOn = false;
    ab.set(false, presetSel.value);
    keySwitch.change(presetSel.value, player.intensity);
    renderPreset();
    presetSent = { preset: presetSel.value, at: performance.now() };
    send({ type: 'set_preset', preset: presetSel.value });
  });

  abBtn.addEventListener('click', () => setAb(!abOn));
  // Reaching for the preset or intensity control loads the track on a switch deck.
  for (const el of [presetSel, intensity]) for (const ev of ['pointerenter', 'focus']) el.addEventListener(ev, () => keySwitch.warm());
  // Reaching for A/B starts its deck, so the first flip is instant too.
  for (const ev of ['pointerenter', 'focus']) abBtn.addEventListener(ev, () => ab.warm(presetSel.value));

  // While the slider is dragged, what it passes through is heard too, at most every
  // DRAG_MS (each value is a render on the server; the latest wins, older ones are cancelled).
  const DRAG_MS = 250;
  let dragTimer: ReturnType<typeof setTimeout> | null = null;
  let dragAt = 0;
  const dragTo = () => {
    dragTimer = null;
    dragAt = performance.now();
    keySwitch.change(player.preset, unit(Number(intensity.value)));
  };
  intensity.addEventListener('input', () => {
    if (dragTimer !== null) return;
    dragTimer = setTimeout(dragTo, Math.max(0, DRAG_MS - (performance.now() - dragAt)));
  });
  intensity.addEventListener('change', () => {
    if (dragTimer !== null) clearTimeout(dragTimer);
    dragTimer = null;
    if (intensityTimer !== null) clearTimeout(intensityTimer);
    // The value the user chose, read now: a re-render may reset the slider before the timer.
    const x = unit(Number(intensity.value));
    // Heard at once (the latest value wins: a deck still loading an older one is re-aimed);
    // the core hears where the slider rests.
    keySwitch.change(player.preset, x);
    intensityTimer = setTimeout(() => {
      intensityTimer = null;
      intensitySent = { intensity: x, at: performance.now() };
      send({ type: 'set_intensity', intensity: x });
    }, 150);
  });

  function stepVolume(delta: number): void {
    volume.value = String(Math.max(0, Math.min(100, Number(volume.value) + delta)));
    volume.dispatchEvent(new Event('input', { bubbles: true }));
    volume.dispatchEvent(new Event('change', { bubbles: true }));
  }

  function applyVolume(v: number): void {
    output.setVolume(v);
    ab.setVolume(v);
    keySwitch.setVolume(v);
  }

  volume.addEventListener('input', () => applyVolume(unit(Number(volume.value))));
  // The core hears the volume where the slider stops (not at every step of a drag).
  volume.addEventListener('change', () => send({ type: 'set_volume', volume: unit(Number(volume.value)) }));

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented) return;
    const t = e.target as HTMLElement | null;
    const tag = t?.tagName;
    const typing = tag === 'SELECT' || tag === 'TEXTAREA' || !!t?.isContentEditable || (tag === 'INPUT' && (t as HTMLInputElement).type !== 'range');
    const otherSlider = tag === 'INPUT' && t !== seekInput;
    const action = keyAction(e, typing ? 'typing' : otherSlider ? 'otherSlider' : null);
    if (action === null) return;
    e.preventDefault();
    switch (action) {
      case 'toggle':
        if (!e.repeat) playBtn.click();
        break;
      case 'next':
      case 'previous':
        if (!e.repeat || e.ctrlKey) send({ type: action });
        break;
      case 'back':
      case 'forward':
        seekTo(player.currentTime + (action === 'back' ? -5 : 5));
        break;
      case 'volumeUp':
      case 'volumeDown':
        stepVolume(action === 'volumeUp' ? VOLUME_STEP : -VOLUME_STEP);
        break;
      case 'ab':
        if (!e.repeat) abBtn.click();
        break;
    }
  });
  // Buttons activate on Space keyup: the keydown handler already toggled.
  document.addEventListener('keyup', (e) => {
    if (e.key === ' ' || e.code === 'Space') {
      const tag = (e.target as HTMLElement | null)?.tagName;
      if (tag !== 'SELECT' && tag !== 'TEXTAREA') e.preventDefault();
    }
  });

  // ---- settings: the core's (volume, preset, intensity)
  let presetNames: string[] | null = null;
  /** Take the core's settings into the controls and the player. */
  function applySettings(s: CoreState, fromConnect: boolean): void {
    // Album or track levelling: the chunks fetched from now on (what is buffered plays on).
    bridge.loudness = s.loudness_mode;
    loudnessSel.value = s.loudness_mode;
    const v = Math.max(0, Math.min(1, s.volume));
    volume.value = String(Math.round(v * 100));
    applyVolume(v);
    const x = Math.max(0, Math.min(1, s.intensity));
    // Until the core has the intensity sent from here, what it says is older (as for presets).
    if (intensitySent && (Math.abs(x - intensitySent.intensity) <= 0.005 || performance.now() - intensitySent.at > 3000)) intensitySent = null;
    if (Math.abs(player.intensity - x) > 0.005 && intensityTimer === null && intensitySent === null) {
      keySwitch.change(player.preset, x);
      intensity.value = String(Math.round(x * 100));
    }
    if (presetNames === null) return;
    if (presetSent && (s.preset === presetSent.preset || performance.now() - presetSent.at > 3000)) presetSent = null;
    if (presetSent) return;
    if (presetNames.includes(s.preset)) {
      if (presetSel.value !== s.preset || (!abOn && player.preset !== s.preset)) {
        presetSel.value = s.preset;
        if (abOn) {
          abOn = false;
          ab.set(false, s.preset);
        }
        if (player.track) keySwitch.change(s.preset, player.intensity);
        else player.preset = s.preset;
        renderPreset();
      }
    } else if (fromConnect) {
      // A preset this server does not have (a fresh core says "default"): the page's choice.
      const choice = presetNames.includes('adaptive') ? 'adaptive' : (presetNames[0] ?? 'bypass');
      presetSel.value = choice;
      if (player.track) player.setPreset(choice);
      else player.preset = choice;
      renderPreset();
      if (core) void core.send({ type: 'set_preset', preset: choice });
    }
  }

  // ---- load library
  const presetsReady = loadPresets(bridge, player, presetSel)
    .then((presets) => {
      for (const p of presets) descriptions.set(p.name, p.description);
    })
    .finally(() => {
      presetNames = player.knownPresets;
      renderPreset();
    })
    .catch((e) => showMessage(`Presets could not be loaded: ${messageOf(e)}`));
  const loadTracks = (): Promise<void> =>
    library
      .reload()
      .then(() => library.setCurrent(shownId(), !!player.error))
      .catch((e) => showMessage(`The library could not be loaded: ${messageOf(e)}`));
  exposed.reloadTracks = loadTracks;
  void library.start();

  // ---- follow the core
  ready = coreReady.then(async (c) => {
    core = c;
    exposed.core = { state: () => c.state(), send: (cmd) => c.send(cmd), remote: c.remote };
    if (c.remote) {
      // Settings the page kept before the core did: handed over once.
      const old = storedSettings();
      if (old.volume !== null) void c.send({ type: 'set_volume', volume: old.volume });
      if (old.intensity !== null) void c.send({ type: 'set_intensity', intensity: old.intensity });
      if (old.preset !== null) void c.send({ type: 'set_preset', preset: old.preset });
      forgetStoredSettings();
      // Play with them from the first chunk (their events come back shortly).
      const s = c.state();
      const local = { ...s, volume: old.volume ?? s.volume, intensity: old.intensity ?? s.intensity, preset: old.preset ?? s.preset };
      applySettings(local, false);
      await presetsReady;
      applySettings(local, true);
    } else {
      await presetsReady;
      applySettings(c.state(), true);
    }
    // In the desktop app the core's "playing" is carried on (files opened with the app play
    // at once, and the app may start sound without a click); a browser tab opening on a
    // playing core waits for a click.
    // On the desktop's native output the output reports to the core itself (in Rust).
    const f = new CoreFollower(c, player, { resume: desktop, reports: !(desktop && nativeOutput()) });
    follower = f;
    c.addEventListener('event', (ev) => onCoreEvent((ev as CustomEvent<CoreEvent>).detail));
    c.addEventListener('state', (ev) => {
      applySettings((ev as CustomEvent<CoreState>).detail, false);
      onCoreChange();
    });
    f.start();
    setupMediaSession();
    onCoreChange();
    return f;
  });

  function onCoreEvent(e: CoreEvent): void {
    if (!core) return;
    if (e.type === 'settings_changed') applySettings(core.state(), false);
    else if (e.type === 'error') {
      // A failed track: the player's own message says it better (it stays while the next plays).
      if (e.kind === 'track_failed') {
        if (sticky) showMessage(null);
      } else showMessage(e.message);
      // A refused play_now: stop waiting for its track_changed.
      if (e.kind === 'queue_full' || e.kind === 'nothing_to_play') follower?.tracks.forget();
    } else if (e.type === 'track_changed') {
      if (stickyLeft > 0) stickyLeft--;
      else sticky = null;
    }
    onCoreChange();
  }

  function onCoreChange(): void {
    if (!core) return;
    queuePanel.update(core.state());
    renderModes();
    renderTrack();
    const id = shownId();
    library.setCurrent(id, !!player.error && player.track === null);
  }

  renderButton();
  renderModes();
  renderTrack();
  renderTime();
  // The desktop app's side of the page (reports, its output path, its dialogs).
  if (desktop) startDesktop(exposed);
}

async function loadPresets(bridge: Bridge, player: Player, select: HTMLSelectElement): Promise<Preset[]> {
  let presets: Preset[];
  try {
    presets = await bridge.presets();
  } catch (e) {
    presets = [{ name: 'bypass', description: 'No processing' }];
    select.replaceChildren(new Option('bypass', 'bypass'));
    player.knownPresets = ['bypass'];
    player.preset = 'bypass';
    throw e;
  }
  select.replaceChildren(
    ...presets.map((p) => {
      const o = new Option(p.name, p.name);
      o.title = p.description;
      return o;
    }),
  );
  player.knownPresets = presets.map((p) => p.name);
  return presets;
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
