// The InternVL "internlm2-chat" conversation template (MPT separator style) and the expansion of
// <image> placeholders into the image-context tokens that the vision embeddings replace.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mm {

inline constexpr const char* kImStart = "<|im_start|>";
inline constexpr const char* kImEnd = "<|im_end|>";
inline constexpr const char* kImgStart = "<img>";
inline constexpr const char* kImgEnd = "</img>";
inline constexpr const char* kImgContext = "<IMG_CONTEXT>";
/// The tokens only the template writes; user and data text never becomes one of them.
inline constexpr const char* kTemplateTokens[] = {kImStart, kImEnd, kImgStart, kImgEnd, kImgContext};
/// What a user writes where an image goes.
inline constexpr const char* kImagePlaceholder = "<image>";

/// InternVL's default system prompt.
extern const char* const kDefaultSystemPrompt;

/// The system prompt a checkpoint was trained with, from its safetensors metadata: the recorded
/// "mmmamba.system_prompt"; "" for a model trained here before that was recorded (an "mmmamba.stage"
/// and no prompt: the recipes' default is none); InternVL's for anything else (HoVLE checkpoints).
std::string trained_system_prompt(const std::map<std::string, std::string>& metadata);

struct ChatTurn {
  std::string role;  // "user" | "assistant"
  std::string text;
};

/// A piece of prompt text. Template pieces may spell special tokens, which become their ids; plain
/// pieces are user or data text and are encoded as text whatever they spell (the rule of HF's
/// split_special_tokens and llama.cpp's parse_special = false), so no one can forge a turn from a prompt.
struct PromptPiece {
  std::string text;
  bool from_template = false;
};
using Prompt = std::vector<PromptPiece>;

/// The whole prompt's text (what the model reads, for display).
std::string prompt_text(const Prompt& prompt);

/// The internlm2-chat prompt as pieces (the layout of render_internlm2_chat): the system prompt and the
/// turn texts are plain; the turn markers and, for the i-th <image> of the user turns, <img> +
/// <IMG_CONTEXT> x context_tokens_per_image[i] + </img> come from the template. InputError when the
/// number of <image> differs from the number of images, or on an unknown role.
Prompt chat_prompt(const std::string& system, const std::vector<ChatTurn>& turns, bool add_generation_prompt,
                   const std::vector<int>& context_tokens_per_image = {});

/// Plain text whose i-th <image> becomes the template's image block of context_tokens_per_image[i]
/// tokens (no chat template around it). InputError when the counts differ.
Prompt image_prompt(const std::string& text, const std::vector<int>& context_tokens_per_image);

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
