#include "text/tokenizer_files.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <random>

#include "runtime/errors.h"
#include "runtime/files.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace mm {

const std::vector<std::string>& internvl_added_tokens() {
  static const std::vector<std::string> t = {kImgStart, kImgEnd, kImgContext, "<quad>", "</quad>",
                                             "<ref>",   "</ref>", "<box>",     "</box>"};
  return t;
}

void refuse_existing_tokenizer(const std::string& dir) {
  if (!std::filesystem::exists(dir + "/tokenizer.model")) return;
  throw InputError(dir + " already holds a tokenizer (tokenizer.model); a new one would replace it, and a model "
                   "trained with the old one would read the wrong words",
                   "write the new tokenizer into a new folder, or delete " + dir + "/tokenizer.model first; "
                   "a dataset (make-data --out) needs no tokenizer");
}

void write_tokenizer_dir(const std::string& dir, int vocab_size, const std::vector<std::string>& sentences) {
  const int n_added = int(internvl_added_tokens().size());
  if (vocab_size < 330) throw InputError("a tokenizer needs a vocabulary of at least 330 (got " + std::to_string(vocab_size) + ")",
                     "the scene text and the added tokens need 330 pieces; the default --vocab is 2048");
  refuse_existing_tokenizer(dir);
  std::filesystem::create_directories(dir);
  Tokenizer::train(sentences, dir + "/tokenizer", vocab_size - n_added, {kImStart, kImEnd});
  nlohmann::json added = nlohmann::json::object(), decoder = nlohmann::json::object();
  for (int i = 0; i < n_added; ++i) {
    const int id = vocab_size - n_added + i;
    added[internvl_added_tokens()[i]] = id;
    decoder[std::to_string(id)] = {{"content", internvl_added_tokens()[i]}, {"special", true}};
  }
  const nlohmann::json config = {{"tokenizer_class", "InternLM2Tokenizer"}, {"bos_token", "<s>"}, {"eos_token", "</s>"},
                                 {"unk_token", "<unk>"}, {"added_tokens_decoder", decoder}};
  const nlohmann::json special = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"},
                                  {"additional_special_tokens", {kImStart, kImEnd}}};
  write_text_atomic(dir + "/added_tokens.json", added.dump(2) + "\n");
  write_text_atomic(dir + "/tokenizer_config.json", config.dump(2) + "\n");
  write_text_atomic(dir + "/special_tokens_map.json", special.dump(2) + "\n");
}

std::vector<std::string> sample_scene_sentences(int count, unsigned seed) {
  static const char* colours[] = {"red", "green", "blue", "yellow", "purple", "orange", "white", "black", "grey", "pink"};
  static const char* shapes[] = {"circle", "square", "triangle", "star", "ring", "cross", "diamond", "rectangle"};
  static const char* places[] = {"left of", "right of", "above", "below", "next to", "far from"};
  static const char* openers[] = {"Is there a", "How many", "What colour is the", "Where is the", "The image shows a",
                                  "Yes, there is a", "No, there is no", "I can see a"};
  std::mt19937 rng(seed);
  auto pick = [&](auto& arr) { return arr[rng() % (sizeof(arr) / sizeof(arr[0]))]; };
  std::vector<std::string> out;
  out.reserve(count);
  for (int i = 0; i < count; ++i)
    out.push_back(std::string(pick(openers)) + " " + pick(colours) + " " + pick(shapes) + " " + pick(places) + " the " +
                  pick(colours) + " " + pick(shapes) + "? " + std::to_string(rng() % 10) + " of them.");
  return out;
}

}  // namespace mm
