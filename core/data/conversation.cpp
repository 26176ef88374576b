// JSONL conversation records: a strict reader for untrusted files and an atomic writer.
// Hostile input (huge lines, deep nesting, wrong types, invalid UTF-8) gives InputError, never a crash.
#include "data/conversation.h"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "runtime/errors.h"
#include "text/chat_template.h"

namespace fs = std::filesystem;

namespace mm::data {
namespace {

constexpr size_t kMaxLineBytes = size_t(16) << 20;  // 16 MiB: far beyond any sane record
constexpr int kMaxDepth = 16;                       // a valid record nests 3 levels deep
constexpr size_t kMaxRecordImages = 256;
constexpr size_t kMaxTurns = 4096;

const char* const kFormatHint =
    "each line is {\"image\": \"a.png\" | [...], \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\n...\"}, "
    "{\"from\": \"gpt\", \"value\": \"...\"}]}";

struct TooDeep {};

size_t count_placeholders(const std::string& text) {
  const std::string tag = kImagePlaceholder;
  size_t n = 0;
  for (size_t p = text.find(tag); p != std::string::npos; p = text.find(tag, p + tag.size())) ++n;
  return n;
}

/// Reads one line (without '\n' and a trailing '\r') of at most kMaxLineBytes; false at the end of input.
bool read_line(std::istream& in, std::string& line, bool& too_long) {
  line.clear();
  too_long = false;
  std::streambuf* buf = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = buf->sbumpc();
    if (c == std::char_traits<char>::eof()) break;
    any = true;
    if (c == '\n') break;
    if (line.size() >= kMaxLineBytes) {
      too_long = true;  // keep consuming so the next line is read from its start
      continue;
    }
    line.push_back(char(c));
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return any;
}

/// The checks shared by the reader and the writer; `where` prefixes every message.
void check_sample(const Sample& s, const std::string& where) {
  if (s.turns.empty()) throw InputError(where + ": the conversation has no turns", kFormatHint);
  size_t placeholders = 0;
  for (size_t i = 0; i < s.turns.size(); ++i) {
    const Turn& t = s.turns[i];
    if (t.from_human != (i % 2 == 0))
      throw InputError(where + ": turn " + std::to_string(i + 1) + " should come from " + (i % 2 == 0 ? "human" : "gpt"),
                       "turns alternate human, gpt, human, gpt, ...");
    for (const char* control : kTemplateTokens)
      if (t.value.find(control) != std::string::npos)
        throw InputError(where + ": turn " + std::to_string(i + 1) + " spells the control token " + control,
                         "control tokens come from the chat template only; remove it from the record (write <image> "
                         "where an image goes)");
    const size_t n = count_placeholders(t.value);
    if (n > 0 && !t.from_human)
      throw InputError(where + ": a gpt turn holds <image>", "only human turns show images");
    placeholders += n;
  }
  if (s.turns.back().from_human)
    throw InputError(where + ": the conversation ends with a human turn", "end each conversation with a gpt answer");
  if (placeholders != s.images.size())
    throw InputError(where + ": " + std::to_string(placeholders) + " <image> placeholder(s) but " +
                         std::to_string(s.images.size()) + " image(s)",
                     "put one <image> in the human turns per image, in order");
}

const nlohmann::json& field(const nlohmann::json& rec, const char* name) {
  static const nlohmann::json null_value;
  const auto it = rec.find(name);
  return it == rec.end() ? null_value : *it;
}

/// "an object", "a number", "null", ... for messages.
std::string type_name(const nlohmann::json& j) {
  if (j.is_null()) return "null";
  const std::string t = j.type_name();
  return (t[0] == 'a' || t[0] == 'o' ? "an " : "a ") + t;
}

Sample parse_record(const nlohmann::json& rec, const std::string& where, const fs::path& dir, bool check_files) {
  if (!rec.is_object()) throw InputError(where + ": the record is " + type_name(rec) + ", not an object", kFormatHint);
  Sample s;
  if (const auto& id = field(rec, "id"); id.is_string())
    s.id = id.get<std::string>();
  else if (id.is_number_integer())
    s.id = id.dump();
  else if (!id.is_null())
    throw InputError(where + ": \"id\" is " + type_name(id) + ", not a string", kFormatHint);
  if (const auto& fam = field(rec, "family"); fam.is_string())
    s.family = fam.get<std::string>();
  else if (!fam.is_null())
    throw InputError(where + ": \"family\" is " + type_name(fam) + ", not a string", kFormatHint);

  const auto& img = field(rec, "image");
  std::vector<std::string> names;
  if (img.is_string()) {
    names.push_back(img.get<std::string>());
  } else if (img.is_array()) {
    if (img.size() > kMaxRecordImages) throw InputError(where + ": more than 256 images in one record");
    for (const auto& e : img) {
      if (!e.is_string()) throw InputError(where + ": an \"image\" entry is " + type_name(e) + ", not a path string", kFormatHint);
      names.push_back(e.get<std::string>());
    }
  } else if (!img.is_null()) {
    throw InputError(where + ": \"image\" is " + type_name(img) + ", not a path or a list of paths", kFormatHint);
  }
  for (const std::string& n : names) {
    if (n.empty() || n.find('\0') != std::string::npos) throw InputError(where + ": an image path is empty or invalid", kFormatHint);
    s.images.push_back((fs::path(n).is_absolute() ? fs::path(n) : dir / n).lexically_normal().string());
  }

  const auto& conv = field(rec, "conversations");
  if (conv.is_null()) throw InputError(where + ": no \"conversations\" field", kFormatHint);
  if (!conv.is_array()) throw InputError(where + ": \"conversations\" is " + type_name(conv) + ", not a list", kFormatHint);
  if (conv.size() > kMaxTurns) throw InputError(where + ": more than 4096 turns in one conversation");
  for (size_t i = 0; i < conv.size(); ++i) {
    const auto& t = conv[i];
    const std::string turn = where + ": turn " + std::to_string(i + 1);
    if (!t.is_object()) throw InputError(turn + " is " + type_name(t) + ", not an object", kFormatHint);
    const auto& from = field(t, "from");
    const auto& value = field(t, "value");
    if (!from.is_string()) throw InputError(turn + ": \"from\" is missing or not a string", kFormatHint);
    if (!value.is_string()) throw InputError(turn + ": \"value\" is missing or not a string", kFormatHint);
    const std::string f = from.get<std::string>();
    Turn out;
    if (f == "human" || f == "user")
      out.from_human = true;
    else if (f == "gpt" || f == "assistant")
      out.from_human = false;
    else
      throw InputError(turn + ": unknown speaker \"" + f + "\"", "\"from\" is \"human\" (or \"user\") or \"gpt\" (or \"assistant\")");
    out.value = value.get<std::string>();
    s.turns.push_back(std::move(out));
  }
  check_sample(s, where);
  for (const std::string& p : s.images) {
    std::error_code ec;
    if (check_files && !fs::is_regular_file(p, ec))
      throw InputError(where + ": image file not found: " + p,
                       "image paths are relative to the JSONL file's directory; check that the file exists");
  }
  return s;
}

/// The path as written into the file: relative to dir when it lies under it.
std::string relative_if_under(const std::string& image, const fs::path& dir) {
  std::error_code ec;
  fs::path abs = fs::absolute(image, ec).lexically_normal();
  if (ec) return image;
  const fs::path rel = abs.lexically_relative(dir);
  if (rel.empty() || *rel.begin() == "..") return abs.string();
  return rel.generic_string();
}

}  // namespace

std::vector<Sample> read_jsonl(const std::string& path, bool check_image_files) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InputError("no JSONL file at " + path, "check the path");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path, "check the file's permissions");
  const fs::path dir = fs::absolute(fs::path(path), ec).parent_path();
  // Refuses nesting deeper than any valid record before it is built (the parser itself is iterative).
  const nlohmann::json::parser_callback_t depth_guard = [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) throw TooDeep{};
    return true;
  };
  std::vector<Sample> out;
  std::string line;
  bool too_long = false;
  for (size_t lineno = 1; read_line(in, line, too_long); ++lineno) {
    const std::string where = path + ":" + std::to_string(lineno);
    if (too_long) throw InputError(where + ": the line is longer than 16 MiB", "one record per line; is this a JSONL file?");
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json rec;
    try {
      rec = nlohmann::json::parse(line, depth_guard);
    } catch (const TooDeep&) {
      throw InputError(where + ": the JSON nests deeper than 16 levels", kFormatHint);
    } catch (const nlohmann::json::exception& e) {
      throw InputError(where + ": not valid JSON (" + e.what() + ")", "write one JSON object per line, in UTF-8");
    }
    out.push_back(parse_record(rec, where, dir, check_image_files));
  }
  if (in.bad()) throw IoError("error while reading " + path, "check the disk and the file");
  if (out.empty()) throw InputError(path + ": no records (the file is empty)", kFormatHint);
  return out;
}

void write_jsonl(const std::string& path, const std::vector<Sample>& samples) {
  std::error_code ec;
  const fs::path dir = fs::absolute(fs::path(path), ec).parent_path().lexically_normal();
  std::string text;
  for (size_t i = 0; i < samples.size(); ++i) {
    const Sample& s = samples[i];
    const std::string where = "record " + std::to_string(i + 1) + (s.id.empty() ? "" : " (" + s.id + ")");
    check_sample(s, where);
    nlohmann::ordered_json rec;
    if (!s.id.empty()) rec["id"] = s.id;
    if (s.images.size() == 1) {
      rec["image"] = relative_if_under(s.images[0], dir);
    } else if (!s.images.empty()) {
      rec["image"] = nlohmann::ordered_json::array();
      for (const auto& im : s.images) rec["image"].push_back(relative_if_under(im, dir));
    }
    rec["conversations"] = nlohmann::ordered_json::array();
    for (const Turn& t : s.turns) rec["conversations"].push_back({{"from", t.from_human ? "human" : "gpt"}, {"value", t.value}});
    if (!s.family.empty()) rec["family"] = s.family;
    try {
      text += rec.dump();
    } catch (const nlohmann::json::exception&) {
      throw InputError(where + ": a text field is not valid UTF-8", "give record text in UTF-8");
    }
    text += '\n';
  }
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      fs::remove(tmp, ec);
      throw IoError("cannot write " + path, "check that the directory exists, is writable and has free space");
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw IoError("cannot rename " + tmp + " to " + path, "check the directory's permissions");
  }
}

}  // namespace mm::data
