#!/usr/bin/env python3
"""Synthesize Sonance's demo track: 48 s of a four-chord loop (pad, bass, drums, lead).

Only the standard library; writes demo.wav (16-bit 44.1 kHz stereo). Then:
    python3 assets/make_demo.py && ffmpeg -y -i demo.wav -c:a flac \
        -metadata title="Sonance Demo" -metadata artist="Sonance" -metadata album="Demo" \
        assets/demo.flac && rm demo.wav
Deterministic: the same bytes every run.
"""
import math
import random
import struct
import wave

RATE = 44100
BPM = 120
BEAT = 60 / BPM
BARS = 24
SECONDS = BARS * 4 * BEAT
N = int(SECONDS * RATE)
TAU = 2 * math.pi
rng = random.Random(20261122)

# A–F–C–G (vi–IV–I–V in C), one chord per bar.
CHORDS = [[57, 60, 64], [53, 57, 60], [48, 52, 55], [55, 59, 62]]
MELODY = [76, 74, 72, 74, 76, 76, 76, None, 74, 74, 74, None, 76, 79, 79, None]


def hz(note):
    return 440.0 * 2 ** ((note - 69) / 12)


left = [0.0] * N
right = [0.0] * N


def add(start_s, dur_s, fn, pan=0.0, gain=1.0):
    a = int(start_s * RATE)
    b = min(N, a + int(dur_s * RATE))
    gl = gain * math.cos((pan + 1) * math.pi / 4)
    gr = gain * math.sin((pan + 1) * math.pi / 4)
    for i in range(a, b):
        v = fn((i - a) / RATE)
        left[i] += v * gl
        right[i] += v * gr


def pad(f):
    def fn(t):
        env = min(1.0, t / 0.3) * math.exp(-t * 0.25)
        return env * 0.05 * sum(math.sin(TAU * f * k * t + k) / k for k in (1, 2, 3, 4))
    return fn


def bass(f):
    return lambda t: 0.22 * math.exp(-t * 3) * (math.sin(TAU * f * t) + 0.3 * math.sin(TAU * 2 * f * t))


def kick(t):
    return 0.6 * math.sin(TAU * (45 * t + 60 * (1 - math.exp(-t * 25)) / 25)) * math.exp(-t * 9)


def snare(t):
    return 0.22 * (rng.uniform(-1, 1) * math.exp(-t * 18) + 0.5 * math.sin(TAU * 190 * t) * math.exp(-t * 25))


def hat(t):
    return 0.06 * rng.uniform(-1, 1) * math.exp(-t * 70)


def lead(f):
    def fn(t):
        env = min(1.0, t / 0.02) * math.exp(-t * 2.5)
        vib = 1 + 0.004 * math.sin(TAU * 5 * t)
        return 0.12 * env * (math.sin(TAU * f * vib * t) + 0.25 * math.sin(TAU * 3 * f * t))
    return fn


for bar in range(BARS):
    t0 = bar * 4 * BEAT
    chord = CHORDS[bar % 4]
    for n in chord:
        add(t0, 4 * BEAT, pad(hz(n)), pan=(n % 3 - 1) * 0.4)
    for beat in range(4):
        add(t0 + beat * BEAT, BEAT, bass(hz(chord[0] - 12)))
        add(t0 + beat * BEAT, 0.5, kick if beat % 2 == 0 else snare, gain=1.0)
        for half in range(2):
            add(t0 + (beat + half / 2) * BEAT, 0.1, hat, pan=0.5)
    if bar >= 8:
        for step, note in enumerate(MELODY):
            if note is not None:
                add(t0 + step * BEAT / 4, BEAT / 2, lead(hz(note + (0 if bar % 8 < 4 else -2))), pan=-0.2)

# Fade in and out, then normalise to -1 dBFS peak.
for i in range(N):
    g = min(1.0, i / (RATE * 0.5), (N - i) / (RATE * 2.0))
    left[i] *= g
    right[i] *= g
peak = max(max(abs(x) for x in left), max(abs(x) for x in right))
scale = 10 ** (-1 / 20) / peak * 32767
with wave.open("demo.wav", "wb") as w:
    w.setnchannels(2)
    w.setsampwidth(2)
    w.setframerate(RATE)
    w.writeframes(b"".join(struct.pack("<hh", int(l * scale), int(r * scale)) for l, r in zip(left, right)))
