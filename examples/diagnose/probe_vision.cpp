// Does a checkpoint look at its images? For the first N records of a held-out JSONL, the next-token
// distribution at the answer position is computed with the record's own image(s) and again with the
// images of another record (same question text), and with all-black images. Prints the mean total
// variation distance between the distributions and how often the top answer token changes, plus how
// many tokens each reference answer takes. A model that ignores its images scores ~0 on both.
//   mm_probe_vision CHECKPOINT TEST.jsonl [N]
#include <c10/core/GradMode.h>

#include <cstdio>
#include <map>
#include <set>

#include "data/image_store.h"
#include "image/model_tiles.h"
#include "io/checkpoint.h"
#include "models/vlm_model.h"
#include "runtime/device.h"
#include "text/tokenizer.h"
#include "train/examples.h"

using namespace mm;

namespace {

struct Probe {
  double tv_swap = 0, tv_black = 0;
  int changed_swap = 0, changed_black = 0, n = 0;
};

at::Tensor tiles_of(const data::Sample& s, const data::ImageStore* store, const TileOptions& o) {
  std::vector<at::Tensor> parts;
  for (const std::string& p : s.images) {
    const uint8_t* rgb = store ? store->find(p) : nullptr;
    parts.push_back((rgb ? tile_image_rgb(rgb, store->side(), store->side(), store->side() * 3, o) : tile_image_file(p, o)).pixels);
  }
  return at::cat(parts, 0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s CHECKPOINT TEST.jsonl [N]\n", argv[0]);
    return 2;
  }
  try {
    configure_cpu_threads();
    c10::AutoGradMode no_grad(false);
    Checkpoint ck = load_checkpoint(argv[1]);
    const auto tok = Tokenizer::load(argv[1]);
    const VlmModel model(ck.config, ck.weights);
    const data::Dataset ds = data::read_dataset(argv[2]);
    const size_t n = std::min<size_t>(ds.samples.size(), argc > 3 ? size_t(std::atoi(argv[3])) : 200);
    const TileOptions opts = tile_options_for(model.config());

    std::map<std::string, std::set<int64_t>> answer_tokens;  // answer -> token count
    std::map<std::string, Probe> fam;
    for (size_t i = 0; i < n; ++i) {
      const data::Sample& s = ds.samples[i];
      const data::Sample& other = ds.samples[(i + 1) % ds.samples.size()];
      if (s.images.empty() || other.images.size() != s.images.size()) continue;
      answer_tokens[s.turns.back().value].insert(int64_t(tok->encode(s.turns.back().value, false).size()));
      const at::Tensor own = tiles_of(s, ds.images.get(), opts), swapped = tiles_of(other, ds.images.get(), opts);
      if (own.size(0) != swapped.size(0)) continue;
      const at::Tensor black = at::zeros_like(own) + (0 - 0.45) / 0.225;  // roughly black after normalisation
      std::vector<int> tiles;
      for (size_t k = 0; k < s.images.size(); ++k) tiles.push_back(int(own.size(0) / int64_t(s.images.size())));
      const EncodedConversation e = encode_conversation(*tok, model.config(), "", s, tiles, false);
      const at::Tensor ids = at::tensor(e.ids, at::kLong).view({1, -1});
      auto dist = [&](const at::Tensor& px) { return at::softmax(model.forward(ids, px).select(1, -1).squeeze(0), -1); };
      const at::Tensor p = dist(own), q = dist(swapped), b = dist(black);
      Probe& f = fam[s.family.empty() ? "all" : s.family];
      f.tv_swap += 0.5 * (p - q).abs().sum().item<double>();
      f.tv_black += 0.5 * (p - b).abs().sum().item<double>();
      f.changed_swap += p.argmax().item<int64_t>() != q.argmax().item<int64_t>();
      f.changed_black += p.argmax().item<int64_t>() != b.argmax().item<int64_t>();
      ++f.n;
    }
    std::printf("%-10s %5s %12s %14s %12s %14s\n", "family", "n", "TV(swap)", "top changed", "TV(black)", "top changed");
    for (const auto& [name, f] : fam)
      std::printf("%-10s %5d %12.3f %13.1f%% %12.3f %13.1f%%\n", name.c_str(), f.n, f.tv_swap / f.n,
                  100.0 * f.changed_swap / f.n, f.tv_black / f.n, 100.0 * f.changed_black / f.n);
    std::printf("\ntokens per answer (without <|im_end|>):\n");
    for (const auto& [a, counts] : answer_tokens) {
      std::string c;
      for (int64_t k : counts) c += std::to_string(k) + " ";
      std::printf("  %-12s %s\n", a.c_str(), c.c_str());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
