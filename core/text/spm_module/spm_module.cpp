// The sentencepiece module: implements text/spm_api.h over sentencepiece. This is the only
// code that links sentencepiece; it is built with hidden visibility so that nothing but the
// mmspm_* functions leaves it, and every exception stops at the C boundary.
#include "../spm_api.h"

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct mmspm_model {
  sentencepiece::SentencePieceProcessor sp;
  std::vector<uint8_t> types;  // ModelProto.SentencePiece.Type per id (1 = NORMAL)
};

namespace {

// SentencePiece.Type values of sentencepiece_model.proto.
constexpr uint8_t kTypeUserDefined = 4;

void set_error(char* err, size_t errlen, const std::string& msg) {
  if (err && errlen > 0) std::snprintf(err, errlen, "%s", msg.c_str());
}

// Copies s into out (as much as fits) and returns its full length.
int64_t copy_out(const std::string& s, char* out, size_t cap) {
  if (out && cap > 0) std::memcpy(out, s.data(), std::min(cap, s.size()));
  return int64_t(s.size());
}

// A minimal protobuf wire-format reader: enough to walk ModelProto.pieces, since the
// processor of this sentencepiece version does not say which pieces are user-defined.
struct WireReader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;

  bool more() const { return ok && p < end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && p < end; shift += 7) {
      const uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  // Skips a field of the given wire type; returns the bytes of a length-delimited one.
  WireReader skip(uint32_t wire_type) {
    WireReader sub{p, p};
    if (wire_type == 0) {
      varint();
    } else if (wire_type == 1 || wire_type == 5) {
      const size_t n = wire_type == 1 ? 8 : 4;
      if (size_t(end - p) < n) ok = false; else p += n;
    } else if (wire_type == 2) {
      const uint64_t n = varint();
      if (!ok || n > uint64_t(end - p)) {
        ok = false;
      } else {
        sub = WireReader{p, p + n};
        p += n;
      }
    } else {
      ok = false;  // groups are not used by sentencepiece
    }
    return sub;
  }
};

// Piece types in id order, read from the serialized ModelProto (field 1: repeated pieces,
// each with field 3: type). Empty on a parse failure.
std::vector<uint8_t> piece_types(const std::string& proto) {
  std::vector<uint8_t> types;
  WireReader r{reinterpret_cast<const uint8_t*>(proto.data()), reinterpret_cast<const uint8_t*>(proto.data()) + proto.size()};
  while (r.more()) {
    const uint64_t key = r.varint();
    WireReader sub = r.skip(uint32_t(key & 7));
    if (!r.ok) return {};
    if ((key >> 3) != 1 || (key & 7) != 2) continue;
    uint8_t type = 1;  // NORMAL is the default
    while (sub.more()) {
      const uint64_t k = sub.varint();
      if ((k >> 3) == 3 && (k & 7) == 0) type = uint8_t(sub.varint()); else sub.skip(uint32_t(k & 7));
    }
    if (!sub.ok) return {};
    types.push_back(type);
  }
  return types;
}

bool valid_id(const mmspm_model* m, int32_t id) { return m && id >= 0 && id < m->sp.GetPieceSize(); }

// Flags, one per line, as the trainer's key/value map ("--" prefixes dropped).
std::unordered_map<std::string, std::string> parse_flag_lines(const std::string& text) {
  std::unordered_map<std::string, std::string> kw;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    std::string line = text.substr(start, nl - start);
    start = nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    size_t i = 0;
    while (i < line.size() && i < 2 && line[i] == '-') ++i;
    const size_t eq = line.find('=', i);
    if (eq == std::string::npos) kw[line.substr(i)] = "true";
    else kw[line.substr(i, eq - i)] = line.substr(eq + 1);
  }
  return kw;
}

}  // namespace

extern "C" {

MMSPM_API int32_t mmspm_abi_version(void) { return MMSPM_ABI_VERSION; }

MMSPM_API mmspm_model* mmspm_load(const char* path, char* err, size_t errlen) {
  try {
    if (!path) {
      set_error(err, errlen, "no model path given");
      return nullptr;
    }
    auto m = std::make_unique<mmspm_model>();
    const auto status = m->sp.Load(path);
    if (!status.ok()) {
      set_error(err, errlen, status.ToString());
      return nullptr;
    }
    m->types = piece_types(m->sp.serialized_model_proto());
    if (int64_t(m->types.size()) != m->sp.GetPieceSize()) {
      set_error(err, errlen, "the model's piece list could not be read");
      return nullptr;
    }
    return m.release();
  } catch (const std::exception& e) {
    set_error(err, errlen, e.what());
  } catch (...) {
    set_error(err, errlen, "unknown error while loading the model");
  }
  return nullptr;
}

MMSPM_API void mmspm_free(mmspm_model* model) { delete model; }

MMSPM_API int64_t mmspm_encode(const mmspm_model* model, const char* text, size_t len, int32_t* out, size_t cap) {
  if (!model || (!text && len > 0)) return -1;
  try {
    std::vector<int> ids;
    if (!model->sp.Encode(std::string_view(text ? text : "", len), &ids).ok()) return -1;
    if (out) std::copy_n(ids.begin(), std::min(cap, ids.size()), out);
    return int64_t(ids.size());
  } catch (...) {
    return -1;
  }
}

MMSPM_API int64_t mmspm_decode(const mmspm_model* model, const int32_t* ids, size_t n, char* out, size_t cap) {
  if (!model || (!ids && n > 0)) return -1;
  try {
    std::vector<int> v(ids, ids + n);
    for (int id : v)
      if (!valid_id(model, id)) return -1;
    std::string text;
    if (!model->sp.Decode(v, &text).ok()) return -1;
    return copy_out(text, out, cap);
  } catch (...) {
    return -1;
  }
}

MMSPM_API int32_t mmspm_piece_size(const mmspm_model* model) { return model ? model->sp.GetPieceSize() : -1; }

MMSPM_API int64_t mmspm_id_to_piece(const mmspm_model* model, int32_t id, char* out, size_t cap) {
  if (!valid_id(model, id)) return -1;
  try {
    return copy_out(model->sp.IdToPiece(id), out, cap);
  } catch (...) {
    return -1;
  }
}

MMSPM_API int32_t mmspm_piece_to_id(const mmspm_model* model, const char* piece, size_t len) {
  if (!model || (!piece && len > 0)) return -1;
  try {
    const std::string_view s(piece ? piece : "", len);
    const int id = model->sp.PieceToId(s);
    // PieceToId answers unk_id for any unknown piece: check it really is that piece.
    return valid_id(model, id) && model->sp.IdToPiece(id) == s ? id : -1;
  } catch (...) {
    return -1;
  }
}

MMSPM_API int32_t mmspm_is_control(const mmspm_model* model, int32_t id) {
  return valid_id(model, id) && model->sp.IsControl(id);
}
MMSPM_API int32_t mmspm_is_user_defined(const mmspm_model* model, int32_t id) {
  return valid_id(model, id) && model->types[size_t(id)] == kTypeUserDefined;
}
MMSPM_API int32_t mmspm_is_unknown(const mmspm_model* model, int32_t id) {
  return valid_id(model, id) && model->sp.IsUnknown(id);
}
MMSPM_API int32_t mmspm_is_byte(const mmspm_model* model, int32_t id) {
  return valid_id(model, id) && model->sp.IsByte(id);
}

MMSPM_API int32_t mmspm_bos_id(const mmspm_model* model) { return model ? model->sp.bos_id() : -1; }
MMSPM_API int32_t mmspm_eos_id(const mmspm_model* model) { return model ? model->sp.eos_id() : -1; }
MMSPM_API int32_t mmspm_unk_id(const mmspm_model* model) { return model ? model->sp.unk_id() : -1; }
MMSPM_API int32_t mmspm_pad_id(const mmspm_model* model) { return model ? model->sp.pad_id() : -1; }

MMSPM_API int32_t mmspm_train(const char* args, char* err, size_t errlen) {
  try {
    if (!args) {
      set_error(err, errlen, "no trainer flags given");
      return 1;
    }
    const std::string text(args);
    const auto status = text.find('\n') == std::string::npos
                            ? sentencepiece::SentencePieceTrainer::Train(text)
                            : sentencepiece::SentencePieceTrainer::Train(parse_flag_lines(text));
    if (!status.ok()) {
      set_error(err, errlen, status.ToString());
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    set_error(err, errlen, e.what());
  } catch (...) {
    set_error(err, errlen, "unknown error while training");
  }
  return 1;
}

}  // extern "C"
