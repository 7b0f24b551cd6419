"""Helpers shared by the foreign-client checks: Python gRPC stubs generated with Debian's protoc
and grpc_python_plugin, a server started on a free port, health, reflection and `buf curl`."""
import os
import subprocess
import sys
import time

GRPC_PROTO = "/usr/share/grpc-proto"


def generate_stubs(out_dir, proto_root=None, protos=()):
    """Health and reflection stubs, plus `protos` (paths under proto_root) when given."""
    subprocess.run(
        ["protoc", f"-I{GRPC_PROTO}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
         "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin",
         "grpc/health/v1/health.proto", "grpc/reflection/v1alpha/reflection.proto"],
        check=True)
    if protos:
        subprocess.run(
            ["protoc", f"-I{proto_root}", f"--python_out={out_dir}", f"--grpc_out={out_dir}",
             "--plugin=protoc-gen-grpc=/usr/bin/grpc_python_plugin", *protos], check=True)
        sys.path.insert(0, out_dir)
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
