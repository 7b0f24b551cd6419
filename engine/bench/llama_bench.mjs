// llama.cpp's CPU speed on a GGUF, measured the way engine_bench measures ours:
//   node llama_bench.mjs MODEL.gguf PREFILL_TOKENS DECODE_TOKENS THREADS
// Each is the median of three runs. Prints one JSON line {"prefill_tokens_per_s": ..., "decode_tokens_per_s": ...}.
// F32 KV cache and no flash attention, as in the parity test.
import path from "node:path";

const npmDir = process.env.GEMMA_NPM_DIR ?? "/var/cache/gemma-serve/npm";
const {getLlama, LlamaLogLevel} =
    await import(path.join(npmDir, "node_modules/node-llama-cpp/dist/index.js"));
const [modelPath, prefillArg, decodeArg, threadsArg] = process.argv.slice(2);
const prefill = Number(prefillArg), decode = Number(decodeArg), threads = Number(threadsArg);

const llama = await getLlama({build: "never", skipDownload: true, gpu: false,
                              logLevel: LlamaLogLevel.error, maxThreads: threads});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
  contextSize: prefill + decode + 16, batchSize: prefill, threads,
  flashAttention: false, experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32",
});
const sequence = context.getSequence();
const prompt = [2];
for (let i = 1; i < prefill; ++i) prompt.push(1000 + ((i * 7919) % 200000));

const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, 8));  // Warm-up.
const prefillRates = [], decodeRates = [];
for (let repeat = 0; repeat < 3; ++repeat) {
  await sequence.clearHistory();
  let start = process.hrtime.bigint();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt);
  prefillRates.push(prefill / (Number(process.hrtime.bigint() - start) / 1e9));
  // Greedy decode of `decode` tokens after the prompt.
  start = process.hrtime.bigint();
  let produced = 0;
  for await (const token of sequence.evaluate([prompt[prompt.length - 1]], {temperature: 0})) {
    if (++produced >= decode) break;
  }
  decodeRates.push(produced / (Number(process.hrtime.bigint() - start) / 1e9));
}
console.log(JSON.stringify({prefill_tokens_per_s: median(prefillRates),
                            decode_tokens_per_s: median(decodeRates)}));
await context.dispose();
await model.dispose();
