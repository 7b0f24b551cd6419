"""Multi-process tensor parallelism: CPU worker groups of 1, 2 and 4 ranks (started by
worker_launcher, connected through its rendezvous store and Gloo; and TP = 2 started rank by rank
with rank 0 serving the store, as pods do) driven over gRPC the way the
router drives them - every call to every rank at once.

Checks: health is NOT_SERVING until Warmup and SERVING after; TP = 2 and 4 emit the same greedy
tokens as TP = 1 for a multimodal prompt (text and an image) and a text prompt decoded together
in one batch, through prefill and decode steps; Release frees the sequences on every rank; the
Health RPC's collective round trip works; each rank's /metrics is promtool-clean and counts the
steps by kind; resident memory per rank falls with TP (the vocab-
parallel embedding and LM head dominate this model); a rank killed mid-run makes its peer fail
the next step with UNAVAILABLE within a bound, without hanging; the launcher stops cleanly.

    python3 worker_group_check.py --launcher L --worker W --make_checkpoint M --proto_root P
"""
import argparse
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "foreign_client"))
from grpc_test_util import generate_stubs, health_status, wait_for_port  # noqa: E402

PROTOS = ["gemma/v1/sampling.proto", "gemma/preprocess/v1/media.proto",
          "gemma/worker/v1/worker.proto"]
DECODE_STEPS = 8


def rss_kib(pid, field="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class Group:
    def __init__(self, args, work, world, extra=()):
        self.state = tempfile.mktemp(suffix=f".group{world}.json", dir=work)
        self.process = subprocess.Popen(
            [args.launcher, f"--world_size={world}", f"--worker_binary={args.worker}",
             f"--state_file={self.state}", "--", f"--model={args.model}",
             "--collective_timeout_ms=4000", *extra],
            env=dict(os.environ, OMP_NUM_THREADS="1"))
        deadline = time.time() + 120
        while not os.path.exists(self.state):
            assert self.process.poll() is None, f"launcher exited with {self.process.returncode}"
            assert time.time() < deadline, "the group did not start"
            time.sleep(0.05)
        import grpc
        from gemma.worker.v1 import worker_pb2_grpc
        self.ranks = json.load(open(self.state))["ranks"]
        self.channels = [grpc.insecure_channel(r["address"]) for r in self.ranks]
        self.stubs = [worker_pb2_grpc.WorkerStub(c) for c in self.channels]
        self.pool = concurrent.futures.ThreadPoolExecutor(len(self.ranks))

    def all(self, method, request, timeout=60):
        """Sends `request` to every rank at once; returns the replies (raises on any error)."""
        futures = [self.pool.submit(getattr(stub, method), request, timeout=timeout)
                   for stub in self.stubs]
        return [f.result() for f in futures]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        self.pool.shutdown()
        return code


class DirectGroup(Group):
    """Ranks started one by one, as pods of a multi-host group are: rank 0 serves the rendezvous
    store (--serve_rendezvous_port) and every rank points --rendezvous at it."""

    def __init__(self, args, work, world):
        import grpc
        from gemma.worker.v1 import worker_pb2_grpc
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            store = s.getsockname()[1]
        self.processes, self.ranks = [], []
        for rank in range(world):
            port_file = os.path.join(work, f"direct{world}.rank{rank}")
            command = [args.worker, f"--rank={rank}", f"--world_size={world}", f"--model={args.model}",
                       f"--rendezvous=127.0.0.1:{store}", "--group=pods", "--port=0",
                       f"--port_file={port_file}", "--metrics_port=0",
                       f"--metrics_port_file={port_file}.metrics", "--collective_timeout_ms=4000"]
            if rank == 0:
                command.append(f"--serve_rendezvous_port={store}")
            self.processes.append(subprocess.Popen(command, env=dict(os.environ, OMP_NUM_THREADS="1")))
        for rank, process in enumerate(self.processes):
            port = wait_for_port(os.path.join(work, f"direct{world}.rank{rank}"), process, timeout_s=120)
            metrics = int(open(os.path.join(work, f"direct{world}.rank{rank}.metrics")).read())
            self.ranks.append({"rank": rank, "pid": process.pid, "address": f"127.0.0.1:{port}",
                               "metrics_port": metrics})
        self.channels = [grpc.insecure_channel(r["address"]) for r in self.ranks]
        self.stubs = [worker_pb2_grpc.WorkerStub(c) for c in self.channels]
        self.pool = concurrent.futures.ThreadPoolExecutor(len(self.ranks))

    def stop(self):
        for process in self.processes:
            process.send_signal(signal.SIGTERM)
        codes = [process.wait(timeout=60) for process in self.processes]
        self.pool.shutdown()
        return max(codes)


def blocks(pb, first, count):
    return pb.KvBlockTables(full_attention=list(range(first, first + count)),
                            sliding_first_block=0,
                            sliding_attention=list(range(first, first + count)))


def expect_error(group, method, request, code, text):
    import grpc
    for stub in group.stubs:
        try:
            getattr(stub, method)(request, timeout=30)
            raise AssertionError(f"{method} succeeded; expected {code}")
        except grpc.RpcError as error:
            assert error.code() == code and text in error.details(), (error.code(), error.details())


def run_scenario(group, pb, media_pb, sampling_pb):
    """Prefill two sequences (one with an image) in one step, then decode both together."""
    import grpc
    assert all(health_status(c) == "NOT_SERVING" for c in group.channels)
    expect_error(group, "Step", pb.StepRequest(step_id=1), grpc.StatusCode.FAILED_PRECONDITION,
                 "Warmup must precede Step")
    warm = group.all("Warmup", pb.WarmupRequest(max_batch_tokens=64, max_sequences=4,
                                                num_full_blocks=64, num_sliding_blocks=64))
    assert all(w.kv_cache.num_full_blocks == 64 for w in warm), warm
    assert all(health_status(c) == "SERVING" for c in group.channels)

    rng = np.random.default_rng(9)
    image_tokens = 6
    prompt_a = [2, 105, 2364, 107, 255999] + [258880] * image_tokens + [258882] + \
        list(rng.integers(300, 200000, 20))
    prompt_b = [2, 105, 2364, 107] + list(rng.integers(300, 200000, 30))
    image = media_pb.MediaItem(
        kind=media_pb.MEDIA_KIND_IMAGE, token_offset=5, num_tokens=image_tokens,
        grid_width=3, grid_height=2,
        features=media_pb.Tensor(dtype=media_pb.TENSOR_DTYPE_UINT8, shape=[image_tokens, 6912],
                                 data=rng.integers(0, 256, image_tokens * 6912, dtype=np.uint8).tobytes()))
    greedy = sampling_pb.SamplingParams(temperature=0.0)
    prompts = {1: prompt_a, 2: prompt_b}
    tables = {1: blocks(pb, 0, 8), 2: blocks(pb, 8, 8)}
    step = pb.StepRequest(step_id=1, prefill=[
        pb.PrefillChunk(sequence_id=1, start=pb.SequenceStart(
            token_ids=prompt_a, num_prompt_tokens=len(prompt_a), media=[image], sampling=greedy),
            begin=0, end=len(prompt_a), blocks=tables[1], sample=True),
        pb.PrefillChunk(sequence_id=2, start=pb.SequenceStart(
            token_ids=prompt_b, num_prompt_tokens=len(prompt_b), sampling=greedy,
            return_logprobs=True, top_logprobs=2),
            begin=0, end=len(prompt_b), blocks=tables[2], sample=True)])
    replies = group.all("Step", step)
    assert [r.rank for r in replies] == list(range(len(replies)))
    assert all(not r.outputs for r in replies[1:]), "only rank 0 reports tokens"
    generated = {o.sequence_id: list(o.token_ids) for o in replies[0].outputs}
    communication = sum(r.timings.all_reduce_ns for r in replies)
    for i in range(DECODE_STEPS):
        decode = [pb.DecodeItem(sequence_id=s, token_id=generated[s][-1],
                                position=len(prompts[s]) + len(generated[s]) - 1,
                                blocks=tables[s] if i == 0 else None)
                  for s in (1, 2)]
        replies = group.all("Step", pb.StepRequest(step_id=2 + i, decode=decode))
        for output in replies[0].outputs:
            assert len(output.token_ids) == 1
            generated[output.sequence_id] += list(output.token_ids)
            if output.sequence_id == 2:  # Asked for log-probabilities (greedy: the top one).
                (entry,) = output.logprobs
                assert entry.token_id == output.token_ids[0] and entry.logprob <= 0, entry
                assert list(entry.top_token_ids)[0] == entry.token_id, entry
                assert entry.top_logprobs[0] >= entry.top_logprobs[1], entry
            else:
                assert not output.logprobs
        communication += sum(r.timings.all_reduce_ns for r in replies)
    import urllib.request

    def gauge(rank_entry, series):
        text = urllib.request.urlopen(f"http://127.0.0.1:{rank_entry['metrics_port']}/metrics",
                                      timeout=5).read().decode()
        return [float(l.split()[-1]) for l in text.splitlines() if l.startswith(series + " ")]
    for r in group.ranks:  # Two sequences of 8 full blocks each are held.
        assert gauge(r, f'gemma_worker_kv_cache_blocks_used{{rank="{r["rank"]}",pool="full"}}') == [16]
    released = group.all("Release", pb.ReleaseRequest(sequence_ids=[1, 2, 99]))
    assert all(r.num_released == 2 for r in released), released
    # Validation happens on every rank before any collective: no rank waits for the others.
    expect_error(group, "Step", pb.StepRequest(step_id=50, decode=[
        pb.DecodeItem(sequence_id=1, token_id=5, position=40)]),
        grpc.StatusCode.INVALID_ARGUMENT, "decode[0] (sequence 1): unknown sequence")
    expect_error(group, "Step", pb.StepRequest(step_id=51, prefill=[
        pb.PrefillChunk(sequence_id=3, begin=0, end=2, blocks=tables[1])]),
        grpc.StatusCode.INVALID_ARGUMENT, "its first chunk needs start")
    # Metrics of every rank: promtool-clean, counting what was sent.
    import urllib.request
    for r in group.ranks:
        text = urllib.request.urlopen(f"http://127.0.0.1:{r['metrics_port']}/metrics", timeout=5).read().decode()
        lint = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        rank = r["rank"]
        for series, value in [
                (f'gemma_worker_step_seconds_count{{rank="{rank}",kind="prefill"}}', 1),
                (f'gemma_worker_step_seconds_count{{rank="{rank}",kind="decode"}}', DECODE_STEPS),
                (f'gemma_worker_kv_cache_blocks{{rank="{rank}",pool="full"}}', 64),
                (f'gemma_worker_sequences{{rank="{rank}"}}', 0),
                (f'gemma_worker_kv_cache_blocks_used{{rank="{rank}",pool="full"}}', 0)]:
            line = [l for l in text.splitlines() if l.startswith(series + " ")]
            assert line and float(line[0].split()[-1]) == value, (series, line)
    health = group.all("Health", pb.HealthRequest())
    assert [h.world_size for h in health] == [len(group.ranks)] * len(group.ranks)
    # Total resident memory, and the file-backed part: the memory-mapped checkpoint slices this
    # rank touched (sanitizer builds inflate the anonymous part, not this one).
    rss = [(rss_kib(r["pid"]), rss_kib(r["pid"], "RssFile")) for r in group.ranks]
    return generated, rss, communication


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--launcher", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--make_checkpoint", required=True)
    parser.add_argument("--proto_root", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    generate_stubs(work, args.proto_root, PROTOS)
    from gemma.preprocess.v1 import media_pb2
    from gemma.v1 import sampling_pb2
    from gemma.worker.v1 import worker_pb2
    import grpc

    args.model = os.path.join(work, "model")
    subprocess.run([args.make_checkpoint, f"--hf_dir={args.model}", "--seed=17"], check=True)

    results = {}
    for world in (1, 2, 4):
        group = Group(args, work, world)
        try:
            results[world] = run_scenario(group, worker_pb2, media_pb2, sampling_pb2)
        finally:
            assert group.stop() == 0, f"launcher of TP={world} did not stop cleanly"
        tokens, rss, communication = results[world]
        print(f"TP={world}: tokens {tokens}; RSS per rank (MiB, total/file-backed) "
              f"{[(round(t / 1024), round(f / 1024)) for t, f in rss]}; "
              f"communication {communication / 1e6:.1f} ms")
    # Ranks in separate "pods": rank 0 serves the store; same tokens as one rank.
    direct = DirectGroup(args, work, 2)
    try:
        tokens = run_scenario(direct, worker_pb2, media_pb2, sampling_pb2)[0]
    finally:
        assert direct.stop() == 0, "directly started ranks did not stop cleanly"
    assert tokens == results[1][0], f"ranks with rank 0's store: {tokens} != TP=1 {results[1][0]}"
    print(f"TP=2 started as separate ranks (rank 0 serves the rendezvous store): tokens {tokens}")
    for world in (2, 4):
        assert results[world][0] == results[1][0], \
            f"TP={world} tokens {results[world][0]} != TP=1 {results[1][0]}"
    # The 262144 x 64 f32 embedding / LM head (64 MiB) dominates this model; it is vocab-parallel.
    # File-backed RSS = binary + libraries (the same on every rank) + the rank's checkpoint share
    # W / TP: going 1 -> 2 ranks saves W / 2, 2 -> 4 saves W / 4, half as much.
    file1, file2, file4 = (max(f for _, f in results[w][1]) for w in (1, 2, 4))
    saved_2, saved_4 = file1 - file2, file2 - file4
    print(f"checkpoint memory saved per rank: TP 1->2 {saved_2 / 1024:.1f} MiB, "
          f"2->4 {saved_4 / 1024:.1f} MiB")
    assert saved_2 > 25 * 1024 and 1.5 < saved_2 / max(saved_4, 1) < 2.6, \
        f"checkpoint memory per rank {file1} -> {file2} -> {file4} KiB does not fall as 1/TP"

    # A rank that dies: its peer must answer UNAVAILABLE within the collective timeout.
    group = Group(args, work, 2)
    try:
        group.all("Warmup", worker_pb2.WarmupRequest(max_batch_tokens=32, max_sequences=2,
                                                     num_full_blocks=16, num_sliding_blocks=16))
        os.kill(group.ranks[1]["pid"], signal.SIGKILL)
        start = time.time()
        step = worker_pb2.StepRequest(step_id=7, prefill=[worker_pb2.PrefillChunk(
            sequence_id=5, start=worker_pb2.SequenceStart(token_ids=[2, 10, 11], num_prompt_tokens=3,
                                                          sampling=sampling_pb2.SamplingParams(temperature=0)),
            begin=0, end=3, blocks=blocks(worker_pb2, 0, 1), sample=True)])
        try:
            group.stubs[0].Step(step, timeout=30)
            raise AssertionError("a step with a dead peer succeeded")
        except grpc.RpcError as error:
            elapsed = time.time() - start
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            assert elapsed < 15, f"UNAVAILABLE after {elapsed:.1f} s"
            print(f"dead peer: rank 0 answered UNAVAILABLE in {elapsed:.1f} s: {error.details()}")
        # And again, promptly: the group stays failed, it does not hang.
        start = time.time()
        try:
            group.stubs[0].Health(worker_pb2.HealthRequest(), timeout=30)
            raise AssertionError("Health passed with a dead peer")
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            assert time.time() - start < 15
    finally:
        group.stop()
    print("worker groups: all checks passed")


if __name__ == "__main__":
    main()
