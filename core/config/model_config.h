// One model description drives construction, cache allocation, seeding, loading and export.
// Parsed from HF config.json (HoVLE `internvl_chat` or the mmMamba export) or made from a named
// architecture preset. Torch-free.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

enum class LayerKind { attention, mamba2 };
const char* layer_kind_name(LayerKind k);  // "attention" | "mamba2"

/// A stack of InternLM2-style decoder layers (the holistic embedding or the LLM).
struct StackConfig {
  int64_t n_layers = 0;
  int64_t hidden = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;
  int64_t head_dim = 0;      ///< hidden / n_heads
  int64_t intermediate = 0;  ///< SwiGLU width
  double rms_eps = 1e-5;
  double rope_theta = 10000.0;
  int64_t max_position_embeddings = 4096;
};

/// The mmMamba Mamba-2 layer settings (METHOD.md §2); fixed by the method unless a config says otherwise.
struct Mamba2Config {
  int64_t d_conv = 2;         ///< causal conv taps
  int64_t chunk_size = 128;   ///< SSD chunk length
  double norm_eps = 1e-5;     ///< gated RMSNorm epsilon
  double dt_min = 1e-3;       ///< dt init range (log-uniform)
  double dt_max = 1e-1;
  double dt_init_floor = 1e-3;
};

/// Vision side of the holistic embedding.
struct VisionConfig {
  int64_t image_size = 448;  ///< S: tile side; the position table covers (S/patch)^2 patches
  int64_t patch_size = 14;
  double downsample_ratio = 0.5;  ///< pixel shuffle scale
  bool use_pixel_shuffle_proj = true;
  int64_t min_dynamic_patch = 1;
  int64_t max_dynamic_patch = 12;
  bool use_thumbnail = true;
  bool dynamic_image_size = true;
};

struct ModelConfig {
  std::string source_format = "hovle";  ///< "hovle" | "mmmamba" (how config.json was laid out)
  int64_t vocab_size = 92553;           ///< rows of the output head (llm_config.vocab_size)
  int64_t text_vocab_size = 92553;      ///< rows of the HE text embedding (llm_vocab_size)
  int64_t img_context_token_id = 92546;
  bool normalize_encoder_output = false;
  std::string template_name = "internlm2-chat";
  VisionConfig vision;
  StackConfig he;   ///< holistic-embedding layers (global indices 0..he.n_layers-1)
  StackConfig llm;  ///< LLM layers (global indices he.n_layers..)
  Mamba2Config mamba;
  /// Kind of every layer, global index (HE first, then LLM). All attention for a teacher.
  std::vector<LayerKind> layer_kinds;
  nlohmann::json raw;  ///< the config.json this came from (kept so export preserves unknown fields)

  int64_t n_layers() const { return he.n_layers + llm.n_layers; }
  int64_t hidden() const { return llm.hidden; }
  const StackConfig& stack_of(int64_t layer) const { return layer < he.n_layers ? he : llm; }
  /// Tokens one image tile becomes: (S/patch)^2 * ratio^2.
  int64_t tokens_per_tile() const;
  int64_t count(LayerKind k) const;
  bool is_teacher() const { return count(LayerKind::mamba2) == 0; }
  /// Checks internal consistency (divisibility, positive sizes, kinds length); throws ConfigError.
  void validate() const;
};

/// Reads DIR/config.json (or a config.json path). Values METHOD.md marks unverified fall back to
/// the documented defaults above when absent.
ModelConfig load_model_config(const std::string& dir_or_file);
ModelConfig parse_model_config(const nlohmann::json& j);

/// The config.json of the mmMamba HF export (layers_block_type lists) or of a HoVLE teacher.
nlohmann::json to_hf_config(const ModelConfig& cfg);

/// Named architectures: "micro" (tests), "tiny", "demo", "hovle-2.6b" (the paper's teacher shape).
ModelConfig architecture_preset(const std::string& name);
std::vector<std::string> architecture_preset_names();

}  // namespace mm
