"""The running local cluster's metrics against the real thing: `promtool check metrics` on every
service's /metrics (nothing but the documented lint on vLLM's ':' names), then a real Prometheus
server scrapes the router, the preprocess service and every worker rank while a known set of
requests runs; PromQL must see exactly those requests and tokens, and histogram_quantile over time
to first token must return a number."""
import json
import os
import socket
import subprocess
import time
import urllib.parse
import urllib.request


def _exposition(port):
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()


def _promtool(name, port):
    result = subprocess.run(["promtool", "check", "metrics"], input=_exposition(port),
                            capture_output=True, text=True)
    findings = [line for line in (result.stdout + result.stderr).splitlines()
                if line.strip() and "vllm:" not in line]
    assert result.returncode in (0, 3) and not findings, f"promtool on {name}: {findings}"


def _query(prom_port, expression):
    url = f"http://127.0.0.1:{prom_port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
    try:
        data = json.load(urllib.request.urlopen(url, timeout=2))
    except Exception:
        return None
    result = data.get("data", {}).get("result", [])
    return float(result[0]["value"][1]) if result else None


def check_cluster_metrics(work, stub, api, content, sampling, metrics_ports):
    for name, port in metrics_ports.items():
        _promtool(name, port)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        prom_port = s.getsockname()[1]
    targets = ", ".join(f'"127.0.0.1:{port}"' for port in metrics_ports.values())
    config = os.path.join(work, "prometheus.yml")
    with open(config, "w") as f:
        f.write(f"global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: cluster\n"
                f"    static_configs:\n      - targets: [{targets}]\n")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--web.listen-address=127.0.0.1:{prom_port}",
         f"--storage.tsdb.path={work}/tsdb"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The known requests: five greedy chats of 3..7 tokens.
        prompt_tokens = completion_tokens = 0
        for i in range(5):
            message = content.ChatMessage(role=content.ROLE_USER,
                                          parts=[content.ContentPart(text=f"Count to {i}.")])
            reply = stub.GenerateUnary(api.GenerateRequest(
                prompt=content.PromptInput(chat=content.ChatInput(messages=[message])),
                sampling=sampling.SamplingParams(temperature=0),
                stopping=sampling.StoppingCriteria(max_tokens=3 + i, ignore_eos=True)), timeout=120)
            prompt_tokens += reply.usage.prompt_tokens
            completion_tokens += reply.usage.completion_tokens
        assert completion_tokens == 3 + 4 + 5 + 6 + 7
        expected = {
            'sum(vllm:request_success_total)': 5,
            'vllm:request_success_total{finished_reason="length"}': 5,
            'vllm:prompt_tokens_total': prompt_tokens,
            'vllm:generation_tokens_total': completion_tokens,
            'vllm:e2e_request_latency_seconds_count': 5,
            'vllm:num_requests_running': 0,
            'vllm:kv_cache_usage_perc': 0,
            'sum(gemma_preprocess_requests_total{rpc="Preprocess"})': 5,
            'count(gemma_worker_sequences)': len([n for n in metrics_ports if n.startswith("worker")]),
        }
        deadline = time.time() + 60
        while True:
            seen = {q: _query(prom_port, q) for q in expected}
            if all(seen[q] == v for q, v in expected.items()):
                break
            assert time.time() < deadline, f"Prometheus saw {seen}, expected {expected}"
            time.sleep(0.5)
        ttft = _query(prom_port, 'histogram_quantile(0.9, sum by (le) (vllm:time_to_first_token_seconds_bucket))')
        assert ttft is not None and ttft > 0, ttft
        up = _query(prom_port, 'sum(up)')
        assert up == len(metrics_ports), f"up: {up} of {len(metrics_ports)} targets"
        print(f"cluster metrics: {len(metrics_ports)} targets promtool-clean and scraped; "
              f"5 requests, {prompt_tokens} prompt + {completion_tokens} generated tokens; "
              f"TTFT p90 {ttft:.3f} s")
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
