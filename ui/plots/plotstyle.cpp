#include "plots/plotstyle.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

namespace ui {
namespace {

/// Ticks at 2^k, labelled with K and M suffixes (1024 = 1K).
class PowerOfTwoTicker : public QCPAxisTickerLog {
 public:
  PowerOfTwoTicker() {
    setLogBase(2);
    setSubTickCount(0);
  }

 protected:
  QString getTickLabel(double tick, const QLocale&, QChar, int) override {
    const double v = std::round(tick);
    if (v >= 1 << 20 && std::fmod(v, 1 << 20) == 0) return QString("%1M").arg(v / (1 << 20));
    if (v >= 1024 && std::fmod(v, 1024) == 0) return QString("%1K").arg(v / 1024);
    return QString::number(v);
  }
};

/// Log-axis ticks that never crowd (see useLogTicks): QCPAxisTickerLog falls back to linear steps
/// below 1.6 decades, which bunch up at the top of a log axis (100, 150, ..., 400 overlapped).
class ReadableLogTicker : public QCPAxisTicker {
 protected:
  double getTickStep(const QCPRange&) override { return 1.0; }  // unused: createTickVector decides
  int getSubTickCount(double) override { return m_subTicks; }
  QString getTickLabel(double tick, const QLocale&, QChar, int) override {
    return QString::number(tick, 'g', 6);  // 0.3, 150, 1000: no 1.5·10² on a projector
  }
  QVector<double> createTickVector(double, const QCPRange& range) override {
    const double lo = range.lower, hi = range.upper;
    if (!(lo > 0 && hi > lo) || hi / lo < 3) return linearTicks(lo, hi);
    const int kLo = int(std::floor(std::log10(lo))) - 1, kHi = int(std::ceil(std::log10(hi))) + 1;
    // Mantissas m at m·10^k for every every-th k, from one below the range to one above (QCPAxisTicker
    // keeps one tick beyond each edge for the minor ticks and drops the rest).
    auto ticksOf = [&](std::initializer_list<double> mantissas, int every) {
      QVector<double> t;
      for (int k = kLo; k <= kHi; ++k)
        if (((k % every) + every) % every == 0)
          for (double m : mantissas) t << m * std::pow(10.0, k);
      return t;
    };
    auto inside = [&](const QVector<double>& t) {
      return int(std::count_if(t.begin(), t.end(), [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); }));
    };
    constexpr int kMaxLabels = 6;
    const int decades = inside(ticksOf({1}, 1));
    const QVector<double> oneTwoFive = ticksOf({1, 2, 5}, 1);
    const int n125 = inside(oneTwoFive);
    if (decades >= 3 || n125 > kMaxLabels + 1) {  // two decades or more
      const int every = (decades + kMaxLabels - 1) / kMaxLabels;
      m_subTicks = every == 1 ? 8 : 0;  // 2·10^k ... 9·10^k
      return ticksOf({1}, every);
    }
    m_subTicks = 0;
    if (n125 >= 3) return oneTwoFive;
    if (const QVector<double> t = ticksOf({1, 2, 3, 5}, 1); inside(t) >= 3) return t;
    return ticksOf({1, 1.5, 2, 3, 5, 7}, 1);  // a factor of 3 to 5: at least two of these inside
  }

 private:
  /// About four evenly spaced ticks at 1, 2, 2.5 or 5 times a power of ten: over less than a factor of
  /// 3 they do not bunch up on a log axis.
  QVector<double> linearTicks(double lo, double hi) {
    const double raw = std::max((hi - lo) / 4, 1e-300);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = 10 * mag;
    for (double m : {1.0, 2.0, 2.5, 5.0})
      if (m * mag >= raw * (1 - 1e-9)) {
        step = m * mag;
        break;
      }
    m_subTicks = std::fabs(step / mag - 2) < 1e-9 ? 3 : 4;
    QVector<double> t;
    for (double k = std::floor(lo / step) - 1; k <= std::ceil(hi / step) + 1 && t.size() < 64; ++k)
      if (k * step > 0) t << k * step;
    return t;
  }

  int m_subTicks = 0;
};

}  // namespace

void styleForProjector(QCustomPlot* plot) {
  QFont tick = plot->font(), label = plot->font();
  tick.setPointSizeF(std::max(10.0, tick.pointSizeF()));
  label.setPointSizeF(std::max(11.0, label.pointSizeF() + 1));
  for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
    a->setTickLabelFont(tick);
    a->setLabelFont(label);
    a->setBasePen(QPen(Qt::black, 1.5));
  }
  plot->legend->setFont(tick);
  plot->legend->setBrush(QColor(255, 255, 255, 210));
}

void putLegendAbove(QCustomPlot* plot) {
  plot->plotLayout()->insertRow(0);
  plot->plotLayout()->addElement(0, 0, plot->legend);
  plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
  plot->legend->setWrap(4);  // a second row rather than a plot wider than a 1024 px window
  plot->legend->setBorderPen(Qt::NoPen);
  plot->plotLayout()->setRowStretchFactor(0, 0.001);
  // A grid column is as narrow as its narrowest element allows, hidden ones included, and an empty
  // legend's maximum is its margins: without a width of its own it squeezed the empty plot below it
  // to a 50 px stub. (Any width under QWIDGETSIZE_MAX replaces the legend's own maximum.)
  plot->legend->setMaximumSize(1 << 20, QWIDGETSIZE_MAX);
}

void useIntegerTicks(QCPAxis* axis) {
  auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
  ticker->setTickStep(1.0);
  ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);  // 1, 2, 5, 10, 50, ... never fractions
  axis->setTicker(ticker);
  axis->setNumberFormat("f");  // 30, not 3·10¹
  axis->setNumberPrecision(0);
}

void usePowerOfTwoTicks(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<PowerOfTwoTicker>::create());
}

void useLogTicks(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<ReadableLogTicker>::create());
}

QCPItemText* addEmptyNote(QCustomPlot* plot, const QString& text) {
  auto* note = new QCPItemText(plot);
  note->position->setType(QCPItemPosition::ptAxisRectRatio);
  note->position->setCoords(0.5, 0.5);
  note->setText(text);
  note->setColor(Qt::gray);
  QFont f = plot->font();
  f.setPointSizeF(std::max(12.0, f.pointSizeF() + 2));
  note->setFont(f);
  note->setClipToAxisRect(false);
  return note;
}

void padRange(QCPAxis* axis) {
  const QCPRange r = axis->range();
  if (axis->scaleType() == QCPAxis::stLogarithmic && r.lower > 0) axis->setRange(r.lower / 1.25, r.upper * 1.25);
  else axis->setRange(r.lower - 0.05 * r.size(), r.upper + 0.05 * r.size());
}

}  // namespace ui
