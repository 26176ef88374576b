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
#include "runtime/device.h"
#include "runtime/device.h"

namespace mm::cli {
namespace {

std::atomic<int> g_interrupts{0};

void on_sigint(int) {
  if (g_interrupts.fetch_add(1) >= 1) _exit(130);  // second Ctrl-C: leave now
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

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

void run_job_blocking(JobQueue& q, const std::function<uint64_t(JobQueue&)>& submit) {
  g_interrupts = 0;
  const uint64_t id = submit(q);
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    q.wait_idle();
    done = true;
  });
  bool cancelled = false;
  while (!done) {
    if (!cancelled && g_interrupts.load() > 0) {
      std::fprintf(stderr, "\ninterrupted: stopping (Ctrl-C again to quit at once)\n");
      q.cancel(id);
      cancelled = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  waiter.join();
}

void print_event(const Event& e) { print_progress_event(e); }

std::unique_ptr<VlmModel> load_model(const std::string& dir, const std::string& device, const std::string& dtype) {
  const c10::Device dev = parse_device(device);
  const c10::ScalarType dt = dtype == "auto" ? default_dtype(dev) : parse_dtype_name(dtype);
  Checkpoint ck = load_checkpoint(dir, dt);
  auto model = std::make_unique<VlmModel>(std::move(ck.config), std::move(ck.weights));
  if (!dev.is_cpu()) model->to(dev, dt);
  return model;
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
