// Scene data and JSONL records: determinism, answers checked against the drawn pixels, yes/no balance,
// disjoint held-out splits, the JSONL round trip and the reader's errors on bad records, the image store
// against the PNG files.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "data/conversation.h"
#include "data/image_store.h"
#include "data/scene.h"
#include "data/split_staging.h"
#include "image/image_tiles.h"
#include "runtime/errors.h"
#include "runtime/job.h"
#include "text/chat_template.h"

#include "scene_pixels.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QTemporaryDir>
#include <QtTest>

#include "test_support.h"

using namespace mm;
using namespace mm::data;
#if MM_WITH_OPENCV
using namespace mm::data::testing;
#endif

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

SceneDataOptions options(const std::string& out, const std::string& split, int count, uint64_t seed) {
  SceneDataOptions o;
  o.out_dir = out;
  o.split = split;
  o.count = count;
  o.seed = seed;
  return o;
}

/// Every (question, answer) pair of a record.
std::vector<std::pair<std::string, std::string>> qa_pairs(const Sample& s) {
  std::vector<std::pair<std::string, std::string>> out;
  for (size_t i = 0; i + 1 < s.turns.size(); i += 2) out.push_back({s.turns[i].value, s.turns[i + 1].value});
  return out;
}


/// Runs f and returns the InputError's message and hint ("" when it threw nothing or something else).
template <class F>
std::pair<std::string, std::string> input_error(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return {e.what(), e.hint()};
  } catch (...) {
    return {"(another exception)", ""};
  }
  return {"(no error)", ""};
}

}  // namespace

class TestData : public QObject {
  Q_OBJECT
 private slots:
  void generatorIsDeterministic() {
    const JobContext ctx;
    auto a = generate_scene_samples(options("", "train", 300, 7), ctx);
    auto b = generate_scene_samples(options("", "train", 300, 7), ctx);
    auto c = generate_scene_samples(options("", "train", 300, 8), ctx);
    QCOMPARE(a.size(), size_t(300));
    int same_as_c = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      QCOMPARE(a[i].record.id, b[i].record.id);
      QCOMPARE(scene_hash(a[i].scenes[0]), scene_hash(b[i].scenes[0]));
      QCOMPARE(a[i].record.turns.back().value, b[i].record.turns.back().value);
      same_as_c += a[i].record.turns[0].value == c[i].record.turns[0].value;
    }
    QVERIFY2(same_as_c < 100, "another seed gives other questions");
#if MM_WITH_OPENCV
    QTemporaryDir d1, d2;
    auto o = options(d1.path().toStdString(), "val", 40, 3);
    o.questions_per_scene = 3;
    o.word_prob = 0.3;
    const SceneDataSummary s1 = make_scene_dataset(o, ctx);
    o.out_dir = d2.path().toStdString();
    const SceneDataSummary s2 = make_scene_dataset(o, ctx);
    QCOMPARE(s1.samples, 40);
    QCOMPARE(s1.images, s2.images);
    const std::string j1 = read_file(s1.jsonl_path);
    QVERIFY(!j1.empty());
    QCOMPARE(j1, read_file(s2.jsonl_path));  // paths are relative to the directory, so the bytes agree
    int images = 0;
    for (const Sample& r : read_jsonl(s1.jsonl_path))
      for (const std::string& im : r.images) {
        const std::string other = o.out_dir + im.substr(d1.path().toStdString().size());
        QVERIFY2(read_file(im) == read_file(other), im.c_str());
        ++images;
      }
    QCOMPARE(images, s1.images);
#endif
  }

#if MM_WITH_OPENCV
  void imageStoreHoldsThePngPixels() {
    QTemporaryDir dir;
    auto o = options(dir.path().toStdString(), "val", 40, 5);
    o.questions_per_scene = 2;
    const SceneDataSummary sum = make_scene_dataset(o, JobContext{});
    const Dataset ds = read_dataset(sum.jsonl_path);
    QVERIFY(ds.images);
    QCOMPARE(ds.images->size(), size_t(sum.images));
    TileOptions t;
    t.image_size = o.image_side;
    t.max_num = 1;
    int n = 0;
    for (const Sample& s : ds.samples)
      for (const std::string& p : s.images) {
        const uint8_t* rgb = ds.images->find(p);
        QVERIFY2(rgb, p.c_str());
        const std::vector<uint8_t> png = load_rgb(p);  // the decoded file: the reference
        QVERIFY(std::equal(png.begin(), png.end(), rgb));
        const at::Tensor a = tile_image_rgb(rgb, o.image_side, o.image_side, o.image_side * 3, t).pixels;
        QVERIFY(at::equal(a, tile_image_file(p, t).pixels));
        ++n;
      }
    QCOMPARE(n, sum.images);
    // A record showing an image the store lacks: a stale store, said so.
    write_file(sum.jsonl_path, read_file(sum.jsonl_path) +
                                   R"({"id": "x", "image": "images/val/none.png", "conversations": )"
                                   R"([{"from": "human", "value": "<image>\nHi"}, {"from": "gpt", "value": "yes"}]})" "\n");
    QVERIFY(input_error([&] { read_dataset(sum.jsonl_path); }).second.find("stale") != std::string::npos);
    // Without the store the image files are read, and must exist.
    QVERIFY(std::filesystem::remove(ImageStore::path_beside(sum.jsonl_path)));
    QVERIFY(input_error([&] { read_dataset(sum.jsonl_path); }).first.find("not found") != std::string::npos);
  }

  void answersMatchThePixels() {
    QTemporaryDir dir;
    const JobContext ctx;
    auto o = options(dir.path().toStdString(), "train", 150, 11);
    o.questions_per_scene = 2;
    const SceneDataSummary sum = make_scene_dataset(o, ctx);
    const std::vector<Sample> records = read_jsonl(sum.jsonl_path);
    const std::vector<SceneDataSample> truth = generate_scene_samples(o, ctx);
    QCOMPARE(records.size(), truth.size());
    int checked = 0;
    for (size_t i = 0; i < records.size(); ++i) {
      QCOMPARE(records[i].images.size(), truth[i].scenes.size());
      std::vector<Scene> seen;  // the scenes as the pixels of the PNG files show them
      for (size_t k = 0; k < records[i].images.size(); ++k) {
        const std::vector<uint8_t> px = load_rgb(records[i].images[k]);
        QCOMPARE(px, render_scene(truth[i].scenes[k]));
        const auto s = scene_from_pixels(px, o.image_side);
        QVERIFY2(s, records[i].images[k].c_str());
        QCOMPARE(describe(*s), describe(truth[i].scenes[k]));
        seen.push_back(*s);
      }
      for (const auto& [q, a] : qa_pairs(records[i])) {
        const auto from_pixels = answer_question(seen, q);
        QVERIFY2(from_pixels, q.c_str());
        QVERIFY2(*from_pixels == a, qPrintable(QString::fromStdString(records[i].id + ": " + q + " -> " + a + ", pixels say " + *from_pixels)));
        ++checked;
      }
    }
    QVERIFY(checked > 250);
  }

  void wordsAreDrawnInTheirColour() {
    SceneRng rng(5);
    int words = 0;
    for (int n = 0; n < 40; ++n) {
      const Scene s = random_scene(rng, {112, 0.7});
      const std::vector<uint8_t> px = render_scene(s);
      const int cell = s.side / kGrid;
      for (const SceneObject& o : s.objects) {
        if (o.kind != Kind::word) continue;
        ++words;
        int best = 0;  // the pixel farthest from the background must show the word's colour
        Rgb far = background_rgb();
        for (int y = o.row() * cell; y < (o.row() + 1) * cell; ++y)
          for (int x = o.col() * cell; x < (o.col() + 1) * cell; ++x) {
            const Rgb p = pixel(px, s.side, x, y);
            int d = 0;
            for (int ch = 0; ch < 3; ++ch) d += std::abs(int(p[ch]) - background_rgb()[ch]);
            if (d > best) best = d, far = p;
          }
        QCOMPARE(colour_name(blended_colour(far)), colour_name(o.colour));
      }
    }
    QVERIFY(words > 20);
  }
#endif

  void answerFunctionAgreesWithTheObjects() {
    Scene s;  // red large circle top left, blue square bottom right, red square top right
    s.objects = {{Kind::circle, Colour::red, Size::large, 0, ""},
                 {Kind::square, Colour::blue, Size::small, 15, ""},
                 {Kind::square, Colour::red, Size::small, 3, ""}};
    validate(s);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"<image>\nIs there a red circle in the image?", "yes"},
        {"Is there a blue circle in the image?", "no"},
        {"What colour is the circle?", "red"},
        {"What shape is the blue object?", "square"},
        {"How many squares are there?", "two"},
        {"How many crosses are there?", "zero"},
        {"How many objects are there?", "three"},
        {"Where is the blue square?", "bottom right"},
        {"Where is the red square?", "top right"},
        {"Is the red circle left of the blue square?", "yes"},
        {"Is the red circle above the blue square?", "yes"},
        {"Is the blue square below the red square?", "yes"},
        {"Is the red circle right of the blue square?", "no"},
    };
    for (const auto& [q, a] : cases) {
      const auto got = answer_question({s}, q);
      QVERIFY2(got && *got == a, q.c_str());
    }
    // Ambiguous or malformed questions get no answer.
    for (const char* q : {"What colour is the square?", "What shape is the red object?", "Is the red square above the blue square?x",
                          "Is the red circle above the red square?", "Where is the green circle?", "Hello?", ""})
      QVERIFY2(!answer_question({s}, q), q);
    Scene w = s;
    w.objects[1] = {Kind::word, Colour::green, Size::large, 5, "OK"};
    QCOMPARE(*answer_question({w}, "What does the green word say?"), std::string("ok"));
    QCOMPARE(*answer_question({s, w}, "Image 1: <image>\nImage 2: <image>\nIn image 2, how many words are there?"), std::string("one"));
    QVERIFY(!answer_question({s, w}, "In image 3, how many words are there?"));
    QVERIFY(!answer_question({s, w}, "How many words are there?"));  // which image?

    // make_question's answers agree with the reader for every family, many random scenes.
    SceneRng rng(99);
    int asked = 0;
    for (int n = 0; n < 400; ++n) {
      const Family f = all_families()[size_t(n % 7)];
      std::vector<Scene> images(f == Family::multi ? 3 : 1);
      for (Scene& im : images) im = random_scene(rng, {112, 0.2});
      AskOptions ao;
      ao.want_yes = n % 2 == 0;
      ao.with_words = true;
      const auto qa = make_question(f, images, ao, rng);
      if (!qa) continue;
      ++asked;
      const auto got = answer_question(images, qa->question);
      QVERIFY2(got && *got == qa->answer, qPrintable(QString::fromStdString(qa->question + " -> " + qa->answer)));
      QVERIFY(qa->answer.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == std::string::npos);
    }
    QVERIFY(asked > 300);
  }

  void yesNoIsBalancedAndFamiliesAreMixed() {
    const JobContext ctx;
    const auto samples = generate_scene_samples(options("", "train", 1500, 21), ctx);
    std::map<std::string, std::pair<int, int>> yn;
    std::map<std::string, int> families;
    std::set<std::string> negatives;
    for (const auto& s : samples) {
      ++families[s.record.family];
      for (const auto& [q, a] : qa_pairs(s.record)) {
        if (a == "yes") ++yn[s.record.family].first;
        if (a == "no") ++yn[s.record.family].second;
      }
      if (s.record.family == "exist") negatives.insert(s.details.at(0));
    }
    QCOMPARE(families.size(), size_t(7));
    QVERIFY2(families["multi"] > 75 && families["multi"] < 225, "multi is about 10%");
    // Draw weights: the defaults written out give the same samples; multi at 100 of 190 is about half.
    SceneDataOptions w = options("", "train", 1500, 21);
    for (Family f : w.families) w.weights.push_back(default_family_weight(f));
    const auto same = generate_scene_samples(w, ctx);
    for (size_t i = 0; i < samples.size(); i += 97) QCOMPARE(same[i].record.id, samples[i].record.id);
    w.weights.back() = 100;  // all_families() ends with multi
    QCOMPARE(w.families.back(), Family::multi);
    int multi = 0;
    for (const auto& s : generate_scene_samples(w, ctx)) multi += s.record.family == "multi";
    QVERIFY2(multi > 650 && multi < 930, qPrintable(QString("multi %1 of 1500").arg(multi)));
    for (const char* f : {"exist", "relation", "multi"}) {
      const auto [y, n] = yn[f];
      QVERIFY2(y > 15 && std::abs(y - n) <= 1, qPrintable(QString("%1: %2 yes, %3 no").arg(f).arg(y).arg(n)));
    }
    QCOMPARE(negatives, (std::set<std::string>{"positive", "random", "popular", "adversarial"}));
    // Negative kinds are also in the id, e.g. train-000012-exist-adversarial.
    QVERIFY(std::any_of(samples.begin(), samples.end(), [](const SceneDataSample& s) {
      return s.record.id.size() > 18 && s.record.id.substr(s.record.id.size() - 18) == "-exist-adversarial";
    }));
  }

  void heldOutScenesNeverAppearInTraining() {
    const JobContext ctx;
    std::map<std::string, std::set<uint64_t>> hashes;
    for (const char* split : {"train", "val", "test"}) {
      auto o = options("", split, 700, 1);  // the same seed for all: the split still keeps them apart
      for (const auto& s : generate_scene_samples(o, ctx))
        for (const Scene& sc : s.scenes) {
          QCOMPARE(split_name(scene_split(sc)), split);
          hashes[split].insert(scene_hash(sc));
        }
    }
    for (const char* a : {"train", "val", "test"})
      for (const char* b : {"train", "val", "test"}) {
        if (std::string(a) >= b) continue;
        std::vector<uint64_t> both;
        std::set_intersection(hashes[a].begin(), hashes[a].end(), hashes[b].begin(), hashes[b].end(), std::back_inserter(both));
        QVERIFY2(both.empty(), qPrintable(QString("%1 and %2 share %3 scenes").arg(a).arg(b).arg(both.size())));
      }
    QVERIFY(hashes["test"].size() > 100 && hashes["train"].size() > 300);
    // The hash is the content: object order and canvas size do not change it.
    Scene s = generate_scene_samples(options("", "train", 1, 2), ctx)[0].scenes[0];
    Scene t = s;
    std::reverse(t.objects.begin(), t.objects.end());
    t.side = 224;
    QCOMPARE(scene_hash(s), scene_hash(t));
  }

  void optionsAreValidatedAndCancellationStops() {
    const JobContext ctx;
    auto bad = [&](auto change, const char* part) {
      auto o = options("x", "train", 10, 0);
      change(o);
      const auto [msg, hint] = input_error([&] { generate_scene_samples(o, ctx); });
      QVERIFY2(msg.find(part) != std::string::npos, msg.c_str());
    };
    bad([](SceneDataOptions& o) { o.split = "dev"; }, "unknown split");
    bad([](SceneDataOptions& o) { o.count = 0; }, "count");
    bad([](SceneDataOptions& o) { o.families = {}; }, "no question families");
    bad([](SceneDataOptions& o) { o.families = {Family::exist, Family::exist}; }, "named twice");
    bad([](SceneDataOptions& o) { o.weights = {1, 2}; }, "one weight per family");
    bad([](SceneDataOptions& o) { o.families = {Family::exist}; o.weights = {0}; }, "weight of exist");
    bad([](SceneDataOptions& o) { o.image_side = 110; }, "image size");
    bad([](SceneDataOptions& o) { o.questions_per_scene = 0; }, "questions per scene");
    bad([](SceneDataOptions& o) { o.word_prob = 1.5; }, "word probability");
    QVERIFY(input_error([] { parse_family("colour"); }).second.find("exist, color") != std::string::npos);

    QTemporaryDir dir;
    JobContext cancelled;
    int progress = 0;
    cancelled.sink = [&](const Event& e) {
      if (std::holds_alternative<ProgressEvent>(e) && ++progress == 3) cancelled.cancel.cancel();
    };
    auto o = options(dir.path().toStdString(), "test", 400, 0);
    QVERIFY_THROWS_EXCEPTION(Cancelled, make_scene_dataset(o, cancelled));
    QCOMPARE(progress, 3);
    QVERIFY(!QFile::exists(dir.filePath("test.jsonl")));
  }

  void corpusCoversEveryWord() {
    std::set<std::string> vocab;
    auto words_of = [](const std::string& text, std::set<std::string>& into) {
      std::string w;
      for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) w += c;
        else if (!w.empty()) into.insert(w), w.clear();
      }
    };
    for (const std::string& s : scene_text_corpus(50, 1)) words_of(s, vocab);
    const JobContext ctx;
    auto o = options("", "train", 600, 4);
    o.questions_per_scene = 2;
    o.word_prob = 0.3;
    std::set<std::string> used;
    for (const auto& s : generate_scene_samples(o, ctx))
      for (const auto& [q, a] : qa_pairs(s.record)) {
        words_of(q, used);
        if (q.find("word say") == std::string::npos) words_of(a, used);  // a word's letters are random
      }
    QVERIFY(used.count("word") && used.count("say"));
    for (const std::string& w : used) QVERIFY2(vocab.count(w), w.c_str());
    QVERIFY(vocab.count("ABCDEFGHIJKLMNOPQRSTUVWXYZ") && vocab.count("crosses") && vocab.count("four"));
  }

  void jsonlRoundTrips() {
    QTemporaryDir dir, elsewhere;
    QDir().mkpath(dir.filePath("img"));
    const std::string a = test::temp_path(dir, "img/a.png"), b = test::temp_path(dir, "img/b.png");
    const std::string outside = test::temp_path(elsewhere, "c.png");
    for (const auto& p : {a, b, outside}) write_file(p, "png");
    std::vector<Sample> in(3);
    in[0] = {"one", {a}, {{true, "<image>\nWhat colour is the circle?"}, {false, "red"}}, "color"};
    in[1] = {"two", {a, outside}, {{true, "Image 1: <image>\nImage 2: <image>\nSay \"hi\"\ttwice ✓"}, {false, "hi hi"},
                                   {true, "again?"}, {false, "no"}}, ""};
    in[2] = {"", {}, {{true, "text only"}, {false, "ok"}}, "chat"};
    const std::string path = test::temp_path(dir, "data.jsonl");
    write_jsonl(path, in);
    const std::string text = read_file(path);
    QVERIFY2(text.find("\"image\":\"img/a.png\"") != std::string::npos, text.c_str());
    QVERIFY(text.find(outside) != std::string::npos);  // outside the directory: kept absolute
    QCOMPARE(std::count(text.begin(), text.end(), '\n'), 3L);
    const std::vector<Sample> out = read_jsonl(path);
    QCOMPARE(out.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i) {
      QCOMPARE(out[i].id, in[i].id);
      QCOMPARE(out[i].images, in[i].images);
      QCOMPARE(out[i].family, in[i].family);
      QCOMPARE(out[i].turns.size(), in[i].turns.size());
      for (size_t t = 0; t < in[i].turns.size(); ++t) {
        QCOMPARE(out[i].turns[t].from_human, in[i].turns[t].from_human);
        QCOMPARE(out[i].turns[t].value, in[i].turns[t].value);
      }
    }
    // user/assistant, a numeric id, blank lines and CRLF are accepted too.
    write_file(path, "\n{\"id\": 7, \"image\": [\"img/b.png\"], \"conversations\": [{\"from\": \"user\", \"value\": \"<image>\\nq\"}, "
                     "{\"from\": \"assistant\", \"value\": \"a\"}]}\r\n\n");
    const auto one = read_jsonl(path);
    QCOMPARE(one.size(), size_t(1));
    QCOMPARE(one[0].id, std::string("7"));
    QCOMPARE(one[0].images, std::vector<std::string>{b});
    // The writer refuses records the reader would refuse, and reports unwritable paths.
    std::vector<Sample> mismatch = {{"m", {a, b}, {{true, "<image>\nq"}, {false, "a"}}, ""}};
    QVERIFY(input_error([&] { write_jsonl(path, mismatch); }).first.find("placeholder") != std::string::npos);
    QVERIFY_THROWS_EXCEPTION(IoError, write_jsonl(test::temp_path(dir, "no/such/dir/x.jsonl"), in));
  }

  void readJsonlNamesTheLineOfABadRecord() {
    QTemporaryDir dir;
    write_file(test::temp_path(dir, "a.png"), "png");
    const std::string good = R"({"image": "a.png", "conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}]})";
    const std::string conv = R"("conversations": [{"from": "human", "value": "<image>\nq"}, {"from": "gpt", "value": "a"}])";
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"{not json", "not valid JSON"},
        {"[1, 2]", "not an object"},
        {"null", "not an object"},
        {R"({"image": "a.png"})", "no \"conversations\""},
        {R"({"conversations": "hi"})", "not a list"},
        {R"({"conversations": [5]})", "turn 1 is a number"},
        {R"({"conversations": [{"from": "human", "value": 5}, {"from": "gpt", "value": "a"}]})", "\"value\""},
        {R"({"conversations": [{"from": "robot", "value": "x"}, {"from": "gpt", "value": "a"}]})", "unknown speaker"},
        {R"({"conversations": [{"from": "human", "value": "x"}, {"from": "human", "value": "y"}]})", "should come from gpt"},
        {R"({"conversations": [{"from": "human", "value": "x"}]})", "ends with a human turn"},
        {R"({"conversations": []})", "no turns"},
        {R"({"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "<image>"}]})", "gpt turn holds <image>"},
        {R"({"image": 7, )" + conv + "}", "\"image\" is a number"},
        {R"({"image": ["a.png", {"x": 1}], )" + conv + "}", "not a path string"},
        {R"({"image": ["a.png", "a.png"], )" + conv + "}", "1 <image> placeholder(s) but 2 image(s)"},
        {R"({"image": "missing.png", )" + conv + "}", "missing.png"},
        {R"({"id": {"a": 1}, )" + conv + "}", "\"id\" is an object"},
        {R"({"family": [], )" + conv + "}", "\"family\""},
        {"{\"image\": \"a\xff.png\", " + conv + "}", "not valid JSON"},
        {std::string(100000, '['), "nests deeper"},
        {"\"" + std::string(17 << 20, 'x') + "\"", "longer than 16 MiB"},
    };
    const std::string path = test::temp_path(dir, "bad.jsonl");
    for (const auto& [line, part] : cases) {
      write_file(path, good + "\n\n" + line + "\n" + good + "\n");
      const auto [msg, hint] = input_error([&] { read_jsonl(path); });
      const std::string shown = msg.substr(0, 300);
      QVERIFY2(msg.find(path + ":3: ") == 0, shown.c_str());
      QVERIFY2(msg.find(part) != std::string::npos, (shown + "  [expected: " + part + "]").c_str());
      QVERIFY2(!hint.empty(), shown.c_str());
    }
    // Damaged records (bytes flipped, dropped or cut off): a record or an InputError, never a crash.
    SceneRng rng(17);
    for (int trial = 0; trial < 300; ++trial) {
      std::string line = good;
      for (int k = 0, n = 1 + rng.below(4); k < n; ++k) {
        const size_t at = size_t(rng.below(int(line.size())));
        switch (rng.below(3)) {
          case 0: line[at] = char(rng.below(256)); break;
          case 1: line.erase(at, 1); break;
          default: line.resize(at); break;
        }
      }
      write_file(path, line + "\n");
      try {
        read_jsonl(path);
      } catch (const InputError& e) {
        QVERIFY2(std::string(e.what()).find(path + ":1: ") == 0 || std::string(e.what()).find("no records") != std::string::npos, e.what());
      }
    }
    write_file(path, "\n  \n");
    QVERIFY(input_error([&] { read_jsonl(path); }).first.find("no records") != std::string::npos);
    QVERIFY(input_error([&] { read_jsonl(test::temp_path(dir, "none.jsonl")); }).first.find("no JSONL file") != std::string::npos);
  }

  // Issue 10: text that spells a control token of the chat template is refused with file:line, so
  // such a record can no longer pass the checks and crash a run at a fixed step.
  void recordsSpellingControlTokensAreRefused() {
    QTemporaryDir dir;
    const std::string path = test::temp_path(dir, "tokens.jsonl");
    const std::string ok = R"({"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]})";
    for (const char* token : kTemplateTokens)
      for (int turn = 0; turn < 2; ++turn) {
        nlohmann::json rec = nlohmann::json::parse(ok);
        rec["conversations"][turn]["value"] = std::string("look ") + token + " here";
        write_file(path, ok + "\n" + rec.dump() + "\n");
        const auto [msg, hint] = input_error([&] { read_jsonl(path); });
        QVERIFY2(msg.find(path + ":2: turn " + std::to_string(turn + 1) + " spells the control token " + token) == 0, msg.c_str());
        QVERIFY(!hint.empty());
        Sample s;
        s.turns = {{true, "q"}, {false, std::string("a") + token}};
        QVERIFY(!input_error([&] { write_jsonl(test::temp_path(dir, "out.jsonl"), {s}); }).first.empty());
      }
    write_file(path, ok + "\n");
    QCOMPARE(read_jsonl(path).size(), size_t(1));
  }

#if MM_WITH_OPENCV
  // Issue 10: make-data into an existing dataset writes a staging copy and swaps it in, so a run that
  // stops halfway leaves the old JSONL pointing at the old pictures.
  void anInterruptedMakeDataKeepsTheOldSplit() {
    namespace fs = std::filesystem;
    QTemporaryDir dir;
    const std::string out = dir.path().toStdString();
    make_scene_dataset(options(out, "test", 12, 1), JobContext{});
    auto snapshot = [&] {
      std::map<std::string, std::string> files;
      for (const auto& e : fs::recursive_directory_iterator(out))
        if (e.is_regular_file()) files[e.path().string()] = read_file(e.path().string());
      return files;
    };
    const auto before = snapshot();
    JobContext stop;
    int progress = 0;
    stop.sink = [&](const Event& e) {
      if (std::holds_alternative<ProgressEvent>(e) && ++progress == 4) stop.cancel.cancel();
    };
    QVERIFY_THROWS_EXCEPTION(Cancelled, make_scene_dataset(options(out, "test", 12, 2), stop));
    QVERIFY(snapshot() == before);  // not one picture overwritten, no staging directory left
    make_scene_dataset(options(out, "test", 12, 2), JobContext{});
    const auto after = snapshot();
    QVERIFY(after.size() == before.size() && after != before);
    const auto records = read_jsonl(out + "/test.jsonl");
    for (const Sample& r : records)
      for (const std::string& im : r.images) QVERIFY2(fs::exists(im), im.c_str());
  }

  // A make-data killed in the middle of its commit (between moving the pictures and the JSONL) used to
  // leave the old JSONL over the new pictures, and images/.test.old-PID forever. The next make-data
  // undoes such a commit when the new pictures had not gone in yet, and finishes it when they had.
  void aCommitKilledHalfwayIsFinishedOrUndone() {
    namespace fs = std::filesystem;
    QTemporaryDir dir;
    const fs::path a = dir.path().toStdString() + "/a", b = dir.path().toStdString() + "/b";
    make_scene_dataset(options(a.string(), "test", 6, 1), JobContext{});
    make_scene_dataset(options(b.string(), "test", 6, 2), JobContext{});
    auto snapshot = [](const fs::path& root) {
      std::map<std::string, std::string> files;
      for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path().string());
      return files;
    };
    const auto old_split = snapshot(a), new_split = snapshot(b);
    QVERIFY(old_split != new_split);
    const std::string dead = "99999999";  // past pid_max: no live process has it
    for (bool pictures_moved : {false, true}) {
      const fs::path out = dir.path().toStdString() + (pictures_moved ? "/finish" : "/undo");
      fs::copy(a, out, fs::copy_options::recursive);
      const fs::path staged = out / (".staging-test-" + dead);
      fs::create_directories(staged / "images");
      fs::rename(out / "images" / "test", out / "images" / (".test.old-" + dead));
      for (const char* f : {"test.jsonl", "test.images.safetensors"}) fs::copy_file(b / f, staged / f);
      fs::copy(b / "images" / "test", (pictures_moved ? out : staged) / "images" / "test", fs::copy_options::recursive);
      { SplitStaging next(out.string(), "test"); }  // what the next make-data does first
      QVERIFY2(snapshot(out) == (pictures_moved ? new_split : old_split), out.c_str());
      for (const auto& e : fs::recursive_directory_iterator(out))
        QVERIFY2(e.path().filename().string().find(dead) == std::string::npos, e.path().c_str());
    }
  }

  // Issue 10: a PNG that cannot be written (here: the disk is full) is an error at once, not an
  // empty file noticed at the end.
  void failedPngWritesAreErrors() {
    QTemporaryDir dir;
    const std::string path = test::temp_path(dir, "full.png");
    QVERIFY(::symlink("/dev/full", path.c_str()) == 0);
    SceneRng rng(3);
    const Scene s = random_scene(rng, SceneOptions{112, 0.0});
    try {
      write_scene_png(s, path);
      QFAIL("writing to a full disk must fail");
    } catch (const IoError& e) {
      QVERIFY2(e.hint().find("disk is full") != std::string::npos, e.full_message().c_str());
    }
  }
#endif
};

QTEST_GUILESS_MAIN(TestData)
#include "test_data.moc"
