// Compares token ids from the C++ tokenizer with the references js_reference.mjs wrote.
//   node compare_ids.mjs CORPUS.json REFERENCE.json NAME=OURS.json:REFERENCE_KEY[:skip-visible] ...
// ":skip-visible" leaves out cases containing the seven tokens llama.cpp always matches (its
// GGUF marks them USER_DEFINED) while the HF tokenizer, and we, treat them as special.
// Exits 1 on any mismatch, printing the first differing ids of a few cases.
import fs from "node:fs";

const [corpusPath, referencePath, ...checks] = process.argv.slice(2);
const corpus = JSON.parse(fs.readFileSync(corpusPath, "utf8"));
const texts = [...corpus.cases, corpus.english];
const reference = JSON.parse(fs.readFileSync(referencePath, "utf8"));
const visible = ["<|channel>", "<channel|>", "<|tool_call>", "<tool_call|>", "<|tool_response>",
                 "<tool_response|>", "<|\"|>"];
let failed = false;
for (const check of checks) {
  const [name, spec] = check.split("=");
  const [oursPath, key, option] = spec.split(":");
  const ours = JSON.parse(fs.readFileSync(oursPath, "utf8")).ids;
  const theirs = reference[key];
  let compared = 0, mismatched = 0, tokens = 0;
  for (let i = 0; i < texts.length; ++i) {
    if (option === "skip-visible" && visible.some((v) => texts[i].includes(v))) continue;
    ++compared;
    tokens += theirs[i].length;
    if (JSON.stringify(ours[i]) === JSON.stringify(theirs[i])) continue;
    ++mismatched;
    let j = 0;
    while (j < ours[i].length && ours[i][j] === theirs[i][j]) ++j;
    if (mismatched <= 3) {
      console.log(`  ${name}: case ${i} ${JSON.stringify(texts[i].slice(0, 60))} differs at ` +
                  `${j}: ours ${JSON.stringify(ours[i].slice(j, j + 6))} ` +
                  `${key} ${JSON.stringify(theirs[i].slice(j, j + 6))}`);
    }
  }
  console.log(`${name}: ${compared - mismatched}/${compared} cases identical (${tokens} tokens)`);
  if (mismatched || compared === 0) failed = true;
}
process.exit(failed ? 1 : 0);
