// The job API: results and errors as values, events in order, cancellation of queued and running jobs.
#include <QtTest>

#include <atomic>
#include <chrono>
#include <thread>

#include "runtime/job.h"

using namespace mm;

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
};

QTEST_GUILESS_MAIN(TestJob)
#include "test_job.moc"
