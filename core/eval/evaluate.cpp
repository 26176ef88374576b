#include "eval/evaluate.h"

#include <c10/core/GradMode.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "generate/generator.h"
#include "io/checkpoint.h"
#include "models/vlm_model.h"
#include "runtime/device.h"
#include "runtime/errors.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"
#include "data/image_store.h"
#include "train/examples.h"
#include "image/model_tiles.h"

namespace mm {
using nlohmann::json;

std::string normalise_answer(const std::string& s) {
  std::string out;
  for (char c : s) out += char(std::tolower(static_cast<unsigned char>(c)));
  const auto strip = [](char c) { return c == ' ' || c == '\n' || c == '\t' || c == '.' || c == '!' || c == ','; };
  while (!out.empty() && strip(out.back())) out.pop_back();
  size_t b = 0;
  while (b < out.size() && strip(out[b])) ++b;
  return out.substr(b);
}

namespace {

/// The sample's images, tiled: from the dataset's image store when it holds them, else from their files.
PromptImages prompt_images(const data::Sample& s, const TileOptions& tiles, const data::ImageStore* store) {
  if (!store) return load_prompt_images(s.images, tiles);
  PromptImages out;
  std::vector<at::Tensor> parts;
  for (const std::string& p : s.images) {
    const uint8_t* rgb = store->find(p);
    ImageTiles t = rgb ? tile_image_rgb(rgb, store->side(), store->side(), store->side() * 3, tiles)
                       : tile_image_file(p, tiles);
    out.tiles_per_image.push_back(int(t.pixels.size(0)));
    parts.push_back(t.pixels);
  }
  if (!parts.empty()) out.pixels = at::cat(parts, 0);
  return out;
}

}  // namespace

EvalResult evaluate_checkpoint(const std::string& checkpoint, const std::string& label,
                               const std::vector<data::Sample>& samples, const EvalOptions& opts, const JobContext& ctx,
                               const data::ImageStore* store) {
  c10::AutoGradMode no_grad(false);
  const auto t0 = std::chrono::steady_clock::now();
  Checkpoint ck = load_checkpoint(checkpoint, at::kFloat);
  const std::unique_ptr<Tokenizer> tok = Tokenizer::load(checkpoint);
  VlmModel model(ck.config, std::move(ck.weights));
  model.release_unused_weights();
  const c10::Device dev = parse_device(opts.device);
  if (!dev.is_cpu()) model.to(dev, default_dtype(dev));
  if (model.config().count(LayerKind::mamba2) > 0) model.fuse_for_inference();
  const TileOptions tiles = tile_options_for(model.config());
  SamplingOptions greedy;
  greedy.max_new_tokens = opts.max_new_tokens;
  greedy.stop_ids = {tok->token_id(kImEnd)};
  if (tok->eos_id() >= 0) greedy.stop_ids.push_back(tok->eos_id());

  EvalResult r;
  r.model = checkpoint;
  r.label = label;
  const size_t n = opts.limit > 0 ? std::min(samples.size(), size_t(opts.limit)) : samples.size();
  for (size_t i = 0; i < n; ++i) {
    ctx.check_cancel();
    const data::Sample& s = samples[i];
    if (s.turns.empty() || s.turns.back().from_human) continue;
    PromptImages im = prompt_images(s, tiles, store);
    const EncodedConversation e = encode_conversation(*tok, model.config(), opts.system_prompt, s, im.tiles_per_image, false);
    const at::Tensor ids = at::tensor(e.ids, at::kLong).view({1, -1});  // prefill moves it to the model's device
    at::Tensor pixels = im.pixels.defined() ? im.pixels.to(dev, model.options().dtype().toScalarType()) : at::Tensor();
    ModelCache cache = model.new_cache(1);
    const Generation g = generate(model, cache, ids, pixels, greedy, {}, &ctx.cancel);
    const std::string got = normalise_answer(tok->decode(g.ids, true));
    const std::string want = normalise_answer(s.turns.back().value);
    const std::string fam = s.family.empty() ? "all" : s.family;
    const bool ok = got == want;
    FamilyScore& by_images = r.by_images[int(s.images.size())];
    r.families[fam].total++;
    r.overall.total++;
    by_images.total++;
    if (ok) r.families[fam].correct++, r.overall.correct++, by_images.correct++;
    else r.mistakes.push_back({{"id", s.id}, {"family", fam}, {"expected", want}, {"got", got}});
    if (i % 16 == 0 || i + 1 == n)
      ctx.progress("eval", double(i + 1) / double(n), label + ": " + std::to_string(i + 1) + "/" + std::to_string(n));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

std::vector<EvalResult> evaluate(const EvalOptions& opts, const JobContext& ctx) {
  if (opts.checkpoints.empty()) throw InputError("no checkpoints to evaluate", "name one or more checkpoint directories");
  if (!opts.labels.empty() && opts.labels.size() != opts.checkpoints.size())
    throw InputError("give one label per checkpoint (" + std::to_string(opts.checkpoints.size()) + ")");
  const data::Dataset data = data::read_dataset(opts.data);
  std::vector<EvalResult> out;
  for (size_t i = 0; i < opts.checkpoints.size(); ++i) {
    const std::string label =
        opts.labels.empty() ? std::filesystem::path(opts.checkpoints[i]).lexically_normal().filename().string() : opts.labels[i];
    out.push_back(evaluate_checkpoint(opts.checkpoints[i], label, data.samples, opts, ctx, data.images.get()));
  }
  return out;
}

namespace {

std::vector<std::string> family_columns(const std::vector<EvalResult>& results) {
  std::set<std::string> fams;
  for (const auto& r : results)
    for (const auto& [f, _] : r.families) fams.insert(f);
  return {fams.begin(), fams.end()};
}

}  // namespace

std::string format_eval_table(const std::vector<EvalResult>& results) {
  const auto fams = family_columns(results);
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-16s", "model");
  out += buf;
  for (const auto& f : fams) std::snprintf(buf, sizeof buf, " %9s", f.substr(0, 9).c_str()), out += buf;
  out += "   overall      n\n";
  for (const auto& r : results) {
    std::snprintf(buf, sizeof buf, "%-16s", r.label.substr(0, 16).c_str());
    out += buf;
    for (const auto& f : fams) {
      auto it = r.families.find(f);
      if (it == r.families.end()) std::snprintf(buf, sizeof buf, " %9s", "-");
      else std::snprintf(buf, sizeof buf, " %8.1f%%", 100 * it->second.accuracy());
      out += buf;
    }
    std::snprintf(buf, sizeof buf, "   %6.1f%% %6lld\n", 100 * r.overall.accuracy(), static_cast<long long>(r.overall.total));
    out += buf;
  }
  return out;
}

std::string format_images_table(const std::vector<EvalResult>& results) {
  std::set<int> counts;
  for (const auto& r : results)
    for (const auto& [n, _] : r.by_images) counts.insert(n);
  std::string out;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%-16s", "images");
  out += buf;
  for (int n : counts) std::snprintf(buf, sizeof buf, " %14s", (std::to_string(n) + (n == 1 ? " image" : " images")).c_str()), out += buf;
  out += "\n";
  for (const auto& r : results) {
    std::snprintf(buf, sizeof buf, "%-16s", r.label.substr(0, 16).c_str());
    out += buf;
    for (int n : counts) {
      auto it = r.by_images.find(n);
      if (it == r.by_images.end()) std::snprintf(buf, sizeof buf, " %14s", "-");
      else std::snprintf(buf, sizeof buf, " %7.1f%% %5lld", 100 * it->second.accuracy(), static_cast<long long>(it->second.total));
      out += buf;
    }
    out += "\n";
  }
  return out;
}

json eval_json(const std::vector<EvalResult>& results) {
  json arr = json::array();
  for (const auto& r : results) {
    json fams = json::object();
    for (const auto& [f, s] : r.families) fams[f] = {{"correct", s.correct}, {"total", s.total}, {"accuracy", s.accuracy()}};
    json images = json::object();
    for (const auto& [n, s] : r.by_images)
      images[std::to_string(n)] = {{"correct", s.correct}, {"total", s.total}, {"accuracy", s.accuracy()}};
    arr.push_back({{"label", r.label}, {"model", r.model}, {"families", fams}, {"images", images},
                   {"overall", {{"correct", r.overall.correct}, {"total", r.overall.total}, {"accuracy", r.overall.accuracy()}}},
                   {"seconds", r.seconds}, {"mistakes", r.mistakes}});
  }
  return {{"results", arr}};
}

std::vector<EvalResult> eval_from_json(const json& j) {
  std::vector<EvalResult> out;
  if (!j.is_object() || !j.contains("results") || !j["results"].is_array()) return out;
  auto score = [](const json& s, FamilyScore& f) {
    if (!s.is_object() || !s.value("correct", json()).is_number_integer() || !s.value("total", json()).is_number_integer())
      return false;
    f.correct = s["correct"].get<int64_t>();
    f.total = s["total"].get<int64_t>();
    return f.correct >= 0 && f.total >= f.correct;
  };
  for (const json& e : j["results"]) {
    EvalResult r;
    if (!e.is_object() || !e.value("label", json()).is_string() || !score(e.value("overall", json()), r.overall)) continue;
    r.label = e["label"].get<std::string>();
    if (e.value("model", json()).is_string()) r.model = e["model"].get<std::string>();
    if (e.value("seconds", json()).is_number()) r.seconds = e["seconds"].get<double>();
    if (e.value("families", json()).is_object())
      for (const auto& [name, s] : e["families"].items())
        if (FamilyScore f; score(s, f)) r.families[name] = f;
    if (e.value("images", json()).is_object())
      for (const auto& [name, s] : e["images"].items()) {
        FamilyScore f;
        const bool count = !name.empty() && name.size() < 4 && name.find_first_not_of("0123456789") == std::string::npos;
        if (count && score(s, f)) r.by_images[std::stoi(name)] = f;
      }
    if (e.value("mistakes", json()).is_array())
      for (const json& m : e["mistakes"]) r.mistakes.push_back(m);
    out.push_back(std::move(r));
  }
  return out;
}

std::string eval_csv(const std::vector<EvalResult>& results) {
  std::string out = "model,label,family,correct,total,accuracy\n";
  char buf[64];
  for (const auto& r : results) {
    auto row = [&](const std::string& fam, const FamilyScore& s) {
      std::snprintf(buf, sizeof buf, ",%lld,%lld,%.6f\n", static_cast<long long>(s.correct),
                    static_cast<long long>(s.total), s.accuracy());
      out += "\"" + r.model + "\"," + r.label + "," + fam + buf;
    };
    for (const auto& [f, s] : r.families) row(f, s);
    row("overall", r.overall);
  }
  return out;
}

}  // namespace mm
