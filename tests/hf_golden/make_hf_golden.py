#!/usr/bin/env python3
"""Golden logits from Hugging Face transformers for our generated test checkpoint.

Runs where PyTorch and a transformers with Gemma 4 unified (12B: gemma4_unified and
gemma4_unified_assistant) are installed - the lent GPU machine (scripts/gpu_check.sh runs it
there). Builds the reference model from the checkpoint make_test_checkpoint wrote (HF layout,
f32) and writes tests/testdata/hf_golden.json, which hf_golden_test compares against on the CPU:

  make_hf_golden.py --target=DIR --drafter=DIR --out=hf_golden.json [--checkpoint_args=JSON]

Per case (text, image, audio prompts): for every prompt position, the top-8 (token, logit), the
logits of 64 fixed probe tokens and the log-sum-exp over the vocabulary (softcapped logits, as
HF returns them). Drafter: HF's assisted decoding drives the assistant; a forward hook records
the assistant's logits per draft step (top-8, probes, log-sum-exp) and its draft tokens.
Media inputs follow tests/hf_golden/media_recipe.md. A case HF cannot run (an input name this
transformers version does not take) is recorded with "skipped" and the reason, never faked.
Exits non-zero only when nothing could be computed.
"""
import argparse
import importlib
import inspect
import json
import math
import sys

CASES = [
    {"name": "text_chat", "tokens": [2, 105, 2364, 107, 9259, 236764, 1217, 659, 611, 236881, 106,
                                     107, 105, 4368, 107]},
    {"name": "text_long", "tokens": [2, 818, 3823, 8864, 37423, 38167, 1024, 506, 31770, 4799,
                                     236761, 1030, 236789, 236751, 1535, 1217, 2178, 580, 2557,
                                     4340, 1321, 13106, 69, 236743, 236770, 236771, 236771]},
    # <|image> 6 x <|image|> <image|>: a 3 x 2 grid of model patches.
    {"name": "image", "tokens": [2, 105, 2364, 107, 255999] + [258880] * 6 + [258882, 106, 107,
                                                                             105, 4368, 107],
     "image": {"position": 5, "grid_width": 3, "grid_height": 2}},
    # <|audio> 4 x <|audio|> <audio|>: 4 frames of 640 samples.
    {"name": "audio", "tokens": [2, 105, 2364, 107, 256000] + [258881] * 4 + [258883, 106, 107,
                                                                             105, 4368, 107],
     "audio": {"position": 5, "frames": 4}},
]
DRAFT_PROMPTS = [CASES[0]["tokens"], CASES[1]["tokens"]]
DRAFT_STEPS = 4
PROBES = [(i * 4099 + 17) % 262144 for i in range(64)]
TOP = 8


def image_patches(grid_width, grid_height):
    patches = []
    for p in range(grid_width * grid_height):
        patches.append([((p * 131 + e * 7) % 251) / 250.0 for e in range(48 * 48 * 3)])
    return patches


def audio_frames(frames):
    return [[0.5 * math.sin(0.01 * (f * 640 + s) * (1 + f)) for s in range(640)]
            for f in range(frames)]


def summarize(torch, row):
    """top-8, probes and log-sum-exp of one f32 logits row."""
    row = row.float()
    values, ids = torch.topk(row, TOP)
    return {"top": [[int(i), float(v)] for i, v in zip(ids.tolist(), values.tolist())],
            "probe": [float(row[i]) for i in PROBES],
            "logsumexp": float(torch.logsumexp(row.double(), 0))}


def find_class(names):
    transformers = importlib.import_module("transformers")
    for name in names:
        cls = getattr(transformers, name, None)
        if cls is not None:
            return cls
    return None


def media_kwargs(torch, model, case, device):
    """The keyword arguments this transformers version takes for the case's media."""
    params = inspect.signature(model.forward).parameters
    tokens = case["tokens"]
    kwargs = {}
    if "image" in case:
        spec = case["image"]
        n = spec["grid_width"] * spec["grid_height"]
        pixel = next((k for k in ("pixel_values",) if k in params), None)
        positions = next((k for k in ("image_position_ids", "pixel_position_ids",
                                      "patch_position_ids") if k in params), None)
        if pixel is None or positions is None:
            raise RuntimeError(f"forward() takes no pixel values with positions ({list(params)})")
        kwargs[pixel] = torch.tensor([image_patches(spec["grid_width"], spec["grid_height"])],
                                     dtype=torch.float32, device=device)
        kwargs[positions] = torch.tensor(
            [[[p % spec["grid_width"], p // spec["grid_width"]] for p in range(n)]],
            dtype=torch.long, device=device)
        if "mm_token_type_ids" in params:
            kwargs["mm_token_type_ids"] = torch.tensor(
                [[1 if t == 258880 else 0 for t in tokens]], dtype=torch.long, device=device)
    if "audio" in case:
        name = next((k for k in ("input_features", "audio_values", "audio_features")
                     if k in params), None)
        if name is None:
            raise RuntimeError(f"forward() takes no audio input ({list(params)})")
        kwargs[name] = torch.tensor([audio_frames(case["audio"]["frames"])],
                                    dtype=torch.float32, device=device)
    return kwargs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--drafter", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--checkpoint_args", default="{}",
                        help="make_test_checkpoint settings to record (JSON object)")
    args = parser.parse_args()
    try:
        torch = importlib.import_module("torch")
        transformers = importlib.import_module("transformers")
    except ImportError as error:
        sys.exit(f"make_hf_golden: needs torch and transformers ({error})")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    target_class = find_class(["Gemma4UnifiedForConditionalGeneration", "AutoModelForImageTextToText"])
    drafter_class = find_class(["Gemma4UnifiedAssistantForCausalLM", "AutoModelForCausalLM"])
    if target_class is None or drafter_class is None:
        sys.exit(f"make_hf_golden: transformers {transformers.__version__} has no Gemma 4 unified")
    model = target_class.from_pretrained(args.target, torch_dtype=torch.float32,
                                         attn_implementation="eager").to(device).eval()
    golden = {"generator": "tests/hf_golden/make_hf_golden.py",
              "transformers": transformers.__version__, "torch": torch.__version__,
              "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
              "dtype": "float32", "attention": "eager",
              "checkpoint": json.loads(args.checkpoint_args), "probes": PROBES, "cases": [],
              "drafter": []}
    computed = 0
    with torch.no_grad():
        for case in CASES:
            entry = {key: case[key] for key in ("name", "tokens", "image", "audio") if key in case}
            try:
                ids = torch.tensor([case["tokens"]], device=device)
                out = model(input_ids=ids, **media_kwargs(torch, model, case, device))
                entry["positions"] = [summarize(torch, row) for row in out.logits[0]]
                computed += 1
            except Exception as error:  # Recorded, so the CPU test says what HF could not do.
                entry["skipped"] = f"{type(error).__name__}: {error}"
            golden["cases"].append(entry)
            print(f"{case['name']}: {entry.get('skipped', 'ok')}", file=sys.stderr)

        try:
            drafter = drafter_class.from_pretrained(args.drafter, torch_dtype=torch.float32,
                                                    attn_implementation="eager").to(device).eval()
            steps = []
            hook = drafter.register_forward_hook(
                lambda module, inputs, output: steps.append(output.logits[0, -1].detach().clone()))
            for prompt in DRAFT_PROMPTS:
                steps.clear()
                ids = torch.tensor([prompt], device=device)
                generated = model.generate(input_ids=ids, assistant_model=drafter,
                                           num_assistant_tokens=DRAFT_STEPS,
                                           num_assistant_tokens_schedule="constant",
                                           do_sample=False, max_new_tokens=2)
                first = steps[:DRAFT_STEPS]  # The first drafting round: after the prompt.
                golden["drafter"].append({
                    "tokens": prompt, "next": int(generated[0, len(prompt)]),
                    "steps": [summarize(torch, row) for row in first],
                    "drafts": [int(torch.argmax(row)) for row in first]})
                computed += 1
            hook.remove()
        except Exception as error:
            golden["drafter_skipped"] = f"{type(error).__name__}: {error}"
            print(f"drafter: {golden['drafter_skipped']}", file=sys.stderr)
    with open(args.out, "w") as out:
        json.dump(golden, out, separators=(",", ":"))
        out.write("\n")
    if computed == 0:
        sys.exit("make_hf_golden: no case could be computed")


if __name__ == "__main__":
    main()
