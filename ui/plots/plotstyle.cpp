#include "plots/plotstyle.h"

#include <QApplication>
#include <QPointer>
#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "widgets/textscale.h"

namespace ui {
namespace {

/// Ticks at 2^k, labelled with K and M suffixes (1024 = 1K): every octave while the labels fit side
/// by side, else every n-th (256, 4K, 64K, 1M on a narrow plot).
class PowerOfTwoTicker : public QCPAxisTicker {
 public:
  explicit PowerOfTwoTicker(QCPAxis* axis) : m_axis(axis) {}

 protected:
  double getTickStep(const QCPRange&) override { return 1.0; }  // unused: createTickVector decides
  int getSubTickCount(double) override { return 0; }
  QString getTickLabel(double tick, const QLocale&, QChar, int) override {
    const double v = std::round(tick);
    if (v >= 1 << 20 && std::fmod(v, 1 << 20) == 0) return QString("%1M").arg(v / (1 << 20));
    if (v >= 1024 && std::fmod(v, 1024) == 0) return QString("%1K").arg(v / 1024);
    return QString::number(v);
  }
  QVector<double> createTickVector(double, const QCPRange& range) override {
    if (!(range.lower > 0 && range.upper > range.lower)) return {};
    const int eLo = int(std::floor(std::log2(range.lower))) - 1, eHi = int(std::ceil(std::log2(range.upper))) + 1;
    auto inside = [&](int e) { return std::ldexp(1.0, e) >= range.lower && std::ldexp(1.0, e) <= range.upper; };
    int first = eHi, octaves = 0;
    for (int e = eLo; e <= eHi; ++e)
      if (inside(e)) first = std::min(first, e), ++octaves;
    const int every = std::max(1, (octaves + labelBudget() - 1) / labelBudget());
    // Exponents that are multiples of every (1K, 32K, 1M for every 5), from the first inside when
    // those leave fewer than two labels.
    int anchor = 0, shown = 0;
    for (int e = eLo; e <= eHi; ++e) shown += inside(e) && e % every == 0;
    if (shown < 2) anchor = first;
    QVector<double> t;
    for (int e = eLo; e <= eHi; ++e)
      if ((((e - anchor) % every) + every) % every == 0) t << std::ldexp(1.0, e);
    return t;
  }

 private:
  /// Labels that fit along the axis, each given 1.5 times the width of "256K" (2 to 12).
  int labelBudget() const {
    if (!m_axis || !m_axis->axisRect()) return 12;
    const QFontMetrics fm(m_axis->tickLabelFont());
    const bool across = m_axis->orientation() == Qt::Horizontal;
    const int length = across ? m_axis->axisRect()->width() : m_axis->axisRect()->height();
    const int per = int(1.5 * (across ? fm.horizontalAdvance("256K") : 1.5 * fm.height()));
    return length > 0 ? std::clamp(length / std::max(per, 1), 2, 12) : 12;
  }

  QPointer<QCPAxis> m_axis;
};

/// Log-axis ticks that never crowd (see useLogTicks): QCPAxisTickerLog falls back to linear steps
/// below 1.6 decades, which bunch up at the top of a log axis (100, 150, ..., 400 overlapped).
class ReadableLogTicker : public QCPAxisTicker {
 public:
  explicit ReadableLogTicker(QCPAxis* axis) : m_axis(axis) {}

 protected:
  double getTickStep(const QCPRange&) override { return 1.0; }  // unused: createTickVector decides
  int getSubTickCount(double) override { return m_subTicks; }
  QString getTickLabel(double tick, const QLocale&, QChar, int) override {
    return QString::number(tick, 'g', 6);  // 0.3, 150, 1000: no 1.5·10² on a projector
  }
  QVector<double> createTickVector(double, const QCPRange& range) override {
    const double lo = range.lower, hi = range.upper;
    const int budget = labelBudget();
    if (!(lo > 0 && hi > lo) || hi / lo < 3) return linearTicks(lo, hi, budget);
    const int kLo = int(std::floor(std::log10(lo))) - 1, kHi = int(std::ceil(std::log10(hi))) + 1;
    auto inside = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
    // Mantissas m at m·10^k for every every-th k counted from the first decade inside, from one below
    // the range to one above (QCPAxisTicker keeps one tick beyond each edge and drops the rest).
    auto ticksOf = [&](std::initializer_list<double> mantissas, int every) {
      int first = kLo;
      while (first < kHi && !inside(std::pow(10.0, first))) ++first;
      QVector<double> t;
      for (int k = kLo; k <= kHi; ++k)
        if ((((k - first) % every) + every) % every == 0)
          for (double m : mantissas) t << m * std::pow(10.0, k);
      return t;
    };
    auto count = [&](const QVector<double>& t) { return int(std::count_if(t.begin(), t.end(), inside)); };
    if (const int decades = count(ticksOf({1}, 1)); decades > budget) {  // many decades: every n-th
      const int every = (decades + budget - 1) / budget;
      m_subTicks = every == 1 ? 8 : 0;
      return ticksOf({1}, every);
    }
    // Sparsest first: the first set with three labels that fit, else the densest with two that fit.
    const QVector<double> sets[] = {ticksOf({1}, 1), ticksOf({1, 3}, 1), ticksOf({1, 2, 5}, 1),
                                    ticksOf({1, 2, 3, 5}, 1), ticksOf({1, 1.5, 2, 3, 5, 7}, 1)};
    const QVector<double>* pick = nullptr;
    for (const QVector<double>& t : sets) {
      const int n = count(t);
      if (n > budget + 1) break;
      if (n >= 2) pick = &t;
      if (n >= 3) break;
    }
    if (!pick) pick = &sets[1];  // nothing fits: ticks a factor of 3 apart (a very short axis)
    m_subTicks = pick == &sets[0] ? 8 : 0;  // 2·10^k ... 9·10^k between decades
    return *pick;
  }

 private:
  /// How many labels the axis has room for: one per 2.2 label heights, 2 to 6.
  int labelBudget() const {
    if (!m_axis || !m_axis->axisRect()) return 6;
    const QRect r = m_axis->axisRect()->rect();
    const int length = m_axis->orientation() == Qt::Vertical ? r.height() : r.width();
    const int per = int(2.2 * QFontMetrics(m_axis->tickLabelFont()).height());
    return length > 0 ? std::clamp(length / std::max(per, 1), 2, 6) : 6;
  }

  /// Evenly spaced ticks at 1, 2 or 5 times a power of ten, about budget of them: over less than a
  /// factor of 3 they do not bunch up on a log axis.
  QVector<double> linearTicks(double lo, double hi, int budget) {
    const double raw = std::max((hi - lo) / budget, 1e-300);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {2.0, 5.0, 10.0})  // the nearest on a log scale
      if (std::fabs(std::log(m * mag / raw)) < std::fabs(std::log(step / raw))) step = m * mag;
    m_subTicks = std::fabs(step / std::pow(10.0, std::floor(std::log10(step) + 1e-9)) - 2) < 1e-9 ? 3 : 4;
    QVector<double> t;
    for (double k = std::floor(lo / step) - 1; k <= std::ceil(hi / step) + 1 && t.size() < 64; ++k)
      if (k * step > 0) t << k * step;
    return t;
  }

  QPointer<QCPAxis> m_axis;
  int m_subTicks = 0;
};

const char* const kFontPlus = "ui.fontPlus", *const kFontMin = "ui.fontMin", *const kStyled = "ui.projectorStyled";

/// The studio's font plus `plus` points, at least `min`. (Not the plot's: QCustomPlot keeps the font
/// it was made with, and a new text size never reached it.)
QFont projectorFont(double plus, double min) {
  QFont f = QApplication::font();
  f.setPointSizeF(std::max(min, f.pointSizeF() + plus));
  return f;
}

/// Sets every projector size from the studio's font: the plot's axes, colour scales, legend, and the
/// texts registered with sizeWithPlot.
void applyProjectorFonts(QCustomPlot* plot) {
  const QFont tick = projectorFont(0, 10), label = projectorFont(1, 11);
  for (QCPAxis* a : plot->axisRect()->axes()) {
    a->setTickLabelFont(tick);
    a->setLabelFont(label);
  }
  for (QCPColorScale* scale : plot->findChildren<QCPColorScale*>()) {  // along a short side: no larger label
    scale->axis()->setTickLabelFont(tick);
    scale->axis()->setLabelFont(projectorFont(0, 0));
  }
  plot->legend->setFont(tick);
  for (QCPItemText* t : plot->findChildren<QCPItemText*>())
    if (t->property(kFontPlus).isValid()) t->setFont(projectorFont(t->property(kFontPlus).toDouble(), t->property(kFontMin).toDouble()));
  for (QCPTextElement* t : plot->findChildren<QCPTextElement*>())
    if (t->property(kFontPlus).isValid()) {
      QFont f = projectorFont(t->property(kFontPlus).toDouble(), t->property(kFontMin).toDouble());
      f.setBold(t->font().bold());
      t->setFont(f);
    }
}

}  // namespace

void styleForProjector(QCustomPlot* plot) {
  for (QCPAxis* a : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) a->setBasePen(QPen(Qt::black, 1.5));
  applyProjectorFonts(plot);
  plot->legend->setBrush(QColor(255, 255, 255, 210));
  if (plot->property(kStyled).toBool()) return;
  plot->setProperty(kStyled, true);
  onTextScaleChanged(plot, [plot] {
    applyProjectorFonts(plot);
    plot->replot(QCustomPlot::rpQueuedReplot);
  });
}

void sizeWithPlot(QCustomPlot* plot, QObject* text, double plus, double min) {
  text->setProperty(kFontPlus, plus);
  text->setProperty(kFontMin, min);
  applyProjectorFonts(plot);
}

namespace {

constexpr char kLegendColumns[] = "mmLegendColumns", kLegendRows[] = "mmLegendRows";
constexpr char kHiddenEntry[] = "mmHiddenFromLegend", kMoreEntry[] = "mmMoreEntry";

/// Keeps at most `allowed` entries in the legend, the last of them "+N more" when graphs had to leave it
/// (they come back, in their order, when there is room again). Returns whether the entries changed.
bool capLegendEntries(QCustomPlot* plot, int allowed) {
  QCPGraph* more = nullptr;
  QList<QCPGraph*> named;  // the graphs with an entry, or that had one before the cap took it
  for (int i = 0; i < plot->graphCount(); ++i) {
    QCPGraph* g = plot->graph(i);
    if (g->property(kMoreEntry).toBool()) more = g;
    else if (plot->legend->hasItemWithPlottable(g) || g->property(kHiddenEntry).toBool()) named << g;
  }
  const int keep = named.size() <= allowed ? int(named.size()) : std::max(1, allowed - 1);
  bool same = (keep == named.size()) == (more == nullptr);
  for (int i = 0; i < named.size() && same; ++i) same = plot->legend->hasItemWithPlottable(named[i]) == (i < keep);
  if (same) return false;
  for (QCPGraph* g : named) g->removeFromLegend();  // re-added in order
  if (more) plot->removeGraph(more);
  for (int i = 0; i < named.size(); ++i) {
    named[i]->setProperty(kHiddenEntry, i >= keep);
    if (i < keep) named[i]->addToLegend();
  }
  if (keep < named.size()) {
    more = plot->addGraph();  // no data and no line: only its entry
    more->setProperty(kMoreEntry, true);
    more->setPen(Qt::NoPen);
    more->setName(QObject::tr("+%1 more (in the table)").arg(named.size() - keep));
  }
  return true;
}

/// As many legend columns as the widest entry allows in the plot's width, at most the plot's maximum:
/// four long names in a row ran past the plot's right edge and were cut. With a row limit, the entries past
/// it give way to one "+N more" (twenty entries overlapped over a plot with no room left for data).
/// Returns whether it re-laid them out.
bool fitLegendColumns(QCustomPlot* plot) {
  QCPLegend* legend = plot->legend;
  int widest = 0;
  for (int i = 0; i < legend->itemCount(); ++i)
    if (QCPAbstractLegendItem* item = legend->item(i)) widest = std::max(widest, item->minimumOuterSizeHint().width());
  if (widest <= 0) return false;
  // The legend asks for one entry's width, not a full row's: a row of long names made the plot, and the
  // window, wider than the screen before there was a chance to wrap them.
  legend->setMinimumSize(widest, 0);
  const int room = plot->width() - legend->margins().left() - legend->margins().right();
  const int most = std::max(1, plot->property(kLegendColumns).toInt());
  const int columns = std::clamp((room + legend->columnSpacing()) / (widest + legend->columnSpacing()), 1, most);
  const int rows = plot->property(kLegendRows).toInt();
  const bool capped = rows > 0 && capLegendEntries(plot, rows * columns);
  if (!capped && columns == legend->wrap() && legend->columnCount() <= columns) return false;
  legend->setWrap(columns);
  legend->setFillOrder(legend->fillOrder(), true);  // setWrap alone only applies to entries added later
  return true;
}

/// Refits the legend's columns whenever its plot changes size.
class LegendFitter : public QObject {
 public:
  using QObject::QObject;
  bool eventFilter(QObject* watched, QEvent* event) override {
    if (event->type() == QEvent::Resize)
      if (auto* plot = qobject_cast<QCustomPlot*>(watched); plot && plot->legend->visible() && fitLegendColumns(plot))
        plot->replot(QCustomPlot::rpQueuedReplot);
    return false;
  }
};

}  // namespace

void putLegendAbove(QCustomPlot* plot, int maxColumns, int maxRows) {
  plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
  plot->setProperty(kLegendColumns, maxColumns);  // a second row rather than a plot wider than a 1024 px window
  plot->setProperty(kLegendRows, maxRows);
  plot->legend->setWrap(maxColumns);
  plot->legend->setBorderPen(Qt::NoPen);
  plot->installEventFilter(new LegendFitter(plot));
  showLegendAbove(plot, true);
  // A grid column is as narrow as its narrowest element allows, hidden ones included, and an empty
  // legend's maximum is its margins: without a width of its own it squeezed the empty plot below it
  // to a 50 px stub. (Any width under QWIDGETSIZE_MAX replaces the legend's own maximum.)
  plot->legend->setMaximumSize(1 << 20, QWIDGETSIZE_MAX);
}

void showLegendAbove(QCustomPlot* plot, bool show) {
  QCPLayoutGrid* grid = plot->plotLayout();
  const bool placed = plot->legend->layout() == grid;  // (a new plot's legend is in the axis rect's inset)
  if (show && !placed) {
    grid->insertRow(0);
    grid->addElement(0, 0, plot->legend);
    grid->setRowStretchFactor(0, 0.001);  // as high as its entries, the rest to the data
  } else if (!show && placed) {
    grid->take(plot->legend);
    grid->simplify();  // drops its row
  }
  plot->legend->setVisible(show);
  if (show) fitLegendColumns(plot);
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
  axis->setTicker(QSharedPointer<PowerOfTwoTicker>::create(axis));
}

void useLogTicks(QCPAxis* axis) {
  axis->setScaleType(QCPAxis::stLogarithmic);
  axis->setTicker(QSharedPointer<ReadableLogTicker>::create(axis));
}

QCPItemText* addEmptyNote(QCustomPlot* plot, const QString& text) {
  auto* note = new QCPItemText(plot);
  note->position->setType(QCPItemPosition::ptAxisRectRatio);
  note->position->setCoords(0.5, 0.5);
  note->setText(text);
  note->setColor(Qt::gray);
  sizeWithPlot(plot, note, 2, 12);
  note->setClipToAxisRect(false);
  setEmpty(note, true);
  return note;
}

void setEmpty(QCPItemText* note, bool empty) {
  note->setVisible(empty);
  for (QCPAxis* axis : note->parentPlot()->axisRect()->axes()) axis->setTickLabels(!empty);
}

void padRange(QCPAxis* axis) {
  const QCPRange r = axis->range();
  if (axis->scaleType() == QCPAxis::stLogarithmic && r.lower > 0) axis->setRange(r.lower / 1.25, r.upper * 1.25);
  else axis->setRange(r.lower - 0.05 * r.size(), r.upper + 0.05 * r.size());
}

namespace {

constexpr char kForms[] = "mmFittedForms", kFitting[] = "mmFitsLabels";

/// The first of forms whose text fits `room` px in `font`, else the last.
QString longestFitting(const QStringList& forms, const QFont& font, int room) {
  const QFontMetrics metrics(font);
  for (const QString& f : forms)
    if (metrics.horizontalAdvance(f) <= room) return f;
  return forms.isEmpty() ? QString() : forms.back();
}

/// Every fitted label and text of the plot, for the room its layout just gave them. A vertical label
/// or a one-line text is as thick whatever its length, so the layout stands and this replot draws it.
void refit(QCustomPlot* plot) {
  for (QCPAxis* a : plot->axisRect()->axes()) {
    const QStringList forms = a->property(kForms).toStringList();
    if (forms.isEmpty()) continue;
    const int room = a->orientation() == Qt::Vertical ? a->axisRect()->height() : a->axisRect()->width();
    a->setLabel(longestFitting(forms, a->labelFont(), room));
  }
  for (QCPTextElement* t : plot->findChildren<QCPTextElement*>()) {
    const QStringList forms = t->property(kForms).toStringList();
    if (!forms.isEmpty()) t->setText(longestFitting(forms, t->font(), plot->viewport().width() - 8));
  }
}

void refitOnLayout(QCustomPlot* plot) {
  if (plot->property(kFitting).toBool()) return;
  plot->setProperty(kFitting, true);
  QObject::connect(plot, &QCustomPlot::afterLayout, plot, [plot] { refit(plot); });
}

}  // namespace

void fitAxisLabel(QCPAxis* axis, const QStringList& forms) {
  axis->setProperty(kForms, forms);
  axis->setLabel(forms.value(0));
  refitOnLayout(axis->parentPlot());
}

void fitText(QCPTextElement* text, const QStringList& forms) {
  text->setProperty(kForms, forms);
  text->setText(forms.value(0));
  refitOnLayout(text->parentPlot());
}

}  // namespace ui
