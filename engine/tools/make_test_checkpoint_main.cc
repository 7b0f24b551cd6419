// make_test_checkpoint: writes a seeded random-weight Gemma 4 (12B architecture, scaled down)
// as a Hugging Face directory and/or a GGUF with the real Gemma 4 vocabulary.
//   make_test_checkpoint --hf_dir=out/model --gguf=out/model.gguf [--seed=1] [--gguf_dtype=q8_0]
#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "engine/tools/test_checkpoint.h"

ABSL_FLAG(std::string, hf_dir, "", "Write the Hugging Face layout here (directory).");
ABSL_FLAG(std::string, gguf, "", "Write the GGUF layout here (file).");
ABSL_FLAG(std::string, drafter_dir, "", "Also write an MTP drafter (HF layout) here.");
ABSL_FLAG(std::string, drafter_gguf, "",
          "Also write the MTP drafter as a GGUF (llama.cpp arch gemma4-assistant) here.");
ABSL_FLAG(bool, write_tokenizer, false,
          "Also write tokenizer.json, tokenizer_config.json and chat_template.jinja to --hf_dir.");
ABSL_FLAG(bool, echo, false, "Echo target: its layers add nothing (greedy repeats the token).");
ABSL_FLAG(float, drafter_agreement, -1.f,
          "With --echo: the drafter's acceptance rate by construction, in [0, 1]; < 0: random.");
ABSL_FLAG(std::string, vocab_gguf, "", "Vocabulary GGUF (default: the one setup installs).");
ABSL_FLAG(uint64_t, seed, 1, "Random seed.");
ABSL_FLAG(int, hidden_size, 64, "Hidden size.");
ABSL_FLAG(int, intermediate_size, 128, "MLP width.");
ABSL_FLAG(int, layers, 12, "Layers (every 6th and the last are full attention).");
ABSL_FLAG(int, sliding_window, 16, "Sliding window.");
ABSL_FLAG(std::string, hf_dtype, "f32", "f32 or bf16.");
ABSL_FLAG(std::string, gguf_dtype, "f32", "Matrices in the GGUF: f32, f16, bf16 or q8_0.");

namespace {

bool ParseDType(const std::string& name, gemma::DType* out) {
  for (gemma::DType d : {gemma::DType::kF32, gemma::DType::kF16, gemma::DType::kBF16,
                         gemma::DType::kQ8_0}) {
    if (name == gemma::DTypeName(d)) {
      *out = d;
      return true;
    }
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Writes a random-weight Gemma 4 test checkpoint.");
  absl::ParseCommandLine(argc, argv);
  gemma::TestCheckpointOptions options;
  options.hf_dir = absl::GetFlag(FLAGS_hf_dir);
  options.gguf_path = absl::GetFlag(FLAGS_gguf);
  options.drafter_dir = absl::GetFlag(FLAGS_drafter_dir);
  options.drafter_gguf = absl::GetFlag(FLAGS_drafter_gguf);
  options.write_tokenizer = absl::GetFlag(FLAGS_write_tokenizer);
  options.echo = absl::GetFlag(FLAGS_echo);
  options.drafter_agreement = absl::GetFlag(FLAGS_drafter_agreement);
  options.vocab_gguf = absl::GetFlag(FLAGS_vocab_gguf);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.hidden_size = absl::GetFlag(FLAGS_hidden_size);
  options.intermediate_size = absl::GetFlag(FLAGS_intermediate_size);
  options.num_layers = absl::GetFlag(FLAGS_layers);
  options.sliding_window = absl::GetFlag(FLAGS_sliding_window);
  if (!ParseDType(absl::GetFlag(FLAGS_hf_dtype), &options.hf_dtype) ||
      !ParseDType(absl::GetFlag(FLAGS_gguf_dtype), &options.gguf_dtype)) {
    std::cerr << "unknown dtype\n";
    return EXIT_FAILURE;
  }
  if (options.hf_dir.empty() && options.gguf_path.empty()) {
    std::cerr << "give --hf_dir and/or --gguf\n";
    return EXIT_FAILURE;
  }
  absl::Status status = gemma::WriteTestCheckpoint(options);
  if (!status.ok()) {
    std::cerr << status << "\n";
    return EXIT_FAILURE;
  }
  return EXIT_SUCCESS;
}
