// Scene datasets: a deterministic stream of conversation samples for one split, written as PNGs plus a
// JSONL file, and the text corpus a tokenizer for these conversations is trained on.
#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>

#include "data/image_store.h"
#include "data/scene.h"
#include "data/split_staging.h"
#include "runtime/errors.h"

namespace fs = std::filesystem;

namespace mm::data {
namespace {

constexpr int kMaxCount = 10'000'000;
constexpr int kMaxQuestions = 16;

/// Samples for one split. Each split draws from its own seed stream and keeps only its own scenes
/// (scene_split), so held-out scenes never appear in training whatever the seeds.
class SampleStream {
 public:
  explicit SampleStream(const SceneDataOptions& o)
      : o_(o), split_(parse_split(o.split)), rng_(o.seed ^ (0xA0761D6478BD642Full * (uint64_t(split_) + 1))) {}

  SceneDataSample next(int index) {
    const Family f = pick_family();
    const int n_images = f == Family::multi ? 2 + rng_.below(kMaxImages - 1) : 1;
    SceneDataSample out;
    std::optional<QA> qa;
    for (int attempt = 0; !qa; ++attempt) {
      if (attempt == 10000) throw Error(ErrorKind::internal, std::string("no scene suits the family ") + family_name(f));
      out.scenes.clear();
      for (int k = 0; k < n_images; ++k) out.scenes.push_back(draw_scene());
      qa = ask(f, out.scenes);
    }
    commit(f, *qa);
    for (const Scene& s : out.scenes)
      for (const SceneObject& obj : s.objects) ++kind_counts_[int(obj.kind)];
    std::vector<QA> qas = {*qa};
    for (int t = 1; t < o_.questions_per_scene; ++t) {
      for (int attempt = 0; attempt < 20; ++attempt) {  // a distinct question, when the scene has one
        auto more = ask(f, out.scenes);
        if (!more || std::any_of(qas.begin(), qas.end(), [&](const QA& x) { return x.question == more->question; }))
          continue;
        commit(f, *more);
        qas.push_back(*more);
        break;
      }
    }
    char num[16];
    std::snprintf(num, sizeof num, "%06d", index);
    const std::string stem = std::string("images/") + split_name(split_) + "/" + num;
    std::string header, details;
    for (int k = 0; k < n_images; ++k) {
      out.record.images.push_back(n_images == 1 ? stem + ".png" : stem + "_" + std::to_string(k + 1) + ".png");
      header += n_images == 1 ? std::string("<image>\n") : "Image " + std::to_string(k + 1) + ": <image>\n";
    }
    for (size_t i = 0; i < qas.size(); ++i) {
      out.record.turns.push_back({true, (i == 0 ? header : "") + qas[i].question});
      out.record.turns.push_back({false, qas[i].answer});
      out.details.push_back(qas[i].detail);
      if (!qas[i].detail.empty()) details += (details.empty() ? "-" : "+") + qas[i].detail;
    }
    out.record.family = family_name(f);
    out.record.id = std::string(split_name(split_)) + "-" + num + "-" + family_name(f) + details;
    return out;
  }

 private:
  Family pick_family() {
    int total = 0;
    for (size_t i = 0; i < o_.families.size(); ++i) total += weight(i);
    int x = rng_.below(total);
    for (size_t i = 0; i < o_.families.size(); ++i)
      if ((x -= weight(i)) < 0) return o_.families[i];
    return o_.families.back();
  }
  int weight(size_t i) const { return o_.weights.empty() ? default_family_weight(o_.families[i]) : o_.weights[i]; }

  Scene draw_scene() {
    const SceneOptions so{o_.image_side, o_.word_prob};
    for (int attempt = 0; attempt < 100000; ++attempt) {
      Scene s = random_scene(rng_, so);
      if (scene_split(s) == split_) return s;
    }
    throw Error(ErrorKind::internal, "no scene of the split could be drawn");
  }

  /// A question whose yes/no answer keeps the family balanced (|yes - no| <= 1 over committed ones).
  std::optional<QA> ask(Family f, const std::vector<Scene>& scenes) {
    const int balance = balance_[int(f)];
    AskOptions ao;
    ao.want_yes = balance == 0 ? rng_.below(2) == 0 : balance < 0;
    ao.with_words = o_.word_prob > 0;
    ao.popular_kind = Kind(std::max_element(kind_counts_, kind_counts_ + 5) - kind_counts_);
    return make_question(f, scenes, ao, rng_);
  }
  void commit(Family f, const QA& qa) {
    if (qa.answer == "yes") ++balance_[int(f)];
    if (qa.answer == "no") --balance_[int(f)];
  }

  const SceneDataOptions& o_;
  Split split_;
  SceneRng rng_;
  int balance_[7] = {};
  long long kind_counts_[5] = {};
};

}  // namespace

int default_family_weight(Family f) { return f == Family::multi ? 10 : 15; }

void validate(const SceneDataOptions& o) {
  parse_split(o.split);
  if (o.count < 1 || o.count > kMaxCount)
    throw InputError("the sample count " + std::to_string(o.count) + " is out of range", "give 1 to 10000000 samples");
  if (o.families.empty()) throw InputError("no question families chosen", "name at least one family");
  for (size_t i = 0; i < o.families.size(); ++i) {
    if (int(o.families[i]) > int(Family::multi)) throw InputError("unknown question family");
    for (size_t j = 0; j < i; ++j)
      if (o.families[i] == o.families[j])
        throw InputError(std::string("the family ") + family_name(o.families[i]) + " is named twice", "name each family once");
  }
  if (!o.weights.empty() && o.weights.size() != o.families.size())
    throw InputError("give one weight per family (" + std::to_string(o.families.size()) + "), got " +
                     std::to_string(o.weights.size()));
  for (size_t i = 0; i < o.weights.size(); ++i)
    if (o.weights[i] < 1 || o.weights[i] > 1000)
      throw InputError(std::string("the weight of ") + family_name(o.families[i]) + " is " + std::to_string(o.weights[i]) +
                           ", out of range",
                       "give a weight from 1 to 1000 (defaults: 15, multi 10), e.g. --families all,multi:30");
  if (o.image_side < 32 || o.image_side > 1024 || o.image_side % kGrid != 0)
    throw InputError("image size " + std::to_string(o.image_side) + " is out of range", "use a multiple of 4 from 32 to 1024");
  if (o.questions_per_scene < 1 || o.questions_per_scene > kMaxQuestions)
    throw InputError("questions per scene must be 1 to 16 (got " + std::to_string(o.questions_per_scene) + ")",
                     "1 asks one question per picture; K > 1 makes K-turn conversations");
  if (!(o.word_prob >= 0 && o.word_prob <= 1))
    throw InputError("the word probability must lie in [0, 1]", "0 draws shapes only; 0.3 makes about a third of the objects words");
}

std::vector<SceneDataSample> generate_scene_samples(const SceneDataOptions& o, const JobContext& ctx) {
  validate(o);
  SampleStream stream(o);
  std::vector<SceneDataSample> out;
  out.reserve(size_t(o.count));
  for (int i = 0; i < o.count; ++i) {
    ctx.check_cancel();
    out.push_back(stream.next(i));
  }
  return out;
}

SceneDataSummary make_scene_dataset(const SceneDataOptions& o, const JobContext& ctx) {
  validate(o);
  if (o.out_dir.empty()) throw InputError("no output directory given", "name a directory for the dataset");
  const fs::path out = fs::absolute(o.out_dir).lexically_normal();
  SplitStaging staging(out.string(), o.split);  // the old split stays intact until the new one is complete
  const fs::path stage_dir = staging.dir();

  SceneDataSummary sum;
  sum.jsonl_path = (out / (o.split + ".jsonl")).string();
  SampleStream stream(o);
  std::vector<Sample> records;
  records.reserve(size_t(o.count));
  std::vector<std::string> image_paths;  // and their pixels, for the image store beside the JSONL
  std::vector<uint8_t> pixels;
  const int every = std::max(1, o.count / 20);
  for (int i = 0; i < o.count; ++i) {
    ctx.check_cancel();
    if (i % every == 0) ctx.progress("make-data", double(i) / o.count, "sample " + std::to_string(i) + " of " + std::to_string(o.count));
    SceneDataSample s = stream.next(i);
    for (size_t k = 0; k < s.scenes.size(); ++k) {
      const std::string path = (stage_dir / s.record.images[k]).string();
      const std::vector<uint8_t> px = render_scene(s.scenes[k]);
      pixels.insert(pixels.end(), px.begin(), px.end());
      image_paths.push_back(path);
      if (MM_WITH_OPENCV) write_scene_png(s.scenes[k], path);  // the GPU build has no PNG writer: the store only
      s.record.images[k] = path;
    }
    FamilyCounts& fc = sum.families[s.record.family];
    ++fc.samples;
    for (const Turn& t : s.record.turns) {
      if (t.from_human) continue;
      ++fc.questions;
      fc.yes += t.value == "yes";
      fc.no += t.value == "no";
    }
    sum.images += int(s.scenes.size());
    records.push_back(std::move(s.record));
  }
  ctx.progress("make-data", 1.0, "writing " + sum.jsonl_path);
  const std::string staged_jsonl = (stage_dir / (o.split + ".jsonl")).string();
  write_image_store(staged_jsonl, image_paths, pixels, o.image_side);  // paths relative to the JSONL: they move with it
  write_jsonl(staged_jsonl, records);
  staging.commit();
  sum.samples = int(records.size());
  return sum;
}

std::vector<std::string> scene_text_corpus(int count, uint64_t seed) {
  if (count < 0 || count > kMaxCount) throw InputError("the corpus size must be 0 to 10000000 sentences");
  std::vector<std::string> out;
  SceneRng rng(seed);
  const SceneOptions so{112, 0.3};
  for (int i = 0; i < count; ++i) {
    const Family f = all_families()[size_t(rng.below(7))];
    std::vector<Scene> scenes(f == Family::multi ? size_t(2 + rng.below(kMaxImages - 1)) : size_t(1));
    for (Scene& s : scenes) s = random_scene(rng, so);
    AskOptions ao;
    ao.want_yes = rng.below(2) == 0;
    ao.with_words = true;
    if (auto qa = make_question(f, scenes, ao, rng)) {
      std::string q = f == Family::multi ? "Image 1: Image 2: " + qa->question : qa->question;
      out.push_back(q);
      out.push_back(qa->answer);
    }
  }
  // Every template with every word, so the vocabulary is covered whatever count is; each question also
  // in its multi-image form ("In image K, what ...").
  static const char* const rels[] = {"left of", "right of", "above", "below"};
  std::vector<std::string> questions = {"How many objects are there?"};
  for (int c = 0; c < kColours; ++c) {
    const std::string col = colour_name(Colour(c));
    questions.push_back("What shape is the " + col + " object?");
    questions.push_back("What does the " + col + " word say?");
    for (int k = 0; k <= int(Kind::word); ++k) {
      const std::string thing = col + " " + kind_name(Kind(k));
      questions.push_back("Is there a " + thing + " in the image?");
      questions.push_back("Where is the " + thing + "?");
      questions.push_back("Is the " + thing + " " + rels[(c + k) % 4] + " the " + colour_name(Colour((c + 1) % kColours)) +
                          " " + kind_name(Kind((k + 1) % 5)) + "?");
    }
  }
  for (int k = 0; k <= int(Kind::word); ++k) {
    questions.push_back(std::string("What colour is the ") + kind_name(Kind(k)) + "?");
    questions.push_back("How many " + kind_plural(Kind(k)) + " are there?");
  }
  for (size_t i = 0; i < questions.size(); ++i) {
    std::string q = questions[i];
    out.push_back(q);
    q[0] = char(std::tolower(static_cast<unsigned char>(q[0])));
    out.push_back("Image 1: Image 2: In image " + std::to_string(1 + i % kMaxImages) + ", " + q);
  }
  for (int c = 0; c < kColours; ++c) out.push_back(colour_name(Colour(c)));
  for (int k = 0; k <= int(Kind::word); ++k) out.push_back(kind_name(Kind(k)));
  for (int n = 0; n <= 4; ++n) out.push_back(number_word(n));
  for (int cell : {0, 3, 12, 15}) out.push_back(position_name(cell));
  out.push_back("yes");
  out.push_back("no");
  out.push_back("Image 3: Image 4:");
  out.push_back("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  out.push_back("abcdefghijklmnopqrstuvwxyz");
  return out;
}

}  // namespace mm::data
