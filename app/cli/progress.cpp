#include "cli/progress.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace mm::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BarState {
  std::string stage;
  Clock::time_point first_time;
  int64_t first_step = 0;
  Clock::time_point last_line;
  bool line_open = false;  ///< a bar is drawn without its newline
};

BarState g_bar;

std::string format_duration(double s) {
  char buf[32];
  if (s < 0) return "--";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.0fs", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, (int(s) % 3600) / 60);
  return buf;
}

void close_line() {
  if (g_bar.line_open) std::fputc('\n', stderr);
  g_bar.line_open = false;
}

void print_metric(const MetricEvent& m) {
  const Clock::time_point now = Clock::now();
  if (m.stage != g_bar.stage) {
    g_bar = BarState{m.stage, now, m.step - 1, now - std::chrono::hours(1), g_bar.line_open};
  }
  const double elapsed = std::chrono::duration<double>(now - g_bar.first_time).count();
  const int64_t done_here = m.step - g_bar.first_step;
  const double eta = done_here > 1 ? elapsed / double(done_here - 1) * double(m.total_steps - m.step) : -1;
  const double frac = m.total_steps > 0 ? double(m.step) / double(m.total_steps) : 0;
  char tail[160];
  std::snprintf(tail, sizeof tail, "%lld/%lld loss %.4g lr %.2e %s tok/s %.0f ETA %s",
                static_cast<long long>(m.step), static_cast<long long>(m.total_steps), m.loss, m.lr,
                m.eval_loss >= 0 ? ("eval " + std::to_string(m.eval_loss).substr(0, 6)).c_str() : "",
                m.tokens_per_s, format_duration(eta).c_str());
  if (isatty(STDERR_FILENO)) {
    const int width = 24, filled = int(frac * width + 0.5);
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %s", m.stage.c_str(), bar.c_str(), 100 * frac, tail);
    std::fflush(stderr);
    g_bar.line_open = true;
    if (m.step == m.total_steps) close_line();
  } else if (m.step == m.total_steps || m.eval_loss >= 0 ||
             std::chrono::duration<double>(now - g_bar.last_line).count() >= 5.0) {
    std::fprintf(stderr, "%s %3.0f%% %s\n", m.stage.c_str(), 100 * frac, tail);
    g_bar.last_line = now;
  }
}

}  // namespace

void print_progress_event(const Event& e) {
  if (auto* m = std::get_if<MetricEvent>(&e)) return print_metric(*m);
  if (auto* p = std::get_if<ProgressEvent>(&e)) {
    if (!p->stage.empty() && p->stage.rfind("stage", 0) == 0) return;  // training stages draw the bar instead
    if (p->stage == "teacher" && p->fraction >= 0) return;
    close_line();
    if (p->fraction >= 0)
      std::fprintf(stderr, "[%s %3.0f%%] %s\n", p->stage.c_str(), 100 * p->fraction, p->message.c_str());
    else
      std::fprintf(stderr, "[%s] %s\n", p->stage.c_str(), p->message.c_str());
  } else if (auto* l = std::get_if<LogEvent>(&e)) {
    close_line();
    std::fprintf(stderr, "%s\n", l->text.c_str());
  } else if (auto* c = std::get_if<CheckpointEvent>(&e)) {
    close_line();
    std::fprintf(stderr, "%s: checkpoint at step %lld -> %s\n", c->stage.c_str(), static_cast<long long>(c->step),
                 c->path.c_str());
  } else if (auto* s = std::get_if<StageEvent>(&e)) {
    close_line();
    std::fprintf(stderr, "== %s %s%s%s\n", s->stage.c_str(), s->finished ? "finished" : "",
                 s->finished || s->message.empty() ? "" : "", s->finished ? "" : s->message.c_str());
  }
}

}  // namespace mm::cli
