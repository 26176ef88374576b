#include "cli/common.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>
#include <unistd.h>

#include "cli/progress.h"
#include "io/checkpoint.h"
#include "io/output_target.h"
#include "runtime/device.h"

namespace mm::cli {
namespace {

std::atomic<int> g_interrupts{0};
std::atomic<bool> g_job_running{false};
std::atomic<int> g_signal{0};  // the first stop signal, for the message

// SIGINT (Ctrl-C), SIGTERM (schedulers, kill) and SIGHUP (logout) all stop the running job the same
// way: it writes a checkpoint and ends resumably. A second signal leaves at once; SIGTERM or SIGHUP
// with no job running ends the process (there is nothing to save).
void on_stop_signal(int sig) {
  if (sig != SIGINT && !g_job_running.load()) _exit(128 + sig);
  if (g_interrupts.fetch_add(1) >= 1) _exit(128 + sig);
  g_signal = sig;
}

}  // namespace

bool parse_or_help(Args& args, const std::vector<std::string>& argv) {
  args.parse(argv);
  if (args.help_requested()) {
    std::cout << args.help_text();
    return true;
  }
  if (args.has("threads")) configure_cpu_threads(parse_threads(args.get("threads")));
  return false;
}

void install_interrupt_handler() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, on_stop_signal);
}

void run_job_blocking(JobQueue& q, const std::function<uint64_t(JobQueue&)>& submit) {
  g_interrupts = 0;
  g_job_running = true;
  const uint64_t id = submit(q);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    q.wait_idle();
    done = true;
  });
  bool cancelled = false;
  while (!done) {
    if (!cancelled && g_interrupts.load() > 0) {
      const int sig = g_signal.load();
      std::fprintf(stderr, "\ninterrupted (%s): stopping (a second signal quits at once)\n",
                   sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : "Ctrl-C");
      q.cancel(id);
      cancelled = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  waiter.join();
  g_job_running = false;
}

void print_event(const Event& e) { print_progress_event(e); }

std::unique_ptr<VlmModel> load_model(const std::string& dir, const std::string& device, const std::string& dtype) {
  const c10::Device dev = parse_device(device);
  const c10::ScalarType dt = dtype == "auto" ? default_dtype(dev) : parse_dtype_name(dtype);
  if (dev.is_cpu() && dt == c10::kHalf)
    throw InputError("--dtype f16 is not supported on the CPU (LibTorch's CPU kernels lack many f16 ops)",
                     "use --dtype f32 or bf16 on the CPU, or --device cuda for f16");
  Checkpoint ck = load_checkpoint(dir, dt);
  auto model = std::make_unique<VlmModel>(std::move(ck.config), std::move(ck.weights));
  if (!dev.is_cpu()) model->to(dev, dt);
  return model;
}

void check_result_files(const Args& args, const std::vector<std::string>& sources) {
  for (const char* k : {"json", "csv"})
    if (args.has(k)) (void)check_output_file(args.get(k), sources);
}

std::string format_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", b, units[u]);
  return buf;
}

std::string format_count(double n) {
  const char* units[] = {"", " K", " M", " B"};
  int u = 0;
  while (n >= 1000 && u < 3) n /= 1000, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", n, units[u]);
  return buf;
}

}  // namespace mm::cli
