// Writes the HF tokenizer files of a small model: a sentencepiece model trained on given text plus
// the InternVL added tokens at the top of the vocabulary (so <IMG_CONTEXT> = vocab - 7).
#pragma once

#include <string>
#include <vector>

namespace mm {

/// The 9 InternVL added tokens in id order: <img>, </img>, <IMG_CONTEXT>, <quad>, </quad>, <ref>, </ref>, <box>, </box>.
const std::vector<std::string>& internvl_added_tokens();

/// Trains tokenizer.model (at most vocab_size - 9 pieces, with <|im_start|> and <|im_end|>) on the
/// sentences and writes tokenizer.model, added_tokens.json, tokenizer_config.json and
/// special_tokens_map.json into dir. Refuses a dir that already holds a tokenizer.model (InputError).
void write_tokenizer_dir(const std::string& dir, int vocab_size, const std::vector<std::string>& sentences);

/// InputError when dir already holds a tokenizer.model, which write_tokenizer_dir would replace.
void refuse_existing_tokenizer(const std::string& dir);

/// A few thousand short sentences about coloured shapes: enough text for a placeholder tokenizer.
std::vector<std::string> sample_scene_sentences(int count, unsigned seed);

}  // namespace mm
