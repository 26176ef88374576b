// Shared pieces of the CLI commands: running work on the engine thread with Ctrl-C cancellation,
// loading models and images, formatting.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.h"
#include "models/vlm_model.h"
#include "runtime/job.h"

namespace mm::cli {

using CommandFn = int (*)(const std::vector<std::string>& argv);

int cmd_info(const std::vector<std::string>& argv);
int cmd_create(const std::vector<std::string>& argv);
int cmd_seed(const std::vector<std::string>& argv);
int cmd_chat(const std::vector<std::string>& argv);
int cmd_logits(const std::vector<std::string>& argv);
int cmd_export(const std::vector<std::string>& argv);
int cmd_make_data(const std::vector<std::string>& argv);
int cmd_train_teacher(const std::vector<std::string>& argv);
int cmd_distill(const std::vector<std::string>& argv);
int cmd_eval(const std::vector<std::string>& argv);
int cmd_ablate(const std::vector<std::string>& argv);
int cmd_bench(const std::vector<std::string>& argv);
int cmd_selftest(const std::vector<std::string>& argv);

/// Parses argv; prints help and returns true when --help was given.
bool parse_or_help(Args& args, const std::vector<std::string>& argv);

/// Installs the SIGINT, SIGTERM and SIGHUP handler: the first signal cancels the running job (a training
/// job then writes its checkpoint), a second one exits.
void install_interrupt_handler();

/// Runs fn as a job on one engine thread, printing progress/log events to stderr and passing token
/// events to on_token; on_event sees every other event first and returns true when it handled it (it is
/// then not printed). Ctrl-C cancels the job. Returns the value or throws the job's error as mm::Error.
template <class T>
T run_on_engine(std::function<T(JobContext&)> fn, std::function<void(const TokenEvent&)> on_token = {},
                std::function<bool(const Event&)> on_event = {});

/// Loads a checkpoint directory for inference on --device / --dtype.
std::unique_ptr<VlmModel> load_model(const std::string& dir, const std::string& device, const std::string& dtype);

/// Human-readable sizes: "1.2 GiB", "3.4 M".
/// Checks --json and --csv (when given) with check_output_file against `sources`, before any work.
void check_result_files(const Args& args, const std::vector<std::string>& sources);

std::string format_bytes(double bytes);
std::string format_count(double n);

// ---- implementation of the template ----
void run_job_blocking(JobQueue& q, const std::function<uint64_t(JobQueue&)>& submit);
void print_event(const Event& e);

template <class T>
T run_on_engine(std::function<T(JobContext&)> fn, std::function<void(const TokenEvent&)> on_token,
                std::function<bool(const Event&)> on_event) {
  JobQueue q;
  std::optional<Outcome<T>> out;
  run_job_blocking(
      q,
      [&](JobQueue& queue) {
        return queue.submit<T>(
            fn,
            [&](const Event& e) {
              if (auto* t = std::get_if<TokenEvent>(&e)) {
                if (on_token) on_token(*t);
              } else if (!on_event || !on_event(e)) {
                print_event(e);
              }
            },
            [&](Outcome<T> o) { out = std::move(o); });
      });
  if (!out || !out->ok()) {
    const ErrorInfo err = out && out->error ? *out->error : ErrorInfo{ErrorKind::internal, "the job did not finish", {}};
    throw Error(err.kind, err.message, err.hint);
  }
  return std::move(*out->value);
}

}  // namespace mm::cli
