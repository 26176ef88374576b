// `--nproc N`: a local launcher in the torchrun way. It starts N workers of the same command, each with
// RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, forwards
// SIGINT, SIGTERM and SIGHUP to all of them, and reports which rank failed first.
#pragma once

#include <string>
#include <vector>

namespace mm::cli {

/// Runs `mmmamba COMMAND ARGS...` as `nproc` workers and waits for them. Returns 0 when all succeeded,
/// else the exit status of the first worker that failed (128 + signal when it was killed). Workers left
/// running after a failure get the rendezvous timeout plus a grace period to stop on their own, then
/// SIGTERM, then SIGKILL.
int launch_local_workers(int nproc, const std::string& command, const std::vector<std::string>& args);

}  // namespace mm::cli
