// llama.cpp's tokenizer (node-llama-cpp 3.21.1) on a text file: prints the median tokens/s of
// RUNS encodes (special tokens off), and the token count.
//   node llama_tokenize_bench.mjs VOCAB.gguf TEXT_FILE [RUNS]
import fs from "node:fs";
import path from "node:path";

const npmDir = process.env.GEMMA_NPM_DIR ?? "/var/cache/gemma-serve/npm";
const {getLlama, LlamaLogLevel} =
    await import(path.join(npmDir, "node_modules/node-llama-cpp/dist/index.js"));
const [vocabPath, textPath, runsArg] = process.argv.slice(2);
const text = fs.readFileSync(textPath, "utf8");
const llama = await getLlama({build: "never", skipDownload: true, gpu: false,
                              logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: vocabPath, vocabOnly: true});
const seconds = [];
let tokens = 0;
for (let i = 0; i < Number(runsArg ?? 5); ++i) {
  const start = process.hrtime.bigint();
  tokens = model.tokenize(text, false).length;
  seconds.push(Number(process.hrtime.bigint() - start) / 1e9);
}
seconds.sort((a, b) => a - b);
console.log(JSON.stringify({tokens, tokens_per_second: tokens / seconds[seconds.length >> 1]}));
await model.dispose();
