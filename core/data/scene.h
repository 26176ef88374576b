// Synthetic scenes: 1-4 coloured shapes (or short words) on a 4x4 grid of cells, the question families
// asked about them, and the JSONL datasets built from them (teacher training, distillation, evaluation).
//
// Everything is deterministic from a 64-bit seed through SceneRng (splitmix64), so the same seed gives
// the same bytes with any standard library. Held-out splits never share a scene with training: a scene
// belongs to exactly one split, decided by its content hash (scene_split), and a generator for split s
// keeps only the scenes of s.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "data/conversation.h"
#include "runtime/job.h"

namespace mm::data {

// ---- scenes ----

enum class Kind : uint8_t { circle, square, triangle, cross, word };
enum class Colour : uint8_t { red, green, blue, yellow, purple, white };
enum class Size : uint8_t { small, large };

inline constexpr int kGrid = 4;        ///< cells per side
inline constexpr int kMaxObjects = 4;  ///< objects per scene
inline constexpr int kShapeKinds = 4;  ///< circle..cross; word is drawn text
inline constexpr int kColours = 6;
inline constexpr int kMaxImages = 4;   ///< images in one multi-image question

struct SceneObject {
  Kind kind = Kind::circle;
  Colour colour = Colour::red;
  Size size = Size::small;  ///< radius (half-size) 30% or 45% of a cell
  int cell = 0;             ///< row-major in the 4x4 grid: row = cell / 4, column = cell % 4
  std::string text;         ///< 2-4 capital letters when kind == word, else empty
  int row() const { return cell / kGrid; }
  int col() const { return cell % kGrid; }
};

struct Scene {
  int side = 112;  ///< square canvas in pixels, a multiple of 4 (cell = side / 4)
  std::vector<SceneObject> objects;
};

/// splitmix64: a tiny generator whose output is the same everywhere (std distributions are not).
class SceneRng {
 public:
  explicit SceneRng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  /// Uniform in [0, n) for n >= 1.
  int below(int n) { return int((next() >> 32) * uint64_t(n) >> 32); }
  /// Uniform in [0, 1).
  double unit() { return double(next() >> 11) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }

 private:
  uint64_t state_;
};

const char* kind_name(Kind k);                 ///< "circle", ..., "word"
std::string kind_plural(Kind k);               ///< "circles", "crosses", ...
const char* colour_name(Colour c);             ///< "red", ...
const char* size_name(Size s);                 ///< "small" | "large"
std::array<uint8_t, 3> colour_rgb(Colour c);   ///< the drawn RGB value
std::array<uint8_t, 3> background_rgb();       ///< dark grey
std::string position_name(int cell);           ///< "top left": columns 0-1 left, 2-3 right; rows 0-1 top, 2-3 bottom
std::string number_word(int n);                ///< "zero" .. "four"

/// InputError unless side is a multiple of 4 in [32, 1024] and there are 1-4 valid objects in distinct cells.
void validate(const Scene& s);

struct SceneOptions {
  int side = 112;
  double word_prob = 0.0;  ///< chance that an object is a word instead of a shape
};
/// 1-4 objects in distinct cells; kinds weighted so that circles are the most frequent (POPE "popular").
Scene random_scene(SceneRng& rng, const SceneOptions& opts = {});

/// A hash of the content only (objects sorted by cell; the canvas side is left out).
uint64_t scene_hash(const Scene& s);

enum class Split : uint8_t { train, val, test };
const char* split_name(Split s);
/// InputError unless name is "train", "val" or "test".
Split parse_split(const std::string& name);
/// The one split a scene may appear in: bucket = mix(scene_hash) % 10; 0 -> test, 1 -> val, 2-9 -> train.
Split scene_split(const Scene& s);

/// side*side*3 bytes, row-major RGB. InputError in a build without OpenCV.
std::vector<uint8_t> render_scene(const Scene& s);
/// Renders and writes a PNG; IoError when it cannot be written.
void write_scene_png(const Scene& s, const std::string& path);

// ---- questions ----

enum class Family : uint8_t { exist, color, shape, count, position, relation, multi };
const char* family_name(Family f);
/// InputError naming the families on an unknown name.
Family parse_family(const std::string& name);
const std::vector<Family>& all_families();

struct QA {
  std::string question;  ///< without the <image> header
  std::string answer;    ///< canonical: one or two lowercase words
  std::string detail;    ///< exist: positive|random|popular|adversarial; multi: the inner family; else ""
};

struct AskOptions {
  bool want_yes = true;               ///< yes/no families answer this way
  Kind popular_kind = Kind::circle;   ///< the most frequent kind so far, for "popular" negatives
  bool with_words = false;            ///< random negatives and counts may name words
};

/// One question of family f about images (one scene; 2-4 for multi, asking about an earlier one), or
/// nullopt when this family cannot be asked of these scenes (e.g. color when no kind is unique).
///   exist     "Is there a {colour} {kind} in the image?"       yes | no
///   color     "What colour is the {kind}?"                     {colour}        (kind unique)
///   shape     "What shape is the {colour} object?"             {kind}          (colour unique; a word:
///             "What does the {colour} word say?"               {text})
///   count     "How many {kind}s are there?" | "How many objects are there?"   zero .. four
///   position  "Where is the {colour} {kind}?"                  top left, ...
///   relation  "Is the {colour} {kind} left of|right of|above|below the {colour} {kind}?"  yes | no
///   multi     "In image K, {a question of another family about image K}"
std::optional<QA> make_question(Family f, const std::vector<Scene>& images, const AskOptions& o, SceneRng& rng);

/// Answers any question make_question writes by reading it against the scenes' objects (independent of
/// how it was made): nullopt when the question is not understood or is ambiguous for these scenes.
/// A leading "<image>" / "Image K: <image>" header is skipped.
std::optional<std::string> answer_question(const std::vector<Scene>& images, const std::string& question);

// ---- datasets ----

struct SceneDataOptions {
  std::string out_dir;
  std::string split = "train";
  int count = 1000;  ///< samples (conversations)
  uint64_t seed = 0;
  std::vector<Family> families = all_families();  ///< chosen with weight 15 each, multi 10
  std::vector<int> weights;  ///< one per family, 1-1000, overriding those defaults (empty: the defaults)
  int image_side = 112;
  int questions_per_scene = 1;  ///< > 1: multi-turn about the same image(s); fewer when it has fewer distinct questions
  double word_prob = 0.0;
};
/// The default draw weight of a family: 15, multi 10.
int default_family_weight(Family f);
/// InputError with a hint on any out-of-range option.
void validate(const SceneDataOptions& o);

struct SceneDataSample {
  Sample record;                     ///< images: paths relative to out_dir ("images/train/000042.png")
  std::vector<Scene> scenes;         ///< one per image
  std::vector<std::string> details;  ///< QA::detail per question
};

/// The samples of make_scene_dataset, in memory, without writing anything (out_dir is not used).
std::vector<SceneDataSample> generate_scene_samples(const SceneDataOptions& o, const JobContext& ctx);

struct FamilyCounts {
  int samples = 0, questions = 0, yes = 0, no = 0;
};
struct SceneDataSummary {
  std::string jsonl_path;
  int samples = 0, images = 0;
  std::map<std::string, FamilyCounts> families;
};

/// Writes <out>/images/<split>/*.png and <out>/<split>.jsonl: first into a staging directory (every PNG
/// write checked), then swapped in (data/split_staging.h), so a cancelled, killed or disk-full run leaves
/// the previous split as it was. Reports progress and honours cancellation.
SceneDataSummary make_scene_dataset(const SceneDataOptions& o, const JobContext& ctx);

/// Question and answer sentences of every family (count random ones, then every template with every
/// colour, kind, number, position and relation, and the letters of words): tokenizer training text.
std::vector<std::string> scene_text_corpus(int count, uint64_t seed);

}  // namespace mm::data
