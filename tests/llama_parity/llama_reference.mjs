// Runs llama.cpp (CPU build bundled in node-llama-cpp) on a GGUF and writes, for each prompt, the
// full next-token probability distribution at every position, then a greedy continuation.
//   node llama_reference.mjs MODEL.gguf PROMPTS.json OUT_DIR GENERATE_TOKENS
// PROMPTS.json: [[token ids], ...] (BOS included by the caller). Writes OUT_DIR/probs.bin
// (float32 rows of vocab_size, prompts concatenated, one row per prompt position) and
// OUT_DIR/greedy.json ([[generated ids], ...]).
// Settings that keep llama.cpp close to exact f32 math: F32 KV cache, no flash attention, CPU only.
import fs from "node:fs";
import path from "node:path";

// The pinned npm references live outside the clone (scripts/setup.sh).
const npmDir = process.env.GEMMA_NPM_DIR ?? "/var/cache/gemma-serve/npm";
const {getLlama, LlamaLogLevel} =
    await import(path.join(npmDir, "node_modules/node-llama-cpp/dist/index.js"));

const [modelPath, promptsPath, outDir, generateArg] = process.argv.slice(2);
const generate = Number(generateArg ?? 0);
const prompts = JSON.parse(fs.readFileSync(promptsPath, "utf8"));

const llama = await getLlama({build: "never", skipDownload: true, gpu: false,
                              logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
  contextSize: 1024, batchSize: 1024, threads: 2, flashAttention: false,
  experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});

let nVocab = 0;  // The size of the first full distribution.
const probsFile = fs.openSync(path.join(outDir, "probs.bin"), "w");
const greedy = [];
const sequence = context.getSequence();
for (const prompt of prompts) {
  await sequence.clearHistory();
  const items = prompt.map((token, i) => [token, {generateNext: {
    probabilities: true, token: i === prompt.length - 1, options: {temperature: 0}}}]);
  const results = await sequence.controlledEvaluate(items);
  for (const result of results) {
    if (nVocab === 0) nVocab = result.next.probabilities.size;
    const row = new Float32Array(nVocab);
    for (const [token, probability] of result.next.probabilities) row[token] = probability;
    fs.writeSync(probsFile, Buffer.from(row.buffer));
  }
  const generated = [];
  let next = results[results.length - 1].next.token;
  for (let i = 0; i < generate; ++i) {
    generated.push(next);
    if (i + 1 === generate) break;
    const [step] = await sequence.controlledEvaluate(
        [[next, {generateNext: {token: true, options: {temperature: 0}}}]]);
    next = step.next.token;
  }
  greedy.push(generated);
}
sequence.dispose();
fs.closeSync(probsFile);
fs.writeFileSync(path.join(outDir, "greedy.json"), JSON.stringify(greedy));
await context.dispose();
await model.dispose();
console.log(`llama.cpp: ${prompts.length} prompts, vocab ${nVocab}`);
