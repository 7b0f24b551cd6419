"""Drives the skeleton server with foreign gRPC clients: Debian's python3-grpcio and npm buf.

Checks, in order: reflection lists the served services; grpc.health.v1 reports SERVING (both
clients); `buf curl` lists the health methods through reflection alone; after SIGTERM the server
reports NOT_SERVING during its drain grace period, then exits 0 promptly although this client
keeps its connection open.

Run by tests/foreign_client/skeleton_server_test.sh (Bazel) with the server binary's path.
"""
import argparse
import json
import os
import signal
import subprocess
import tempfile
import time

from grpc_test_util import buf, generate_stubs, health_status, reflected_services, wait_for_port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--npm_dir", default=os.environ.get(
        "GEMMA_NPM_DIR", "/var/cache/gemma-serve/npm"))
    args = parser.parse_args()

    work = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    generate_stubs(work)
    import grpc

    port_file = os.path.join(work, "port")
    server = subprocess.Popen([args.server, "--host=127.0.0.1", "--port=0",
                               f"--port_file={port_file}", "--drain_grace_ms=1500",
                               "--drain_timeout_ms=30000"])
    checks = 0
    try:
        port = wait_for_port(port_file, server)
        target = f"127.0.0.1:{port}"
        channel = grpc.insecure_channel(target)

        services = reflected_services(channel)
        assert "grpc.health.v1.Health" in services, services
        assert "grpc.reflection.v1alpha.ServerReflection" in services, services
        checks += 1

        assert health_status(channel) == "SERVING"
        checks += 1

        methods = buf(args.npm_dir, "curl", "--protocol", "grpc", "--http2-prior-knowledge",
                      "--list-methods", f"http://{target}").split()
        assert "grpc.health.v1.Health/Check" in methods, methods
        assert "grpc.health.v1.Health/Watch" in methods, methods
        checks += 1

        reply = json.loads(buf(args.npm_dir, "curl", "--protocol", "grpc",
                               "--http2-prior-knowledge", "-d", "{}",
                               f"http://{target}/grpc.health.v1.Health/Check"))
        assert reply == {"status": "SERVING"}, reply
        checks += 1

        server.send_signal(signal.SIGTERM)
        sigterm_at = time.time()
        status = health_status(channel)
        while status != "NOT_SERVING" and time.time() - sigterm_at < 1.0:
            time.sleep(0.02)
            status = health_status(channel)
        assert status == "NOT_SERVING", status
        checks += 1

        code = server.wait(timeout=15)
        assert code == 0, f"exit code {code}"
        elapsed = time.time() - sigterm_at
        assert elapsed >= 1.4, "drain grace period was not honoured"
        # This client still holds an idle connection: the server must not wait for it until the
        # 30 s drain timeout.
        assert elapsed < 6, f"shutdown took {elapsed:.1f}s with nothing in flight"
        checks += 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    print(f"skeleton server: {checks} foreign-client checks passed")


if __name__ == "__main__":
    main()
