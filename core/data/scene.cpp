// Scenes: names, colours, validation, random generation, the content hash and the split it decides.
#include "data/scene.h"

#include <algorithm>

#include "runtime/errors.h"

namespace mm::data {
namespace {

const char* const kKindNames[] = {"circle", "square", "triangle", "cross", "word"};
const char* const kColourNames[] = {"red", "green", "blue", "yellow", "purple", "white"};
// Far apart in RGB and all bright against the dark grey background.
const uint8_t kColourRgb[][3] = {{230, 40, 40}, {40, 200, 70}, {50, 100, 245}, {240, 220, 40}, {165, 60, 225}, {245, 245, 245}};
// Shape weights: circles are the most frequent kind, which is what POPE's "popular" negatives probe.
const int kKindWeights[kShapeKinds] = {3, 2, 2, 2};

uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

const char* kind_name(Kind k) { return kKindNames[std::min(int(k), 4)]; }

std::string kind_plural(Kind k) { return k == Kind::cross ? "crosses" : std::string(kind_name(k)) + "s"; }

const char* colour_name(Colour c) { return kColourNames[std::min(int(c), kColours - 1)]; }

const char* size_name(Size s) { return s == Size::large ? "large" : "small"; }

std::array<uint8_t, 3> colour_rgb(Colour c) {
  const auto& v = kColourRgb[std::min(int(c), kColours - 1)];
  return {v[0], v[1], v[2]};
}

std::array<uint8_t, 3> background_rgb() { return {40, 40, 40}; }

std::string position_name(int cell) {
  const int row = cell / kGrid, col = cell % kGrid;
  return std::string(row < kGrid / 2 ? "top" : "bottom") + (col < kGrid / 2 ? " left" : " right");
}

std::string number_word(int n) {
  static const char* const words[] = {"zero", "one", "two", "three", "four"};
  if (n < 0 || n > 4) throw InputError("no number word for " + std::to_string(n));
  return words[n];
}

void validate(const Scene& s) {
  if (s.side < 32 || s.side > 1024 || s.side % kGrid != 0)
    throw InputError("scene side " + std::to_string(s.side) + " is out of range", "use a multiple of 4 from 32 to 1024");
  if (s.objects.empty() || s.objects.size() > size_t(kMaxObjects))
    throw InputError("a scene holds 1 to 4 objects (got " + std::to_string(s.objects.size()) + ")");
  bool used[kGrid * kGrid] = {};
  for (const SceneObject& o : s.objects) {
    if (o.cell < 0 || o.cell >= kGrid * kGrid || used[o.cell])
      throw InputError("scene object cell " + std::to_string(o.cell) + " is out of range or taken twice");
    used[o.cell] = true;
    if (int(o.kind) > int(Kind::word) || int(o.colour) >= kColours || int(o.size) > int(Size::large))
      throw InputError("a scene object has an unknown kind, colour or size");
    const bool word_ok = o.text.size() >= 2 && o.text.size() <= 4 &&
                         std::all_of(o.text.begin(), o.text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (o.kind == Kind::word ? !word_ok : !o.text.empty())
      throw InputError("a word object needs 2-4 capital letters, and only a word object has text");
  }
}

Scene random_scene(SceneRng& rng, const SceneOptions& opts) {
  Scene s;
  s.side = opts.side;
  const int n = 1 + rng.below(kMaxObjects);
  int cells[kGrid * kGrid];
  for (int i = 0; i < kGrid * kGrid; ++i) cells[i] = i;
  int weight_sum = 0;
  for (int w : kKindWeights) weight_sum += w;
  for (int i = 0; i < n; ++i) {
    std::swap(cells[i], cells[i + rng.below(kGrid * kGrid - i)]);  // partial Fisher-Yates
    SceneObject o;
    o.cell = cells[i];
    if (opts.word_prob > 0 && rng.chance(opts.word_prob)) {
      o.kind = Kind::word;
      const int len = 2 + rng.below(3);
      for (int j = 0; j < len; ++j) o.text.push_back(char('A' + rng.below(26)));
    } else {
      int pick = rng.below(weight_sum), k = 0;
      while (pick >= kKindWeights[k]) pick -= kKindWeights[k++];
      o.kind = Kind(k);
    }
    o.colour = Colour(rng.below(kColours));
    o.size = Size(rng.below(2));
    s.objects.push_back(std::move(o));
  }
  return s;
}

uint64_t scene_hash(const Scene& s) {
  std::vector<const SceneObject*> objs;
  for (const auto& o : s.objects) objs.push_back(&o);
  std::sort(objs.begin(), objs.end(), [](const SceneObject* a, const SceneObject* b) { return a->cell < b->cell; });
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a over a canonical byte string
  auto eat = [&](uint8_t b) { h = (h ^ b) * 0x100000001B3ull; };
  eat(uint8_t(objs.size()));
  for (const SceneObject* o : objs) {
    eat(uint8_t(o->cell));
    eat(uint8_t(o->kind));
    eat(uint8_t(o->colour));
    eat(uint8_t(o->size));
    eat(uint8_t(o->text.size()));
    for (char c : o->text) eat(uint8_t(c));
  }
  return h;
}

const char* split_name(Split s) { return s == Split::test ? "test" : s == Split::val ? "val" : "train"; }

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "val") return Split::val;
  if (name == "test") return Split::test;
  throw InputError("unknown split '" + name + "'", "use train, val or test");
}

Split scene_split(const Scene& s) {
  const uint64_t bucket = mix64(scene_hash(s)) % 10;
  return bucket == 0 ? Split::test : bucket == 1 ? Split::val : Split::train;
}

const char* family_name(Family f) {
  static const char* const names[] = {"exist", "color", "shape", "count", "position", "relation", "multi"};
  return names[std::min(int(f), 6)];
}

const std::vector<Family>& all_families() {
  static const std::vector<Family> all = {Family::exist, Family::color,    Family::shape, Family::count,
                                          Family::position, Family::relation, Family::multi};
  return all;
}

Family parse_family(const std::string& name) {
  std::string names;
  for (Family f : all_families()) {
    if (name == family_name(f)) return f;
    names += std::string(names.empty() ? "" : ", ") + family_name(f);
  }
  throw InputError("unknown question family '" + name + "'", "use one of: " + names);
}

#if !MM_WITH_OPENCV
namespace {
[[noreturn]] void no_images() { throw InputError("this build has no image support", "rebuild with -DMM_WITH_OPENCV=ON"); }
}  // namespace
void write_scene_png(const Scene&, const std::string&) { no_images(); }
#endif

}  // namespace mm::data
