// Dropouts of the desktop app (WebKitGTK) under a reproducible CPU load. Not a test; prints
// per-run figures and a Markdown table for BENCHMARKS.md.
//
//   xvfb-run -a dbus-run-session -- node tests/desktop/bench/dropouts.mjs [options]
//
//   --runs N              capture runs per variant (default 20)
//   --variant NAME=BIN[,KEY=VALUE…][,warm][,every=K]
//                         an app binary to measure, with extra environment for it; `warm`
//                         fetches every chunk before playing (nothing renders while it
//                         plays); `every=K` runs it in every K-th round only. Repeatable;
//                         runs interleave (a round runs every variant once, the order
//                         rotating), so slow drifts of the machine's load hit all alike.
//                         Default: main=/work/bin/sonance-desktop.
//                         BIN `gst` (with `buffer=US`): no app at all, a plain GStreamer
//                         pipeline (gst-launch-1.0 filesrc ! matroskademux ! opusdec !
//                         pulsesink buffer-time=US) playing the same noise as Opus/WebM
//                         (ffmpeg's libopus): the platform's own dropout rate under the load.
//   --stress N            `stress-ng --cpu N` while measuring (default 2; 0 = none), started
//                         and stopped here (and capped by its own --timeout).
//   --seconds S, --chunk C  the pink-noise track and chunk length (default 30 s, 5 s: the
//                         capture test's).
//
// A run is capture.mjs's: pink noise in `bypass` played from start to end into a private
// PulseAudio null sink whose monitor is recorded. A dropout is a stretch of digital silence
// ≥ 1 ms. Each is placed against the chunk joins and against the page's chunk requests: a
// request's render window runs from the request to the last append of that chunk.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { decodeF32 } from '../../e2e/helpers.mjs';
import { analyseJoins } from '../../e2e/joins.mjs';
import { captureRun, dropouts, mediaClock, pinkNoise, RATE } from '../capture.mjs';
import { ARTIFACTS, REPO, ffmpeg, startPulse, tempDir, sleep } from '../driver.mjs';

const SELF = fileURLToPath(import.meta.url);
/** One run's cap (launch, warm-up, 30 s of playback, close, analysis). */
const RUN_CAP_MS = 240_000;

function parseArgs(argv) {
  const o = { runs: 20, variants: [], stress: 2, seconds: 30, chunk: 5, one: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--runs') o.runs = Number(val());
    else if (a === '--variant') o.variants.push(parseVariant(val()));
    else if (a === '--stress') o.stress = Number(val());
    else if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--chunk') o.chunk = Number(val());
    else if (a === '--one') o.one = JSON.parse(val());
    else throw new Error(`unknown option ${a}`);
  }
  if (!o.variants.length) o.variants.push(parseVariant('main=/work/bin/sonance-desktop'));
  return o;
}

function parseVariant(spec) {
  const eq = spec.indexOf('=');
  if (eq < 1) throw new Error(`--variant NAME=BIN[,KEY=VALUE…][,warm], not ${spec}`);
  const [bin, ...rest] = spec.slice(eq + 1).split(',');
  const v = { name: spec.slice(0, eq), bin: bin === 'gst' ? 'gst' : resolve(REPO, bin), env: {}, warm: false, every: 1, bufferUs: 200000 };
  for (const r of rest) {
    if (r === 'warm') v.warm = true;
    else if (r.startsWith('every=')) v.every = Math.max(1, Number(r.slice(6)) || 1);
    else if (r.startsWith('buffer=')) v.bufferUs = Math.max(1000, Number(r.slice(7)) || 200000);
    else if (r.includes('=')) v.env[r.slice(0, r.indexOf('='))] = r.slice(r.indexOf('=') + 1);
    else throw new Error(`bad variant part ${r}`);
  }
  return v;
}

const loadavg = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** A plain GStreamer pipeline playing `webm` into a private PulseAudio sink, captured. */
async function gstRun({ variant, file, webm, seconds }) {
  const load0 = loadavg();
  const pulse = await startPulse({ rate: RATE });
  try {
    await mkdir(ARTIFACTS, { recursive: true });
    const capFile = join(ARTIFACTS, `dropouts-${variant.name}.f32`);
    const rec = await pulse.record(capFile);
    try {
      await new Promise((res, rej) => {
        const p = spawn('gst-launch-1.0', ['-q', 'filesrc', `location=${webm}`, '!', 'matroskademux', '!', 'opusdec', '!', 'audioconvert', '!', 'audioresample', '!', 'pulsesink', `buffer-time=${variant.bufferUs}`], { env: { ...process.env, ...pulse.env }, stdio: 'ignore' });
        const cap = setTimeout(() => p.kill('SIGKILL'), (seconds + 60) * 1000);
        p.once('exit', (code) => (clearTimeout(cap), code === 0 ? res() : rej(new Error(`gst-launch-1.0 exited ${code}`))));
      });
      await sleep(300);
    } finally {
      await rec.stop();
    }
    const buf = await readFile(capFile);
    const captured = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    const source = await decodeF32(file, RATE);
    const { globalOffset } = analyseJoins(source, captured, [], RATE);
    const gaps = dropouts(captured, globalOffset, RATE).map(([a, b]) => ({ from: +a.toFixed(3), ms: +((b - a) * 1000).toFixed(1), atJoin: false, toJoinS: 0, inRender: [], sinceRequestS: null }));
    console.log(`RESULT ${JSON.stringify({ variant: variant.name, load: `${load0} → ${loadavg()}`, waits: 0, capturedS: +(captured.length / 2 / RATE).toFixed(2), requests: [], gaps })}`);
  } finally {
    await pulse.stop();
  }
}

/** Child mode: one capture run of one variant; prints one JSON line. */
async function one({ variant, file, webm, seconds, chunk }) {
  if (variant.bin === 'gst') return gstRun({ variant, file, webm, seconds });
  const load0 = loadavg();
  const run = await captureRun({ file, seconds, chunk, title: 'pinkdrop', warm: variant.warm, env: variant.env, capName: `dropouts-${variant.name}.f32` });
  const clock = mediaClock(run.log.appends);
  const media = (at) => (clock ? clock(at) : NaN);
  // Render windows: a chunk request until the last append of that chunk after it.
  const windows = run.log.fetches.map((f) => {
    const ends = run.log.appends.filter((a) => a.chunk === f.chunk && a.at >= f.at).map((a) => a.at);
    return { chunk: f.chunk, purpose: f.purpose, from: media(f.at), to: ends.length ? media(Math.max(...ends)) : Infinity };
  });
  const gaps = run.gaps.map(([a, b]) => {
    const join = Math.round(a / chunk) * chunk;
    const before = windows.filter((w) => w.from <= a).sort((x, y) => y.from - x.from)[0];
    return {
      from: +a.toFixed(3),
      ms: +((b - a) * 1000).toFixed(1),
      atJoin: join > 0 && join < seconds && a < join + 0.02 && b > join - 0.02,
      toJoinS: +(a - join).toFixed(3),
      inRender: windows.filter((w) => w.from - 0.05 <= b && w.to + 0.05 >= a).map((w) => `${w.chunk}:${w.purpose}`),
      sinceRequestS: before ? +(a - before.from).toFixed(3) : null,
    };
  });
  const out = {
    variant: variant.name,
    load: `${load0} → ${loadavg()}`,
    waits: run.waits,
    capturedS: +run.capturedS.toFixed(2),
    requests: windows.map((w) => `${w.chunk}:${w.purpose}@${w.from.toFixed(2)}–${w.to.toFixed(2)}`),
    gaps,
  };
  console.log(`RESULT ${JSON.stringify(out)}`);
}

/** Run one capture in a child process (its own driver module state), capped in time. */
function child(args) {
  return new Promise((res) => {
    const env = { ...process.env, ...(args.variant.bin === 'gst' ? {} : { SONANCE_DESKTOP_BIN: args.variant.bin }) };
    const p = spawn(process.execPath, [SELF, '--one', JSON.stringify(args)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err = (err + d).slice(-4000)));
    const cap = setTimeout(() => p.kill('SIGKILL'), RUN_CAP_MS);
    p.once('exit', (code) => {
      clearTimeout(cap);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (line) res(JSON.parse(line.slice(7)));
      else res({ variant: args.variant.name, failed: `exit ${code}: ${(err || out).trim().split('\n').slice(-6).join(' | ')}` });
    });
  });
}

function startStress(cpus, capS) {
  if (!cpus) return { stop: async () => {} };
  const p = spawn('stress-ng', ['--cpu', String(cpus), '--timeout', `${capS}s`, '--quiet'], { stdio: 'ignore' });
  const exited = new Promise((r) => p.once('exit', r));
  return {
    async stop() {
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await Promise.race([exited, sleep(5000)]);
        if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      }
    },
  };
}

function summary(name, results, runs) {
  const ok = results.filter((r) => !r.failed);
  const gaps = ok.flatMap((r) => r.gaps);
  const withGaps = ok.filter((r) => r.gaps.length).length;
  const ms = gaps.reduce((s, g) => s + g.ms, 0);
  const sorted = gaps.map((g) => g.ms).sort((a, b) => a - b);
  return {
    name,
    runs: ok.length,
    failed: runs - ok.length,
    withGaps,
    rate: ok.length ? withGaps / ok.length : NaN,
    dropouts: gaps.length,
    ms,
    longest: sorted.length ? sorted[sorted.length - 1] : 0,
    atJoin: gaps.filter((g) => g.atJoin).length,
    inRender: gaps.filter((g) => g.inRender.length).length,
    waits: ok.reduce((s, r) => s + r.waits, 0),
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.one) return one(o.one);
  const dir = await tempDir('sonance-dropouts-');
  const file = await pinkNoise(join(dir, 'pinkdrop.flac'), o.seconds);
  const webm = join(dir, 'pinkdrop.webm');
  if (o.variants.some((v) => v.bin === 'gst')) await ffmpeg(['-i', file, '-ar', '48000', '-c:a', 'libopus', '-b:a', '128k', webm]);
  const capS = Math.ceil((o.runs * o.variants.length * RUN_CAP_MS) / 1000) + 60;
  console.log(`# ${o.runs} runs × ${o.variants.map((v) => `${v.name} (${v.bin}${v.warm ? ', warm' : ''}${Object.keys(v.env).length ? `, ${JSON.stringify(v.env)}` : ''})`).join(', ')}`);
  console.log(`# load: stress-ng --cpu ${o.stress}; ${o.seconds} s pink noise, ${o.chunk} s chunks; uptime at start: ${loadavg()}`);
  const stress = startStress(o.stress, capS);
  const stop = async () => {
    await stress.stop();
    process.exit(130);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const results = Object.fromEntries(o.variants.map((v) => [v.name, []]));
  try {
    await sleep(2000); // let the load settle
    for (let i = 0; i < o.runs; i++) {
      for (let k = 0; k < o.variants.length; k++) {
        const variant = o.variants[(i + k) % o.variants.length];
        if (i % variant.every !== 0) continue;
        const r = await child({ variant, file, webm, seconds: o.seconds, chunk: o.chunk });
        results[variant.name].push(r);
        if (r.failed) {
          console.log(`${variant.name} run ${i + 1}: FAILED ${r.failed}`);
          continue;
        }
        const ms = r.gaps.reduce((s, g) => s + g.ms, 0);
        console.log(`${variant.name} run ${i + 1}: ${r.gaps.length} dropouts, ${ms.toFixed(1)} ms, waits ${r.waits}, load ${r.load}`);
        for (const g of r.gaps) {
          console.log(`    at ${g.from.toFixed(3)} s, ${g.ms} ms${g.atJoin ? ' AT A CHUNK JOIN' : ` (${g.toJoinS >= 0 ? '+' : ''}${g.toJoinS} s from the nearest join)`}; ${g.inRender.length ? `while rendering ${g.inRender.join(' ')}` : 'no render in flight'}; ${g.sinceRequestS} s after the last request`);
        }
        console.log(`    requests (chunk:purpose@from–to, media s): ${r.requests.join(' ')}`);
      }
    }
  } finally {
    await stress.stop();
  }
  console.log(`# uptime at end: ${loadavg()}`);
  console.log(`\n| variant | runs | runs with a dropout | dropouts | total ms | longest ms | at a chunk join | while a render ran | waiting events |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const v of o.variants) {
    const s = summary(v.name, results[v.name], Math.ceil(o.runs / v.every));
    console.log(`| ${s.name} | ${s.runs}${s.failed ? ` (+${s.failed} failed)` : ''} | ${s.withGaps} (${(s.rate * 100).toFixed(0)} %) | ${s.dropouts} | ${s.ms.toFixed(0)} | ${s.longest.toFixed(0)} | ${s.atJoin} | ${s.inRender} | ${s.waits} |`);
  }
  console.log(JSON.stringify(results));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
