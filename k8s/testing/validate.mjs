// Validates rendered manifests offline: core kinds against the upstream Kubernetes schemas
// (kubernetes-models: types, enums, required fields), the CRDs (PodMonitoring, LeaderWorkerSet,
// InferencePool) against the JSON schemas in k8s/schemas (unknown fields are errors there), and a
// LeaderWorkerSet's pod templates as core PodTemplateSpecs. Writes the documents as JSON for the
// cross-reference check.
//   node validate.mjs SCHEMA_DIR RENDERED.yaml OUT.json
import fs from "node:fs";
import path from "node:path";

const modules = path.join(process.env.GEMMA_NPM_DIR ?? "/var/cache/gemma-serve/npm", "node_modules");
const [schemaDir, renderedPath, outPath] = process.argv.slice(2);
const YAML = await import(path.join(modules, "yaml/dist/index.js"));
const Ajv = (await import(path.join(modules, "ajv/dist/ajv.js"))).default;
const ajv = new Ajv({ allErrors: true, strict: false });

const crds = {
  "monitoring.googleapis.com/v1/PodMonitoring": "podmonitoring.json",
  "leaderworkerset.x-k8s.io/v1/LeaderWorkerSet": "leaderworkerset.json",
  "inference.networking.x-k8s.io/v1alpha2/InferencePool": "inferencepool.json",
};

async function coreModel(apiVersion, kind) {
  const group = apiVersion.includes("/") ? apiVersion : `v1`;
  const file = path.join(modules, "kubernetes-models", group, `${kind}.js`);
  if (!fs.existsSync(file)) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return (await import(file))[kind];
}

async function validateCore(doc, where) {
  const Model = await coreModel(doc.apiVersion, doc.kind);
  try {
    new Model(doc).validate();
  } catch (error) {
    throw new Error(`${where}: ${error.message}`);
  }
}

const docs = YAML.parseAllDocuments(fs.readFileSync(renderedPath, "utf8")).map((d) => d.toJS())
  .filter((d) => d);
const failures = [];
for (const doc of docs) {
  const where = `${doc.kind} ${doc.metadata?.name}`;
  try {
    const crd = crds[`${doc.apiVersion}/${doc.kind}`];
    if (crd) {
      const validate = ajv.compile(JSON.parse(fs.readFileSync(path.join(schemaDir, crd), "utf8")));
      if (!validate(doc)) throw new Error(`${where}: ${ajv.errorsText(validate.errors)}`);
      if (doc.kind === "LeaderWorkerSet") {
        for (const role of ["leaderTemplate", "workerTemplate"]) {
          const template = doc.spec.leaderWorkerTemplate[role];
          if (template) {
            await validateCore({ apiVersion: "v1", kind: "PodTemplate", metadata: { name: role },
                                 template }, `${where} ${role}`);
          }
        }
      }
    } else {
      await validateCore(doc, where);
    }
  } catch (error) {
    failures.push(error.message);
  }
}
fs.writeFileSync(outPath, JSON.stringify(docs));
if (failures.length) {
  console.error(failures.join("\n"));
  process.exit(1);
}
console.log(`${path.basename(renderedPath)}: ${docs.length} documents valid`);
