"""Checks the C++ audio pipeline against python3-soundfile and scipy.

    python3 compare_audio.py AUDIO_DIR OURS_DIR

Per file: decoded mono samples equal soundfile's (channels averaged) exactly; the 16 kHz signal
has len = round(n * 16000 / rate) (+-1) and, away from the edges, differs from
scipy.signal.resample_poly's by less than 3e-3 (two different anti-alias filters); a tone keeps
its frequency (FFT peak within 1 Hz) and level (RMS within 0.05 dB of the decoded
signal's) after resampling; frames are
the 16 kHz samples zero-padded to a multiple of 640.
"""
import json
import math
import os
import sys

import numpy as np
import soundfile
from scipy.signal import resample_poly

audio_dir, ours_dir = sys.argv[1:]
manifest = json.load(open(os.path.join(audio_dir, "manifest.json")))
failures = 0
for name in sorted(os.listdir(audio_dir)):
    if name.endswith(".json"):
        continue
    problems = []
    reference, rate = soundfile.read(os.path.join(audio_dir, name), dtype="float32", always_2d=True)
    mono = reference.mean(axis=1, dtype=np.float32) if reference.shape[1] > 1 else reference[:, 0]
    decoded = np.fromfile(os.path.join(ours_dir, name + ".decoded.f32"), np.float32)
    if decoded.shape != mono.shape or np.abs(decoded - mono).max() > 1e-7:
        problems.append("decoded samples differ from soundfile")
    ours = np.fromfile(os.path.join(ours_dir, name + ".resampled.f32"), np.float32).astype(np.float64)
    expected_length = round(len(mono) * 16000 / rate)
    if abs(len(ours) - expected_length) > 1:
        problems.append(f"16 kHz length {len(ours)}, expected {expected_length}")
    g = math.gcd(16000, rate)
    scipy_16k = resample_poly(mono.astype(np.float64), 16000 // g, rate // g)
    n = min(len(ours), len(scipy_16k))
    middle = slice(800, n - 800)
    difference = np.abs(ours[:n][middle] - scipy_16k[:n][middle]).max()
    if difference >= 3e-3:
        problems.append(f"differs from scipy resample_poly by {difference:.2e}")
    detail = f"vs scipy {difference:.1e}"
    if name in manifest:
        frequency = manifest[name]["frequency"]
        window = ours[middle] * np.hanning(len(ours[middle]))
        spectrum = np.abs(np.fft.rfft(window, n=16 * len(window)))
        peak = np.argmax(spectrum) * 16000 / (16 * len(window))
        # Level relative to the decoded signal (lossy codecs move it a little themselves).
        source = mono[int(0.05 * rate):int(len(mono) - 0.05 * rate)].astype(np.float64)
        level_db = 20 * np.log10(np.sqrt(np.mean(ours[middle] ** 2)) / np.sqrt(np.mean(source ** 2)))
        detail += f", peak {peak:.2f} Hz (tone {frequency:g}), level {level_db:+.3f} dB"
        if abs(peak - frequency) > 1 or abs(level_db) > 0.05:
            problems.append(detail)
    frames = np.fromfile(os.path.join(ours_dir, name + ".frames.f32"), np.float32)
    if len(frames) % 640 or len(frames) < len(ours) or len(frames) - len(ours) >= 640 or \
            (frames[:len(ours)] != ours.astype(np.float32)).any() or frames[len(ours):].any():
        problems.append("frames are not the samples zero-padded to a multiple of 640")
    if problems:
        failures += 1
        print(f"  {name}: " + "; ".join(problems))
    else:
        print(f"  {name}: {rate} Hz x{reference.shape[1]} -> {len(ours)} samples: {detail}")
print(f"audio: {len(os.listdir(audio_dir)) - 1 - failures}/{len(os.listdir(audio_dir)) - 1} match")
sys.exit(1 if failures else 0)
