#include "plots/plotstyle.h"

#include <qcustomplot.h>

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
