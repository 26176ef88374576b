#include "widgets/textscale.h"

#include <QApplication>
#include <QPointer>
#include <QTimer>
#include <QWidget>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace ui {
namespace {
double g_scale = 1.0;
double g_basePointSize = 0;  ///< the application font's size before the first setTextScale

/// What follows the text size, each while its context lives.
std::vector<std::pair<QPointer<QObject>, std::function<void()>>>& followers() {
  static std::vector<std::pair<QPointer<QObject>, std::function<void()>>> list;
  return list;
}
}  // namespace

double textScale() { return g_scale; }

void setTextScale(double factor) {
  factor = std::clamp(factor, 0.5, 3.0);
  if (g_basePointSize <= 0) g_basePointSize = QApplication::font().pointSizeF();
  if (std::abs(factor - g_scale) < 1e-6 || g_basePointSize <= 0) return;
  g_scale = factor;
  QFont f = QApplication::font();
  f.setPointSizeF(g_basePointSize * factor);
  QApplication::setFont(f);  // widgets that inherit their font have it now (FontChange)
  auto& list = followers();
  list.erase(std::remove_if(list.begin(), list.end(), [](const auto& f) { return f.first.isNull(); }), list.end());
  for (size_t i = 0; i < list.size(); ++i)
    if (list[i].first) list[i].second();  // (by index: a call may add followers)
}

void onTextScaleChanged(QObject* context, std::function<void()> changed) { followers().emplace_back(context, std::move(changed)); }

void followTextSize(QWidget* widget, std::function<void()> fit) {
  fit();
  // Again once the events of the change are handled: some sizes (a header's hint) update only then.
  onTextScaleChanged(widget, [widget, fit] {
    fit();
    QTimer::singleShot(0, widget, fit);
  });
}

int scaledPx(int px) { return int(std::lround(px * g_scale)); }

double textScaleFor(QSize window) {
  const double fit = std::min(window.width() / 1280.0, window.height() / 800.0);
  return std::clamp(std::floor(10 * fit + 1e-9) / 10, 1.0, 1.5);
}

}  // namespace ui
