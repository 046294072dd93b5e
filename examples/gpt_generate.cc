// Greedy text generation with a GPT-style decoder and its KV cache, through
// the public C++ API (tessera/tessera.hpp). The model is
// models/gpt_tiny.tess (models/example_models.h describes it): its weights
// are deterministic, not trained, so the tokens mean nothing, but the loop is
// the one a real model needs.
//
//   gpt_generate MODEL.tess [NUM_TOKENS] [PROMPT_TOKEN ...]
//
// NUM_TOKENS defaults to 16 and the prompt to "1 2 3". The first call runs
// the whole prompt with an empty (zero-length) cache; each later call runs
// one token, with the previous call's present_key_L/present_value_L as
// past_key_L/past_value_L, so a step costs O(prefix) instead of O(prefix^2).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "tessera/tessera.hpp"

namespace {

// The index of the largest of `n` logits (the first on ties).
int64_t ArgMax(const float* logits, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (logits[i] > logits[best]) best = i;
  }
  return best;
}

bool ParseInt(const char* s, int64_t* out) {
  char* end = nullptr;
  const long long v = std::strtoll(s, &end, 10);
  if (end == s || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL.tess [NUM_TOKENS] [PROMPT_TOKEN ...]\n", argv[0]);
    return 2;
  }
  int64_t num_tokens = 16;
  if (argc > 2 && !ParseInt(argv[2], &num_tokens)) {
    std::fprintf(stderr, "%s: NUM_TOKENS must be a non-negative integer, got '%s'\n", argv[0], argv[2]);
    return 2;
  }
  std::vector<int64_t> prompt;
  for (int i = 3; i < argc; ++i) {
    int64_t token = 0;
    if (!ParseInt(argv[i], &token)) {
      std::fprintf(stderr, "%s: a prompt token must be a non-negative integer, got '%s'\n", argv[0], argv[i]);
      return 2;
    }
    prompt.push_back(token);
  }
  if (prompt.empty()) prompt = {1, 2, 3};

  try {
    const tessera::Model model = tessera::Model::Load(argv[1]);

    // The cache layout comes from the model: one past_key_L/past_value_L
    // pair per layer, each [batch, kv_heads, past, head_dim].
    int layers = 0;
    std::vector<int64_t> cache_dims;
    for (const tessera::ValueInfo& info : model.Inputs()) {
      if (info.name.rfind("past_key_", 0) == 0) {
        ++layers;
        cache_dims = info.dims;
      }
    }
    if (layers == 0 || cache_dims.size() != 4 || cache_dims[1] < 0 || cache_dims[3] < 0) {
      std::fprintf(stderr, "%s: %s has no past_key_L inputs [batch, heads, past, head_dim]\n", argv[0], argv[1]);
      return 1;
    }
    cache_dims[0] = 1;  // batch
    cache_dims[2] = 0;  // an empty cache for the prompt

    std::vector<tessera::Value> past;  // past_key_0, past_value_0, past_key_1, ...
    std::vector<std::string> output_names = {"logits"};
    for (int l = 0; l < layers; ++l) {
      past.push_back(tessera::Value::Zeros(TSR_DTYPE_FLOAT32, cache_dims));
      past.push_back(tessera::Value::Zeros(TSR_DTYPE_FLOAT32, cache_dims));
      output_names.push_back("present_key_" + std::to_string(l));
      output_names.push_back("present_value_" + std::to_string(l));
    }

    tessera::Session session(model, tessera::SessionOptions().Threads(2));
    std::vector<int64_t> tokens = prompt;
    std::vector<int64_t> step_tokens = prompt;  // what this call feeds
    std::vector<int64_t> generated;
    while (static_cast<int64_t>(generated.size()) < num_tokens) {
      const int64_t seq = static_cast<int64_t>(step_tokens.size());
      const int64_t offset = static_cast<int64_t>(tokens.size()) - seq;  // = the cache length
      std::vector<int64_t> positions(static_cast<size_t>(seq));
      for (int64_t i = 0; i < seq; ++i) positions[static_cast<size_t>(i)] = offset + i;
      const tessera::Value ids = tessera::Value::FromData<int64_t>({1, seq}, step_tokens);
      const tessera::Value pos = tessera::Value::FromData<int64_t>({1, seq}, positions);

      std::vector<std::pair<std::string, const tessera::Value*>> inputs = {{"input_ids", &ids}, {"position_ids", &pos}};
      for (int l = 0; l < layers; ++l) {
        inputs.emplace_back("past_key_" + std::to_string(l), &past[2 * l]);
        inputs.emplace_back("past_value_" + std::to_string(l), &past[2 * l + 1]);
      }
      std::vector<tessera::Value> outputs = session.Run(inputs, output_names);

      // logits [1, seq, vocab]: the last position predicts the next token.
      const std::vector<int64_t> dims = outputs[0].dims();
      const int64_t vocab = dims[2];
      const int64_t next = ArgMax(outputs[0].data_as<float>() + (seq - 1) * vocab, vocab);
      generated.push_back(next);
      tokens.push_back(next);
      step_tokens = {next};
      for (size_t i = 0; i < past.size(); ++i) past[i] = std::move(outputs[i + 1]);
    }

    std::printf("prompt:");
    for (int64_t t : prompt) std::printf(" %lld", static_cast<long long>(t));
    std::printf("\ngenerated:");
    for (int64_t t : generated) std::printf(" %lld", static_cast<long long>(t));
    std::printf("\n");
  } catch (const tessera::Error& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  return 0;
}
