#include "dist/dist_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/errors.h"

namespace mm {

namespace {

std::optional<std::string> lookup(const std::map<std::string, std::string>* env, const std::string& name) {
  if (env) {
    auto it = env->find(name);
    return it == env->end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  const char* v = std::getenv(name.c_str());
  return v ? std::optional<std::string>(v) : std::nullopt;
}

const char* kLaunchHint =
    "launch the workers with torchrun-style variables (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), "
    "or let mmmamba start them: mmmamba distill --nproc N ...";

long parse_int(const std::string& name, const std::string& text, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    throw ConfigError(name + "=\"" + text + "\" is not a whole number in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]",
                      kLaunchHint);
  return v;
}

}  // namespace

std::string DistEnv::describe() const {
  return "rank " + std::to_string(rank) + " of " + std::to_string(world_size) + " (local " + std::to_string(local_rank) +
         "), master " + master_addr + ":" + std::to_string(master_port);
}

std::optional<DistEnv> read_dist_env(const std::map<std::string, std::string>* env) {
  const auto world = lookup(env, "WORLD_SIZE");
  if (!world) return std::nullopt;
  DistEnv d;
  d.world_size = int(parse_int("WORLD_SIZE", *world, 1, 65536));
  const auto rank = lookup(env, "RANK");
  if (!rank) throw ConfigError("WORLD_SIZE is set but RANK is not", kLaunchHint);
  d.rank = int(parse_int("RANK", *rank, 0, d.world_size - 1));
  d.local_rank = d.rank;
  if (const auto local = lookup(env, "LOCAL_RANK")) d.local_rank = int(parse_int("LOCAL_RANK", *local, 0, 65535));
  if (const auto addr = lookup(env, "MASTER_ADDR"); addr && !addr->empty()) d.master_addr = *addr;
  else if (d.world_size > 1) throw ConfigError("WORLD_SIZE is " + *world + " but MASTER_ADDR is not set", kLaunchHint);
  if (const auto port = lookup(env, "MASTER_PORT")) d.master_port = int(parse_int("MASTER_PORT", *port, 1, 65535));
  else if (d.world_size > 1) throw ConfigError("WORLD_SIZE is " + *world + " but MASTER_PORT is not set", kLaunchHint);
  if (const auto t = lookup(env, "MMMAMBA_DIST_TIMEOUT"))
    d.timeout_s = double(parse_int("MMMAMBA_DIST_TIMEOUT", *t, 1, 86400));
  return d;
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw IoError(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) throw IoError(std::string("cannot bind a loopback port: ") + std::strerror(err), "set MASTER_PORT yourself");
  return int(ntohs(addr.sin_port));
}

}  // namespace mm
