// Named architectures: small ones for tests and demos, and the paper's HoVLE-2.6B shape (random weights
// are enough for speed and memory work).
#include "config/model_config.h"
#include "runtime/errors.h"

namespace mm {
namespace {

ModelConfig make(int64_t hidden, int64_t heads, int64_t kv_heads, int64_t inter, int64_t he_layers,
                 int64_t llm_layers, int64_t vocab, int64_t image_size, int64_t chunk, int64_t max_tiles) {
  ModelConfig c;
  StackConfig s;
  s.hidden = hidden;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = hidden / heads;
  s.intermediate = inter;
  s.n_layers = llm_layers;
  s.rope_theta = 1e6;
  s.max_position_embeddings = 32768;
  c.llm = s;
  c.he = s;
  c.he.n_layers = he_layers;
  c.he.rope_theta = 10000.0;
  c.he.max_position_embeddings = 4096;
  c.vocab_size = vocab;
  c.text_vocab_size = vocab;
  c.img_context_token_id = vocab - 7;  // InternVL convention: 9 added tokens at the end, IMG_CONTEXT third
  c.vision.image_size = image_size;
  c.vision.max_dynamic_patch = max_tiles;
  c.mamba.chunk_size = chunk;
  c.layer_kinds.assign(he_layers + llm_layers, LayerKind::attention);
  c.validate();
  return c;
}

}  // namespace

std::vector<std::string> architecture_preset_names() { return {"micro", "tiny", "demo", "hovle-2.6b"}; }

ModelConfig architecture_preset(const std::string& name) {
  // hidden, heads, kv, mlp, HE layers, LLM layers, vocab, tile side, chunk, max tiles
  if (name == "micro") return make(64, 4, 2, 128, 2, 4, 384, 56, 16, 4);
  if (name == "tiny") return make(128, 4, 2, 256, 2, 6, 1024, 112, 64, 6);
  if (name == "demo") return make(128, 4, 2, 256, 2, 4, 384, 112, 32, 1);
  if (name == "hovle-2.6b") return make(2048, 16, 8, 8192, 8, 24, 92553, 448, 128, 12);
  std::string names;
  for (const auto& n : architecture_preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw ConfigError("unknown architecture '" + name + "'", "use one of: " + names);
}

}  // namespace mm
