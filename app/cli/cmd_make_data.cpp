// mmmamba make-data: synthetic scene conversations (PNG + JSONL) and the tokenizer trained on their text.
#include <algorithm>
#include <climits>
#include <cstdio>
#include <sstream>

#include "cli/common.h"
#include "data/scene.h"
#include "text/tokenizer_files.h"

namespace mm::cli {
namespace {

/// "all", "exist,color" or with draw weights "all,multi:30" (a later item sets an earlier one's weight).
void parse_families(const std::string& list, data::SceneDataOptions& o) {
  std::vector<data::Family> fams;
  std::vector<int> weights;
  bool weighted = false;
  const auto add = [&](data::Family f, int w) {
    const auto it = std::find(fams.begin(), fams.end(), f);
    if (it == fams.end()) fams.push_back(f), weights.push_back(w);
    else weights[size_t(it - fams.begin())] = w;
  };
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (item.empty()) continue;
    const size_t colon = item.find(':');
    const std::string name = item.substr(0, colon);
    if (name == "all") {
      for (data::Family f : data::all_families())
        if (std::find(fams.begin(), fams.end(), f) == fams.end()) add(f, data::default_family_weight(f));
      continue;
    }
    const data::Family f = data::parse_family(name);
    int w = data::default_family_weight(f);
    if (colon != std::string::npos) {
      const std::string text = item.substr(colon + 1);
      size_t used = 0;
      try {
        w = std::stoi(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (text.empty() || used != text.size())
        throw InputError("--families: '" + item + "' has no whole-number weight", "write NAME:WEIGHT, e.g. multi:30");
      weighted = true;
    }
    add(f, w);
  }
  o.families = fams;
  o.weights = weighted ? weights : std::vector<int>{};
}

int clamped_int(const Args& args, const char* name) {
  const long long v = args.get_int(name);
  return int(std::max<long long>(INT_MIN, std::min<long long>(INT_MAX, v)));
}

void print_summary(const data::SceneDataSummary& s) {
  std::printf("wrote %s: %d samples, %d images\n", s.jsonl_path.c_str(), s.samples, s.images);
  std::printf("  %-10s %8s %10s %6s %6s\n", "family", "samples", "questions", "yes", "no");
  data::FamilyCounts total;
  for (data::Family f : data::all_families()) {
    const auto it = s.families.find(data::family_name(f));
    if (it == s.families.end()) continue;
    const data::FamilyCounts& c = it->second;
    std::printf("  %-10s %8d %10d %6d %6d\n", it->first.c_str(), c.samples, c.questions, c.yes, c.no);
    total.samples += c.samples, total.questions += c.questions, total.yes += c.yes, total.no += c.no;
  }
  std::printf("  %-10s %8d %10d %6d %6d\n", "total", total.samples, total.questions, total.yes, total.no);
}

}  // namespace

int cmd_make_data(const std::vector<std::string>& argv) {
  Args args("make-data", "--out DIR [--split train] [--count N] [options] | --tokenizer DIR [--vocab N]",
            "Draws synthetic scenes (1-4 coloured shapes on a 4x4 grid) and writes question/answer conversations\n"
            "about them: DIR/<split>.jsonl and DIR/images/<split>/*.png. Families: exist (POPE-style yes/no with\n"
            "random, popular and adversarial negatives), color, shape, count, position, relation, and multi (2-4\n"
            "images, a question about an earlier one). Held-out splits (val, test) never share a scene with train:\n"
            "each scene belongs to one split by its content hash. With --tokenizer, also trains the sentencepiece\n"
            "tokenizer for this text into DIR (either option alone is fine).",
            {{"out", "DIR", "dataset directory"},
             {"split", "NAME", "train, val or test", "train"},
             {"count", "N", "samples (conversations)", "1000"},
             {"seed", "S", "generator seed", "0"},
             {"families", "LIST", "comma-separated families, or all; NAME:W sets a draw weight (default 15, multi 10), e.g. all,multi:30", "all"},
             {"questions-per-scene", "K", "questions per conversation (> 1: multi-turn)", "1"},
             {"image-size", "PX", "image side, a multiple of 4", "112"},
             {"word-prob", "P", "chance that an object is a word instead of a shape", "0"},
             {"tokenizer", "DIR", "also train a tokenizer on the scene text into DIR (refused if DIR holds one)"},
             {"vocab", "N", "tokenizer vocabulary size, added tokens included", "2048"}});
  if (parse_or_help(args, argv)) return 0;
  if (!args.has("out") && !args.has("tokenizer"))
    throw InputError("make-data needs --out DIR (a dataset) or --tokenizer DIR (a tokenizer)", "see mmmamba make-data --help");
  data::SceneDataOptions o;
  o.out_dir = args.get("out");
  o.split = args.get("split");
  o.count = clamped_int(args, "count");
  o.seed = uint64_t(args.get_int("seed"));
  parse_families(args.get("families"), o);
  o.questions_per_scene = clamped_int(args, "questions-per-scene");
  o.image_side = clamped_int(args, "image-size");
  o.word_prob = args.get_double("word-prob");
  data::validate(o);
  const int vocab = clamped_int(args, "vocab");
  if (args.has("tokenizer")) refuse_existing_tokenizer(args.get("tokenizer"));  // before drawing any data

  if (args.has("out")) {
    const auto summary = run_on_engine<data::SceneDataSummary>(
        [&](JobContext& ctx) { return data::make_scene_dataset(o, ctx); });
    print_summary(summary);
  }
  if (args.has("tokenizer")) {
    const std::string dir = args.get("tokenizer");
    run_on_engine<int>([&](JobContext& ctx) {
      ctx.progress("tokenizer", -1, "training a " + std::to_string(vocab) + "-token tokenizer");
      write_tokenizer_dir(dir, vocab, data::scene_text_corpus(4000, o.seed));
      return 0;
    });
    std::printf("wrote %s: sentencepiece tokenizer, vocabulary %d\n", dir.c_str(), vocab);
  }
  return 0;
}

}  // namespace mm::cli
