// The InternVL "internlm2-chat" conversation template (MPT separator style) and the expansion of
// <image> placeholders into the image-context tokens that the vision embeddings replace.
#pragma once

#include <string>
#include <vector>

namespace mm {

inline constexpr const char* kImStart = "<|im_start|>";
inline constexpr const char* kImEnd = "<|im_end|>";
inline constexpr const char* kImgStart = "<img>";
inline constexpr const char* kImgEnd = "</img>";
inline constexpr const char* kImgContext = "<IMG_CONTEXT>";
/// What a user writes where an image goes.
inline constexpr const char* kImagePlaceholder = "<image>";

/// InternVL's default system prompt.
extern const char* const kDefaultSystemPrompt;

struct ChatTurn {
  std::string role;  // "user" | "assistant"
  std::string text;
};

/// "<|im_start|>system\n{system}<|im_end|>" (left out when system is empty), then
/// "<|im_start|>{role}\n{text}<|im_end|>" per turn, then "<|im_start|>assistant\n" when
/// add_generation_prompt. InputError on any other role.
std::string render_internlm2_chat(const std::string& system, const std::vector<ChatTurn>& turns,
                                  bool add_generation_prompt);

/// Replaces the i-th <image> with <img> + <IMG_CONTEXT> x context_tokens_per_image[i] + </img>.
/// InputError when the number of <image> differs from the number of images.
std::string expand_image_placeholders(const std::string& text, const std::vector<int>& context_tokens_per_image);

/// Prefixes "<image>\n" per image when the question holds no <image> (and n_images > 0).
std::string ensure_image_placeholders(const std::string& question, int n_images);

}  // namespace mm
