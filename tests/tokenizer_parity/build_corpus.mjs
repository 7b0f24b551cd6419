// Builds the tokenizer parity corpus: hand-picked hard cases plus about 1 MB of real English
// prose (Debian's license texts and package copyright files, present on every machine that ran
// scripts/setup.sh).
//   node build_corpus.mjs OUT.json [MEGABYTES]   ->  {"cases": [string, ...], "english": string}
import fs from "node:fs";
import path from "node:path";

const [outPath, megabytesArg] = process.argv.slice(2);
const targetBytes = Math.round(Number(megabytesArg ?? 1) * 1024 * 1024);

const cases = [
  "Hello world", " Hello world", "Hello World!", "  two leading spaces", "trailing   ",
  "a\n\nb\n\n\n\nc", "\n", "\n\n\n", "\t\ttabs\tand\n\tnewlines\r\n", " \n \n ",
  "   \n\n   \t ", "x".repeat(5000), "supercalifragilisticexpialidocious".repeat(40),
  "日本語のテキストと中文文本、한국어 텍스트", "Ελληνικά και русский текст",
  "👨‍👩‍👧‍👦 family, 🏳️‍🌈 flag, 👍🏽 thumbs", "שלום עולם مرحبا بالعالم", "e\u0301 a\u030a\u0301 Z\u0351\u0357\u0342",
  "ctl \u0001\u0002\u0007\u001b[31m\u007f end", "\u0000nul", "zero\u200bwidth\u2060joiners",
  "🦀𐍈\u{E0001}\u{10FFFD}", "<|turn>user\nhi<turn|>", "<start_of_turn>model\n<end_of_turn>",
  "<|image|><|audio|><|\"|><bos><eos>", "<b>bold</b> <code>x</code> <div class=\"a\">",
  "x<|tool_call>call:f{a:1}<tool_call|>y", "emails: a@b.co, urls: https://example.com/a?b=c#d",
  "numbers 1234567890 3.14159 -2e10 0x1F", "def f(x):\n    return x ** 2\n\n\nprint(f(3))\n",
  "{\"json\": [1, 2, {\"k\": null}], \"s\": \"\\u00e9\"}", "ALL CAPS AND miXed CaSe",
  "punctuation!!! ??? ... --- ;;; ''' \"\"\"", "  \u00a0non-breaking\u00a0space ", "fullwidth ＡＢＣ　１２３",
];

// Real English prose, gathered until the target size.
const sources = ["/usr/share/common-licenses"];
let english = "";
const files = [];
for (const dir of sources) {
  for (const name of fs.readdirSync(dir).sort()) files.push(path.join(dir, name));
}
for (const name of fs.readdirSync("/usr/share/doc").sort()) {
  files.push(path.join("/usr/share/doc", name, "copyright"));
}
const seen = new Set();
for (const file of files) {
  if (english.length >= targetBytes) break;
  let text;
  try { text = fs.readFileSync(file, "utf8"); } catch { continue; }
  if (seen.has(text) || text.includes("\ufffd")) continue;
  seen.add(text);
  english += text;
}
english = english.slice(0, targetBytes);
if (english.length < targetBytes / 2) throw new Error(`only ${english.length} bytes of English found`);
fs.writeFileSync(outPath, JSON.stringify({cases, english}));
