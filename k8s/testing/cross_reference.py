"""Cross-references inside one rendered overlay (the JSON validate.mjs wrote) that no schema sees:

- every probe and Service/PodMonitoring/NetworkPolicy/InferencePool port names a port of the pods
  it reaches; every selector (Service, PDB, PodMonitoring, NetworkPolicy, InferencePool) matches
  pods of the overlay; HPAs target workloads of the overlay, on metrics the metrics reference
  (docs/metrics.md) documents;
- volumes: every mount names a pod volume, every claim exists, writable /tmp for the launcher's
  state; the Secrets the pods read are the ones docs/deploy.md tells operators to create;
- the router's --workers list matches the worker group: one address per rank, at the launcher's
  --first_port + r (or at the LeaderWorkerSet's pods), and GPU requests match the ranks;
- drain order: in a model-server pod the workers outlive the router's drain (router preStop +
  --drain_grace_ms + --drain_timeout_ms <= workers' preStop), and terminationGracePeriodSeconds
  covers every container's preStop plus its own drain;
- hardening: non-root pods, read-only root filesystems, no privilege escalation, every capability
  dropped, no service-account token; every container runs a binary the image ships.
    python3 cross_reference.py OVERLAY_NAME DOCS.json docs/metrics.md docs/deploy.md \
        scripts/build_image_context.sh
"""
import json
import re
import sys

overlay, docs_path, metrics_path, deploy_path, image_script_path = sys.argv[1:6]
docs = json.load(open(docs_path))
metrics_doc = open(metrics_path).read()
deploy_doc = open(deploy_path).read()
image_script = open(image_script_path).read()
problems = []


def problem(text):
    problems.append(f"{overlay}: {text}")


def pods():
    """(workload, role, pod template) for every pod template in the overlay."""
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield d, d["kind"], d["spec"]["template"]
        elif d["kind"] == "LeaderWorkerSet":
            t = d["spec"]["leaderWorkerTemplate"]
            for role in ("leaderTemplate", "workerTemplate"):
                if role in t:
                    yield d, role, t[role]


def labels_match(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def selected(selector, what):
    matched = [p for _, _, p in pods() if labels_match(selector, p["metadata"].get("labels", {}))]
    if not matched:
        problem(f"{what}: selector {selector} matches no pod")
    return matched


def containers(pod, init=True):
    spec = pod["spec"]
    return spec.get("containers", []) + (spec.get("initContainers", []) if init else [])


def container_ports(pod):
    return [p for c in containers(pod, init=False) for p in c.get("ports", [])]


def has_port(pod, port):
    return any(port in (p.get("name"), p["containerPort"]) for p in container_ports(pod))


def flag(args, name):
    for a in args:
        if a.startswith(f"--{name}="):
            return a.split("=", 1)[1]
    return None


def pre_stop_seconds(container):
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(command[1]) if len(command) == 2 and command[0] == "/bin/sleep" else 0


documented = set(re.findall(r"^\| `([a-zA-Z_:][a-zA-Z0-9_:]*)`", metrics_doc, re.M))
# The binaries the image context stages (scripts/build_image_context.sh's list).
staged = re.search(r"binaries=\(([^)]*)\)", image_script).group(1).split()
shipped = {b.rsplit("/", 1)[-1] for b in staged}
workloads = {(d["kind"], d["metadata"]["name"]) for d in docs}
claims = {d["metadata"]["name"] for d in docs if d["kind"] == "PersistentVolumeClaim"}

# Pods: ports of probes, volumes, hardening, binaries.
for workload, role, pod in pods():
    where = f"{workload['kind']} {workload['metadata']['name']} {role}"
    spec = pod["spec"]
    security = spec.get("securityContext", {})
    if not security.get("runAsNonRoot") or security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problem(f"{where}: pod must run as non-root with the RuntimeDefault seccomp profile")
    if spec.get("automountServiceAccountToken") is not False:
        problem(f"{where}: the service-account token must not be mounted")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for v in volumes.values():
        claim = v.get("persistentVolumeClaim", {}).get("claimName")
        if claim and claim not in claims:
            problem(f"{where}: volume {v['name']} claims {claim}, which the overlay does not define")
        secret = v.get("secret", {}).get("secretName")
        if secret and f"`{secret}`" not in deploy_doc:
            problem(f"{where}: Secret {secret} is not among those docs/deploy.md tells operators to create")
    for c in containers(pod):
        name = f"{where} container {c['name']}"
        sc = c.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                and sc.get("capabilities", {}).get("drop") == ["ALL"]):
            problem(f"{name}: needs readOnlyRootFilesystem, no privilege escalation, drop ALL")
        if not c.get("image", "").startswith("gemma-serve"):
            problem(f"{name}: image {c.get('image')} is not the gemma-serve image")
        command = (c.get("command") or [""])[0]
        binary = command.rsplit("/", 1)[-1]
        if command.startswith("/opt/gemma-serve/bin/") and binary not in shipped:
            problem(f"{name}: runs {binary}, which the image does not ship")
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for m in mounts.values():
            if m["name"] not in volumes:
                problem(f"{name}: mounts {m['name']}, which the pod does not define")
        args = c.get("args", [])
        if any("/tmp/" in a for a in args) and "/tmp" not in mounts:
            problem(f"{name}: writes under /tmp on a read-only root without a /tmp volume")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            p = c.get(probe)
            if p is None:
                if c in spec.get("containers", []) and workload["kind"] != "Job":
                    problem(f"{name}: no {probe}")
                continue
            port = (p.get("grpc") or p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
            if port is not None and not any(port in (q.get("name"), q["containerPort"])
                                            for q in c.get("ports", [])):
                problem(f"{name}: {probe} port {port} is not a port of the container")
        for port in c.get("ports", []):
            if "name" in port and len(port["name"]) > 15:
                problem(f"{name}: port name {port['name']} is longer than 15 characters")

    # Model-server pods: the router against its worker group, the drain order.
    by_name = {c["name"]: c for c in containers(pod, init=False)}
    router, worker = by_name.get("router"), by_name.get("worker")
    if router is not None:
        args = router["args"]
        workers = flag(args, "workers").split(",")
        if worker is not None and worker["command"][0].endswith("worker_launcher"):
            wargs = worker["args"]
            world = int(flag(wargs, "world_size"))
            first = int(flag(wargs, "first_port"))
            expected = [f"127.0.0.1:{first + r}" for r in range(world)]
            if workers != expected:
                problem(f"{where}: router --workers {workers} != the launcher's ranks {expected}")
            for r in range(world):
                if not has_port(pod, first + r):
                    problem(f"{where}: rank {r}'s port {first + r} is not declared")
                metrics = int(flag(wargs, "first_metrics_port")) + r
                if not has_port(pod, metrics):
                    problem(f"{where}: rank {r}'s metrics port {metrics} is not declared")
            gpus = worker.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")
            if gpus is not None and int(gpus) != world:
                problem(f"{where}: {gpus} GPUs for {world} ranks")
        elif workload["kind"] == "LeaderWorkerSet":
            size = workload["spec"]["leaderWorkerTemplate"]["size"]
            if len(workers) != size:
                problem(f"{where}: router --workers has {len(workers)} ranks, the group {size}")
            for c in [worker] + [w for w in containers(workload["spec"]["leaderWorkerTemplate"]
                                                        ["workerTemplate"], init=False)]:
                if int(flag(c["args"], "world_size")) != size:
                    problem(f"{where}: a rank's --world_size differs from the group size {size}")
            if not all(w.endswith(f":{flag(worker['args'], 'port')}") for w in workers):
                problem(f"{where}: the ranks' gRPC port differs from the router's --workers")
        router_drain = (pre_stop_seconds(router) + int(flag(args, "drain_grace_ms") or 0) / 1000
                        + int(flag(args, "drain_timeout_ms") or 30000) / 1000)
        if worker is not None and pre_stop_seconds(worker) < router_drain:
            problem(f"{where}: the workers' preStop ({pre_stop_seconds(worker)} s) ends before the "
                    f"router's drain ({router_drain:.0f} s)")
    grace = spec.get("terminationGracePeriodSeconds", 30)
    for c in containers(pod, init=False):
        args = c.get("args", [])
        drain = (int(flag(args, "drain_grace_ms") or 0) + int(flag(args, "drain_timeout_ms") or 0)) / 1000
        if pre_stop_seconds(c) + drain + 5 > grace:
            problem(f"{where}: terminationGracePeriodSeconds {grace} < container {c['name']}'s "
                    f"preStop {pre_stop_seconds(c)} s + drain {drain:.0f} s + 5 s")

# Services, PDBs, monitors, policies, pools: their selectors and ports.
for d in docs:
    kind, name = d["kind"], d["metadata"]["name"]
    where = f"{kind} {name}"
    if kind == "Service" and "selector" in d["spec"]:
        for p in selected(d["spec"]["selector"], where):
            for port in d["spec"]["ports"]:
                if not has_port(p, port.get("targetPort", port["port"])):
                    problem(f"{where}: targetPort {port.get('targetPort')} is not a port of its pods")
    elif kind == "PodDisruptionBudget":
        selected(d["spec"]["selector"]["matchLabels"], where)
    elif kind == "PodMonitoring":
        for p in selected(d["spec"]["selector"]["matchLabels"], where):
            for e in d["spec"]["endpoints"]:
                if not has_port(p, e["port"]):
                    problem(f"{where}: endpoint port {e['port']} is not a port of its pods")
    elif kind == "NetworkPolicy":
        for p in selected(d["spec"]["podSelector"]["matchLabels"], where):
            for rule in d["spec"].get("ingress", []):
                for port in rule.get("ports", []):
                    if not has_port(p, port["port"]):
                        problem(f"{where}: admits port {port['port']}, which its pods do not serve")
                for source in rule.get("from", []):
                    if "podSelector" in source:
                        selected(source["podSelector"]["matchLabels"], f"{where} source")
    elif kind == "InferencePool":
        for p in selected(d["spec"]["selector"], where):
            if not has_port(p, d["spec"]["targetPortNumber"]):
                problem(f"{where}: targetPortNumber {d['spec']['targetPortNumber']} is not served")
    elif kind == "HorizontalPodAutoscaler":
        target = d["spec"]["scaleTargetRef"]
        if (target["kind"], target["name"]) not in workloads:
            problem(f"{where}: scales {target['kind']} {target['name']}, which the overlay lacks")
        for m in d["spec"]["metrics"]:
            if m["type"] in ("Pods", "External", "Object"):
                metric = m[m["type"].lower()]["metric"]["name"]
                base = metric.split("|")[1] if "|" in metric else metric
                if base not in documented:
                    problem(f"{where}: scales on {base}, which docs/metrics.md does not document")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"{overlay}: cross-references hold ({len(docs)} documents)")
