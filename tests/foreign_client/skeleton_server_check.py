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

GRPC_PROTO = "/usr/share/grpc-proto"


def generate_stubs(out_dir):
    subprocess.run(
        ["protoc", f"-I{GRPC_PROTO}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         "grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto"],
        check=True)
    # The generated modules live in package "grpc", which python3-grpcio already owns: extend its
    # search path so grpc.health.v1 and grpc.reflection.v1alpha resolve to the generated code.
    import grpc
    grpc.__path__.append(os.path.join(out_dir, "grpc"))


def wait_for_port(port_file, process, timeout_s=20):
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        if os.path.exists(port_file):
            return int(open(port_file).read())
        time.sleep(0.05)
    raise AssertionError("server did not write its port file")


def health_status(channel, service=""):
    from grpc.health.v1 import health_pb2, health_pb2_grpc
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def reflected_services(channel):
    from grpc.reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    replies = stub.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
    names = []
    for reply in replies:
        names += [s.name for s in reply.list_services_response.service]
    return names


def buf(npm_dir, *args):
    binary = os.path.join(npm_dir, "node_modules", ".bin", "buf")
    if not os.path.exists(binary):
        raise AssertionError(f"{binary} missing: run scripts/setup.sh")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"buf {' '.join(args)} failed: {result.stderr}")
    return result.stdout


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
