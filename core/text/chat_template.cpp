#include "text/chat_template.h"

#include "runtime/errors.h"

namespace mm {

const char* const kDefaultSystemPrompt =
    "你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, 是一个有用无害的人工智能助手。";

std::string trained_system_prompt(const std::map<std::string, std::string>& metadata) {
  if (auto it = metadata.find("mmmamba.system_prompt"); it != metadata.end()) return it->second;
  return metadata.count("mmmamba.stage") ? std::string() : std::string(kDefaultSystemPrompt);
}

namespace {

size_t count_occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + what.size())) ++n;
  return n;
}

void append_block(std::string& out, const std::string& role, const std::string& text) {
  out += kImStart;
  out += role;
  out += '\n';
  out += text;
  out += kImEnd;
}

void check_role(const std::string& role) {
  if (role != "user" && role != "assistant")
    throw InputError("unknown chat role '" + role + "'", "a turn is either \"user\" or \"assistant\"");
}

void add(Prompt& p, std::string text, bool from_template) {
  if (text.empty()) return;
  if (!p.empty() && p.back().from_template == from_template) p.back().text += text;
  else p.push_back({std::move(text), from_template});
}

/// Plain user text with its <image> placeholders replaced by template image blocks.
void add_user_text(Prompt& p, const std::string& text, const std::vector<int>& ctx, size_t& image_at) {
  const std::string placeholder = kImagePlaceholder;
  size_t pos = 0;
  for (size_t at = text.find(placeholder); at != std::string::npos; at = text.find(placeholder, pos)) {
    if (image_at >= ctx.size()) break;  // counted and reported by the caller
    add(p, text.substr(pos, at - pos), false);
    const int n = ctx[image_at++];
    if (n < 0) throw InputError("an image cannot have " + std::to_string(n) + " context tokens");
    std::string block = kImgStart;
    for (int i = 0; i < n; ++i) block += kImgContext;
    add(p, block + kImgEnd, true);
    pos = at + placeholder.size();
  }
  add(p, text.substr(pos), false);
}

Prompt chat_prompt_turns(const std::string& system, const std::vector<ChatTurn>& turns, bool add_generation_prompt,
                         const std::vector<int>& context_tokens_per_image, bool with_template) {
  size_t placeholders = 0;
  for (const ChatTurn& t : turns) {
    check_role(t.role);
    if (t.role == "user") placeholders += count_occurrences(t.text, kImagePlaceholder);
  }
  if (placeholders != context_tokens_per_image.size())
    throw InputError("the text has " + std::to_string(placeholders) + " <image> placeholder(s) but " +
                         std::to_string(context_tokens_per_image.size()) + " image(s) were given",
                     "write one <image> per image, or none to have them put before the question");
  Prompt p;
  size_t image_at = 0;
  if (!system.empty()) {
    add(p, std::string(kImStart) + "system\n", true);
    add(p, system, false);
    add(p, kImEnd, true);
  }
  for (const ChatTurn& t : turns) {
    if (with_template) add(p, std::string(kImStart) + t.role + "\n", true);
    if (t.role == "user") add_user_text(p, t.text, context_tokens_per_image, image_at);
    else add(p, t.text, false);
    if (with_template) add(p, kImEnd, true);
  }
  if (add_generation_prompt) add(p, std::string(kImStart) + "assistant\n", true);
  return p;
}

}  // namespace

Prompt image_prompt(const std::string& text, const std::vector<int>& context_tokens_per_image) {
  return chat_prompt_turns({}, {{"user", text}}, false, context_tokens_per_image, false);
}

std::string prompt_text(const Prompt& prompt) {
  std::string out;
  for (const PromptPiece& p : prompt) out += p.text;
  return out;
}

Prompt chat_prompt(const std::string& system, const std::vector<ChatTurn>& turns, bool add_generation_prompt,
                   const std::vector<int>& context_tokens_per_image) {
  return chat_prompt_turns(system, turns, add_generation_prompt, context_tokens_per_image, true);
}

std::string render_internlm2_chat(const std::string& system, const std::vector<ChatTurn>& turns,
                                  bool add_generation_prompt) {
  std::string out;
  if (!system.empty()) append_block(out, "system", system);
  for (const ChatTurn& t : turns) {
    check_role(t.role);
    append_block(out, t.role, t.text);
  }
  if (add_generation_prompt) {
    out += kImStart;
    out += "assistant\n";
  }
  return out;
}

std::string expand_image_placeholders(const std::string& text, const std::vector<int>& context_tokens_per_image) {
  const std::string placeholder = kImagePlaceholder;
  const size_t n_placeholders = count_occurrences(text, placeholder);
  if (n_placeholders != context_tokens_per_image.size())
    throw InputError("the text has " + std::to_string(n_placeholders) + " <image> placeholder(s) but " +
                         std::to_string(context_tokens_per_image.size()) + " image(s) were given",
                     "write one <image> per image, or none to have them put before the question");
  std::string out;
  size_t pos = 0;
  for (int n : context_tokens_per_image) {
    if (n < 0) throw InputError("an image cannot have " + std::to_string(n) + " context tokens");
    const size_t at = text.find(placeholder, pos);
    out.append(text, pos, at - pos);
    out += kImgStart;
    const std::string ctx = kImgContext;
    out.reserve(out.size() + size_t(n) * ctx.size() + 8);
    for (int i = 0; i < n; ++i) out += ctx;
    out += kImgEnd;
    pos = at + placeholder.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::string ensure_image_placeholders(const std::string& question, int n_images) {
  if (n_images <= 0 || question.find(kImagePlaceholder) != std::string::npos) return question;
  std::string out;
  for (int i = 0; i < n_images; ++i) {
    out += kImagePlaceholder;
    out += '\n';
  }
  return out + question;
}

}  // namespace mm
