"""CUDA device code compiled by nvcc from /usr/local/cuda into a static library.

cuda_library(name, srcs, hdrs, deps)
  srcs: .cu files; hdrs: headers they and their C++ callers include (paths from the workspace root).
  deps: C++ libraries the host side needs (their headers are NOT visible to nvcc; keep .cu files
        self-contained apart from `hdrs` and CUDA's own headers).
Creates `<name>`: a cc_library over lib<name>.a, linked with cudart. Targets: sm_89 (L4), sm_90a
(H100/H200) and compute_90 PTX for newer GPUs. nvcc needs no GPU, so this builds on every machine.
"""

NVCC = "/usr/local/cuda/bin/nvcc"
CUDA_ARCH_FLAGS = [
    "-gencode=arch=compute_89,code=sm_89",
    "-gencode=arch=compute_90a,code=sm_90a",
    "-gencode=arch=compute_90,code=compute_90",
]

def cuda_library(name, srcs, hdrs = [], deps = [], copts = [], visibility = None, testonly = False):
    objs = []
    for src in srcs:
        obj = "_objs/%s/%s.o" % (name, src[:-len(".cu")])
        native.genrule(
            name = "%s_%s_nvcc" % (name, src.replace("/", "_").replace(".", "_")),
            srcs = [src] + hdrs,
            outs = [obj],
            cmd = " ".join([
                NVCC,
                "-std=c++17 -O3 --expt-relaxed-constexpr -Xcompiler=-fPIC",
                " ".join(CUDA_ARCH_FLAGS),
                " ".join(copts),
                "-I. -I$(GENDIR)",
                "-c $(location %s) -o $@" % src,
            ]),
            message = "nvcc " + src,
            testonly = testonly,
        )
        objs.append(obj)
    archive = "lib%s_device.a" % name
    native.genrule(
        name = name + "_archive",
        srcs = objs,
        outs = [archive],
        cmd = "ar rcs $@ $(SRCS)",
        testonly = testonly,
    )
    native.cc_library(
        name = name,
        srcs = [archive],
        hdrs = hdrs,
        deps = deps + ["@cuda//:cudart"],
        linkstatic = True,
        visibility = visibility,
        testonly = testonly,
    )
