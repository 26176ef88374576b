// Where this process stands in a data-parallel run, read the torchrun way from the environment:
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torchrun, srun wrappers and mpirun-style
// launchers set these; `mmmamba distill --nproc N` sets them for its local workers). Torch-free.
#pragma once

#include <map>
#include <optional>
#include <string>

namespace mm {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double timeout_s = 300;  ///< rendezvous and collective timeout (MMMAMBA_DIST_TIMEOUT, seconds)
  /// "rank 1 of 2 (local 1), master 127.0.0.1:29500"
  std::string describe() const;
};

/// The run's place from `env` (the process environment when null). nullopt when WORLD_SIZE is unset:
/// the single-process path. ConfigError naming the variable when a value is missing or out of range.
std::optional<DistEnv> read_dist_env(const std::map<std::string, std::string>* env = nullptr);

/// A TCP port on the loopback interface that was free a moment ago (what a local launcher hands its
/// workers as MASTER_PORT). IoError when no socket can be bound.
int free_local_port();

}  // namespace mm
