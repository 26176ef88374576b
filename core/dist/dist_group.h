// The ranks of a data-parallel run and their collectives, over LibTorch's c10d: a TCPStore rendezvous
// hosted by rank 0 (with a timeout that names the ranks that did not arrive), a heartbeat per rank (so a
// failed collective can name the peer that died), and a process group: Gloo on the CPU, NCCL on CUDA
// (built only against a CUDA LibTorch 2.x). The single-process path never creates one.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <memory>
#include <string>
#include <vector>

#include "dist/dist_env.h"
#include "runtime/errors.h"

namespace mm {

/// A peer did not arrive, died or stopped answering; the text names it.
struct PeerError : Error {
  explicit PeerError(const std::string& w, std::string h = {}) : Error(ErrorKind::io, w, std::move(h)) {}
};

class DistGroup {
 public:
  /// Joins the rendezvous at env.master_addr:master_port (rank 0 hosts it) and waits up to env.timeout_s
  /// for every rank. PeerError naming the ranks that did not arrive; ConfigError when two processes claim
  /// one rank or the ranks disagree on WORLD_SIZE.
  static std::shared_ptr<DistGroup> rendezvous(const DistEnv& env);
  ~DistGroup();
  DistGroup(const DistGroup&) = delete;
  DistGroup& operator=(const DistGroup&) = delete;

  int rank() const { return env_.rank; }
  int size() const { return env_.world_size; }
  const DistEnv& env() const { return env_; }
  /// "gloo" or "nccl" once init_backend ran, else "".
  const std::string& backend() const { return backend_name_; }

  /// Whether this build can create a process group for devices of this type.
  static bool has_backend(c10::DeviceType type);

  /// Creates the process group for `device` (Gloo on the CPU, NCCL on CUDA: one GPU per local rank).
  /// A second call for the same device type is a no-op. ConfigError when this build has no such backend.
  void init_backend(const c10::Device& device);

  /// Rank 0 stores `value` under `key`; every other rank waits for it (up to the timeout) with fetch.
  void publish(const std::string& key, const std::string& value);
  std::string fetch(const std::string& key);

  // Collectives: every rank calls them in the same order; `what` names the operation in errors
  // ("gradients of step 3"). A peer that dies turns into a PeerError naming it.
  /// Sums each tensor over the ranks, in place (each tensor on its own; all of them in flight at once).
  void all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what);
  /// in: (n) contiguous; returns (size * n): rank r's `in` at [r n, (r + 1) n).
  at::Tensor all_gather(const at::Tensor& in, const std::string& what);
  void barrier(const std::string& what);

 private:
  explicit DistGroup(DistEnv env);
  [[noreturn]] void fail(const std::string& what, const std::exception& e);
  std::string who_is_gone();

  DistEnv env_;
  std::string backend_name_;
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace mm
