#include "runtime/job.h"

#include <c10/util/Exception.h>

#include <new>

#include "runtime/device.h"

namespace mm {

ErrorInfo capture_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    return {e.kind(), e.what(), e.hint()};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::out_of_memory, "out of memory",
            "use a shorter context, a smaller batch, or a machine with more memory"};
  } catch (const c10::Error& e) {
    std::string msg = e.what_without_backtrace();
    if (msg.find("out of memory") != std::string::npos)
      return {ErrorKind::out_of_memory, msg, "use a shorter context or a smaller batch"};
    return {ErrorKind::internal, msg, {}};
  } catch (const std::exception& e) {
    return {ErrorKind::internal, e.what(), {}};
  } catch (...) {
    return {ErrorKind::internal, "unknown error", {}};
  }
}

JobQueue::JobQueue() : worker_([this] { loop(); }) {}

JobQueue::~JobQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& item : queue_) item.ctx.cancel.cancel();
    for (auto& r : running_) r.second.cancel();
  }
  cv_.notify_all();
  worker_.join();
}

uint64_t JobQueue::enqueue(EventSink sink, std::function<void(JobContext&)> body) {
  std::lock_guard<std::mutex> lock(mu_);
  Item item;
  item.ctx.id = next_id_++;
  item.ctx.sink = std::move(sink);
  item.body = std::move(body);
  const uint64_t id = item.ctx.id;
  queue_.push_back(std::move(item));
  cv_.notify_all();
  return id;
}

void JobQueue::cancel(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& item : queue_)
    if (item.ctx.id == id) item.ctx.cancel.cancel();
  for (auto& r : running_)
    if (r.first == id) r.second.cancel();
}

void JobQueue::cancel_all() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& item : queue_) item.ctx.cancel.cancel();
  for (auto& r : running_) r.second.cancel();
}

void JobQueue::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
}

void JobQueue::loop() {
  for (;;) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      item = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      running_.emplace_back(item.ctx.id, item.ctx.cancel);
    }
    sync_cpu_threads();   // a threads setting changed since the last job applies from this one
    item.body(item.ctx);  // run_job inside body turns a cancelled token into an error value
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_.clear();
      busy_ = false;
    }
    cv_.notify_all();
  }
}

}  // namespace mm
