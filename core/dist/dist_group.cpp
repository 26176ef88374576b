#include "dist/dist_group.h"

#include <signal.h>
#include <unistd.h>

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#if MM_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if MM_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL
#endif
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace mm {
namespace {

using Ms = std::chrono::milliseconds;

std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

std::string host_name() {
  char buf[256] = {0};
  return ::gethostname(buf, sizeof buf - 1) == 0 ? std::string(buf) : std::string("?");
}

std::string join_ranks(const std::vector<int>& ranks) {
  std::string out;
  for (int r : ranks) out += (out.empty() ? "" : ", ") + std::to_string(r);
  return out;
}

/// The collectives both c10d generations share: 1.13's ProcessGroup subclasses and 2.x's Backends.
struct Collectives {
  virtual ~Collectives() = default;
  virtual void all_reduce_sum(std::vector<at::Tensor>& tensors) = 0;  // each on its own, all in flight
  virtual void all_gather(std::vector<at::Tensor>& out, const at::Tensor& in) = 0;
  virtual void barrier() = 0;
};

template <class PG>
struct C10dCollectives : Collectives {
  explicit C10dCollectives(c10::intrusive_ptr<PG> g) : pg(std::move(g)) {}
  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    // One tensor per call: c10d reads a list as one tensor per device and would sum the list itself.
    std::vector<decltype(pg->allreduce(tensors, o))> works;
    for (at::Tensor& t : tensors) {
      std::vector<at::Tensor> one{t};
      works.push_back(pg->allreduce(one, o));
    }
    for (auto& w : works) w->wait();
  }
  void all_gather(std::vector<at::Tensor>& out, const at::Tensor& in) override {
    std::vector<std::vector<at::Tensor>> outs{out};
    std::vector<at::Tensor> ins{in};
    pg->allgather(outs, ins, c10d::AllgatherOptions())->wait();
  }
  void barrier() override { pg->barrier(c10d::BarrierOptions())->wait(); }
  c10::intrusive_ptr<PG> pg;
};

bool is_loopback(const std::string& addr) { return addr == "localhost" || addr.rfind("127.", 0) == 0 || addr == "::1"; }

}  // namespace

struct DistGroup::State {
  c10::intrusive_ptr<c10d::TCPStore> store;
  c10::intrusive_ptr<c10d::TCPStore> beat_store;  // the heartbeat thread's own connection
  std::unique_ptr<Collectives> pg;
  c10::DeviceType device_type = c10::kCPU;
  std::vector<std::string> who;  // rank -> "pid P on HOST"
  std::thread beat;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  bool joined = false;  // every rank arrived: the destructor waits for them to leave
};

DistGroup::DistGroup(DistEnv env) : env_(std::move(env)), s_(std::make_unique<State>()) {
  // A peer that dies closes its sockets; a send to it would then raise SIGPIPE and kill this rank before
  // it can name the peer (Python, where torchrun ranks usually live, ignores SIGPIPE at start-up).
  ::signal(SIGPIPE, SIG_IGN);
}

std::shared_ptr<DistGroup> DistGroup::rendezvous(const DistEnv& env) {
  std::shared_ptr<DistGroup> g(new DistGroup(env));
  State& s = *g->s_;
  const Ms timeout(int64_t(env.timeout_s * 1000));
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  const std::string me = "rank " + std::to_string(env.rank);
  c10d::TCPStoreOptions o;
  o.port = uint16_t(env.master_port);
  o.isServer = env.rank == 0;
  o.waitWorkers = false;
  o.timeout = timeout;
  try {
    s.store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
    o.isServer = false;
    s.beat_store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, o);
  } catch (const std::exception& e) {
    if (env.rank == 0)
      throw IoError(me + " cannot host the rendezvous at " + where + ": " + e.what(),
                    "choose a free MASTER_PORT on an address of this machine");
    throw PeerError(me + " could not reach rank 0's rendezvous at " + where + " within " +
                        std::to_string(int(env.timeout_s)) + " s: rank 0 did not arrive",
                    "start rank 0 (it hosts the rendezvous) with the same MASTER_ADDR and MASTER_PORT; raise "
                    "MMMAMBA_DIST_TIMEOUT (seconds) when ranks start far apart");
  }
  const std::string mine = "pid " + std::to_string(::getpid()) + " on " + host_name();
  if (s.store->add("mm/claim/" + std::to_string(env.rank), 1) > 1)
    throw ConfigError("two processes were started as rank " + std::to_string(env.rank),
                      "give every worker its own RANK in 0..WORLD_SIZE-1");
  s.store->set("mm/who/" + std::to_string(env.rank), bytes(std::to_string(env.world_size) + " " + mine));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<int> missing;
  for (int r = 0; r < env.world_size; ++r) missing.push_back(r);
  while (!missing.empty()) {
    std::vector<int> still;
    for (int r : missing)
      if (!s.store->check({"mm/who/" + std::to_string(r)})) still.push_back(r);
    missing = still;
    if (missing.empty()) break;
    if (std::chrono::steady_clock::now() > deadline)
      throw PeerError(me + ": rank" + (missing.size() > 1 ? "s " : " ") + join_ranks(missing) + " of " +
                          std::to_string(env.world_size) + " did not arrive at " + where + " within " +
                          std::to_string(int(env.timeout_s)) + " s",
                      "start every rank with the same MASTER_ADDR, MASTER_PORT and WORLD_SIZE (a rank that failed "
                      "at start-up printed why); raise MMMAMBA_DIST_TIMEOUT (seconds) when ranks start far apart");
    std::this_thread::sleep_for(Ms(50));
  }
  for (int r = 0; r < env.world_size; ++r) {
    const std::string v = text(s.store->get("mm/who/" + std::to_string(r)));
    const size_t sp = v.find(' ');
    if (v.substr(0, sp) != std::to_string(env.world_size))
      throw ConfigError("rank " + std::to_string(r) + " was started with WORLD_SIZE " + v.substr(0, sp) + ", " + me +
                            " with " + std::to_string(env.world_size),
                        "start every rank with the same WORLD_SIZE");
    s.who.push_back(sp == std::string::npos ? v : v.substr(sp + 1));
  }
  s.joined = true;
  g->s_->beat = std::thread([st = g->s_.get(), key = "mm/beat/" + std::to_string(env.rank)] {
    for (;;) {
      try {
        st->beat_store->add(key, 1);
      } catch (const std::exception&) {
        // the store's host is gone; a collective will notice and name it
      }
      std::unique_lock<std::mutex> lock(st->mu);
      if (st->cv.wait_for(lock, Ms(300), [st] { return st->stop; })) return;
    }
  });
  return g;
}

DistGroup::~DistGroup() {
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    s_->stop = true;
  }
  s_->cv.notify_all();
  if (s_->beat.joinable()) s_->beat.join();
  s_->pg.reset();
  // Rank 0 hosts the store: it stays until every rank has left (briefly), so no peer loses it mid-call.
  try {
    if (s_->store && s_->joined) {
      s_->store->add("mm/left", 1);
      const auto deadline = std::chrono::steady_clock::now() + Ms(5000);
      while (env_.rank == 0 && s_->store->add("mm/left", 0) < env_.world_size &&
             std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(Ms(20));
    }
  } catch (const std::exception&) {
  }
}

bool DistGroup::has_backend(c10::DeviceType type) {
  if (type == c10::kCPU) return MM_WITH_GLOO;
  if (type == c10::kCUDA) return MM_WITH_NCCL;
  return false;
}

void DistGroup::init_backend(const c10::Device& device) {
  if (s_->pg) {
    if (device.type() == s_->device_type) return;
    throw ConfigError("the run's ranks were connected for " + c10::DeviceTypeName(s_->device_type) + ", not " +
                      device.str());
  }
  const Ms timeout(int64_t(env_.timeout_s * 1000));
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("pg", s_->store);
  try {
    if (device.is_cpu()) {
#if MM_WITH_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
      if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (is_loopback(env_.master_addr))
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
      else
        opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      s_->pg = std::make_unique<C10dCollectives<c10d::ProcessGroupGloo>>(
          c10::make_intrusive<c10d::ProcessGroupGloo>(prefixed, env_.rank, env_.world_size, opts));
      backend_name_ = "gloo";
#else
      throw ConfigError("this build has no Gloo backend, so it cannot train on the CPU over several processes",
                        "install libgloo-dev and rebuild (packaging/install-deps.sh), or run one process");
#endif
    } else if (device.is_cuda()) {
#if MM_WITH_NCCL
      c10::cuda::set_device(c10::DeviceIndex(env_.local_rank));
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = timeout;
      s_->pg = std::make_unique<C10dCollectives<c10d::ProcessGroupNCCL>>(
          c10::make_intrusive<c10d::ProcessGroupNCCL>(prefixed, env_.rank, env_.world_size, opts));
      backend_name_ = "nccl";
#else
      throw ConfigError("this build has no NCCL backend, so it cannot train on CUDA over several processes",
                        "build with the cuda preset against PyTorch 2.x's LibTorch, or run one process");
#endif
    } else {
      throw ConfigError("no collective backend for device " + device.str(), "use cpu or cuda");
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("connecting the " + std::string(device.is_cpu() ? "Gloo" : "NCCL") + " process group", e);
  }
  s_->device_type = device.type();
}

void DistGroup::publish(const std::string& key, const std::string& value) {
  s_->store->set("mm/pub/" + key, bytes(value));
}

std::string DistGroup::fetch(const std::string& key) {
  try {
    return text(s_->store->get("mm/pub/" + key));  // waits up to the store's timeout
  } catch (const std::exception& e) {
    fail("waiting for rank 0's " + key, e);
  }
}

void DistGroup::all_reduce_sum(std::vector<at::Tensor>& tensors, const std::string& what) {
  TORCH_CHECK(s_->pg, "DistGroup: init_backend first");
  try {
    s_->pg->all_reduce_sum(tensors);
  } catch (const std::exception& e) {
    fail("all-reduce of " + what, e);
  }
}

at::Tensor DistGroup::all_gather(const at::Tensor& in, const std::string& what) {
  TORCH_CHECK(s_->pg, "DistGroup: init_backend first");
  TORCH_CHECK(in.dim() == 1 && in.is_contiguous(), "all_gather: a contiguous 1-d tensor, got ", in.sizes());
  const int64_t n = in.numel();
  at::Tensor out = at::empty({n * size()}, in.options());  // (size * n)
  std::vector<at::Tensor> parts;
  for (int r = 0; r < size(); ++r) parts.push_back(out.narrow(0, r * n, n));
  try {
    s_->pg->all_gather(parts, in);
  } catch (const std::exception& e) {
    fail("all-gather of " + what, e);
  }
  return out;
}

void DistGroup::barrier(const std::string& what) {
  TORCH_CHECK(s_->pg, "DistGroup: init_backend first");
  try {
    s_->pg->barrier();
  } catch (const std::exception& e) {
    fail("barrier " + what, e);
  }
}

std::string DistGroup::who_is_gone() {
  const auto beats = [&] {
    std::vector<int64_t> b;
    for (int r = 0; r < size(); ++r) b.push_back(s_->store->add("mm/beat/" + std::to_string(r), 0));
    return b;
  };
  try {
    const std::vector<int64_t> before = beats();
    std::this_thread::sleep_for(Ms(1500));  // five heartbeats
    const std::vector<int64_t> after = beats();
    std::string gone;
    for (int r = 0; r < size(); ++r)
      if (r != rank() && after[size_t(r)] == before[size_t(r)])
        gone += (gone.empty() ? "rank " : ", rank ") + std::to_string(r) + " (" + s_->who[size_t(r)] + ")";
    return gone.empty() ? "" : gone + " stopped";
  } catch (const std::exception&) {
    return "rank 0 (" + (s_->who.empty() ? std::string("?") : s_->who[0]) + ", host of the rendezvous store) is gone";
  }
}

void DistGroup::fail(const std::string& what, const std::exception& e) {
  std::string cause = e.what();
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) cause = c->what_without_backtrace();
  if (cause.size() > 400) cause = cause.substr(0, 400) + "...";
  const std::string gone = size() > 1 ? who_is_gone() : "";
  throw PeerError("rank " + std::to_string(rank()) + ": " + what + " failed" + (gone.empty() ? "" : ": " + gone) +
                      " (" + cause + ")",
                  "see the failed rank's output for why (the launcher names the first rank to exit); fix it and "
                  "continue from the last checkpoint with --resume, on any number of processes");
}

}  // namespace mm
