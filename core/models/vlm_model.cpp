#include "models/vlm_model.h"

#include <c10/util/Exception.h>

#include <array>

#include "models/layers.h"
#include "models/pixel_shuffle.h"
#include "runtime/errors.h"

namespace mm {

VlmModel::VlmModel(ModelConfig cfg, TensorMap weights) : cfg_(std::move(cfg)), weights_(std::move(weights)) {
  cfg_.validate();
  rebind();
}

void VlmModel::rebind() {
  layers_.clear();
  for (int64_t i = 0; i < cfg_.n_layers(); ++i) layers_.push_back(bind_layer(cfg_, weights_, i));
}

void VlmModel::to(const at::Device& device, at::ScalarType dtype) {
  for (auto& kv : weights_)
    kv.second = at::isFloatingType(kv.second.scalar_type()) ? kv.second.to(device, dtype) : kv.second.to(device);
  rebind();
}

at::TensorOptions VlmModel::options() const {
  const at::Tensor& w = get("language_model.output.weight");
  return w.options();
}

int64_t VlmModel::param_count() const {
  int64_t n = 0;
  for (const auto& kv : weights_) n += kv.second.numel();
  return n;
}

void VlmModel::fuse_for_inference() {
  for (auto& lw : layers_) {
    if (lw.kind != LayerKind::mamba2 || lw.ssm.fused_in.defined()) continue;
    Mamba2Weights& m = lw.ssm;
    const std::array<at::Tensor*, 5> parts = {&m.v_proj, &m.k_proj, &m.q_proj, &m.g_proj, &m.in_proj};
    m.fused_in = at::cat({m.v_proj, m.k_proj, m.q_proj, m.g_proj, m.in_proj}, 0).detach();
    // The parts become row views of the fused matrix (in the tensor map too), so its memory is not held
    // twice (770 MiB at HoVLE-2.6B). Trained parameters keep their own storage: an optimiser holds them.
    bool trained = false;
    for (const at::Tensor* part : parts) trained = trained || part->requires_grad();
    if (trained) continue;
    int64_t row = 0;
    for (at::Tensor* part : parts) {
      const at::Tensor view = m.fused_in.narrow(0, row, part->size(0));  // contiguous: whole rows
      for (auto& kv : weights_)
        if (kv.second.is_same(*part)) kv.second = view;
      *part = view;
      row += view.size(0);
    }
  }
}

int64_t VlmModel::release_unused_weights() {
  auto it = weights_.find("language_model.model.tok_embeddings.weight");
  if (it == weights_.end()) return 0;
  const int64_t n = it->second.numel();
  weights_.erase(it);
  return n;
}

const at::Tensor& VlmModel::get(const std::string& name) const {
  auto it = weights_.find(name);
  if (it == weights_.end()) throw CheckpointError("tensor " + name + " is missing");
  return it->second;
}

at::Tensor VlmModel::embed_tokens(const at::Tensor& ids) const {
  const at::Tensor& table = get("embedding_model.llm_text_embeddings.weight");
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= table.size(0))
      throw InputError("token id " + std::to_string(lo < 0 ? lo : hi) + " is outside the vocabulary of " +
                           std::to_string(table.size(0)),
                       "use ids produced by this model's tokenizer");
  }
  return at::embedding(table, ids);  // (B, L, D)
}

at::Tensor VlmModel::embed_images(const at::Tensor& pixels) const {
  TORCH_CHECK(pixels.dim() == 4 && pixels.size(1) == 3, "images must be (n, 3, S, S), got ", pixels.sizes());
  const int64_t p = cfg_.vision.patch_size, D = cfg_.hidden();
  if (pixels.size(2) % p != 0 || pixels.size(3) != pixels.size(2) || (pixels.size(2) / p) % 2 != 0)
    throw InputError("image tiles of " + std::to_string(pixels.size(2)) + "x" + std::to_string(pixels.size(3)) +
                         " do not fit patch size " + std::to_string(p),
                     "tile images to " + std::to_string(cfg_.vision.image_size) + " pixels");
  const at::Tensor x = pixels.to(options());
  at::Tensor patches = at::conv2d(x, get("embedding_model.vision_embeddings.patch_embedding.weight"),
                                  get("embedding_model.vision_embeddings.patch_embedding.bias"), {p, p});
  const int64_t gh = patches.size(2), gw = patches.size(3);
  patches = patches.flatten(2).transpose(1, 2);  // (n, gh*gw, D)
  // Position table: drop the CLS row, lay out as a grid, resize bicubically when the grid differs.
  const at::Tensor& table = get("embedding_model.vision_embeddings.position_embedding");  // (1, 1+g0^2, D)
  const int64_t g0 = cfg_.vision.image_size / p;
  at::Tensor pos = table.narrow(1, 1, g0 * g0).reshape({1, g0, g0, D}).permute({0, 3, 1, 2});  // (1, D, g0, g0)
  if (gh != g0 || gw != g0)
    pos = at::upsample_bicubic2d(pos.to(at::kFloat), {gh, gw}, /*align_corners=*/false).to(x.scalar_type());
  pos = pos.reshape({1, D, gh * gw}).transpose(1, 2);  // (1, gh*gw, D)
  at::Tensor h = pixel_shuffle_tokens(patches + pos, gh);  // (n, gh*gw/4, 4D); the tiles are square, gh == gw
  if (cfg_.vision.use_pixel_shuffle_proj) {
    h = at::linear(h, get("embedding_model.pixel_shuffle_proj.0.weight"), get("embedding_model.pixel_shuffle_proj.0.bias"));
    h = at::gelu(h);
    h = at::linear(h, get("embedding_model.pixel_shuffle_proj.2.weight"), get("embedding_model.pixel_shuffle_proj.2.bias"));
  }
  return h.reshape({-1, D});  // (n * tokens_per_tile, D)
}

PromptImageFeatures VlmModel::prepare_images(const at::Tensor& ids, const at::Tensor& pixels) const {
  const at::Tensor slots = ids.eq(cfg_.img_context_token_id);  // (B, L)
  const int64_t n_slots = slots.sum().item<int64_t>();
  const int64_t n_feats = pixels.defined() ? pixels.size(0) * cfg_.tokens_per_tile() : 0;
  if (n_slots != n_feats)
    throw InputError("the prompt has " + std::to_string(n_slots) + " image-context tokens but the images give " +
                         std::to_string(n_feats) + " features",
                     "expand each <image> into <img> + " + std::to_string(cfg_.tokens_per_tile()) +
                         " x <IMG_CONTEXT> per tile + </img>");
  PromptImageFeatures im;
  if (n_feats == 0) return im;
  im.feats = embed_images(pixels);  // (n_feats, D)
  // Row-major over (B, L): tile order, then patch order.
  im.feat_index = (slots.flatten().cumsum(0) - 1).view_as(ids).masked_fill(slots.logical_not(), -1);
  return im;
}

at::Tensor VlmModel::embed_span(const at::Tensor& ids, const PromptImageFeatures& images, int64_t start, int64_t n) const {
  at::Tensor h = embed_tokens(ids.narrow(1, start, n));  // (B, n, D)
  if (!images.feats.defined()) return h;
  const at::Tensor index = images.feat_index.narrow(1, start, n);  // (B, n)
  const at::Tensor slots = index.ge(0);
  const at::Tensor rows = index.masked_select(slots);  // feature rows in the span, row-major
  if (rows.numel() == 0) return h;
  h = h.clone();
  // Under autocast the features come out in bf16.
  h.index_put_({slots}, images.feats.index_select(0, rows).to(h.scalar_type()));
  return h;
}

at::Tensor VlmModel::embed(const at::Tensor& ids, const at::Tensor& pixels) const {
  return embed_span(ids, prepare_images(ids, pixels), 0, ids.size(1));
}

at::Tensor VlmModel::run_layers(at::Tensor h, ModelCache* cache, int64_t first, int64_t last, int64_t pos0,
                                std::vector<at::Tensor>* mixer_outputs) const {
  // Batch-1 decode: each run of Mamba-2 layers (fused projections, one stack) is one op, which on
  // sm_90 is one launch for the whole run.
  const auto runs_as_one = [&](int64_t i) {
    return cache && !mixer_outputs && h.size(0) == 1 && h.size(1) == 1 && layers_[size_t(i)].kind == LayerKind::mamba2 &&
           layers_[size_t(i)].ssm.fused_in.defined() && &cfg_.stack_of(i) == &cfg_.stack_of(first);
  };
  for (int64_t i = first; i < last; ++i) {
    if (runs_as_one(i)) {
      std::vector<Mamba2DecodeLayer> run;
      for (; i < last && runs_as_one(i); ++i) run.push_back(decode_layer(i, cache->layers[size_t(i)].ssm));
      h = mamba2_layers_decode(h, run, cfg_.stack_of(first).rms_eps);
      --i;
      continue;
    }
    at::Tensor out;
    h = decoder_layer(h, layers_[i], cfg_.stack_of(i), cfg_.mamba, cache ? &cache->layers[i] : nullptr,
                      cache ? cache->seq_len : pos0, mixer_outputs ? &out : nullptr);
    if (mixer_outputs) mixer_outputs->push_back(out);
  }
  return h;
}

Mamba2DecodeLayer VlmModel::decode_layer(int64_t i, Mamba2State& state) const {
  const LayerWeights& lw = layers_[size_t(i)];
  Mamba2DecodeLayer l;
  l.attn_norm = lw.attention_norm;
  l.fused_in = lw.ssm.fused_in;
  l.o_proj = lw.ssm.o_proj;
  l.ffn_norm = lw.ffn_norm;
  l.w1 = lw.w1;
  l.w3 = lw.w3;
  l.w2 = lw.w2;
  l.step = step_weights(lw.ssm, cfg_.stack_of(i), cfg_.mamba);
  l.conv_state = &state.conv;
  l.ssm_state = &state.ssm;
  return l;
}

at::Tensor VlmModel::run_all(const at::Tensor& x, ModelCache* cache) const {
  at::Tensor h = run_layers(x, cache, 0, cfg_.he.n_layers);
  if (cfg_.normalize_encoder_output) h = h / h.norm(2, -1, true).clamp_min(1e-12);
  h = run_layers(h, cache, cfg_.he.n_layers, cfg_.n_layers());
  if (cache) cache->seq_len += x.size(1);
  return h;
}

at::Tensor VlmModel::head(const at::Tensor& h) const {
  return norm_linear(h, get("language_model.model.norm.weight"), cfg_.llm.rms_eps, get("language_model.output.weight"))
      .to(at::kFloat);
}

at::Tensor VlmModel::forward(const at::Tensor& ids, const at::Tensor& pixels) const {
  return head(run_all(embed(ids, pixels), nullptr));
}

ModelCache VlmModel::new_cache(int64_t batch) const { return ModelCache(cfg_, batch, options()); }

}  // namespace mm
