// The job API: results and errors as values, events in order, cancellation of queued and running jobs.
#include <QtTest>

#include <atomic>
#include <chrono>
#include <thread>

#include <ATen/Parallel.h>

#include "runtime/device.h"
#include "runtime/job.h"

using namespace mm;

// A stand-in for MKL's per-thread thread count, exported from this executable (ENABLE_EXPORTS) so that
// the engine's dlsym finds it: Debian's LibTorch has no MKL (OpenBLAS), PyTorch's wheels do, and there
// a one-thread decode step must set MKL's count too, or its GEMVs still fork over every core.
namespace {
thread_local int fake_mkl_local = 0;  // 0 = MKL's global setting
std::atomic<int> fake_mkl_calls{0};
}  // namespace
extern "C" int MKL_Set_Num_Threads_Local(int n) {
  ++fake_mkl_calls;
  const int previous = fake_mkl_local;
  fake_mkl_local = n;
  return previous;
}

class TestJob : public QObject {
  Q_OBJECT
 private slots:
  void resultAndEventsArriveInOrder() {
    JobQueue q;
    std::vector<std::string> seen;
    std::optional<Outcome<int>> got;
    q.submit<int>(
        [](JobContext& ctx) {
          ctx.progress("work", 0.5, "half");
          ctx.log("done");
          return 42;
        },
        [&](const Event& e) {
          if (auto* p = std::get_if<ProgressEvent>(&e)) seen.push_back("progress:" + p->message);
          if (auto* l = std::get_if<LogEvent>(&e)) seen.push_back("log:" + l->text);
        },
        [&](Outcome<int> o) { got = o; });
    q.wait_idle();
    QVERIFY(got && got->ok());
    QCOMPARE(*got->value, 42);
    QCOMPARE(seen.size(), size_t(2));
    QCOMPARE(seen[0], std::string("progress:half"));
  }

  void typedErrorBecomesValue() {
    JobQueue q;
    std::optional<Outcome<int>> got;
    q.submit<int>([](JobContext&) -> int { throw InputError("empty prompt", "type a question"); }, {},
                  [&](Outcome<int> o) { got = o; });
    q.wait_idle();
    QVERIFY(got && !got->ok());
    QCOMPARE(int(got->error->kind), int(ErrorKind::input));
    QCOMPARE(got->error->hint, std::string("type a question"));
  }

  void cancelStopsRunningAndQueuedJobs() {
    JobQueue q;
    std::atomic<bool> started{false};
    std::optional<Outcome<int>> first, second;
    const uint64_t a = q.submit<int>(
        [&](JobContext& ctx) {
          started = true;
          for (;;) {
            ctx.check_cancel();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          }
          return 0;
        },
        {}, [&](Outcome<int> o) { first = o; });
    const uint64_t b = q.submit<int>([](JobContext&) { return 7; }, {}, [&](Outcome<int> o) { second = o; });
    while (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    q.cancel(b);
    q.cancel(a);
    q.wait_idle();
    QVERIFY(first && first->error && first->error->kind == ErrorKind::cancelled);
    QVERIFY(second && second->error && second->error->kind == ErrorKind::cancelled);
  }

  void threadSettingReachesTheEngineThreadAndScopesNest() {
    JobQueue q;
    configure_cpu_threads(2);
    std::optional<Outcome<std::vector<int>>> got;
    q.submit<std::vector<int>>([](JobContext&) { return std::vector<int>{at::get_num_threads()}; }, {},
                               [&](Outcome<std::vector<int>> o) { got = o; });
    q.wait_idle();
    QCOMPARE(got->value->at(0), 2);
    // A later setting applies to the already running engine thread at its next job.
    configure_cpu_threads(1);
    got.reset();
    q.submit<std::vector<int>>(
        [](JobContext&) {
          std::vector<int> seen{at::get_num_threads()};
          configure_cpu_threads(2);  // as the studio's setting does; the scope below overrides it
          sync_cpu_threads();
          seen.push_back(at::get_num_threads());
          {
            const ScopedCpuThreads one(1);
            seen.push_back(at::get_num_threads());
          }
          seen.push_back(at::get_num_threads());
          return seen;
        },
        {}, [&](Outcome<std::vector<int>> o) { got = o; });
    q.wait_idle();
    QVERIFY(got && got->ok());
    QCOMPARE(*got->value, (std::vector<int>{1, 2, 1, 2}));
    QCOMPARE(cpu_threads(), 2);
  }

  void scopedThreadsSetMklsPerThreadCountAndRestoreIt() {
    QVERIFY(cpu_blas_threads_are_scoped());  // found the stand-in above
    fake_mkl_local = 0;
    const int calls = fake_mkl_calls;
    {
      const ScopedCpuThreads one(1);
      QCOMPARE(fake_mkl_local, 1);
      {
        const ScopedCpuThreads three(3);
        QCOMPARE(fake_mkl_local, 3);
      }
      QCOMPARE(fake_mkl_local, 1);
    }
    QCOMPARE(fake_mkl_local, 0);  // back to the global setting
    { const ScopedCpuThreads leave(0); }
    QCOMPARE(fake_mkl_calls - calls, 4);  // "leave as is" does not touch it
    // Another thread's count is its own.
    int other = -1;
    std::thread t([&] {
      const ScopedCpuThreads two(2);
      other = fake_mkl_local;
    });
    t.join();
    QCOMPARE(other, 2);
    QCOMPARE(fake_mkl_local, 0);
  }

  void decodeThreadsFollowTheStepSize() {
    configure_cpu_threads(2);
    QCOMPARE(decode_step_threads(5 << 20), 1);  // the embedded 5 MiB models: one thread
    QCOMPARE(decode_step_threads(kParallelDecodeBytes), 2);
    QCOMPARE(parse_threads("auto"), 0);
    QCOMPARE(parse_threads("3"), 3);
    for (const char* bad : {"-1", "two", "2x", "100000"}) QVERIFY_THROWS_EXCEPTION(InputError, parse_threads(bad));
  }
};

QTEST_GUILESS_MAIN(TestJob)
#include "test_job.moc"
