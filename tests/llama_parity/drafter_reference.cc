// llama.cpp's side of the MTP drafter comparison: a small driver of libllama's draft API (the
// gemma4-assistant arch reading the target's KV cache), which node-llama-cpp does not expose.
// Built by drafter_parity_test.sh against the prebuilt libllama of node-llama-cpp and the
// headers scripts/setup.sh extracts from its source bundle; it is not part of the product.
//   drafter_reference TARGET.gguf DRAFTER.gguf PROMPTS.json OUT_DIR STEPS BACKEND_DIR
// For each prompt: the target decodes it; t = argmax of its last logits; the drafter then runs
// STEPS times at position len(prompt) (fixed, as llama.cpp's common/speculative does for
// Gemma 4), fed (t, the target's post-norm hidden of the last prompt row) and then (its own
// draft, its own h_nextn). Writes OUT_DIR/drafter_logits.bin (f32 [prompts, STEPS, vocab]),
// OUT_DIR/target_hidden.bin (f32 [prompts, H]: the hidden fed to the first step) and
// OUT_DIR/drafts.json ([[t, d_1, ..., d_STEPS], ...]).
// Settings that keep llama.cpp close to exact f32 math: F32 KV cache, no flash attention, CPU.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "llama-ext.h"
#include "llama.h"

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "drafter_reference: %s\n", what.c_str());
  std::exit(2);
}

llama_context* NewContext(llama_model* model, llama_context* other) {
  llama_context_params params = llama_context_default_params();
  params.n_ctx = 512;
  params.n_batch = 512;
  params.n_ubatch = 512;
  params.n_seq_max = 1;
  params.n_threads = 2;
  params.n_threads_batch = 2;
  params.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  params.type_k = GGML_TYPE_F32;
  params.type_v = GGML_TYPE_F32;
  params.swa_full = true;
  params.no_perf = true;
  if (other != nullptr) {
    params.ctx_type = LLAMA_CONTEXT_TYPE_MTP;
    params.ctx_other = other;
    params.n_rs_seq = 0;
  }
  llama_context* context = llama_init_from_model(model, params);
  if (context == nullptr) Fail("cannot create a context");
  return context;
}

int Argmax(const float* values, int count) {
  return static_cast<int>(std::max_element(values, values + count) - values);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) Fail("usage: TARGET.gguf DRAFTER.gguf PROMPTS.json OUT_DIR STEPS BACKEND_DIR");
  const std::string out_dir = argv[4];
  const int steps = std::atoi(argv[5]);
  llama_log_set(
      [](ggml_log_level level, const char* text, void*) {
        if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
      },
      nullptr);
  ggml_backend_load_all_from_path(argv[6]);
  llama_backend_init();
  llama_model_params model_params = llama_model_default_params();
  model_params.n_gpu_layers = 0;
  llama_model* target = llama_model_load_from_file(argv[1], model_params);
  llama_model* drafter = llama_model_load_from_file(argv[2], model_params);
  if (target == nullptr || drafter == nullptr) Fail("cannot load the models");
  const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(target));
  const int width = llama_model_n_embd_out(drafter);  // The target's hidden size.
  if (width != llama_model_n_embd_out(target)) Fail("drafter and target widths differ");

  std::ifstream prompts_in(argv[3]);
  const auto prompts = nlohmann::json::parse(prompts_in).get<std::vector<std::vector<int32_t>>>();
  std::FILE* logits_out = std::fopen((out_dir + "/drafter_logits.bin").c_str(), "wb");
  std::FILE* hidden_out = std::fopen((out_dir + "/target_hidden.bin").c_str(), "wb");
  if (logits_out == nullptr || hidden_out == nullptr) Fail("cannot write the outputs");
  nlohmann::json drafts = nlohmann::json::array();
  for (const std::vector<int32_t>& prompt : prompts) {
    llama_context* target_context = NewContext(target, nullptr);
    llama_set_embeddings_nextn(target_context, true, /*masked=*/false);
    // Before the target decodes: creating a context that shares a KV cache clears its cells.
    llama_context* drafter_context = NewContext(drafter, target_context);
    llama_set_embeddings_nextn(drafter_context, true, /*masked=*/true);
    const int n = static_cast<int>(prompt.size());
    llama_batch batch = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; ++i) {
      batch.token[i] = prompt[i];
      batch.pos[i] = i;
      batch.n_seq_id[i] = 1;
      batch.seq_id[i][0] = 0;
      batch.logits[i] = i + 1 == n;
    }
    batch.n_tokens = n;
    if (llama_decode(target_context, batch) != 0) Fail("target decode failed");
    llama_batch_free(batch);
    int token = Argmax(llama_get_logits_ith(target_context, -1), vocab);
    std::vector<float> hidden(width);
    std::memcpy(hidden.data(), llama_get_embeddings_nextn_ith(target_context, n - 1),
                width * sizeof(float));
    std::fwrite(hidden.data(), sizeof(float), width, hidden_out);

    // A draft batch carries both the token and the h row; llama_batch_init allocates one.
    llama_batch step = llama_batch_init(1, width, 1);
    step.token = static_cast<llama_token*>(std::malloc(sizeof(llama_token)));
    nlohmann::json row = {token};
    for (int s = 0; s < steps; ++s) {
      step.token[0] = token;
      std::memcpy(step.embd, hidden.data(), width * sizeof(float));
      step.pos[0] = n;
      step.n_seq_id[0] = 1;
      step.seq_id[0][0] = 0;
      step.logits[0] = 1;
      step.n_tokens = 1;
      if (llama_decode(drafter_context, step) != 0) Fail("drafter decode failed");
      const float* logits = llama_get_logits_ith(drafter_context, 0);
      std::fwrite(logits, sizeof(float), vocab, logits_out);
      token = Argmax(logits, vocab);
      row.push_back(token);
      std::memcpy(hidden.data(), llama_get_embeddings_nextn_ith(drafter_context, 0),
                  width * sizeof(float));
    }
    std::free(step.token);
    step.token = nullptr;
    llama_batch_free(step);
    drafts.push_back(row);
    llama_free(drafter_context);
    llama_free(target_context);
  }
  std::fclose(logits_out);
  std::fclose(hidden_out);
  std::ofstream(out_dir + "/drafts.json") << drafts.dump() << "\n";
  llama_model_free(drafter);
  llama_model_free(target);
  llama_backend_free();
  return 0;
}
