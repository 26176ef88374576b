#include "cli/launch.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "dist/dist_env.h"
#include "runtime/errors.h"

namespace mm::cli {
namespace {

constexpr int kMaxWorkers = 256;
pid_t g_workers[kMaxWorkers];
std::atomic<int> g_worker_count{0};
std::atomic<bool> g_forwarded{false};

// Forwards a stop signal to every worker (each is in its own process group, so a terminal's Ctrl-C
// reaches only the launcher and every worker gets it exactly once). Async-signal-safe: kill only.
void forward_signal(int sig) {
  g_forwarded = true;
  for (int i = 0; i < g_worker_count.load(); ++i)
    if (g_workers[i] > 0) ::kill(g_workers[i], sig);
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
                                  strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

std::string self_executable() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw IoError("cannot find this program's path (/proc/self/exe)", "run the workers with torchrun instead");
  return std::string(buf, size_t(n));
}

}  // namespace

int launch_local_workers(int nproc, const std::string& command, const std::vector<std::string>& args) {
  if (nproc < 1 || nproc > kMaxWorkers)
    throw InputError("--nproc must be 1 to " + std::to_string(kMaxWorkers) + ", got " + std::to_string(nproc));
  const std::string exe = self_executable();
  const int port = free_local_port();
  const char* timeout_env = std::getenv("MMMAMBA_DIST_TIMEOUT");  // the workers' collective timeout
  const double timeout_s = timeout_env && std::atoi(timeout_env) > 0 ? double(std::atoi(timeout_env)) : DistEnv().timeout_s;
  std::vector<std::string> argv_s = {exe, command};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);

  for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, forward_signal);
  std::string pids;
  for (int r = 0; r < nproc; ++r) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      forward_signal(SIGTERM);
      throw IoError(std::string("cannot start worker ") + std::to_string(r) + ": " + std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // a launcher killed outright takes its workers along
      for (int sig : {SIGINT, SIGTERM, SIGHUP}) std::signal(sig, SIG_DFL);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::execv(exe.c_str(), argv.data());
      std::fprintf(stderr, "mmmamba: cannot start worker %d: %s\n", r, std::strerror(errno));
      ::_exit(127);
    }
    g_workers[r] = pid;
    g_worker_count = r + 1;
    pids += (r ? ", " : "") + std::to_string(pid);
  }
  std::fprintf(stderr, "mmmamba: %d workers (pids %s), master 127.0.0.1:%d\n", nproc, pids.c_str(), port);

  using Clock = std::chrono::steady_clock;
  int running = nproc, first_failed = -1, first_status = 0;
  Clock::time_point deadline = Clock::time_point::max();
  int escalation = 0;  // 0: waiting, 1: SIGTERM sent, 2: SIGKILL sent
  while (running > 0) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR) break;
    if (pid > 0) {
      --running;
      for (int r = 0; r < nproc; ++r) {
        if (g_workers[r] != pid) continue;
        g_workers[r] = -1;  // reaped: never signal a reused pid
        const bool stopped = g_forwarded.load() && exit_code(status) == 130;  // a forwarded stop, not a failure
        if (exit_code(status) != 0 && !stopped && first_failed < 0) {
          first_failed = r;
          first_status = status;
          std::fprintf(stderr, "mmmamba: rank %d (pid %d) %s, the first worker to fail\n", r, int(pid),
                       describe_status(status).c_str());
          deadline = Clock::now() + std::chrono::milliseconds(int64_t((timeout_s + 15) * 1000));
        }
      }
      continue;
    }
    if (Clock::now() > deadline && escalation < 2) {
      std::fprintf(stderr, "mmmamba: %d workers still running after rank %d failed: sending %s\n", running,
                   first_failed, escalation == 0 ? "SIGTERM" : "SIGKILL");
      forward_signal(escalation == 0 ? SIGTERM : SIGKILL);
      ++escalation;
      deadline = Clock::now() + std::chrono::seconds(10);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  g_worker_count = 0;
  if (first_failed < 0) return g_forwarded.load() ? 130 : 0;
  std::fprintf(stderr, "mmmamba: rank %d failed; see its error above. Continue with: mmmamba %s ... --resume\n",
               first_failed, command.c_str());
  return exit_code(first_status);
}

}  // namespace mm::cli
