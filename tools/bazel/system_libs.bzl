"""Debian-packaged C++ libraries as Bazel targets, via pkg-config.

`system_libs(name, libs)` creates a repository `@<name>` with one `cc_library` per entry of `libs`:
    libs = {"grpcpp": ["grpc++"], ...}        # target name -> pkg-config modules
Entries of the form "-lfoo" are passed through as link options for libraries that ship no .pc file.
Headers live under /usr/include, which the compiler searches already, so the targets carry only link
and compile flags. Add a library here when a component starts using it.
"""

def _pkg_config(ctx, flag, modules):
    result = ctx.execute(["pkg-config", flag] + modules)
    if result.return_code != 0:
        fail("pkg-config %s %s failed (is the Debian -dev package installed? run scripts/setup.sh):\n%s" %
             (flag, " ".join(modules), result.stderr))
    return [f for f in result.stdout.strip().replace("\n", " ").split(" ") if f]

def _system_libs_impl(ctx):
    lines = ['package(default_visibility = ["//visibility:public"])', ""]
    for name, entries in ctx.attr.libs.items():
        modules = [e for e in entries if not e.startswith("-")]
        raw = [e for e in entries if e.startswith("-")]
        linkopts = (_pkg_config(ctx, "--libs", modules) if modules else []) + raw
        copts = [f for f in (_pkg_config(ctx, "--cflags", modules) if modules else [])
                 if f != "-I/usr/include"]
        lines.append("cc_library(")
        lines.append("    name = %r," % name)
        lines.append("    linkopts = %r," % linkopts)
        lines.append("    copts = %r," % copts)
        lines.append(")")
        lines.append("")
    ctx.file("BUILD.bazel", "\n".join(lines))
    ctx.file("WORKSPACE", 'workspace(name = "%s")\n' % ctx.name)

system_libs = repository_rule(
    implementation = _system_libs_impl,
    attrs = {"libs": attr.string_list_dict(mandatory = True)},
    environ = ["PKG_CONFIG_PATH"],
    local = True,
)
