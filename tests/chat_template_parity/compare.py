"""Checks the native renderer's output (render_chat) against the Jinja2 reference.

    python3 compare.py NAME CONVERSATIONS.json REFERENCE.json OURS.json

Per conversation: identical text (or both refusing it); and the token ids equal those of the
rendered text tokenized with special tokens parsed everywhere - unless the request's own text
contains special-token strings, where they must differ (those strings stay plain text).
"""
import json
import sys

name, conversations_path, reference_path, ours_path = sys.argv[1:]
conversations = json.load(open(conversations_path, encoding="utf-8"))
reference = json.load(open(reference_path, encoding="utf-8"))
ours = json.load(open(ours_path, encoding="utf-8"))
assert len(conversations) == len(reference) == len(ours), "result counts differ"
failures = 0
for i, (conversation, theirs, mine) in enumerate(zip(conversations, reference, ours)):
    if "error" in theirs or "error" in mine:
        if "error" not in theirs or "error" not in mine:
            failures += 1
            print(f"  {name}[{i}]: jinja {theirs.get('error', 'renders')!r}, ours {mine.get('error', 'renders')!r}")
        continue
    if theirs["text"] != mine["text"]:
        failures += 1
        a, b = theirs["text"], mine["text"]
        at = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        print(f"  {name}[{i}]: text differs at {at}: jinja {a[at:at + 60]!r} ours {b[at:at + 60]!r}")
        continue
    # Model turns lose their thought channels, so only user and system text can inject.
    texts = [p.get("text", "") for m in conversation["messages"]
             if m["role"] in ("ROLE_USER", "ROLE_SYSTEM") for p in m.get("parts", [])]
    injected = any("<|" in t or "|>" in t or "<start_of" in t or "<end_of" in t for t in texts)
    if injected == (mine["ids"] == mine["plain_ids"]):
        failures += 1
        print(f"  {name}[{i}]: ids {'match' if injected else 'differ from'} the plain tokenization")
print(f"{name}: {len(conversations) - failures}/{len(conversations)} conversations identical to Jinja2")
sys.exit(1 if failures else 0)
