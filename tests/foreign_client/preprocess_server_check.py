"""Drives the preprocess server with foreign clients (python3-grpcio, npm buf) end to end.

Checks: reflection and health; Tokenize / Detokenize / CountTokens; a chat with an image and an
audio clip whose patch bytes equal the Hugging Face pipeline's (Pillow: exif_transpose,
convert("RGB"), resize BICUBIC, 48x48 blocks) and whose frames equal python3-soundfile's
samples (16 kHz source, so no resampling); INVALID_ARGUMENT / RESOURCE_EXHAUSTED with messages
naming the part; 64 concurrent calls giving identical answers; `buf curl` through reflection;
/metrics (request outcomes counted; `promtool check metrics` clean); SIGTERM exits 0.

Run by tests/foreign_client/preprocess_server_test.sh with the server, vocabulary and proto root.
"""
import argparse
import concurrent.futures
import io
import json
import math
import os
import signal
import socket
import subprocess
import tempfile
import urllib.request

import numpy as np
from PIL import Image

from grpc_test_util import buf, generate_stubs, health_status, reflected_services, wait_for_port

PROTOS = ["gemma/v1/content.proto", "gemma/v1/sampling.proto", "gemma/v1/gemma_service.proto",
          "gemma/preprocess/v1/media.proto", "gemma/preprocess/v1/preprocess.proto"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_image():
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:480, 0:640]
    pixels = np.clip(np.stack([x / 2.5, y / 1.9, 128 + 0 * x], -1) + rng.normal(0, 30, (480, 640, 3)),
                     0, 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def reference_patches(png, budget=280):
    image = Image.open(io.BytesIO(png)).convert("RGB")
    factor = math.sqrt(budget * 9 * 256 / (image.width * image.height))
    width = int(math.floor(factor * image.width / 48)) * 48
    height = int(math.floor(factor * image.height / 48)) * 48
    resized = np.asarray(image.resize((width, height), Image.BICUBIC))
    blocks = resized.reshape(height // 48, 48, width // 48, 48, 3).transpose(0, 2, 1, 3, 4)
    return width // 48, height // 48, blocks.reshape(-1, 6912).tobytes()


def test_audio():
    import soundfile
    t = np.arange(int(16000 * 1.3)) / 16000
    samples = (0.4 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    out = io.BytesIO()
    soundfile.write(out, samples, 16000, subtype="PCM_16", format="WAV")
    data = out.getvalue()
    decoded, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    return data, decoded


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--proto_root", required=True)
    parser.add_argument("--npm_dir", default=os.environ.get(
        "GEMMA_NPM_DIR", "/var/cache/gemma-serve/npm"))
    args = parser.parse_args()

    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    generate_stubs(work, args.proto_root, PROTOS)
    import grpc
    from gemma.preprocess.v1 import preprocess_pb2, preprocess_pb2_grpc
    from gemma.v1 import content_pb2, gemma_service_pb2

    port_file = os.path.join(work, "port")
    metrics_port = free_port()
    server = subprocess.Popen([args.server, f"--model={args.vocab}", "--port=0",
                               f"--port_file={port_file}", f"--metrics_port={metrics_port}",
                               "--max_images_per_request=2"])
    checks = 0
    try:
        port = wait_for_port(port_file, server, timeout_s=60)
        target = f"127.0.0.1:{port}"
        channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20)])
        stub = preprocess_pb2_grpc.PreprocessStub(channel)

        assert "gemma.preprocess.v1.Preprocess" in reflected_services(channel)
        assert health_status(channel) == "SERVING"
        assert health_status(channel, "gemma.preprocess.v1.Preprocess") == "SERVING"
        checks += 1

        text = "Hello <|turn> world"
        plain = stub.Tokenize(gemma_service_pb2.TokenizeRequest(text=text, return_pieces=True))
        special = stub.Tokenize(gemma_service_pb2.TokenizeRequest(text=text, parse_special_tokens=True))
        assert 105 not in plain.token_ids and 105 in special.token_ids, (plain, special)
        assert len(plain.pieces) == len(plain.token_ids)
        back = stub.Detokenize(preprocess_pb2.DetokenizeRequest(token_ids=plain.token_ids))
        assert back.text == text, back.text
        checks += 1

        png = test_image()
        wav, decoded = test_audio()
        prompt = content_pb2.PromptInput(chat=content_pb2.ChatInput(messages=[
            content_pb2.ChatMessage(role=content_pb2.ROLE_USER, parts=[
                content_pb2.ContentPart(text="Describe the picture and the sound."),
                content_pb2.ContentPart(image=content_pb2.Image(data=png, mime_type="image/png")),
                content_pb2.ContentPart(audio=content_pb2.Audio(data=wav))])]))
        reply = stub.Preprocess(preprocess_pb2.PreprocessRequest(prompt=prompt), timeout=30)
        image, audio = reply.media
        grid_w, grid_h, patches = reference_patches(png)
        assert (image.grid_width, image.grid_height) == (grid_w, grid_h), image
        assert image.features.data == patches, "image patches differ from the Pillow pipeline"
        ids = list(reply.token_ids)
        assert ids[image.token_offset - 1] == 255999 and ids[image.token_offset + image.num_tokens] == 258882
        assert ids[image.token_offset:image.token_offset + image.num_tokens] == [258880] * (grid_w * grid_h)
        frames = np.frombuffer(audio.features.data, np.float32)
        assert audio.num_tokens == math.ceil(len(decoded) / 640) and audio.audio_samples == len(decoded)
        assert np.array_equal(frames[:len(decoded)], decoded) and not frames[len(decoded):].any()
        assert ids[audio.token_offset - 1] == 256000 and ids[audio.token_offset + audio.num_tokens] == 258883
        counts = stub.CountTokens(gemma_service_pb2.CountTokensRequest(prompt=prompt))
        assert counts == reply.counts and counts.total_tokens == len(ids), (counts, reply.counts)
        assert counts.image_tokens == grid_w * grid_h and counts.audio_tokens == audio.num_tokens
        checks += 1

        bad = content_pb2.PromptInput()
        bad.CopyFrom(prompt)
        bad.chat.messages[0].parts[1].image.data = b"\x89PNG\r\n\x1a\nbroken"
        try:
            stub.Preprocess(preprocess_pb2.PreprocessRequest(prompt=bad))
            raise AssertionError("a corrupt PNG was accepted")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error
            assert "prompt.chat.messages[0].parts[1].image: PNG" in error.details(), error.details()
        many = content_pb2.PromptInput()
        many.CopyFrom(prompt)
        for _ in range(2):
            many.chat.messages[0].parts.add().image.data = png
        try:
            stub.Preprocess(preprocess_pb2.PreprocessRequest(prompt=many))
            raise AssertionError("3 images passed a limit of 2")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
            assert "3 images exceed the limit of 2" in error.details(), error.details()
        checks += 1

        def call(i):
            if i % 2:
                return stub.Preprocess(preprocess_pb2.PreprocessRequest(prompt=prompt), timeout=60)
            return stub.Tokenize(gemma_service_pb2.TokenizeRequest(text=f"request {i // 2} " * 50))
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(call, range(64)))
        for i, result in enumerate(results):
            if i % 2:
                assert result == reply, f"concurrent Preprocess {i} differs"
            else:
                single = stub.Tokenize(gemma_service_pb2.TokenizeRequest(text=f"request {i // 2} " * 50))
                assert result == single, f"concurrent Tokenize {i} differs"
        checks += 1

        methods = buf(args.npm_dir, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                      "--list-methods", f"http://{target}").split()
        assert "gemma.preprocess.v1.Preprocess/Preprocess" in methods, methods
        tokens = json.loads(buf(args.npm_dir, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                                "-d", json.dumps({"text": text}),
                                f"http://{target}/gemma.preprocess.v1.Preprocess/Tokenize"))
        assert tokens["tokenIds"] == list(plain.token_ids), tokens
        checks += 1

        metrics = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read().decode()
        assert 'gemma_preprocess_media_total{kind="image"} ' in metrics, metrics[:2000]
        image_count = float(metrics.split('gemma_preprocess_media_total{kind="image"} ')[1].split()[0])
        assert image_count >= 33, image_count  # 1 + 32 concurrent.
        for series in ('gemma_preprocess_requests_total{rpc="Preprocess",kind="mixed",outcome="ok"} ',
                       'gemma_preprocess_requests_total{rpc="Preprocess",kind="mixed",outcome="invalid_argument"} 1',
                       'gemma_preprocess_requests_total{rpc="Preprocess",kind="mixed",outcome="resource_exhausted"} 1',
                       'gemma_preprocess_media_bytes_total{kind="image"} '):
            assert series in metrics, series
        lint = subprocess.run(["promtool", "check", "metrics"], input=metrics, capture_output=True,
                              text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        checks += 1

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
        checks += 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    print(f"preprocess server: {checks} foreign-client checks passed")


if __name__ == "__main__":
    main()
