"""Writes seed inputs for the fuzz targets: OUT_DIR/<target>/<files>.

    python3 make_seeds.py OUT_DIR

Small valid examples of every format each target parses (Pillow and python3-soundfile write
the media), so mutations start from inputs that reach deep into the parsers.
"""
import io
import json
import os
import struct
import sys

import numpy as np
import soundfile
from PIL import Image

out = sys.argv[1]


def write(target, name, data):
    os.makedirs(os.path.join(out, target), exist_ok=True)
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# tokenizer.json: Gemma's structure with a handful of pieces.
vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "a": 4, "b": 5, "\u2581": 6, "ab": 7,
         "\u2581a": 8, "<0x0A>": 9, "<0x41>": 10, "\n": 11}
tokenizer = {
    "version": "1.0",
    "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}
                     for c, i in vocab.items() if c.startswith("<") and not c.startswith("<0x")],
    "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
    "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                      "invert": False},
    "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<bos>"}}]},
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": vocab,
              "merges": [["a", "b"], ["\u2581", "a"]]},
}
write("tokenizer_json_fuzzer", "gemma_like.json", json.dumps(tokenizer))
tokenizer["model"]["merges"] = ["a b", "\u2581 a"]
tokenizer["pre_tokenizer"] = {"type": "Split", "pattern": {"Regex": "[^\\n]+|[\\n]+"}}
write("tokenizer_json_fuzzer", "string_merges.json", json.dumps(tokenizer))
# Regression (found by the fuzzer): an id that is a float too large for an integer.
write("tokenizer_json_fuzzer", "regression_float_id.json", json.dumps(tokenizer).replace('"b": 5', '"b": 1.7e23'))


# GGUF v3 with only tokenizer metadata.
def gguf_string(s):
    data = s.encode()
    return struct.pack("<Q", len(data)) + data


def gguf_kv(key, kind, payload):
    return gguf_string(key) + struct.pack("<I", kind) + payload


def gguf_array(kind, items):
    return struct.pack("<IQ", kind, len(items)) + b"".join(items)


pieces = list(vocab)
types = [3, 3, 3, 3, 1, 1, 1, 1, 1, 6, 6, 1]
kvs = [
    gguf_kv("tokenizer.ggml.model", 8, gguf_string("gemma4")),
    gguf_kv("tokenizer.ggml.tokens", 9, gguf_array(8, [gguf_string(p) for p in pieces])),
    gguf_kv("tokenizer.ggml.token_type", 9, gguf_array(5, [struct.pack("<i", t) for t in types])),
    gguf_kv("tokenizer.ggml.merges", 9, gguf_array(8, [gguf_string("a b"), gguf_string("\u2581 a")])),
    gguf_kv("tokenizer.ggml.bos_token_id", 4, struct.pack("<I", 2)),
    gguf_kv("tokenizer.chat_template", 8, gguf_string("{{ bos_token }}")),
]
write("gguf_vocab_fuzzer", "tiny.gguf", b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))
# Regression (found by the fuzzer): a BYTE-typed piece that is not <0xHH>.
kvs[1] = gguf_kv("tokenizer.ggml.tokens", 9, gguf_array(8, [gguf_string(p) for p in pieces[:9]] +
                                                         [gguf_string("<0xZZ>"), gguf_string("<0x41>"),
                                                          gguf_string("\n")]))
write("gguf_vocab_fuzzer", "regression_bad_byte_piece.gguf",
      b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))

for i, text in enumerate(["Hello world", "  spaces\n\n\ttabs", "日本語 🙂 \u200d", "<|turn>user\n<turn|>",
                          "<|image|><|\"|>\u2581x", "x" * 300, "\xff\xfe broken"]):
    write("tokenizer_encode_fuzzer", f"text{i}.txt", text.encode("utf-8", "surrogateescape"))
# Regression (found by the fuzzer): ill-formed lead bytes right before a literal U+2581.
write("tokenizer_encode_fuzzer", "regression_ill_formed_before_mark.txt",
      b"\xf0" * 10 + ">\u2581</".encode() + b"\xf0" * 24 + bytes.fromhex("c3bf444121598d90949a3f6e"))

rng = np.random.default_rng(3)
pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
for name, image, options in [
        ("rgb.png", Image.fromarray(pixels), {"format": "PNG"}),
        ("palette.png", Image.fromarray(pixels).quantize(16), {"format": "PNG", "transparency": 2}),
        ("gray.png", Image.fromarray(pixels[:, :, 0], "L"), {"format": "PNG"}),
        ("rgb.jpg", Image.fromarray(pixels), {"format": "JPEG", "quality": 80}),
        ("progressive.jpg", Image.fromarray(pixels), {"format": "JPEG", "progressive": True}),
        ("cmyk.jpg", Image.fromarray(pixels).convert("CMYK"), {"format": "JPEG"}),
        ("lossy.webp", Image.fromarray(pixels), {"format": "WEBP", "quality": 50}),
        ("lossless.webp", Image.fromarray(pixels), {"format": "WEBP", "lossless": True})]:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    write("image_decode_fuzzer", name, buffer.getvalue())
exif = Image.Exif()
exif[0x0112] = 6
buffer = io.BytesIO()
Image.fromarray(pixels).save(buffer, format="JPEG", exif=exif.tobytes())
write("image_decode_fuzzer", "exif6.jpg", buffer.getvalue())

tone = (0.3 * np.sin(np.arange(2000) / 5.0)).astype(np.float32)
for name, rate, subtype, container, channels in [
        ("pcm16.wav", 16000, "PCM_16", "WAV", 1), ("u8.wav", 8000, "PCM_U8", "WAV", 1),
        ("float.wav", 44100, "FLOAT", "WAV", 2), ("pcm24.wav", 22050, "PCM_24", "WAV", 1),
        ("tone.flac", 16000, "PCM_16", "FLAC", 1), ("tone.ogg", 16000, "VORBIS", "OGG", 1)]:
    buffer = io.BytesIO()
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    soundfile.write(buffer, data, rate, subtype=subtype, format=container)
    write("audio_decode_fuzzer", name, buffer.getvalue())
