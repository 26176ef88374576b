// The question families: writing a question with its canonical answer (make_question), and reading a
// question back against the scene's objects (answer_question), which tests and evaluation use as an
// independent check of the written answers.
#include <algorithm>
#include <cctype>
#include <sstream>

#include "data/scene.h"

namespace mm::data {
namespace {

enum class Rel { left_of, right_of, above, below };
const char* const kRelNames[] = {"left of", "right of", "above", "below"};

std::string describe(Colour c, Kind k) { return std::string(colour_name(c)) + " " + kind_name(k); }

template <class F>
int count_if_obj(const Scene& s, F&& f) {
  return int(std::count_if(s.objects.begin(), s.objects.end(), f));
}
int count_kind(const Scene& s, Kind k) { return count_if_obj(s, [&](const SceneObject& o) { return o.kind == k; }); }
int count_colour(const Scene& s, Colour c) { return count_if_obj(s, [&](const SceneObject& o) { return o.colour == c; }); }
int count_combo(const Scene& s, Colour c, Kind k) {
  return count_if_obj(s, [&](const SceneObject& o) { return o.colour == c && o.kind == k; });
}

/// Truth of "a REL b" by cell columns (left/right) or rows (above/below); nullopt when they are level.
std::optional<bool> relation_holds(const SceneObject& a, const SceneObject& b, Rel r) {
  const bool horizontal = r == Rel::left_of || r == Rel::right_of;
  const int ka = horizontal ? a.col() : a.row(), kb = horizontal ? b.col() : b.row();
  if (ka == kb) return std::nullopt;
  return (r == Rel::left_of || r == Rel::above) ? ka < kb : ka > kb;
}

template <class T>
const T& pick(SceneRng& rng, const std::vector<T>& v) { return v[size_t(rng.below(int(v.size())))]; }

std::vector<Kind> asked_kinds(bool with_words) {
  std::vector<Kind> ks;
  for (int k = 0; k < kShapeKinds + (with_words ? 1 : 0); ++k) ks.push_back(Kind(k));
  return ks;
}

std::optional<QA> ask_exist(const Scene& s, const AskOptions& o, SceneRng& rng) {
  auto question = [](Colour c, Kind k) { return "Is there a " + describe(c, k) + " in the image?"; };
  if (o.want_yes) {
    const SceneObject& obj = pick(rng, s.objects);
    return QA{question(obj.colour, obj.kind), "yes", "positive"};
  }
  using Combo = std::pair<Colour, Kind>;
  std::vector<Combo> random, popular, adversarial;
  for (int c = 0; c < kColours; ++c)
    for (Kind k : asked_kinds(o.with_words)) {
      const Colour col = Colour(c);
      if (count_combo(s, col, k) > 0) continue;
      random.push_back({col, k});
      if (k == o.popular_kind && count_colour(s, col) == 0) popular.push_back({col, k});
      if (count_colour(s, col) > 0 && count_kind(s, k) > 0) adversarial.push_back({col, k});
    }
  const std::vector<Combo>* pools[] = {&random, &popular, &adversarial};
  static const char* const names[] = {"random", "popular", "adversarial"};
  int t = rng.below(3);
  if (pools[t]->empty()) t = 0;  // random negatives always exist: at most 4 of 24+ combinations are present
  const Combo& c = pick(rng, *pools[t]);
  return QA{question(c.first, c.second), "no", names[t]};
}

std::optional<QA> ask_relation(const Scene& s, const AskOptions& o, SceneRng& rng) {
  std::vector<const SceneObject*> named;  // objects a "{colour} {kind}" names without ambiguity
  for (const auto& obj : s.objects)
    if (count_combo(s, obj.colour, obj.kind) == 1) named.push_back(&obj);
  const int first = rng.below(4);
  for (int step = 0; step < 4; ++step) {
    const Rel r = Rel((first + step) % 4);
    std::vector<std::pair<const SceneObject*, const SceneObject*>> pairs;
    for (size_t i = 0; i < named.size(); ++i)
      for (size_t j = i + 1; j < named.size(); ++j)
        if (relation_holds(*named[i], *named[j], r)) pairs.push_back({named[i], named[j]});
    if (pairs.empty()) continue;
    auto [a, b] = pick(rng, pairs);
    if (*relation_holds(*a, *b, r) != o.want_yes) std::swap(a, b);
    return QA{"Is the " + describe(a->colour, a->kind) + " " + kRelNames[int(r)] + " the " + describe(b->colour, b->kind) + "?",
              o.want_yes ? "yes" : "no", ""};
  }
  return std::nullopt;
}

std::optional<QA> ask_single(Family f, const Scene& s, const AskOptions& o, SceneRng& rng) {
  if (s.objects.empty()) return std::nullopt;
  switch (f) {
    case Family::exist:
      return ask_exist(s, o, rng);
    case Family::color: {
      std::vector<const SceneObject*> unique;
      for (const auto& obj : s.objects)
        if (count_kind(s, obj.kind) == 1) unique.push_back(&obj);
      if (unique.empty()) return std::nullopt;
      const SceneObject* obj = pick(rng, unique);
      return QA{std::string("What colour is the ") + kind_name(obj->kind) + "?", colour_name(obj->colour), ""};
    }
    case Family::shape: {
      std::vector<const SceneObject*> unique;
      for (const auto& obj : s.objects)
        if (count_colour(s, obj.colour) == 1) unique.push_back(&obj);
      if (unique.empty()) return std::nullopt;
      const SceneObject* obj = pick(rng, unique);
      if (obj->kind == Kind::word) {
        std::string lower = obj->text;
        for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
        return QA{std::string("What does the ") + colour_name(obj->colour) + " word say?", lower, ""};
      }
      return QA{std::string("What shape is the ") + colour_name(obj->colour) + " object?", kind_name(obj->kind), ""};
    }
    case Family::count: {
      if (rng.below(4) == 0) return QA{"How many objects are there?", number_word(int(s.objects.size())), ""};
      const Kind k = pick(rng, asked_kinds(o.with_words));
      return QA{"How many " + kind_plural(k) + " are there?", number_word(count_kind(s, k)), ""};
    }
    case Family::position: {
      std::vector<const SceneObject*> named;
      for (const auto& obj : s.objects)
        if (count_combo(s, obj.colour, obj.kind) == 1) named.push_back(&obj);
      if (named.empty()) return std::nullopt;
      const SceneObject* obj = pick(rng, named);
      return QA{"Where is the " + describe(obj->colour, obj->kind) + "?", position_name(obj->cell), ""};
    }
    case Family::relation:
      return ask_relation(s, o, rng);
    case Family::multi:
      break;
  }
  return std::nullopt;
}

// ---- reading questions back ----

std::optional<Colour> colour_word(const std::string& w) {
  for (int c = 0; c < kColours; ++c)
    if (w == colour_name(Colour(c))) return Colour(c);
  return std::nullopt;
}
std::optional<Kind> kind_word(const std::string& w, bool plural) {
  for (int k = 0; k <= int(Kind::word); ++k)
    if (w == (plural ? kind_plural(Kind(k)) : std::string(kind_name(Kind(k))))) return Kind(k);
  return std::nullopt;
}

/// The one object a "{colour} {kind}" names, or nullptr.
const SceneObject* named_object(const Scene& s, const std::string& c, const std::string& k) {
  const auto col = colour_word(c);
  const auto kind = kind_word(k, false);
  if (!col || !kind || count_combo(s, *col, *kind) != 1) return nullptr;
  for (const auto& o : s.objects)
    if (o.colour == *col && o.kind == *kind) return &o;
  return nullptr;
}

std::optional<std::string> answer_single(const Scene& s, std::string q) {
  if (q.empty() || q.back() != '?') return std::nullopt;
  q.pop_back();
  std::vector<std::string> w;
  std::istringstream in(q);
  for (std::string t; in >> t;) w.push_back(t);
  const size_t n = w.size();
  auto yes_no = [](bool b) { return std::string(b ? "yes" : "no"); };
  auto is = [&](std::initializer_list<std::pair<size_t, const char*>> fixed) {
    for (const auto& [i, word] : fixed)
      if (i >= n || w[i] != word) return false;
    return true;
  };
  if (n == 8 && is({{0, "Is"}, {1, "there"}, {2, "a"}, {5, "in"}, {6, "the"}, {7, "image"}})) {
    const auto c = colour_word(w[3]);
    const auto k = kind_word(w[4], false);
    if (!c || !k) return std::nullopt;
    return yes_no(count_combo(s, *c, *k) > 0);
  }
  if (n == 5 && is({{0, "What"}, {1, "colour"}, {2, "is"}, {3, "the"}})) {
    const auto k = kind_word(w[4], false);
    if (!k || count_kind(s, *k) != 1) return std::nullopt;
    for (const auto& o : s.objects)
      if (o.kind == *k) return std::string(colour_name(o.colour));
  }
  const bool shape_q = n == 6 && is({{0, "What"}, {1, "shape"}, {2, "is"}, {3, "the"}, {5, "object"}});
  const bool word_q = n == 6 && is({{0, "What"}, {1, "does"}, {2, "the"}, {4, "word"}, {5, "say"}});
  if (shape_q || word_q) {
    const auto c = colour_word(w[shape_q ? 4 : 3]);
    if (!c || count_colour(s, *c) != 1) return std::nullopt;
    for (const auto& o : s.objects) {
      if (o.colour != *c) continue;
      if (shape_q != (o.kind != Kind::word)) return std::nullopt;
      std::string a = shape_q ? kind_name(o.kind) : o.text;
      for (char& ch : a) ch = char(std::tolower(static_cast<unsigned char>(ch)));
      return a;
    }
  }
  if (n == 5 && is({{0, "How"}, {1, "many"}, {3, "are"}, {4, "there"}})) {
    if (w[2] == "objects") return number_word(int(s.objects.size()));
    const auto k = kind_word(w[2], true);
    if (!k) return std::nullopt;
    return number_word(count_kind(s, *k));
  }
  if (n == 5 && is({{0, "Where"}, {1, "is"}, {2, "the"}})) {
    const SceneObject* o = named_object(s, w[3], w[4]);
    if (!o) return std::nullopt;
    return position_name(o->cell);
  }
  if ((n == 8 || n == 9) && is({{0, "Is"}, {1, "the"}})) {
    const bool two = n == 9;
    const std::string rel = two ? w[4] + " " + w[5] : w[4];
    const auto it = std::find(std::begin(kRelNames), std::end(kRelNames), rel);
    const size_t b = two ? 6 : 5;
    if (it == std::end(kRelNames) || w[b] != "the") return std::nullopt;
    const SceneObject* x = named_object(s, w[2], w[3]);
    const SceneObject* y = named_object(s, w[b + 1], w[b + 2]);
    if (!x || !y) return std::nullopt;
    const auto holds = relation_holds(*x, *y, Rel(it - std::begin(kRelNames)));
    if (!holds) return std::nullopt;
    return yes_no(*holds);
  }
  return std::nullopt;
}

}  // namespace

std::optional<QA> make_question(Family f, const std::vector<Scene>& images, const AskOptions& o, SceneRng& rng) {
  if (f != Family::multi) return images.size() == 1 ? ask_single(f, images[0], o, rng) : std::nullopt;
  if (images.size() < 2 || images.size() > size_t(kMaxImages)) return std::nullopt;
  static const Family inner[] = {Family::exist, Family::color, Family::shape, Family::count, Family::position, Family::relation};
  for (int attempt = 0; attempt < 24; ++attempt) {
    const int k = 1 + rng.below(int(images.size()) - 1);  // an earlier image, never the last one shown
    const Family g = inner[rng.below(6)];
    auto qa = ask_single(g, images[size_t(k - 1)], o, rng);
    if (!qa) continue;
    std::string q = qa->question;
    q[0] = char(std::tolower(static_cast<unsigned char>(q[0])));
    qa->question = "In image " + std::to_string(k) + ", " + q;
    qa->detail = std::string(family_name(g)) + (qa->detail.empty() ? "" : "-" + qa->detail);
    return qa;
  }
  return std::nullopt;
}

std::optional<std::string> answer_question(const std::vector<Scene>& images, const std::string& question) {
  // Skip the header lines ("<image>", "Image K: <image>"); the question is what follows.
  std::string q = question;
  for (;;) {
    const size_t nl = q.find('\n');
    if (nl == std::string::npos) break;
    const std::string line = q.substr(0, nl);
    if (line != "<image>" && !(line.rfind("Image ", 0) == 0 && line.size() > 8 && line.substr(line.size() - 7) == "<image>")) break;
    q = q.substr(nl + 1);
  }
  if (q.rfind("In image ", 0) == 0) {
    size_t pos = 9, k = 0;
    while (pos < q.size() && std::isdigit(static_cast<unsigned char>(q[pos])) && k < 100) k = k * 10 + size_t(q[pos++] - '0');
    if (k < 1 || k > images.size() || q.compare(pos, 2, ", ") != 0 || pos + 2 >= q.size()) return std::nullopt;
    std::string rest = q.substr(pos + 2);
    rest[0] = char(std::toupper(static_cast<unsigned char>(rest[0])));
    return answer_single(images[k - 1], rest);
  }
  if (images.size() != 1) return std::nullopt;
  return answer_single(images[0], q);
}

}  // namespace mm::data
