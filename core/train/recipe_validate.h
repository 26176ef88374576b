// Everything that can be checked about a recipe before stage 1 runs: the plan, every stage's "from",
// that the teacher, tokenizer and data exist, the teacher architecture and its overrides. The CLI,
// the training jobs and the studio's Start all call validate_recipe, so a typo costs seconds, not a stage.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "config/model_config.h"
#include "train/recipe.h"

namespace mm {

/// ConfigError (or InputError for missing files) naming the field on the first problem; returns
/// warnings about settings that are valid but probably not meant (e.g. a plan that trains nothing).
std::vector<std::string> validate_recipe(const Recipe& r);

/// A teacher-training recipe's model: the preset with the overrides applied. Every override is checked
/// (a positive integer in range, divisibility) before any arithmetic on it; ConfigError names the key.
ModelConfig teacher_architecture(const std::string& preset, const nlohmann::json& overrides);

/// The entry of `valid` nearest to `key` by edit distance, or "" when none is close.
std::string nearest_name(const std::string& key, const std::vector<std::string>& valid);

}  // namespace mm
