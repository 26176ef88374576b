// InternVL-style conversation records (one JSON object per line), the data format of teacher training,
// distillation and evaluation. Users bring their own data in the same format:
//   {"id": "...", "image": "a.png" | ["a.png", "b.png"], "conversations": [
//      {"from": "human", "value": "<image>\nWhat colour is the circle?"}, {"from": "gpt", "value": "red"}, ...],
//    "family": "color"}            // optional: question family, used by evaluation
// Image paths are relative to the JSONL file's directory (or absolute).
#pragma once

#include <string>
#include <vector>

namespace mm::data {

struct Turn {
  bool from_human = true;  ///< "human" (user) or "gpt" (assistant)
  std::string value;       ///< human turns carry one "<image>" per image they show
};

struct Sample {
  std::string id;
  std::vector<std::string> images;  ///< resolved to absolute paths by the reader
  std::vector<Turn> turns;          ///< alternating, starting with a human turn, ending with a gpt turn
  std::string family;               ///< "" when the record has none
};

/// Reads every record; InputError naming the file, the line number and what is wrong on a bad record
/// (not JSON, missing/ill-typed field, turns not alternating, <image> count != image count, missing image
/// file, unless check_image_files is false). An empty file is an error too.
std::vector<Sample> read_jsonl(const std::string& path, bool check_image_files = true);

/// Writes records atomically (temp file + rename); image paths are written relative to the file's directory
/// when they lie under it.
void write_jsonl(const std::string& path, const std::vector<Sample>& samples);

}  // namespace mm::data
