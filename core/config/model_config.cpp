#include "config/model_config.h"

#include <cmath>
#include <fstream>
#include <sys/stat.h>

#include "runtime/errors.h"

namespace mm {
namespace {

using json = nlohmann::json;

template <class T>
T get_or(const json& j, const char* key, T fallback) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  try {
    return j[key].get<T>();
  } catch (const json::exception&) {
    throw ConfigError(std::string("config.json: field '") + key + "' has the wrong type (" + j[key].dump() + ")",
                      "fix the value or remove the field to use the default");
  }
}

StackConfig parse_stack(const json& j, const char* what, const StackConfig& defaults) {
  if (!j.is_object()) throw ConfigError(std::string("config.json: '") + what + "' is missing or not an object");
  StackConfig s = defaults;
  s.n_layers = get_or<int64_t>(j, "num_hidden_layers", s.n_layers);
  s.hidden = get_or<int64_t>(j, "hidden_size", s.hidden);
  s.n_heads = get_or<int64_t>(j, "num_attention_heads", s.n_heads);
  s.n_kv_heads = get_or<int64_t>(j, "num_key_value_heads", s.n_heads);
  s.head_dim = s.n_heads > 0 ? s.hidden / s.n_heads : 0;
  s.intermediate = get_or<int64_t>(j, "intermediate_size", s.intermediate);
  s.rms_eps = get_or<double>(j, "rms_norm_eps", s.rms_eps);
  s.rope_theta = get_or<double>(j, "rope_theta", s.rope_theta);
  s.max_position_embeddings = get_or<int64_t>(j, "max_position_embeddings", s.max_position_embeddings);
  return s;
}

std::vector<LayerKind> parse_block_types(const json& j, int64_t n, const char* what) {
  std::vector<LayerKind> kinds(n, LayerKind::attention);
  if (!j.is_object() || !j.contains("layers_block_type")) return kinds;
  const json& list = j["layers_block_type"];
  if (!list.is_array() || int64_t(list.size()) != n)
    throw ConfigError(std::string("config.json: ") + what + ".layers_block_type must list " + std::to_string(n) +
                      " layer types");
  for (int64_t i = 0; i < n; ++i) {
    const std::string t = list[i].is_string() ? list[i].get<std::string>() : "";
    if (t == "mha" || t == "attention") kinds[i] = LayerKind::attention;
    else if (t == "mamba2" || t == "mamba") kinds[i] = LayerKind::mamba2;
    else
      throw ConfigError(std::string("config.json: ") + what + ".layers_block_type[" + std::to_string(i) +
                        "] is '" + list[i].dump() + "'", "use \"mha\" or \"mamba2\"");
  }
  return kinds;
}

json stack_json(const StackConfig& s) {
  return {{"num_hidden_layers", s.n_layers},   {"hidden_size", s.hidden},
          {"num_attention_heads", s.n_heads},  {"num_key_value_heads", s.n_kv_heads},
          {"intermediate_size", s.intermediate}, {"rms_norm_eps", s.rms_eps},
          {"rope_theta", s.rope_theta},         {"max_position_embeddings", s.max_position_embeddings},
          {"hidden_act", "silu"},               {"bias", false}};
}

json block_types(const std::vector<LayerKind>& kinds, int64_t from, int64_t n) {
  json a = json::array();
  for (int64_t i = from; i < from + n; ++i) a.push_back(kinds[i] == LayerKind::attention ? "mha" : "mamba2");
  return a;
}

}  // namespace

const char* layer_kind_name(LayerKind k) { return k == LayerKind::attention ? "attention" : "mamba2"; }

int64_t ModelConfig::tokens_per_tile() const {
  const int64_t grid = vision.image_size / vision.patch_size;
  const double side = double(grid) * vision.downsample_ratio;
  return int64_t(std::llround(side * side));
}

int64_t ModelConfig::count(LayerKind k) const {
  int64_t n = 0;
  for (LayerKind x : layer_kinds) n += x == k;
  return n;
}

void ModelConfig::validate() const {
  auto fail = [](const std::string& m) {
    throw ConfigError("invalid model config: " + m, "the sizes in config.json (or a recipe's architecture_overrides) "
                      "must describe a model this engine can build");
  };
  for (const StackConfig* s : {&he, &llm}) {
    const char* name = s == &he ? "embedding_config" : "llm_config";
    if (s->n_layers < 0 || s->hidden <= 0 || s->n_heads <= 0 || s->n_kv_heads <= 0 || s->intermediate <= 0)
      fail(std::string(name) + ": sizes must be positive");
    if (s->hidden % s->n_heads != 0) fail(std::string(name) + ": hidden_size not divisible by num_attention_heads");
    if (s->n_heads % s->n_kv_heads != 0)
      fail(std::string(name) + ": num_attention_heads not divisible by num_key_value_heads");
    if ((s->hidden / s->n_heads) % 2 != 0)  // RoPE rotates channel pairs
      fail(std::string(name) + ": the head size hidden_size / num_attention_heads = " +
           std::to_string(s->hidden / s->n_heads) + " is odd (rotary embeddings need an even one)");
  }
  if (he.hidden != llm.hidden) fail("embedding and LLM hidden sizes differ");
  if (he.n_layers > 0 && (he.n_heads != llm.n_heads || he.n_kv_heads != llm.n_kv_heads))
    fail("embedding and LLM head counts differ (the student layers share one shape)");
  if (int64_t(layer_kinds.size()) != n_layers()) fail("layer kind list does not cover every layer");
  if (vision.patch_size <= 0 || vision.image_size % vision.patch_size != 0)
    fail("image_size must be a multiple of patch_size");
  const int64_t grid = vision.image_size / vision.patch_size;
  if (vision.downsample_ratio != 0.5 || grid % 2 != 0) fail("only pixel shuffle 0.5 over an even patch grid is supported");
  if (img_context_token_id < 0 || img_context_token_id >= text_vocab_size) fail("img_context_token_id outside the vocabulary");
  if (mamba.d_conv < 1 || mamba.chunk_size < 1) fail("d_conv and chunk_size must be positive");
}

ModelConfig parse_model_config(const json& j) {
  if (!j.is_object()) throw ConfigError("config.json is not a JSON object");
  ModelConfig c;
  c.raw = j;
  const std::string type = get_or<std::string>(j, "model_type", "");
  if (type == "mmMamba_chat") c.source_format = "mmmamba";
  else if (type == "internvl_chat" || type.empty()) c.source_format = "hovle";
  else
    throw ConfigError("config.json: model_type '" + type + "' is not supported",
                      "open a HoVLE (internvl_chat) or mmMamba (mmMamba_chat) checkpoint");
  const json& ej = j.contains("embedding_config") ? j["embedding_config"] : json();
  const json& lj = j.contains("llm_config") ? j["llm_config"] : json();
  StackConfig defaults;
  c.llm = parse_stack(lj, "llm_config", defaults);
  StackConfig he_defaults = c.llm;  // the HE layers have the LLM's shape unless told otherwise
  he_defaults.rope_theta = 10000.0;  // HolisticEmbedding class defaults [METHOD §1.2]
  he_defaults.max_position_embeddings = 4096;
  c.he = parse_stack(ej, "embedding_config", he_defaults);
  c.vocab_size = get_or<int64_t>(lj, "vocab_size", c.vocab_size);
  c.text_vocab_size = get_or<int64_t>(ej, "llm_vocab_size", c.vocab_size);
  c.img_context_token_id = get_or<int64_t>(ej, "img_context_token_id", c.img_context_token_id);
  if (get_or<std::string>(ej, "pixel_shuffle_loc", "pre") != "pre")
    throw ConfigError("config.json: pixel_shuffle_loc 'post' (HoVLE-HD) is not supported", "use a HoVLE checkpoint");
  if (ej.is_object() && ej.contains("special_token_maps") && !ej["special_token_maps"].empty())
    throw ConfigError("config.json: special_token_maps is not empty; special text embeddings are not supported");
  c.vision.image_size = get_or<int64_t>(ej, "image_size", get_or<int64_t>(j, "force_image_size", 448));
  c.vision.patch_size = get_or<int64_t>(ej, "patch_size", 14);
  c.vision.downsample_ratio = get_or<double>(j, "downsample_ratio", 0.5);
  c.vision.use_pixel_shuffle_proj = get_or<bool>(ej, "use_pixel_shuffle_proj", true);
  c.vision.min_dynamic_patch = get_or<int64_t>(j, "min_dynamic_patch", 1);
  c.vision.max_dynamic_patch = get_or<int64_t>(j, "max_dynamic_patch", 12);
  c.vision.use_thumbnail = get_or<bool>(j, "use_thumbnail", true);
  c.vision.dynamic_image_size = get_or<bool>(j, "dynamic_image_size", true);
  c.normalize_encoder_output = get_or<bool>(j, "normalize_encoder_output", false);
  c.template_name = get_or<std::string>(j, "template", "internlm2-chat");
  c.mamba.d_conv = get_or<int64_t>(lj, "d_conv", c.mamba.d_conv);
  c.mamba.chunk_size = get_or<int64_t>(lj, "chunk_size", c.mamba.chunk_size);
  c.mamba.norm_eps = get_or<double>(lj, "gated_norm_eps", c.mamba.norm_eps);
  auto he_kinds = parse_block_types(ej, c.he.n_layers, "embedding_config");
  auto llm_kinds = parse_block_types(lj, c.llm.n_layers, "llm_config");
  c.layer_kinds = he_kinds;
  c.layer_kinds.insert(c.layer_kinds.end(), llm_kinds.begin(), llm_kinds.end());
  c.validate();
  return c;
}

ModelConfig load_model_config(const std::string& dir_or_file) {
  struct stat st {};
  std::string path = dir_or_file;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) path += "/config.json";
  std::ifstream in(path);
  if (!in)
    throw ConfigError("cannot read " + path, "point at a checkpoint directory that holds config.json");
  json j;
  try {
    in >> j;
  } catch (const json::exception& e) {
    throw ConfigError(path + " is not valid JSON: " + e.what(), "fix or regenerate config.json");
  }
  return parse_model_config(j);
}

json to_hf_config(const ModelConfig& c) {
  const bool student = !c.is_teacher();
  json j = c.raw.is_object() ? c.raw : json::object();
  json ej = stack_json(c.he);
  json lj = stack_json(c.llm);
  if (j.contains("embedding_config")) ej = j["embedding_config"], ej.update(stack_json(c.he));
  if (j.contains("llm_config")) lj = j["llm_config"], lj.update(stack_json(c.llm));
  ej["llm_vocab_size"] = c.text_vocab_size;
  ej["llm_hidden_size"] = c.llm.hidden;
  ej["img_context_token_id"] = c.img_context_token_id;
  ej["image_size"] = c.vision.image_size;
  ej["patch_size"] = c.vision.patch_size;
  ej["pixel_shuffle_loc"] = "pre";
  ej["use_pixel_shuffle_proj"] = c.vision.use_pixel_shuffle_proj;
  lj["vocab_size"] = c.vocab_size;
  lj["d_conv"] = c.mamba.d_conv;
  lj["chunk_size"] = c.mamba.chunk_size;
  if (student) {
    j["model_type"] = "mmMamba_chat";
    j["architectures"] = "mmMambaChatModel";
    j["auto_map"] = {{"AutoConfig", "configuration_mmMamba_chat.mmMambaChatConfig"},
                     {"AutoModel", "modeling_mmMamba_chat.mmMambaChatModel"}};
    ej["model_type"] = "mmMamba_embedding";
    lj["model_type"] = "mmMamba";
    lj["architectures"] = "mmMambaForCausalLM";
    ej["layers_block_type"] = block_types(c.layer_kinds, 0, c.he.n_layers);
    lj["layers_block_type"] = block_types(c.layer_kinds, c.he.n_layers, c.llm.n_layers);
  } else {
    j["model_type"] = "internvl_chat";
    j["architectures"] = json::array({"InternVLChatModel"});
    j.erase("auto_map");
    ej.erase("layers_block_type");
    lj.erase("layers_block_type");
    if (!lj.contains("model_type")) lj["model_type"] = "internlm2";
    if (!lj.contains("architectures")) lj["architectures"] = json::array({"InternLM2ForCausalLM"});
  }
  j["embedding_config"] = ej;
  j["llm_config"] = lj;
  j["downsample_ratio"] = c.vision.downsample_ratio;
  j["force_image_size"] = c.vision.image_size;
  j["min_dynamic_patch"] = c.vision.min_dynamic_patch;
  j["max_dynamic_patch"] = c.vision.max_dynamic_patch;
  j["use_thumbnail"] = c.vision.use_thumbnail;
  j["dynamic_image_size"] = c.vision.dynamic_image_size;
  j["normalize_encoder_output"] = c.normalize_encoder_output;
  j["template"] = c.template_name;
  return j;
}

}  // namespace mm
