"""Writes test audio with python3-soundfile (libsndfile): sine tones at several rates in every
supported encoding, plus a stereo file whose channels differ.

    python3 make_audio.py OUT_DIR

OUT_DIR/manifest.json: {name: {"frequency": Hz, "amplitude": peak}} for the tone files.
"""
import json
import os
import sys

import numpy as np
import soundfile

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
manifest = {}


def tone(rate, seconds, frequency, amplitude):
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float64)


cases = [
    ("pcm16_16000.wav", 16000, "PCM_16", "WAV", 440.0),
    ("pcm16_44100.wav", 44100, "PCM_16", "WAV", 1000.0),
    ("pcm24_48000.wav", 48000, "PCM_24", "WAV", 3000.0),
    ("pcm32_22050.wav", 22050, "PCM_32", "WAV", 250.0),
    ("u8_8000.wav", 8000, "PCM_U8", "WAV", 600.0),
    ("float_32000.wav", 32000, "FLOAT", "WAV", 5000.0),
    ("flac_44100.flac", 44100, "PCM_16", "FLAC", 2000.0),
    ("vorbis_48000.ogg", 48000, "VORBIS", "OGG", 700.0),
]
for name, rate, subtype, container, frequency in cases:
    soundfile.write(os.path.join(out, name), tone(rate, 2.3, frequency, 0.5), rate,
                    subtype=subtype, format=container)
    manifest[name] = {"frequency": frequency, "amplitude": 0.5}
stereo = np.stack([tone(44100, 1.0, 440, 0.6), tone(44100, 1.0, 880, 0.2)], axis=1)
soundfile.write(os.path.join(out, "stereo_44100.wav"), stereo, 44100, subtype="PCM_16")
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
