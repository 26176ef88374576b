// mmmamba logits: the logits at every position of a prompt, for comparing against other implementations.
#include <cstdio>
#include <sstream>

#include "cli/common.h"
#include "generate/generator.h"
#include "image/model_tiles.h"
#include "io/output_target.h"
#include "io/safetensors.h"
#include "io/tensor_io.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace mm::cli {
namespace {

std::vector<int64_t> parse_ids(const std::string& text) {
  const char* hint = "give ids as 1,2,3 or \"1 2 3\"";
  std::vector<int64_t> ids;
  std::string tok;
  std::stringstream ss(text);
  while (ss >> tok) {
    if (tok.front() == ',' || tok.back() == ',' || tok.find(",,") != std::string::npos)
      throw InputError("--ids: an empty entry in '" + tok + "'", hint);
    std::stringstream parts(tok);
    for (std::string part; std::getline(parts, part, ',');) {
      try {
        size_t used = 0;
        ids.push_back(std::stoll(part, &used));
        if (used != part.size()) throw std::invalid_argument(part);
      } catch (const std::exception&) {
        throw InputError("--ids: '" + part + "' is not a token id", hint);
      }
    }
  }
  if (ids.empty()) throw InputError("--ids is empty", hint);
  return ids;
}

}  // namespace

int cmd_logits(const std::vector<std::string>& argv) {
  Args args("logits", "DIR (--text TEXT | --ids I,J,...) [--image FILE]... --out FILE.safetensors",
            "Runs one full forward pass and writes `logits` (L, V) fp32 and `input_ids` (L) int64 to a\n"
            "safetensors file. --text is tokenized with BOS (use --chat to wrap it in the chat template);\n"
            "with images, <image> placeholders are expanded (added before the text when absent). --ids are\n"
            "used as given and must already hold the image-context tokens for any --image.",
            {{"text", "TEXT", "prompt text"},
             {"ids", "I,J,...", "raw token ids"},
             {"image", "FILE", "an image for the prompt", "", true},
             {"chat", "", "wrap --text in the internlm2-chat template"},
             {"system", "TEXT", "system prompt with --chat (default: the one the model was trained with)"},
             {"max-tiles", "N", "most tiles per image", "config"},
             {"out", "FILE", "output safetensors file"},
             {"device", "DEV", "auto, cpu, cuda[:N]", "cpu"},
             {"dtype", "DTYPE", "f32, bf16, f16 or auto", "f32"}});
  if (parse_or_help(args, argv)) return 0;
  const std::string dir = args.positional(0, "checkpoint directory");
  if (args.has("text") == args.has("ids")) throw InputError("logits needs exactly one of --text and --ids");
  if (!args.has("out")) throw InputError("logits needs --out FILE.safetensors");
  const auto images = args.all("image");
  std::vector<std::string> sources = images;
  sources.push_back(dir);
  const std::string out = check_output_file(args.get("out"), sources);  // never into the model's own files
  run_on_engine<int>([&](JobContext& ctx) {
    auto model = load_model(dir, args.get("device"), args.get("dtype"));
    const ModelConfig& cfg = model->config();
    const int max_tiles = args.has("max-tiles") ? int(args.get_int_in("max-tiles", 1, 64)) : 0;
    const PromptImages img = load_prompt_images(images, tile_options_for(cfg, max_tiles));
    std::vector<int64_t> ids;
    if (args.has("ids")) {
      ids = parse_ids(args.get("ids"));
    } else {
      auto tok = Tokenizer::load(dir);
      std::vector<int> per_image;
      for (int n : img.tiles_per_image) per_image.push_back(int(n * cfg.tokens_per_tile()));
      const std::string text = ensure_image_placeholders(args.get("text"), int(images.size()));
      // The text is plain: what it spells never becomes a control token; the template and the image
      // blocks make those.
      const std::string system =
          !args.flag("chat") ? "" : args.has("system") ? args.get("system") : trained_system_prompt(SafetensorsDir::open(dir).metadata());
      const Prompt prompt = args.flag("chat") ? chat_prompt(system, {{"user", text}}, true, per_image)
                                              : image_prompt(text, per_image);
      ids = tok->encode(prompt, true);
    }
    check_sequence_length(cfg, int64_t(ids.size()));
    ctx.progress("logits", -1, std::to_string(ids.size()) + " tokens");
    const at::Tensor id_tensor = at::tensor(ids, at::kLong).view({1, -1});
    at::Tensor logits = model->forward(id_tensor.to(model->options().device()), img.pixels);  // (1, L, V)
    write_tensors(out, {{"logits", logits.squeeze(0).to(at::kCPU, at::kFloat).contiguous()}, {"input_ids", id_tensor.view({-1})}},
                  {{"format", "pt"}, {"mmmamba.model", dir}, {"mmmamba.version", MM_VERSION}});
    std::printf("wrote %s: logits (%zu, %lld)\n", out.c_str(), ids.size(), (long long)logits.size(-1));
    return 0;
  });
  return 0;
}

}  // namespace mm::cli
