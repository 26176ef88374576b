// The job API: every long piece of engine work runs as a job with typed events, a cancel token and
// its result or error returned as a value. The CLI and the UI both drive the engine through it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "bench/bench_row.h"
#include "runtime/errors.h"

namespace mm {

/// Shared flag a caller sets and a job polls at safe points.
class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true); }
  bool cancelled() const { return flag_->load(); }
  void throw_if_cancelled() const {
    if (cancelled()) throw Cancelled();
  }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

/// fraction in [0, 1]; negative means indeterminate (no estimate yet).
struct ProgressEvent {
  std::string stage;
  double fraction = -1.0;
  std::string message;
};
struct LogEvent {
  std::string text;
};
/// One generated token and the text it adds to the reply (may be empty mid UTF-8 sequence);
/// id -1 is a final flush of held-back text with no new token.
struct TokenEvent {
  int64_t id = 0;
  std::string text_delta;
};
/// One optimiser step of a training stage ("teacher", "stage1", "stage2", "stage3").
struct MetricEvent {
  std::string stage;
  int64_t step = 0;  ///< 1-based: the number of optimiser steps done
  int64_t total_steps = 0;
  double loss = 0;                   ///< the optimised loss (MSE x factor, KL or cross-entropy)
  std::vector<double> layer_losses;  ///< stages 1-2: per converted layer, unscaled MSE
  double lr = 0;
  double grad_norm = 0;  ///< before clipping
  double tokens_per_s = 0;
  double wall_s = 0;     ///< training time since the stage started (resumes included, pauses not)
  double eval_loss = -1; ///< held-out loss when evaluated at this step, else negative
  int64_t tokens = 0;    ///< tokens trained on so far in this stage (resumes included)
  std::vector<double> rank_tokens_per_s;  ///< data parallel: each rank's own tokens/s (empty: one process)
};
struct CheckpointEvent {
  std::string stage;
  int64_t step = 0;
  std::string path;
};
/// A stage started (finished false) or finished.
struct StageEvent {
  std::string stage;
  bool finished = false;
  std::string message;
};
/// One benchmark row, sent as soon as it is measured (bench/benchmark.h).
struct BenchEvent {
  BenchRow row;
};
using Event =
    std::variant<ProgressEvent, LogEvent, TokenEvent, MetricEvent, CheckpointEvent, StageEvent, BenchEvent>;
using EventSink = std::function<void(const Event&)>;

/// An error as a value: what went wrong and what to do.
struct ErrorInfo {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string hint;
  std::string full_message() const { return hint.empty() ? message : message + "\nHINT: " + hint; }
};

/// Classifies the exception being handled (call only inside a catch block).
ErrorInfo capture_current_exception();

template <class T>
struct Outcome {
  std::optional<T> value;
  std::optional<ErrorInfo> error;
  bool ok() const { return value.has_value(); }
};

/// What a running job sees: its id, the cancel token and the event sink.
struct JobContext {
  uint64_t id = 0;
  CancelToken cancel;
  EventSink sink;

  void send(const Event& e) const {
    if (sink) sink(e);
  }
  void progress(const std::string& stage, double fraction, const std::string& message = {}) const {
    send(ProgressEvent{stage, fraction, message});
  }
  void log(const std::string& text) const { send(LogEvent{text}); }
  void check_cancel() const { cancel.throw_if_cancelled(); }
};

/// Runs fn in the calling thread and returns its result or its error as a value.
template <class T>
Outcome<T> run_job(JobContext& ctx, const std::function<T(JobContext&)>& fn) {
  Outcome<T> out;
  try {
    ctx.check_cancel();  // a job cancelled while queued never starts
    out.value = fn(ctx);
  } catch (...) {
    out.error = capture_current_exception();
  }
  return out;
}

/// One engine thread that owns the device and runs jobs in submission order.
class JobQueue {
 public:
  JobQueue();
  ~JobQueue();  // cancels what is queued and running, then joins
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  /// Queues fn; events go to sink and the outcome to done, both called on the engine thread.
  template <class T>
  uint64_t submit(std::function<T(JobContext&)> fn, EventSink sink,
                  std::function<void(Outcome<T>)> done) {
    return enqueue(std::move(sink), [fn = std::move(fn), done = std::move(done)](JobContext& ctx) {
      Outcome<T> out = run_job<T>(ctx, fn);
      if (done) done(std::move(out));
    });
  }
  /// Cancels a queued or running job; a queued one still reports `cancelled` through done.
  void cancel(uint64_t id);
  void cancel_all();
  /// Blocks until every job submitted so far has finished.
  void wait_idle();

 private:
  struct Item {
    JobContext ctx;
    std::function<void(JobContext&)> body;
  };
  uint64_t enqueue(EventSink sink, std::function<void(JobContext&)> body);
  void loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::vector<std::pair<uint64_t, CancelToken>> running_;
  uint64_t next_id_ = 1;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace mm
