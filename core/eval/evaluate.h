// Accuracy on held-out conversations: the model answers the last question of each record greedily (all
// earlier turns given with their reference answers) and the reply is scored by normalised exact match
// against the reference, per question family and overall.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "data/conversation.h"
#include "runtime/job.h"

namespace mm {

struct FamilyScore {
  int64_t correct = 0;
  int64_t total = 0;
  double accuracy() const { return total ? double(correct) / double(total) : 0.0; }
};

struct EvalResult {
  std::string model;                        ///< checkpoint directory
  std::string label;                        ///< short name for tables ("teacher", "stage3", ...)
  std::map<std::string, FamilyScore> families;
  FamilyScore overall;
  std::map<int, FamilyScore> by_images;     ///< keyed by the number of images in the conversation
  double seconds = 0;
  std::vector<nlohmann::json> mistakes;     ///< every wrong answer: id, family, expected, got
};

struct EvalOptions {
  std::vector<std::string> checkpoints;
  std::vector<std::string> labels;  ///< optional, one per checkpoint
  std::string data;                 ///< held-out JSONL
  int64_t limit = 0;                ///< evaluate the first N records only (0 = all)
  int64_t max_new_tokens = 8;
  std::string system_prompt;
  std::string device = "cpu";
};

/// Lowercase, trimmed, trailing punctuation dropped: "Yes." == "yes".
std::string normalise_answer(const std::string& s);

namespace data {
class ImageStore;
}

/// Scores one model on samples (already read), their images from store when given (else their files).
/// Progress through ctx; cancellable.
EvalResult evaluate_checkpoint(const std::string& checkpoint, const std::string& label,
                               const std::vector<data::Sample>& samples, const EvalOptions& opts, const JobContext& ctx,
                               const data::ImageStore* store = nullptr);

std::vector<EvalResult> evaluate(const EvalOptions& opts, const JobContext& ctx);

/// A fixed-width table: one row per model, one column per family plus overall.
std::string format_eval_table(const std::vector<EvalResult>& results);
/// The same models by the number of images in a conversation (columns "1 image", "2 images", ...).
std::string format_images_table(const std::vector<EvalResult>& results);
nlohmann::json eval_json(const std::vector<EvalResult>& results);
/// eval_json read back; entries of the wrong shape are skipped (a hostile or hand-edited file).
std::vector<EvalResult> eval_from_json(const nlohmann::json& j);
std::string eval_csv(const std::vector<EvalResult>& results);

}  // namespace mm
