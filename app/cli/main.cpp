// mmmamba: the command-line face of the engine. Each subcommand lives in cmd_<name>.cpp.
#include <cstdio>
#include <cstring>
#include <iostream>

#include <c10/util/Exception.h>

#include "cli/common.h"
#include "runtime/device.h"
#include "runtime/errors.h"

namespace {

struct Command {
  const char* name;
  mm::cli::CommandFn run;
  const char* summary;
};

const Command kCommands[] = {
    {"info", mm::cli::cmd_info, "describe a checkpoint: layers, kinds, params, cache bytes, a plan's trainable share"},
    {"create", mm::cli::cmd_create, "write a randomly initialised teacher of a named architecture"},
    {"seed", mm::cli::cmd_seed, "seed a Mamba-2 / hybrid student from a teacher (METHOD §3)"},
    {"chat", mm::cli::cmd_chat, "chat with a model, with images, streaming"},
    {"logits", mm::cli::cmd_logits, "write the logits at every position of a prompt to safetensors"},
    {"export", mm::cli::cmd_export, "write a checkpoint in the mmMamba HF layout and verify the round trip"},
    {"make-data", mm::cli::cmd_make_data, "write synthetic scene conversations (PNG + JSONL) and their tokenizer"},
    {"train-teacher", mm::cli::cmd_train_teacher, "train a HoVLE-architecture teacher from scratch on conversations"},
    {"distill", mm::cli::cmd_distill, "distil a teacher into a linear or hybrid student (stages 1-3), resumable"},
    {"eval", mm::cli::cmd_eval, "accuracy per question family on held-out conversations, for any checkpoints"},
    {"ablate", mm::cli::cmd_ablate, "run several distillation recipes and evaluate their students in one table"},
    {"bench", mm::cli::cmd_bench, "prefill / decode speed and peak memory over context lengths, with the bandwidth floor"},
    {"selftest", mm::cli::cmd_selftest, "check each active fast path (CUDA kernels, SDPA flash) against its reference"},
};

void print_usage() {
  std::printf("usage: mmmamba COMMAND [options]   (mmmamba COMMAND --help for details)\n\ncommands:\n");
  for (const auto& c : kCommands) std::printf("  %-13s %s\n", c.name, c.summary);
  std::printf("\nmmmamba %s\n", MM_VERSION);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("mmmamba %s\n", MM_VERSION);
    return 0;
  }
  mm::configure_cpu_threads();
  mm::cli::install_interrupt_handler();
  const std::vector<std::string> rest(argv + 2, argv + argc);
  for (const auto& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(rest);
    } catch (const mm::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.full_message().c_str());
      return e.kind() == mm::ErrorKind::cancelled ? 130 : 1;
    } catch (const c10::Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "error: unknown command '%s'\n\n", argv[1]);
  print_usage();
  return 2;
}
