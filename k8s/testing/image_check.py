"""The container image against the binaries it carries: every shared library that `ldd` finds
for the staged binaries belongs to a Debian package the Dockerfile installs (or one of their
dependencies, or the slim base's), every single-service stage copies a staged binary, and every
staged binary is built.
    python3 image_check.py Dockerfile build_image_context.sh BINARY...
"""
import os
import re
import subprocess
import sys

dockerfile_path, script_path, *binaries = sys.argv[1:]
dockerfile = open(dockerfile_path).read()
script = open(script_path).read()
problems = []

packages = re.search(r"apt-get install -y --no-install-recommends((?:\s+\\\s*\n\s*[a-z0-9.+-]+)+)",
                     dockerfile)
assert packages, "no apt-get install list in the Dockerfile"
installed = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", packages.group(1)))
BASE = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}  # In debian:bookworm-slim already.


# Every installed package's dependencies, and which package owns each installed file, read once.
DEPENDS = {}
for line in subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${Depends},${Pre-Depends}\n"],
                           capture_output=True, text=True, check=True).stdout.splitlines():
    package, _, depends = line.partition("\t")
    DEPENDS[package] = {alternative.strip().split("|")[0].strip().split(" ")[0].split(":")[0]
                        for alternative in depends.split(",")} - {""}
OWNER = {}
info = "/var/lib/dpkg/info"
for name in os.listdir(info):
    if name.endswith(".list"):
        package = name[:-len(".list")].split(":")[0]
        for path in open(os.path.join(info, name), errors="replace").read().splitlines():
            OWNER.setdefault(path, package)

closure, todo = set(), list(installed | BASE)
while todo:
    package = todo.pop()
    if package not in closure:
        closure.add(package)
        todo += list(DEPENDS.get(package, ()))


def owner(library):
    real = os.path.realpath(library)
    for candidate in (library, "/usr" + library, real, "/usr" + real, real.replace("/usr", "", 1)):
        if candidate in OWNER:
            return OWNER[candidate]
    return None


needed = {}
for binary in binaries:
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    for library in re.findall(r"=> (/\S+)", ldd):
        package = owner(library)
        if package is None:
            problems.append(f"{os.path.basename(binary)}: {library} belongs to no Debian package")
        else:
            needed.setdefault(package, set()).add(os.path.basename(binary))
# Sanitizer runtimes come with the test's --config=asan/ubsan builds, never with the image's.
SANITIZERS = re.compile(r"^lib(asan|ubsan|lsan|tsan)[0-9]*$")
missing = {p: b for p, b in needed.items() if p not in closure and not SANITIZERS.match(p)}
for package, users in sorted(missing.items()):
    problems.append(f"package {package} (needed by {', '.join(sorted(users))}) is not installed "
                    "by the Dockerfile nor a dependency of what it installs")

staged = {b.rsplit("/", 1)[-1] for b in re.search(r"binaries=\(([^)]*)\)", script).group(1).split()}
for line in re.findall(r"^COPY (bin/.*)$", dockerfile, re.M):
    for source in line.split()[:-1]:  # The last token is the destination.
        name = source[len("bin/"):]
        if name and name not in staged:
            problems.append(f"the Dockerfile copies {source}, which the context script does not stage")
for binary in binaries:
    if os.path.basename(binary) not in staged:
        problems.append(f"{binary} is checked but not staged")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"image: {len(binaries)} binaries need {len(needed)} Debian packages, all in the image "
      f"({len(installed)} installed explicitly)")
