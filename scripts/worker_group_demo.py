"""Drives a running worker group (state file written by worker_launcher) the way the router
will: Warmup on every rank, one prefill step for a prompt, then greedy decode steps; prints the
generated token ids (rank 0's answers) and the step timings.

    python3 scripts/worker_group_demo.py STATE_FILE PROMPT_IDS(comma-separated) TOKENS
"""
import concurrent.futures
import json
import os
import sys
import tempfile

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(repo, "tests", "foreign_client"))
from grpc_test_util import generate_stubs  # noqa: E402


def main():
    state_path, prompt_text, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    work = tempfile.mkdtemp()
    generate_stubs(work, os.path.join(repo, "proto"), ["gemma/v1/sampling.proto",
                                                       "gemma/preprocess/v1/media.proto",
                                                       "gemma/worker/v1/worker.proto"])
    import grpc
    from gemma.v1 import sampling_pb2
    from gemma.worker.v1 import worker_pb2 as pb, worker_pb2_grpc
    ranks = json.load(open(state_path))["ranks"]
    stubs = [worker_pb2_grpc.WorkerStub(grpc.insecure_channel(r["address"])) for r in ranks]
    pool = concurrent.futures.ThreadPoolExecutor(len(stubs))

    def everywhere(method, request):
        return [f.result() for f in [pool.submit(getattr(s, method), request, timeout=120)
                                     for s in stubs]]

    everywhere("Warmup", pb.WarmupRequest(max_batch_tokens=256, max_sequences=4,
                                          num_full_blocks=64, num_sliding_blocks=64))
    prompt = [int(t) for t in prompt_text.split(",")]
    blocks = pb.KvBlockTables(full_attention=list(range(64)), sliding_attention=list(range(64)))
    reply = everywhere("Step", pb.StepRequest(step_id=1, prefill=[pb.PrefillChunk(
        sequence_id=1, start=pb.SequenceStart(token_ids=prompt, num_prompt_tokens=len(prompt),
                                              sampling=sampling_pb2.SamplingParams(temperature=0)),
        begin=0, end=len(prompt), blocks=blocks, sample=True)]))
    tokens = list(reply[0].outputs[0].token_ids)
    forward_ms = comm_ms = 0.0
    for step in range(count - 1):
        reply = everywhere("Step", pb.StepRequest(step_id=2 + step, decode=[pb.DecodeItem(
            sequence_id=1, token_id=tokens[-1], position=len(prompt) + len(tokens) - 1,
            blocks=blocks if step == 0 else None)]))
        tokens += list(reply[0].outputs[0].token_ids)
        forward_ms += reply[0].timings.forward_ns / 1e6
        comm_ms += reply[0].timings.all_reduce_ns / 1e6
    everywhere("Release", pb.ReleaseRequest(sequence_ids=[1]))
    print(" ".join(map(str, tokens)))
    print(f"  {len(ranks)} ranks; rank 0 decode: {forward_ms / max(1, count - 1):.1f} ms/step "
          f"forward, of which {comm_ms / max(1, count - 1):.1f} ms communication")


if __name__ == "__main__":
    main()
