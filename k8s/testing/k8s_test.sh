#!/usr/bin/env bash
# Every overlay renders (kubectl kustomize), validates offline against the Kubernetes schemas and
# our CRD schemas (validate.mjs), and keeps its cross-references (cross_reference.py); the checker
# itself catches planted faults; the image carries what its binaries link (image_check.py).
# Runs from the runfiles root.
set -euo pipefail
work=${TEST_TMPDIR:-$(mktemp -d)}
command -v kubectl >/dev/null || { echo "kubectl is required (kubectl kustomize renders the overlays)"; exit 1; }
# kustomize does not read a symlinked kustomization.yaml (runfiles are symlinks): render a copy.
rm -rf "$work/k8s" && cp -rL k8s "$work/k8s"
overlays=(base overlays/cpu-dev overlays/gke-h100 overlays/gke-l4-tp2 overlays/multihost)
for overlay in "${overlays[@]}"; do
  name=$(basename "$overlay")
  kubectl kustomize "$work/k8s/$overlay" >"$work/$name.yaml"
  node k8s/testing/validate.mjs k8s/schemas "$work/$name.yaml" "$work/$name.json"
  /usr/bin/python3 k8s/testing/cross_reference.py "$name" "$work/$name.json" docs/metrics.md \
    docs/deploy.md scripts/build_image_context.sh
done

# Planted faults must be caught: by the schemas, and by the cross-references.
/usr/bin/python3 - "$work" <<'PY'
import copy, json, subprocess, sys
work = sys.argv[1]
docs = json.load(open(f"{work}/gke-l4-tp2.json"))

def find(kind, name):
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)

def container(name):
    pod = find("Deployment", "gemma-model-server")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == name)

faults = {
    "router --workers misses a rank": lambda: container("router")["args"].__setitem__(
        [i for i, a in enumerate(container("router")["args"]) if a.startswith("--workers=")][0],
        "--workers=127.0.0.1:50060"),
    "readiness probe on a port nobody serves": lambda: container("worker")["readinessProbe"]["grpc"].__setitem__("port", 50099),
    "workers stop before the router drains": lambda: container("worker")["lifecycle"]["preStop"]["exec"].__setitem__("command", ["/bin/sleep", "10"]),
    "Service selects no pod": lambda: find("Service", "gemma-router")["spec"]["selector"].__setitem__("app.kubernetes.io/name", "gemma-modelserver"),
    "HPA on an undocumented metric": lambda: find("HorizontalPodAutoscaler", "gemma-model-server")["spec"]["metrics"][0]["pods"]["metric"].__setitem__("name", "prometheus.googleapis.com|vllm:queue_depth|gauge"),
    "writable root filesystem": lambda: container("router")["securityContext"].__setitem__("readOnlyRootFilesystem", False),
    "4 GPUs for 2 ranks": lambda: container("worker")["resources"]["limits"].__setitem__("nvidia.com/gpu", "4"),
    "PodMonitoring on an undeclared port": lambda: find("PodMonitoring", "gemma-model-server")["spec"]["endpoints"].append({"port": "worker-metric-7"}),
}
original = copy.deepcopy(docs)
for fault, plant in faults.items():
    docs[:] = copy.deepcopy(original)
    plant()
    json.dump(docs, open(f"{work}/fault.json", "w"))
    result = subprocess.run(["/usr/bin/python3", "k8s/testing/cross_reference.py", "fault", f"{work}/fault.json",
                             "docs/metrics.md", "docs/deploy.md", "scripts/build_image_context.sh"],
                            capture_output=True, text=True)
    assert result.returncode != 0, f"cross_reference.py missed: {fault}"
print(f"cross_reference.py caught all {len(faults)} planted faults")
PY
sed 's/port: worker-metrics/prot: worker-metrics/' "$work/gke-h100.yaml" >"$work/bad-crd.yaml"
sed 's/replicas: 2/replicas: two/' "$work/gke-h100.yaml" >"$work/bad-core.yaml"
for bad in bad-crd bad-core; do
  if node k8s/testing/validate.mjs k8s/schemas "$work/$bad.yaml" "$work/$bad.json" 2>/dev/null; then
    echo "validate.mjs accepted $bad.yaml"; exit 1
  fi
done
echo "validate.mjs rejects a misspelt PodMonitoring field and a string replica count"

/usr/bin/python3 k8s/testing/image_check.py k8s/image/Dockerfile scripts/build_image_context.sh \
  service/router/router service/preprocess/preprocess_server service/worker/worker \
  service/worker/worker_launcher engine/tools/make_test_checkpoint client/gemma_client \
  client/gemma_loadgen
