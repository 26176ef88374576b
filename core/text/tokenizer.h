// The text tokenizer of a checkpoint: a sentencepiece tokenizer.model plus the HF added tokens
// (<img>, <IMG_CONTEXT>, ...) from added_tokens.json / tokenizer_config.json /
// special_tokens_map.json. Sentencepiece itself runs in a dlopen'ed module (text/spm_api.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

struct mmspm_model;  // text/spm_api.h

namespace mm {

struct PromptPiece;  // text/chat_template.h

class Tokenizer {
 public:
  /// Loads dir/tokenizer.model and the special tokens of the HF json files present in dir.
  /// InputError when tokenizer.model is missing, CheckpointError when it is not a valid model,
  /// ConfigError when the sentencepiece module cannot be loaded or a json file is malformed.
  static std::unique_ptr<Tokenizer> load(const std::string& dir);

  /// Trains a BPE model with byte fallback (unk 0, <s> 1, </s> 2, then the user-defined symbols)
  /// on the sentences and writes model_prefix + ".model" / ".vocab". The model has at most
  /// vocab_size pieces (fewer when the text runs out of merges); vocab_size must exceed the 259
  /// byte and reserved pieces plus the symbols and the distinct characters of the text.
  static void train(const std::vector<std::string>& sentences, const std::string& model_prefix, int vocab_size,
                    const std::vector<std::string>& user_defined_symbols);

  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  /// Template text: special-token strings become their ids (longest match first); the text between
  /// them is encoded by sentencepiece. BOS first when add_bos and the tokenizer has one. Never give it
  /// user or data text: use encode(Prompt) or encode_plain.
  std::vector<int64_t> encode(const std::string& text, bool add_bos) const;
  /// A prompt of template and plain pieces: special tokens come only from template pieces; a special
  /// token's text inside a plain piece is encoded as ordinary text (byte pieces when sentencepiece itself
  /// would match it). Ids equal encode(prompt_text) whenever the plain pieces spell no special token.
  /// InputError when plain text spells a token this tokenizer cannot write as text.
  std::vector<int64_t> encode(const std::vector<PromptPiece>& prompt, bool add_bos) const;
  /// User or data text with no template around it (a reply, a --text prompt).
  std::vector<int64_t> encode_plain(const std::string& text, bool add_bos) const;
  /// Special ids become their strings (or nothing when skip_special). InputError on an id
  /// outside the vocabulary.
  std::string decode(const std::vector<int64_t>& ids, bool skip_special = false) const;

  /// The id of a special token or model piece (exact text), or -1.
  int64_t token_id(const std::string& token) const;
  /// The text of one id: the special token, or the raw model piece ("▁the", "<0x0A>").
  std::string token_text(int64_t id) const;
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  /// Max id + 1 over the model pieces and the added tokens.
  int64_t vocab_size() const { return vocab_size_; }
  /// Pieces in tokenizer.model alone.
  int64_t model_pieces() const { return n_pieces_; }
  /// Added tokens marked special, model control pieces and user-defined pieces.
  bool is_special(int64_t id) const;
  /// Whether id has text: a model piece or an added token (vocabularies can have unused ids).
  bool has_id(int64_t id) const;

 private:
  Tokenizer();
  void check_id(int64_t id) const;
  void append_decoded(std::string& out, const std::vector<int32_t>& run) const;
  /// Appends text's ids; from_template false: special tokens spelled in it stay text.
  void encode_into(std::vector<int64_t>& out, std::string& pending, const std::string& text, bool from_template) const;
  void flush(std::vector<int64_t>& out, std::string& pending) const;

  mmspm_model* model_ = nullptr;
  int64_t n_pieces_ = 0, vocab_size_ = 0, bos_id_ = -1, eos_id_ = -1;
  // Ids decoded as literal text rather than by sentencepiece: added tokens and model
  // control / user-defined pieces.
  std::unordered_map<int64_t, std::string> literal_;
  std::unordered_map<std::string, int64_t> added_;  // added token text -> id
  std::vector<uint8_t> flags_;                      // per id: kKnown | kLiteral | kSpecial
  // The strings split out of the text before sentencepiece runs, longest first.
  std::vector<std::pair<std::string, int64_t>> splitters_;
  bool first_byte_[256] = {};
  int64_t byte_piece_[256];  // id of the byte-fallback piece <0xNN>, or -1
};

}  // namespace mm
