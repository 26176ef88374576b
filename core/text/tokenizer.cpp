#include "text/tokenizer.h"

#include <dlfcn.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <unordered_map>

#include "runtime/errors.h"
#include "text/chat_template.h"
#include "text/spm_api.h"

namespace mm {

namespace fs = std::filesystem;

namespace {

// ---- the sentencepiece module ----

// The module functions the engine uses, bound by name.
#define MM_SPM_FUNCTIONS(X) \
  X(abi_version) X(load) X(free) X(encode) X(decode) X(piece_size) X(id_to_piece) X(piece_to_id) \
  X(is_control) X(is_user_defined) X(bos_id) X(eos_id) X(train)

struct SpmApi {
#define MM_SPM_FIELD(name) decltype(&mmspm_##name) name = nullptr;
  MM_SPM_FUNCTIONS(MM_SPM_FIELD)
#undef MM_SPM_FIELD
};

struct ModuleState {
  SpmApi api;
  std::string error;  // empty when api is usable
};

template <class Fn>
void bind(void* lib, const char* name, Fn& fn, std::string& missing) {
  fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!fn) missing += std::string(missing.empty() ? "" : ", ") + name;
}

// Tries each candidate path; the first module that opens, has every symbol and the right ABI wins.
ModuleState open_module() {
  std::vector<std::string> candidates;
  std::string tried;
  if (const char* env = std::getenv("MMMAMBA_SPM_MODULE"); env && *env) candidates.push_back(env);
#ifdef MM_SPM_MODULE_BUILD_PATH
  if (fs::exists(MM_SPM_MODULE_BUILD_PATH)) candidates.push_back(MM_SPM_MODULE_BUILD_PATH);
  else tried += std::string("\n  ") + MM_SPM_MODULE_BUILD_PATH + ": not built";
#endif
#ifdef MM_SPM_MODULE_INSTALL_SUBPATH
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back((exe.parent_path() / ".." / MM_SPM_MODULE_INSTALL_SUBPATH).lexically_normal().string());
#endif
#if !defined(MM_SPM_MODULE_BUILD_PATH) && !defined(MM_SPM_MODULE_INSTALL_SUBPATH)
  if (candidates.empty())
    return {{}, "this build has no sentencepiece support, so tokenizer.model cannot be read "
                "(configure with -DMM_WITH_SENTENCEPIECE=ON)"};
#endif
  // DEEPBIND keeps the module's protobuf apart from LibTorch's. AddressSanitizer refuses it, so
  // under ASan the module loads but sentencepiece fails its protobuf version check (an error).
#ifdef __SANITIZE_ADDRESS__
  const int flags = RTLD_NOW | RTLD_LOCAL;
#else
  const int flags = RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND;
#endif
  for (const std::string& path : candidates) {
    void* lib = dlopen(path.c_str(), flags);
    if (!lib) {
      const char* e = dlerror();
      const std::string why = e ? e : "cannot open";
      tried += "\n  " + (why.find(path) == 0 ? why : path + ": " + why);
      continue;
    }
    SpmApi a;
    std::string missing;
#define MM_SPM_BIND(name) bind(lib, "mmspm_" #name, a.name, missing);
    MM_SPM_FUNCTIONS(MM_SPM_BIND)
#undef MM_SPM_BIND
    if (!missing.empty()) {
      tried += "\n  " + path + ": not an mmspm module (missing " + missing + ")";
    } else if (a.abi_version() != MMSPM_ABI_VERSION) {
      tried += "\n  " + path + ": ABI version " + std::to_string(a.abi_version()) + ", expected " +
               std::to_string(MMSPM_ABI_VERSION);
    } else {
      return {a, {}};  // stays loaded for the life of the process
    }
    dlclose(lib);
  }
#if !defined(MM_SPM_MODULE_BUILD_PATH) && !defined(MM_SPM_MODULE_INSTALL_SUBPATH)
  tried += "\n  (this build has no sentencepiece module of its own)";
#endif
  return {{}, "cannot load the sentencepiece module; tried:" + tried};
}

const SpmApi& spm() {
  static const ModuleState state = open_module();
  if (!state.error.empty())
    throw ConfigError(state.error, "set MMMAMBA_SPM_MODULE to the path of libmmspm.so, or reinstall");
  return state.api;
}

// Calls fill(buffer, cap) -> needed size, growing the buffer until everything fits.
template <class T, class Fill>
std::vector<T> fill_buffer(size_t guess, Fill fill, const char* what) {
  std::vector<T> buf(std::max<size_t>(guess, 16));
  int64_t n = fill(buf.data(), buf.size());
  if (n > int64_t(buf.size())) buf.resize(size_t(n)), n = fill(buf.data(), buf.size());
  if (n < 0 || n > int64_t(buf.size())) throw InputError(std::string("sentencepiece could not ") + what + " the text");
  buf.resize(size_t(n));
  return buf;
}

std::string model_piece(const mmspm_model* model, int32_t id) {
  const std::vector<char> s =
      fill_buffer<char>(32, [&](char* out, size_t cap) { return spm().id_to_piece(model, id, out, cap); }, "read");
  return std::string(s.begin(), s.end());
}

// ---- the HF json files ----

nlohmann::json read_json(const fs::path& path) {
  std::ifstream f(path);
  if (!f) return nullptr;
  try {
    return nlohmann::json::parse(f);
  } catch (const std::exception& e) {
    throw ConfigError("cannot parse " + path.string() + ": " + e.what(), "fix or delete the file");
  }
}

// A token given as "<s>" or {"content": "<s>", ...}; empty when absent.
std::string token_string(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

struct AddedToken {
  std::string text;
  bool special = true;
};

enum : uint8_t { kKnown = 1, kLiteral = 2, kSpecial = 4 };
constexpr int64_t kMaxId = (int64_t(1) << 24) - 1;  // sanity bound on added-token ids

}  // namespace

Tokenizer::Tokenizer() = default;

Tokenizer::~Tokenizer() {
  if (model_) spm().free(model_);
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string& dir) {
  const fs::path root(dir);
  const fs::path model_path = root / "tokenizer.model";
  std::error_code ec;
  if (!fs::is_regular_file(model_path, ec))
    throw InputError("no tokenizer.model in " + dir,
                     "copy tokenizer.model (with added_tokens.json and tokenizer_config.json) from the original "
                     "Hugging Face checkpoint into this directory");
  if (!std::ifstream(model_path, std::ios::binary))
    throw IoError("cannot read " + model_path.string(), "check the file's permissions");
  const SpmApi& api = spm();
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  char err[1024] = {};
  t->model_ = api.load(model_path.c_str(), err, sizeof err);
  if (!t->model_)
    throw CheckpointError("cannot load " + model_path.string() + " as a sentencepiece model: " + err,
                          "the file is not a sentencepiece model or is damaged; copy it again from the original checkpoint");
  t->n_pieces_ = api.piece_size(t->model_);

  // Added tokens by id, from added_tokens.json then tokenizer_config.json's added_tokens_decoder.
  std::map<int64_t, AddedToken> added;
  auto bad = [&](const std::string& file, const std::string& why) {
    return ConfigError((root / file).string() + ": " + why, "fix the file or take it again from the original checkpoint");
  };
  const nlohmann::json added_json = read_json(root / "added_tokens.json");
  if (added_json.is_object()) {
    for (const auto& [text, id] : added_json.items()) {
      if (text.empty() || !id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > kMaxId)
        throw bad("added_tokens.json", "bad added token '" + text + "'");
      added[id.get<int64_t>()] = {text, true};
    }
  }
  const nlohmann::json config = read_json(root / "tokenizer_config.json");
  const nlohmann::json special_map = read_json(root / "special_tokens_map.json");
  if (config.is_object() && config.contains("added_tokens_decoder") && config["added_tokens_decoder"].is_object()) {
    for (const auto& [key, tok] : config["added_tokens_decoder"].items()) {
      char* end = nullptr;
      const int64_t id = std::strtoll(key.c_str(), &end, 10);
      const std::string text = token_string(tok);
      if (key.empty() || *end || id < 0 || id > kMaxId || text.empty())
        throw bad("tokenizer_config.json", "bad added token '" + key + "'");
      const bool special = !(tok.is_object() && tok.contains("special") && tok["special"].is_boolean()) ||
                           tok["special"].get<bool>();
      added[id] = {text, special};
    }
  }

  int64_t max_id = t->n_pieces_ - 1;
  if (!added.empty()) max_id = std::max(max_id, added.rbegin()->first);
  t->vocab_size_ = max_id + 1;
  t->flags_.assign(size_t(t->vocab_size_), 0);
  for (int32_t id = 0; id < t->n_pieces_; ++id) {
    t->flags_[size_t(id)] = kKnown;
    const bool user_defined = api.is_user_defined(t->model_, id);
    if (user_defined || api.is_control(t->model_, id)) {
      t->flags_[size_t(id)] |= kLiteral | kSpecial;
      t->literal_[id] = model_piece(t->model_, id);
      if (user_defined) t->splitters_.emplace_back(t->literal_[id], id);
    }
  }
  for (const auto& [id, tok] : added) {
    t->flags_[size_t(id)] = uint8_t(kKnown | kLiteral | (tok.special ? kSpecial : 0));
    t->literal_[id] = tok.text;
    t->added_[tok.text] = id;
    t->splitters_.emplace_back(tok.text, id);
  }
  // additional_special_tokens name pieces that must also stay whole and count as special.
  if (special_map.is_object() && special_map.contains("additional_special_tokens") &&
      special_map["additional_special_tokens"].is_array()) {
    for (const auto& j : special_map["additional_special_tokens"]) {
      const std::string text = token_string(j);
      const int64_t id = text.empty() ? -1 : t->token_id(text);
      if (id < 0 || (t->flags_[size_t(id)] & kLiteral)) continue;
      t->flags_[size_t(id)] |= kLiteral | kSpecial;
      t->literal_[id] = text;
      t->splitters_.emplace_back(text, id);
    }
  }
  std::sort(t->splitters_.begin(), t->splitters_.end(), [](const auto& a, const auto& b) {
    return a.first.size() != b.first.size() ? a.first.size() > b.first.size() : a.first < b.first;
  });
  t->splitters_.erase(std::unique(t->splitters_.begin(), t->splitters_.end()), t->splitters_.end());
  for (const auto& s : t->splitters_)
    if (!s.first.empty()) t->first_byte_[uint8_t(s.first[0])] = true;

  // BOS / EOS: the config's token when it names one, else the model's.
  auto reserved = [&](const char* key, int64_t model_id) {
    for (const nlohmann::json* j : {&config, &special_map}) {
      if (!j->is_object() || !j->contains(key)) continue;
      const std::string text = token_string((*j)[key]);
      const int64_t id = text.empty() ? -1 : t->token_id(text);
      if (id >= 0) return id;
    }
    return model_id;
  };
  t->bos_id_ = reserved("bos_token", api.bos_id(t->model_));
  t->eos_id_ = reserved("eos_token", api.eos_id(t->model_));
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    const int64_t id = api.piece_to_id(t->model_, name, std::strlen(name));
    t->byte_piece_[b] = id >= 0 && id < t->n_pieces_ && model_piece(t->model_, int32_t(id)) == name ? id : -1;
  }
  return t;
}

void Tokenizer::flush(std::vector<int64_t>& out, std::string& pending) const {
  if (pending.empty()) return;
  const std::vector<int32_t> ids = fill_buffer<int32_t>(
      pending.size() + 8,
      [&](int32_t* buf, size_t cap) { return spm().encode(model_, pending.data(), pending.size(), buf, cap); }, "encode");
  out.insert(out.end(), ids.begin(), ids.end());
  pending.clear();
}

void Tokenizer::encode_into(std::vector<int64_t>& out, std::string& pending, const std::string& text,
                            bool from_template) const {
  size_t i = 0;
  while (i < text.size()) {
    const auto match = !first_byte_[uint8_t(text[i])]
                           ? splitters_.end()
                           : std::find_if(splitters_.begin(), splitters_.end(),
                                          [&](const auto& s) { return text.compare(i, s.first.size(), s.first) == 0; });
    if (match == splitters_.end()) {
      pending += text[i++];
      continue;
    }
    const auto& [literal, id] = *match;
    i += literal.size();
    if (from_template || !is_special(id)) {  // template tokens, and added tokens that are not special
      flush(out, pending);
      out.push_back(id);
    } else if (id >= n_pieces_) {
      pending += literal;  // an added token sentencepiece does not know: plain text to it
    } else {
      // A model piece sentencepiece would match itself: spell it in byte pieces.
      flush(out, pending);
      for (const char c : literal) {
        const int64_t b = byte_piece_[uint8_t(c)];
        if (b < 0)
          throw InputError("the text spells the special token " + literal + ", which this tokenizer cannot encode as text",
                           "remove it from the text");
        out.push_back(b);
      }
    }
  }
}

std::vector<int64_t> Tokenizer::encode(const std::vector<PromptPiece>& prompt, bool add_bos) const {
  std::vector<int64_t> out;
  if (add_bos && bos_id_ >= 0) out.push_back(bos_id_);
  std::string pending;  // text for sentencepiece, across pieces, so plain text tokenizes as it always did
  for (const PromptPiece& p : prompt) encode_into(out, pending, p.text, p.from_template);
  flush(out, pending);
  return out;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool add_bos) const {
  return encode(std::vector<PromptPiece>{{text, true}}, add_bos);
}

std::vector<int64_t> Tokenizer::encode_plain(const std::string& text, bool add_bos) const {
  return encode(std::vector<PromptPiece>{{text, false}}, add_bos);
}

bool Tokenizer::has_id(int64_t id) const {
  return id >= 0 && id < vocab_size_ && (flags_[size_t(id)] & kKnown);
}

void Tokenizer::check_id(int64_t id) const {
  if (id < 0 || id >= vocab_size_)
    throw InputError("token id " + std::to_string(id) + " is outside the vocabulary (0 .. " +
                     std::to_string(vocab_size_ - 1) + ")");
  if (!(flags_[size_t(id)] & kKnown))
    throw InputError("token id " + std::to_string(id) + " is not in the vocabulary (no model piece or added token has it)");
}

void Tokenizer::append_decoded(std::string& out, const std::vector<int32_t>& run) const {
  if (run.empty()) return;
  const SpmApi& api = spm();
  const std::vector<char> text = fill_buffer<char>(
      run.size() * 8, [&](char* buf, size_t cap) { return api.decode(model_, run.data(), run.size(), buf, cap); },
      "decode");
  out.append(text.begin(), text.end());
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids, bool skip_special) const {
  std::string out;
  std::vector<int32_t> run;  // model pieces decoded together, so that spacing follows the model
  for (int64_t id : ids) {
    check_id(id);
    const uint8_t f = flags_[size_t(id)];
    if (!(f & kLiteral)) {
      run.push_back(int32_t(id));
      continue;
    }
    append_decoded(out, run);
    run.clear();
    if (!(skip_special && (f & kSpecial))) out += literal_.at(id);
  }
  append_decoded(out, run);
  return out;
}

int64_t Tokenizer::token_id(const std::string& token) const {
  if (const auto it = added_.find(token); it != added_.end()) return it->second;
  return spm().piece_to_id(model_, token.data(), token.size());
}

std::string Tokenizer::token_text(int64_t id) const {
  check_id(id);
  const auto it = literal_.find(id);
  return it != literal_.end() ? it->second : model_piece(model_, int32_t(id));
}

bool Tokenizer::is_special(int64_t id) const {
  return id >= 0 && id < vocab_size_ && (flags_[size_t(id)] & kSpecial);
}

void Tokenizer::train(const std::vector<std::string>& sentences, const std::string& model_prefix, int vocab_size,
                      const std::vector<std::string>& user_defined_symbols) {
  if (sentences.empty()) throw InputError("no sentences to train a tokenizer on");
  if (vocab_size < 1) throw InputError("a tokenizer vocabulary of " + std::to_string(vocab_size) + " is too small");
  if (model_prefix.empty() || model_prefix.find('\n') != std::string::npos)
    throw InputError("bad tokenizer model prefix '" + model_prefix + "'");
  std::string symbols;
  for (const std::string& s : user_defined_symbols) {
    if (s.empty() || s.find_first_of(",\n") != std::string::npos)
      throw InputError("user-defined symbol '" + s + "' is empty or holds a comma or newline");
    symbols += (symbols.empty() ? "" : ",") + s;
  }
  const SpmApi& api = spm();
  const fs::path parent = fs::path(model_prefix).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) throw IoError("cannot create " + parent.string() + ": " + ec.message());
  if (access(parent.empty() ? "." : parent.c_str(), W_OK) != 0)
    throw IoError("cannot write the tokenizer into " + (parent.empty() ? std::string(".") : parent.string()),
                  "choose a writable directory");

  // The trainer reads its text from a file, one sentence a line.
  static std::atomic<int> counter{0};
  const fs::path input = fs::temp_directory_path(ec) /
                         ("mmspm-train-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".txt");
  struct Remove {
    fs::path p;
    ~Remove() {
      std::error_code e;
      fs::remove(p, e);
    }
  } remove_input{input};
  {
    std::ofstream f(input, std::ios::binary);
    for (const std::string& s : sentences) f << s << '\n';
    if (!f) throw IoError("cannot write the tokenizer training text to " + input.string(), "check the temp directory (TMPDIR)");
  }
  // hard_vocab_limit=false: a text with too few merges yields a smaller model instead of an error.
  std::string flags = "input=" + input.string() + "\nmodel_prefix=" + model_prefix +
                      "\nvocab_size=" + std::to_string(vocab_size) +
                      "\nmodel_type=bpe\nbyte_fallback=true\ncharacter_coverage=1.0\nhard_vocab_limit=false"
                      "\nnormalization_rule_name=identity\nremove_extra_whitespaces=false\nsplit_digits=true"
                      "\nunk_id=0\nbos_id=1\neos_id=2\npad_id=-1\nnum_threads=2\nminloglevel=2\n";
  if (!symbols.empty()) flags += "user_defined_symbols=" + symbols + "\n";
  char err[1024] = {};
  if (api.train(flags.c_str(), err, sizeof err) != 0)
    throw InputError(std::string("training the tokenizer failed: ") + err,
                     "raise the vocabulary size: byte fallback takes 259 pieces, plus one per user-defined symbol "
                     "and per distinct character of the text");
  if (!fs::is_regular_file(model_prefix + ".model", ec))
    throw IoError("the tokenizer trainer did not write " + model_prefix + ".model", "check that the directory is writable");
}

}  // namespace mm
