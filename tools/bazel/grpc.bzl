"""C++ code generation for .proto files with Debian's protoc and grpc_cpp_plugin.

cc_grpc_library(name, src, deps = [], services = False)
  src:      a .proto file below this package. Imports are resolved relative to the package directory,
            so `proto/gemma/v1/x.proto` is imported as "gemma/v1/x.proto" and its header is included
            as "gemma/v1/x.pb.h".
  deps:     other cc_grpc_library targets (same package) whose .proto files `src` imports.
  services: True when `src` declares services (adds the .grpc.pb.{h,cc} outputs and links gRPC).
Creates `<name>` (cc_library) and `<name>_protos` (filegroup: `src` plus every imported .proto).
"""

_PROTOC = "/usr/bin/protoc"
_GRPC_PLUGIN = "/usr/bin/grpc_cpp_plugin"

def cc_grpc_library(name, src, deps = [], services = False, visibility = None, testonly = False):
    # Directory of this package from the execution root (external repositories live under external/).
    repo = native.repository_name()
    package = "/".join([p for p in [
        "external/" + repo[1:] if repo != "@" else "",
        native.package_name(),
    ] if p]) or "."
    stem = src[:-len(".proto")]
    outs = [stem + ".pb.h", stem + ".pb.cc"]
    if services:
        outs += [stem + ".grpc.pb.h", stem + ".grpc.pb.cc"]

    native.filegroup(
        name = name + "_protos",
        srcs = [src] + [d + "_protos" for d in deps],
        visibility = visibility,
        testonly = testonly,
    )
    cmd = "%s -I%s --cpp_out=$(GENDIR)/%s" % (_PROTOC, package, package)
    if services:
        cmd += " --grpc_out=$(GENDIR)/%s --plugin=protoc-gen-grpc=%s" % (package, _GRPC_PLUGIN)
    cmd += " %s/%s" % (package, src)
    native.genrule(
        name = name + "_codegen",
        srcs = [name + "_protos"],
        outs = outs,
        cmd = cmd,
        message = "protoc " + src,
        testonly = testonly,
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps + ["@system//:protobuf"] + (["@system//:grpcpp"] if services else []),
        visibility = visibility,
        testonly = testonly,
    )
