"""The local cluster end to end - preprocess server, a TP = 2 CPU worker group (worker_launcher)
and the router, as separate processes on 127.0.0.1 - driven by python3-grpcio and buf curl.

The workers load an MTP drafter, so speculation is on by default. Checks: a real Prometheus
scrapes every service after a known set of requests (cluster_metrics.py); a streamed greedy chat
equals the in-process engine (`generate`) on the same prompt ids, with MTP on and off (drafts were
made and verified); a multimodal (text + image + audio) stream completes; 64 concurrent streams
equal the same requests run one at a time (continuous batching changes nothing, outputs do not
interleave); a stop string is never emitted and ends the stream with STOP_STRING; a client
cancel, an Abort and a passed deadline (DEADLINE_EXCEEDED) end generation and the workers hold no
sequence afterwards; a full queue is RESOURCE_EXHAUSTED with a retry hint; bad input is
INVALID_ARGUMENT naming the field; buf curl lists the API through reflection; a killed worker
rank fails the in-flight stream with UNAVAILABLE, health turns NOT_SERVING, and once the group is
restarted on the same ports the router serves the same output again; SIGTERM drains and exits 0;
a router with API keys refuses calls without a valid key (UNAUTHENTICATED, the key never echoed)
and scopes Abort to the key's tenant.
"""
import argparse
import concurrent.futures
import io
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request

import numpy as np

import sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "foreign_client"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_test_util import buf, generate_stubs, health_status, wait_for_port  # noqa: E402
from cluster_metrics import check_cluster_metrics  # noqa: E402

PROTOS = ["gemma/v1/content.proto", "gemma/v1/sampling.proto", "gemma/v1/gemma_service.proto",
          "gemma/preprocess/v1/media.proto", "gemma/preprocess/v1/preprocess.proto"]


def workers_idle(ranks, timeout_s=10):
    """Waits until every rank's gemma_worker_sequences gauge is 0."""
    deadline = time.time() + timeout_s
    while True:
        held = []
        for r in ranks:
            text = urllib.request.urlopen(f"http://127.0.0.1:{r['metrics_port']}/metrics").read().decode()
            held += [float(l.split()[-1]) for l in text.splitlines() if l.startswith("gemma_worker_sequences{")]
        if all(h == 0 for h in held) or time.time() > deadline:
            return all(h == 0 for h in held)
        time.sleep(0.1)


def free_port_pair():
    """A port P with P and P + 1 free on 127.0.0.1 (the worker ranks' fixed ports)."""
    import socket
    for _ in range(100):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            return port
    raise AssertionError("no two consecutive free ports")


def main():
    parser = argparse.ArgumentParser()
    for flag in ("router", "preprocess", "launcher", "worker", "make_checkpoint", "generate",
                 "proto_root", "client", "tls_dir"):
        parser.add_argument("--" + flag, required=True)
    parser.add_argument("--npm_dir", default=os.environ.get("GEMMA_NPM_DIR", "/var/cache/gemma-serve/npm"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    generate_stubs(work, args.proto_root, PROTOS)
    import grpc
    from gemma.preprocess.v1 import preprocess_pb2, preprocess_pb2_grpc
    from gemma.v1 import content_pb2 as content, gemma_service_pb2 as api, gemma_service_pb2_grpc
    from gemma.v1 import sampling_pb2 as sampling

    model = os.path.join(work, "model")
    drafter = os.path.join(work, "drafter")
    subprocess.run([args.make_checkpoint, f"--hf_dir={model}", f"--drafter_dir={drafter}",
                    "--seed=23", "--layers=6", "--write_tokenizer"], check=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    processes = []

    def start(name, command):
        port_file = os.path.join(work, name + ".port")
        process = subprocess.Popen(command + ["--port=0", f"--port_file={port_file}"], env=env)
        processes.append(process)
        return process, wait_for_port(port_file, process, timeout_s=120)

    try:
        _, preprocess_port = start("preprocess", [args.preprocess, f"--model={model}",
                                                  "--metrics_port=0",
                                                  f"--metrics_port_file={work}/preprocess.metrics"])
        state = os.path.join(work, "workers.json")
        first_port = free_port_pair()

        def start_workers():
            if os.path.exists(state):
                os.remove(state)
            launcher = subprocess.Popen([args.launcher, "--world_size=2", f"--worker_binary={args.worker}",
                                         f"--first_port={first_port}", f"--state_file={state}", "--",
                                         f"--model={model}", f"--drafter={drafter}"], env=env)
            processes.append(launcher)
            deadline = time.time() + 120
            while not os.path.exists(state):
                assert launcher.poll() is None and time.time() < deadline, "worker group did not start"
                time.sleep(0.05)
            return launcher
        launcher = start_workers()
        router, router_port = start("router", [
            args.router, f"--tokenizer={model}", f"--preprocess=127.0.0.1:{preprocess_port}",
            f"--worker_group_state={state}", "--kv_blocks=160", "--max_batch_tokens=128",
            "--max_context=1024", "--drain_grace_ms=200", "--max_running=16", "--max_queue=72",
            "--metrics_port=0",
            f"--metrics_port_file={work}/router.metrics"])
        target = f"127.0.0.1:{router_port}"
        channel = grpc.insecure_channel(target)
        stub = gemma_service_pb2_grpc.GemmaStub(channel)
        preprocess = preprocess_pb2_grpc.PreprocessStub(grpc.insecure_channel(f"127.0.0.1:{preprocess_port}"))
        checks = 0

        def chat(text, **parts):
            message = content.ChatMessage(role=content.ROLE_USER, parts=[content.ContentPart(text=text)])
            for kind, data in parts.items():
                message.parts.append(content.ContentPart(**{kind: data}))
            return content.PromptInput(chat=content.ChatInput(messages=[message]))

        # 0. A real Prometheus scrapes every service after a known set of requests.
        ranks = json.load(open(state))["ranks"]
        metrics_ports = {"router": int(open(f"{work}/router.metrics").read()),
                         "preprocess": int(open(f"{work}/preprocess.metrics").read())}
        metrics_ports.update({f"worker{r['rank']}": r["metrics_port"] for r in ranks})
        check_cluster_metrics(work, stub, api, content, sampling, metrics_ports)
        checks += 1

        def router_kv_free(timeout_s=10):
            """Waits until the router accounts no KV block in use (vllm:kv_cache_usage_perc 0)."""
            deadline = time.time() + timeout_s
            while True:
                text = urllib.request.urlopen(f"http://127.0.0.1:{metrics_ports['router']}/metrics").read().decode()
                usage = [float(l.split()[-1]) for l in text.splitlines() if l.startswith("vllm:kv_cache_usage_perc{")]
                if usage == [0.0] or time.time() > deadline:
                    return usage == [0.0]
                time.sleep(0.1)

        def request(prompt, max_tokens=12, **extra):
            return api.GenerateRequest(
                prompt=prompt, sampling=sampling.SamplingParams(temperature=0, seed=5),
                stopping=sampling.StoppingCriteria(max_tokens=max_tokens, ignore_eos=True), **extra)

        def stream(req, timeout=120):
            tokens, text, last = [], "", None
            for message in stub.Generate(req, timeout=timeout):
                tokens += list(message.token_ids)
                text += message.text
                last = message
            return tokens, text, last

        # 1. Streamed greedy output == the engine in-process on the same prompt ids.
        prompt = chat("Tell me about tensor parallelism.")
        ids = preprocess.Preprocess(preprocess_pb2.PreprocessRequest(prompt=prompt)).token_ids
        tokens, text, last = stream(request(prompt))
        reference = subprocess.run(
            [args.generate, f"--model={model}", "--max_tokens=12", "--stop_at_eos=false",
             "--prompt_ids=" + ",".join(map(str, ids))], capture_output=True, text=True, env=env, check=True)
        expected = [int(line.split("\t")[0]) for line in reference.stdout.splitlines()
                    if line and line.split("\t")[0].isdigit()]
        assert tokens == expected, f"router {tokens} != engine {expected}"
        assert last.finish_reason == api.FINISH_REASON_LENGTH and last.usage.completion_tokens == 12
        assert last.usage.prompt_tokens == len(ids) and last.seed == 5
        assert last.usage.drafted_tokens > 0, "speculation is on by default: nothing was drafted"
        # MTP off: the same tokens, nothing drafted.
        off, _, last_off = stream(request(prompt, speculative=sampling.SpeculativeOptions(enable=False)))
        assert off == expected and last_off.usage.drafted_tokens == 0, last_off.usage
        # MTP on with a deeper cap: still the same tokens.
        deep, _, _ = stream(request(prompt, speculative=sampling.SpeculativeOptions(enable=True, max_draft_tokens=4)))
        assert deep == expected, f"MTP on {deep} != off {expected}"
        info = stub.GetModelInfo(api.GetModelInfoRequest())
        assert info.speculative.available and info.speculative.max_draft_tokens == 4, info.speculative
        checks += 1

        # 2. Multimodal: an image and an audio clip.
        from PIL import Image
        import soundfile
        png, wav = io.BytesIO(), io.BytesIO()
        Image.fromarray(np.random.default_rng(1).integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(png, "PNG")
        soundfile.write(wav, 0.2 * np.sin(np.arange(16000) / 9.0), 16000, format="WAV")
        mm = chat("What is here?", image=content.Image(data=png.getvalue()),
                  audio=content.Audio(data=wav.getvalue()))
        counts = preprocess.CountTokens(api.CountTokensRequest(prompt=mm))
        tokens, _, last = stream(request(mm, 8))
        assert len(tokens) == 8 and last.usage.prompt_tokens == counts.total_tokens, last
        # Again: the prefix cache serves what it can without splitting the media items.
        again, _, last = stream(request(mm, 8))
        assert again == tokens and last.usage.cached_prompt_tokens > 0, last.usage
        # A layout where the cached prefix would end inside the audio clip (regression: the
        # router must cut it back to the clip's start and keep the sliding window's blocks).
        big_png, big_wav = io.BytesIO(), io.BytesIO()
        Image.fromarray(np.random.default_rng(2).integers(0, 256, (480, 640, 3), dtype=np.uint8)).save(big_png, "PNG")
        soundfile.write(big_wav, 0.3 * np.sin(np.arange(88200) / 7.0), 44100, format="WAV")
        demo = content.PromptInput(chat=content.ChatInput(messages=[
            content.ChatMessage(role=content.ROLE_SYSTEM, parts=[content.ContentPart(text="You are concise.")]),
            content.ChatMessage(role=content.ROLE_USER, parts=[
                content.ContentPart(text="What do you see and hear?"),
                content.ContentPart(image=content.Image(data=big_png.getvalue())),
                content.ContentPart(audio=content.Audio(data=big_wav.getvalue()))])]))
        first, _, _ = stream(request(demo, 4))
        second, _, last = stream(request(demo, 4))
        assert first == second and last.usage.cached_prompt_tokens > 0, last.usage
        checks += 1

        # 3. 64 concurrent streams (mixed tenants and priorities) equal the same requests run one at
        # a time: continuous batching changes nothing and outputs do not interleave.
        prompts = [chat(f"Question number {i}: " + "why " * (i % 13)) for i in range(64)]
        alone = [stub.GenerateUnary(request(p, 6), timeout=120) for p in prompts]
        with concurrent.futures.ThreadPoolExecutor(64) as pool:
            together = list(pool.map(
                lambda ip: stream(request(ip[1], 6, tenant=f"tenant-{ip[0] % 3}", priority=ip[0] % 2)),
                enumerate(prompts)))
        for i, (single, (tokens, text, _)) in enumerate(zip(alone, together)):
            assert list(single.token_ids) == tokens and single.text == text, f"request {i} differs"
        checks += 1

        # 4. A stop string in the middle of the text: never emitted.
        full = stub.GenerateUnary(request(prompts[0], 10), timeout=120).text
        stop = full[len(full) // 2:len(full) // 2 + 3]
        req = request(prompts[0], 10)
        req.stopping.stop.append(stop)
        _, text, last = stream(req)
        assert last.finish_reason == api.FINISH_REASON_STOP_STRING and last.matched_stop == stop
        assert text == full[:full.find(stop)] and stop not in text, (text, stop)
        checks += 1

        # 5. Cancel mid-stream and Abort: generation ends, the workers hold nothing afterwards.
        call = stub.Generate(request(prompts[1], 400), timeout=120)
        next(call)
        call.cancel()
        aborted = {}

        def long_stream():
            aborted["result"] = stream(request(prompts[2], 400, request_id="abort-me"))
        thread = threading.Thread(target=long_stream)
        thread.start()
        time.sleep(0.5)
        reply = stub.Abort(api.AbortRequest(request_ids=["abort-me", "unknown"]))
        assert list(reply.aborted) == ["abort-me"] and list(reply.not_found) == ["unknown"], reply
        thread.join(timeout=60)
        assert aborted["result"][2].finish_reason == api.FINISH_REASON_ABORT
        assert workers_idle(ranks), "workers still hold sequences after cancel and Abort"
        assert router_kv_free(), "the router still accounts KV blocks after cancel and Abort"
        checks += 1

        # Deadline: a long generation with a short deadline ends DEADLINE_EXCEEDED, state freed.
        try:
            stub.GenerateUnary(request(prompts[3], 1000), timeout=1.0)
            raise AssertionError("a 1000-token generation finished within 1 s")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED, error
        assert workers_idle(ranks), "workers still hold sequences after the deadline"
        assert router_kv_free(), "the router still accounts KV blocks after the deadline"

        # Queue overflow: more waiting requests than --max_queue are refused with a retry hint.
        calls = [stub.Generate(request(prompts[i % 64], 200), timeout=120) for i in range(120)]
        deadline = time.time() + 30
        while sum(c.done() for c in calls) < 120 - 16 - 72 and time.time() < deadline:
            time.sleep(0.1)
        refused = [c for c in calls if c.done() and c.code() == grpc.StatusCode.RESOURCE_EXHAUSTED]
        overflow = {"refused": len(refused),
                    "trailer": dict(refused[0].trailing_metadata() or ()).get("retry-after-ms") if refused else None}
        for call in calls:
            call.cancel()
        assert overflow["refused"] > 0 and overflow["trailer"] == "1000", overflow
        assert workers_idle(ranks, timeout_s=60), "workers still hold sequences after the overflow"
        assert router_kv_free(), "the router still accounts KV blocks after the overflow"
        checks += 1

        # 6. Bad input names the field.
        for bad, field in [(api.GenerateRequest(prompt=prompt, sampling=sampling.SamplingParams(top_p=0)),
                            "sampling.top_p"),
                           (api.GenerateRequest(prompt=prompt, request_id="bad id!"), "request_id"),
                           (api.GenerateRequest(prompt=prompt, tenant="a tenant"), "tenant"),
                           (api.GenerateRequest(prompt=prompt, priority=101), "priority"),
                           (api.GenerateRequest(prompt=content.PromptInput()), "prompt")]:
            try:
                list(stub.Generate(bad, timeout=30))
                raise AssertionError(f"{field} accepted")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and field in error.details(), \
                    (field, error.code(), error.details())
        checks += 1

        # 7. buf curl through reflection.
        methods = buf(args.npm_dir, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                      "--list-methods", f"http://{target}").split()
        assert "gemma.v1.Gemma/Generate" in methods, methods
        info = json.loads(buf(args.npm_dir, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                              "-d", "{}", f"http://{target}/gemma.v1.Gemma/GetModelInfo"))
        assert info["tensorParallelSize"] == 2, info
        checks += 1

        # 8. A worker rank dies mid-stream: the stream fails UNAVAILABLE, health is NOT_SERVING and new
        # requests are refused; the group restarts on the same ports and the router serves again.
        before = stub.GenerateUnary(request(prompts[5], 8), timeout=120)
        call = stub.Generate(request(prompts[6], 500), timeout=120)
        next(call)
        os.kill(ranks[1]["pid"], signal.SIGKILL)
        try:
            for _ in call:
                pass
            raise AssertionError("the stream survived a dead worker rank")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
        assert health_status(channel) == "NOT_SERVING"
        assert router_kv_free(), "the failed group's KV blocks are still accounted"
        try:
            stub.GenerateUnary(request(prompts[5], 8), timeout=30)
            raise AssertionError("served without a worker group")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=60)
        launcher = start_workers()
        ranks = json.load(open(state))["ranks"]
        deadline = time.time() + 60
        while health_status(channel) != "SERVING":
            assert time.time() < deadline, "the router did not come back"
            time.sleep(0.2)
        after = stub.GenerateUnary(request(prompts[5], 8), timeout=120)
        assert list(after.token_ids) == list(before.token_ids), "different output after the restart"
        checks += 1

        # 9. SIGTERM drains and exits.
        router.send_signal(signal.SIGTERM)
        assert router.wait(timeout=60) == 0
        checks += 1

        # 10. API keys and TLS: a new router over the same workers, with a keys file and a
        # certificate; python3-grpcio and the project's CLI over TLS.
        keys_file = os.path.join(work, "api_keys")
        with open(keys_file, "w") as f:
            f.write("# test keys\nsk-soc-0123456789abcdef soc-team\nsk-any-0123456789abcdef *\n")
        _, secured_port = start("secured", [
            args.router, f"--tokenizer={model}", f"--preprocess=127.0.0.1:{preprocess_port}",
            f"--worker_group_state={state}", "--kv_blocks=160", "--max_context=1024",
            f"--api_keys_file={keys_file}", f"--tls_cert={args.tls_dir}/server.pem",
            f"--tls_key={args.tls_dir}/server.key", "--metrics_port=0",
            f"--metrics_port_file={work}/secured.metrics"])
        roots = open(f"{args.tls_dir}/ca.pem", "rb").read()
        secured = gemma_service_pb2_grpc.GemmaStub(grpc.secure_channel(
            f"localhost:{secured_port}", grpc.ssl_channel_credentials(root_certificates=roots)))
        for metadata in [None, [("x-api-key", "sk-wrong-0123456789abcdef")],
                         [("authorization", "Basic sk-soc-0123456789abcdef")]]:
            try:
                secured.GenerateUnary(request(prompts[5], 8), timeout=30, metadata=metadata)
                raise AssertionError(f"served with {metadata}")
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
                assert "0123456789" not in error.details(), error.details()
        try:
            secured.GetModelInfo(api.GetModelInfoRequest(), timeout=30)
            raise AssertionError("GetModelInfo without a key")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED, error
        soc = [("authorization", "Bearer sk-soc-0123456789abcdef")]
        reply = secured.GenerateUnary(request(prompts[5], 8), timeout=120, metadata=soc)
        assert list(reply.token_ids) == list(before.token_ids), "a keyed call differs"
        # Abort is scoped to the key's tenant: the unbound key's request under another tenant is
        # out of soc-team's reach.
        other = secured.Generate(request(prompts[7], 400, request_id="shared-id", tenant="red-team"),
                                 timeout=120, metadata=[("x-api-key", "sk-any-0123456789abcdef")])
        next(other)
        reply = secured.Abort(api.AbortRequest(request_ids=["shared-id"]), metadata=soc)
        assert list(reply.not_found) == ["shared-id"], reply
        reply = secured.Abort(api.AbortRequest(request_ids=["shared-id"]),
                              metadata=[("x-api-key", "sk-any-0123456789abcdef")])
        assert list(reply.aborted) == ["shared-id"], reply
        last = None
        for message in other:
            last = message
        assert last.finish_reason == api.FINISH_REASON_ABORT, last
        # The CLI: TLS with the test CA and the key from the environment; refused without it.
        # (An IP literal: the server certificate names 127.0.0.1, and no DNS lookup means no
        # c-ares, whose Debian build leaks a few bytes that LeakSanitizer reports.)
        cli = [args.client, f"--server=127.0.0.1:{secured_port}", f"--tls_ca={args.tls_dir}/ca.pem",
               "--max_tokens=3", "--ignore_eos", "Hello"]
        ok = subprocess.run(cli, capture_output=True, text=True, timeout=120,
                            env=dict(env, GEMMA_API_KEY="sk-soc-0123456789abcdef"))
        assert ok.returncode == 0 and "generated 3" in ok.stderr, ok.stderr
        refused = subprocess.run(cli, capture_output=True, text=True, timeout=120, env=env)
        assert refused.returncode != 0 and "unknown API key" not in refused.stderr and \
            "missing API key" in refused.stderr, refused.stderr
        plaintext = subprocess.run([args.client, f"--server=127.0.0.1:{secured_port}", "Hello"],
                                   capture_output=True, text=True, timeout=60,
                                   env=dict(env, GEMMA_API_KEY="sk-soc-0123456789abcdef"))
        assert plaintext.returncode != 0, "a plaintext client reached the TLS listener"
        # Three keyless or wrong-key Generate calls, GetModelInfo, the keyless CLI: five refusals.
        secured_metrics = int(open(f"{work}/secured.metrics").read())
        text = urllib.request.urlopen(f"http://127.0.0.1:{secured_metrics}/metrics").read().decode()
        series = 'gemma_router_rejections_total{model_name="gemma-4-12b",reason="unauthenticated"}'
        counted = [float(l.split()[-1]) for l in text.splitlines() if l.startswith(series + " ")]
        assert counted == [5.0], (series, counted)
        checks += 1
        print(f"router: {checks} end-to-end checks passed")
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
