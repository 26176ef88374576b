// mmmamba chat: one question (--prompt) or an interactive session on stdin, streaming the reply.
#include <cstdio>
#include <iostream>

#include "cli/common.h"
#include "generate/chat_session.h"
#include "image/model_tiles.h"
#include "io/safetensors.h"
#include "text/chat_template.h"
#include "text/tokenizer.h"

namespace mm::cli {
namespace {

const char* kReplHelp =
    "type a question and press Enter. Commands: /image FILE (attach to the next question), /regen,\n"
    "/reset, /help, /quit. Ctrl-C stops a reply.\n";

void print_stats(const ChatReply& r) {
  const GenerationStats& s = r.generation.stats;
  std::fprintf(stderr, "[%lld prompt tokens, first token %.3f s, %lld tokens at %.1f tok/s (%s), cache %s, %s]\n",
               (long long)s.prompt_tokens, s.time_to_first_token, (long long)s.new_tokens, s.decode_tokens_per_second(),
               s.decode_path.c_str(), format_bytes(double(s.cache_bytes)).c_str(), s.stop_reason.c_str());
  if (!s.graph_fallback.empty()) std::fprintf(stderr, "[decoded eagerly: %s]\n", s.graph_fallback.c_str());
}

}  // namespace

int cmd_chat(const std::vector<std::string>& argv) {
  Args args("chat", "DIR [--prompt TEXT] [--image FILE]... [sampling options]",
            "Chats with a teacher, linear or hybrid checkpoint. With --prompt, answers once and exits;\n"
            "otherwise reads questions from standard input. The reply streams as it is generated.",
            {{"prompt", "TEXT", "ask this and exit"},
             {"image", "FILE", "image for the (first) question", "", true},
             {"system", "TEXT", "system prompt (default: the one the model was trained with: none for models trained here, InternVL's for HoVLE checkpoints)"},
             {"temperature", "T", "0 is greedy", "0"},
             {"top-k", "K", "sample from the K best tokens (0: off)", "0"},
             {"top-p", "P", "nucleus sampling mass (1: off)", "1"},
             {"repetition-penalty", "R", "> 1 discourages repeats", "1"},
             {"max-new-tokens", "N", "longest reply", "256"},
             {"seed", "N", "sampling seed", "0"},
             {"max-tiles", "N", "most tiles per image", "config"},
             {"device", "DEV", "auto, cpu, cuda[:N]", "auto"},
             {"dtype", "DTYPE", "f32, bf16, f16 or auto", "auto"},
             {"quiet", "", "no statistics line after each reply"}});
  if (parse_or_help(args, argv)) return 0;
  const std::string dir = args.positional(0, "checkpoint directory");
  SamplingOptions opts;
  opts.temperature = args.get_double("temperature");
  opts.top_k = args.get_int("top-k");
  opts.top_p = args.get_double("top-p");
  opts.repetition_penalty = args.get_double("repetition-penalty");
  opts.max_new_tokens = args.get_int("max-new-tokens");
  opts.seed = uint64_t(args.get_int("seed"));
  validate(opts);
  const std::string system =
      args.has("system") ? args.get("system") : trained_system_prompt(SafetensorsDir::open(dir).metadata());
  const int max_tiles = args.has("max-tiles") ? int(args.get_int_in("max-tiles", 1, 64)) : 0;

  auto model = run_on_engine<std::shared_ptr<VlmModel>>([&](JobContext& ctx) {
    ctx.progress("load", -1, "loading " + dir);
    std::shared_ptr<VlmModel> m = load_model(dir, args.get("device"), args.get("dtype"));
    m->release_unused_weights();
    m->fuse_for_inference();
    return m;
  });
  const auto tok = Tokenizer::load(dir);
  ChatSession session(*model, *tok, system);
  const TileOptions tiles = tile_options_for(model->config(), max_tiles);

  auto ask = [&](const std::string& q, const std::vector<std::string>& images, bool regen) {
    const ChatReply r = run_on_engine<ChatReply>(
        [&](JobContext& ctx) {
          if (regen) return session.regenerate(opts, ctx);
          const PromptImages img = load_prompt_images(images, tiles);
          return session.ask(q, img.pixels, img.tiles_per_image, opts, ctx);
        },
        [](const TokenEvent& t) {
          std::fwrite(t.text_delta.data(), 1, t.text_delta.size(), stdout);
          std::fflush(stdout);
        });
    std::printf("\n");
    std::fflush(stdout);  // the stats go to stderr: keep them after the reply in a shared log
    if (!args.flag("quiet")) print_stats(r);
  };

  if (args.has("prompt")) {
    ask(args.get("prompt"), args.all("image"), false);
    return 0;
  }
  std::vector<std::string> pending_images = args.all("image");
  std::fprintf(stderr, "%s", kReplHelp);
  std::string line;
  while (true) {
    std::fprintf(stderr, "> ");
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    try {
      if (line == "/quit" || line == "/exit") break;
      if (line == "/help") {
        std::fprintf(stderr, "%s", kReplHelp);
      } else if (line == "/reset") {
        session.reset();
        std::fprintf(stderr, "conversation cleared\n");
      } else if (line == "/regen") {
        opts.seed += 1;  // a new draw when sampling; greedy gives the same reply
        ask("", {}, true);
      } else if (line.rfind("/image ", 0) == 0) {
        const std::string file = line.substr(7);
        load_prompt_images({file}, tiles);  // throws (nothing attached) when the image cannot be used
        pending_images.push_back(file);
        std::fprintf(stderr, "attached %s\n", file.c_str());
      } else {
        ask(line, pending_images, false);
        pending_images.clear();
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.full_message().c_str());
    }
  }
  return 0;
}

}  // namespace mm::cli
