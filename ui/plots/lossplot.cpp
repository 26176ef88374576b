#include "plots/lossplot.h"

#include <cmath>

#include "plots/plotstyle.h"
#include "widgets/palette.h"

namespace {
const char* const kSmoothLayer = "smooth";
const int kRawAlpha = 75;         // of 255: raw points faint behind the line
const double kSmoothWidth = 4.0;  // px: the line reads from the back of a room
const char* kStages[] = {"teacher", "stage1", "stage2", "stage3"};
int stageIndex(const std::string& s) {
  for (int i = 0; i < 4; ++i)
    if (s == kStages[i]) return i;
  return 4;
}
QString stageLabel(const std::string& s, double mseFactor) {
  // Stages 1-2 report factor x the mean over layers of the layer MSE, the per-layer plot's unit.
  // (Short: two entries per legend row must fit a 1024 px window.)
  if (s == "teacher") return QObject::tr("teacher (cross-entropy)");
  if (s == "stage1") return QObject::tr("stage 1: MSE ×%1").arg(mseFactor);
  if (s == "stage2") return QObject::tr("stage 2: MSE ×%1").arg(mseFactor);
  if (s == "stage3") return QObject::tr("stage 3: KL (right axis)");
  return QString::fromStdString(s);
}
/// Losses of the output distribution (nats) go on the right axis, layer MSE on the left.
bool onRightAxis(const QString& stage) { return stage == "stage3" || stage == "teacher"; }
/// The right axis's colour: stage 3's, a little darker so its labels read on white.
QColor rightAxisColor() { return ui::modelColor(stageIndex("stage3")).darker(115); }
}  // namespace

LossPlot::LossPlot(QWidget* parent) : QCustomPlot(parent) {
  xAxis->setLabel(tr("step (stages end to end)"));
  ui::styleForProjector(this);
  // The right axis in stage 3's colour, drawn only while a stage on it has points.
  const QColor right = rightAxisColor();
  yAxis2->setBasePen(QPen(right, 1.5));
  yAxis2->setTickPen(QPen(right));
  yAxis2->setSubTickPen(QPen(right));
  yAxis2->setTickLabelColor(right);
  yAxis2->setLabelColor(right);
  axisRect()->setRangeDragAxes({xAxis}, {yAxis, yAxis2});
  axisRect()->setRangeZoomAxes({xAxis}, {yAxis, yAxis2});
  m_band = new QCPItemRect(this);
  m_band->setLayer("grid");  // under the points and lines
  m_band->setPen(Qt::NoPen);
  m_band->setBrush(QColor(right.red(), right.green(), right.blue(), 22));
  m_band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
  m_band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
  m_band->topLeft->setCoords(0, 0);
  m_band->bottomRight->setCoords(0, 1);
  m_band->setVisible(false);
  ui::putLegendAbove(this, 2);  // two columns: the plot stays narrow enough for a 1024 px window
  ui::useIntegerTicks(xAxis);
  m_empty = ui::addEmptyNote(this, tr("No loss yet: start a run or open one"));
  ui::showLegendAbove(this, false);  // until a stage has points
  setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  addLayer(kSmoothLayer, layer("main"), limAbove);  // smoothed lines over all raw points
  setMinimumHeight(220);
  connect(this, &QCustomPlot::afterLayout, this, &LossPlot::labelRightAxis);  // the axis's height is known
  m_flushTimer.setInterval(33);  // ~30 redraws per second at most
  m_flushTimer.setSingleShot(true);
  connect(&m_flushTimer, &QTimer::timeout, this, &LossPlot::flush);
}

double LossPlot::offsetOf(const std::string& stage) const {
  double off = 0;
  for (auto it = m_series.begin(); it != m_series.end(); ++it)
    if (stageIndex(it.key().toStdString()) < stageIndex(stage)) off += double(it->total);
  return off;
}

LossPlot::Series& LossPlot::series(const std::string& stage, int64_t total) {
  const QString key = QString::fromStdString(stage);
  auto it = m_series.find(key);
  if (it != m_series.end()) {
    it->total = std::max(it->total, total);
    return *it;
  }
  Series s;
  s.total = total;
  const QColor c = ui::modelColor(stageIndex(stage));
  QCPAxis* value = valueAxisOf(key);
  s.raw = addGraph(xAxis, value);
  s.raw->setLineStyle(QCPGraph::lsNone);
  // The smoothed line is what a viewer should read: thick, full colour, over every stage's points;
  // the raw points stay as faint dots behind it.
  s.raw->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, QColor(c.red(), c.green(), c.blue(), kRawAlpha), 5));
  s.raw->removeFromLegend();
  s.smooth = addGraph(xAxis, value);
  s.smooth->setLayer(kSmoothLayer);
  s.smooth->setPen(QPen(c, kSmoothWidth, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
  s.smooth->setName(stageLabel(stage, m_factors.value(key, 1000.0)));
  return *m_series.insert(key, s);
}

void LossPlot::setMseFactor(const QString& stage, double factor) {
  if (!(factor > 0 && std::isfinite(factor))) return;
  m_factors[stage] = factor;
  if (auto it = m_series.find(stage); it != m_series.end()) {
    it->smooth->setName(stageLabel(stage.toStdString(), factor));
  }
  fitRanges();  // the left axis names the factor
  replot(rpQueuedReplot);
}

QCPAxis* LossPlot::valueAxisOf(const QString& stage) const { return onRightAxis(stage) ? yAxis2 : yAxis; }

void LossPlot::addMetric(const mm::MetricEvent& m) {
  m_pending.push_back(m);
  if (!m_flushTimer.isActive()) m_flushTimer.start();
}

void LossPlot::flush() {
  m_flushTimer.stop();
  if (m_pending.isEmpty()) return;
  for (const mm::MetricEvent& m : m_pending) {
    if (!std::isfinite(m.loss)) continue;
    Series& s = series(m.stage, m.total_steps);
    // A resumed run repeats steps after its last checkpoint: drop what comes after.
    while (!s.x.isEmpty() && s.x.back() >= double(m.step)) s.x.removeLast(), s.y.removeLast();
    s.x << double(m.step);
    s.y << m.loss;
  }
  m_pending.clear();
  for (auto it = m_series.begin(); it != m_series.end(); ++it) {
    Series& s = *it;
    const double off = offsetOf(it.key().toStdString());
    QVector<double> gx(s.x.size());
    for (int i = 0; i < s.x.size(); ++i) gx[i] = s.x[i] + off;
    s.raw->setData(gx, s.y, true);
    rebuildSmooth(s);
  }
  fitRanges();
  replot(rpQueuedReplot);
}

void LossPlot::fitRanges() {
  struct Span {
    double lo = INFINITY, hi = -INFINITY;
    bool any() const { return lo <= hi; }
  } left, right;
  double last = 0, bandStart = INFINITY;
  auto take = [&](const QString& stage, const QCPGraph* g) {
    Span& span = onRightAxis(stage) ? right : left;
    const bool log = g->valueAxis()->scaleType() == QCPAxis::stLogarithmic;
    for (auto p = g->data()->constBegin(); p != g->data()->constEnd(); ++p) {
      if (log && p->value <= 0) continue;
      span.lo = std::min(span.lo, p->value), span.hi = std::max(span.hi, p->value), last = std::max(last, p->key);
      if (stage == "stage3") bandStart = std::min(bandStart, p->key);
    }
  };
  for (auto it = m_series.begin(); it != m_series.end(); ++it) take(it.key(), it->raw);
  for (auto it = m_compare.begin(); it != m_compare.end(); ++it) take(it.key(), it->smooth);
  const bool empty = !left.any() && !right.any();
  ui::showLegendAbove(this, !empty);
  ui::setEmpty(m_empty, empty);
  yAxis2->setVisible(right.any());
  yAxis->setTickLabels(left.any());  // a stage-3-only run: no made-up range on the left
  labelAxes(left.any(), right.any());
  m_band->setVisible(std::isfinite(bandStart));
  if (empty) return;
  xAxis->setRange(0, std::max(1.0, last + 1));
  // Every point inside, with a margin: a factor on a log axis, a share of the span on a linear one.
  auto fit = [](QCPAxis* axis, const Span& s) {
    if (!s.any()) return;
    const double pad = 0.05 * std::max(s.hi - s.lo, 1e-9);
    if (axis->scaleType() == QCPAxis::stLogarithmic) axis->setRange(s.lo / 1.25, s.hi * 1.25);
    else axis->setRange(s.lo - pad, s.hi + pad);
  };
  fit(yAxis, left);
  fit(yAxis2, right);
  if (m_band->visible()) {  // from half a step before stage 3's first to the right edge
    m_band->topLeft->setCoords(bandStart - 0.5, 0);
    m_band->bottomRight->setCoords(xAxis->range().upper, 1);
  }
}

QList<double> LossPlot::leftFactors(bool compared) const {
  QList<double> factors;
  for (const QString& stage : {QString("stage1"), QString("stage2")})
    if (compared ? m_compare.contains(stage) : m_series.contains(stage)) {
      const double f = (compared ? m_compareFactors : m_factors).value(stage, 1000.0);
      if (!factors.contains(f)) factors << f;
    }
  return factors;
}

void LossPlot::labelAxes(bool left, bool right) {
  // Left: the unit of the stages 1-2 entries, their factor when every curve shares one.
  QList<double> factors = leftFactors(false);
  for (double f : leftFactors(true))
    if (!factors.contains(f)) factors << f;
  yAxis->setLabel(!left ? QString() : factors.size() == 1 ? tr("layer MSE ×%1").arg(factors[0]) : tr("layer MSE × factor"));
  m_rightLabelled = right;
  labelRightAxis();
}

void LossPlot::labelRightAxis() {
  // Stage 3's loss (core/train/losses.h kl_loss) is KL(teacher || student) summed over a sequence's
  // tokens and the vocabulary, averaged over the batch: not per token, so it says so.
  const bool teacher = m_series.contains("teacher") || m_compare.contains("teacher");
  const bool kl = m_series.contains("stage3") || m_compare.contains("stage3");
  // The longest form the axis has room for: a label longer than its axis ran into the legend.
  const QString forms[3][2] = {{tr("teacher cross-entropy per token"), tr("stage 3 KL, summed per sequence")},
                               {tr("teacher CE per token"), tr("KL, sum per sequence")},
                               {tr("CE/token"), tr("KL per sequence")}};
  QString text;
  for (const auto& form : forms) {
    QStringList parts;
    if (teacher) parts << form[0];
    if (kl) parts << form[1];
    text = m_rightLabelled ? parts.join(" · ") : QString();
    if (QFontMetrics(yAxis2->labelFont()).horizontalAdvance(text) <= axisRect()->height()) break;
  }
  yAxis2->setLabel(text);  // as thick whatever its length: the layout stands
}

void LossPlot::rebuildSmooth(Series& s) {
  QVector<double> gx, gy;
  const QSharedPointer<QCPGraphDataContainer> raw = s.raw->data();
  // Debiased EMA (as TensorBoard): the average starts at 0 and is divided by the weight it has
  // gathered, 1 - w^n, so the first points show the data instead of being pulled to the first value.
  double ema = 0, weight = 0;
  for (auto p = raw->constBegin(); p != raw->constEnd(); ++p) {
    ema = m_smoothing * ema + (1 - m_smoothing) * p->value;
    weight = m_smoothing * weight + (1 - m_smoothing);
    gx << p->key;
    gy << (weight > 0 ? ema / weight : p->value);
  }
  s.smooth->setData(gx, gy, true);
}

void LossPlot::setSmoothing(double weight) {
  m_smoothing = std::clamp(weight, 0.0, 0.999);
  for (Series& s : m_series) rebuildSmooth(s);
  for (Series& s : m_compare) rebuildCompare(s);
  replot(rpQueuedReplot);
}

void LossPlot::setLogScale(bool on) {
  for (QCPAxis* axis : {yAxis, yAxis2}) {
    if (on) {
      ui::useLogTicks(axis);
    } else {
      axis->setScaleType(QCPAxis::stLinear);
      axis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
    }
  }
  fitRanges();
  replot(rpQueuedReplot);
}

void LossPlot::clearAll() {
  m_pending.clear();
  m_series.clear();
  m_compare.clear();
  m_compareFactors.clear();
  clearGraphs();
  fitRanges();
  replot(rpQueuedReplot);
}

void LossPlot::rebuildCompare(Series& s) {
  QVector<double> gy;
  double ema = 0, weight = 0;  // the debiased EMA of rebuildSmooth
  for (double v : s.y) {
    ema = m_smoothing * ema + (1 - m_smoothing) * v;
    weight = m_smoothing * weight + (1 - m_smoothing);
    gy << (weight > 0 ? ema / weight : v);
  }
  s.smooth->setData(s.x, gy, true);
}

void LossPlot::setComparison(const QString& name, const std::vector<mm::MetricEvent>& metrics,
                             const QMap<QString, double>& factors) {
  for (const Series& s : m_compare) removeGraph(s.smooth);
  m_compare.clear();
  m_compareFactors = factors;
  QMap<QString, int64_t> totals;  // the compared run's own stage lengths
  for (const mm::MetricEvent& m : metrics) {
    if (!std::isfinite(m.loss)) continue;
    const QString key = QString::fromStdString(m.stage);
    Series& s = m_compare[key];
    totals[key] = std::max({totals.value(key), m.total_steps, m.step});
    while (!s.x.isEmpty() && s.x.back() >= double(m.step)) s.x.removeLast(), s.y.removeLast();  // a resume repeats steps
    s.x << double(m.step);
    s.y << m.loss;
  }
  // Its stages 1-2 in another unit than the shown run's: the entry says which.
  const QList<double> own = leftFactors(false), theirs = leftFactors(true);
  const QString unit = theirs.size() == 1 && !own.isEmpty() && own != theirs ? tr("MSE ×%1").arg(theirs[0]) : QString();
  bool first = true;
  for (auto it = m_compare.begin(); it != m_compare.end(); ++it) {
    double off = 0;
    for (auto t = totals.begin(); t != totals.end(); ++t)
      if (stageIndex(t.key().toStdString()) < stageIndex(it.key().toStdString())) off += double(t.value());
    for (double& x : it->x) x += off;
    QColor c = ui::modelColor(stageIndex(it.key().toStdString())).lighter(140);
    it->smooth = addGraph(xAxis, valueAxisOf(it.key()));
    it->smooth->setLayer(kSmoothLayer);
    it->smooth->setPen(QPen(c, 2.5, Qt::DashLine));
    if (first) it->smooth->setName(unit.isEmpty() ? tr("%1 (compared, dashed)").arg(name)
                                                  : tr("%1 (compared, dashed; %2)").arg(name, unit));
    else it->smooth->removeFromLegend();
    first = false;
    rebuildCompare(*it);
  }
  fitRanges();
  replot(rpQueuedReplot);
}

int LossPlot::comparisonPointCount() const {
  int n = 0;
  for (const Series& s : m_compare) n += s.smooth->dataCount();
  return n;
}

int LossPlot::pointCount() const {
  int n = 0;
  for (const Series& s : m_series) n += s.raw->dataCount();
  return n;
}

QString LossPlot::toCsv() const {
  QString out = "stage,step,global_step,loss\n";
  for (auto it = m_series.begin(); it != m_series.end(); ++it) {
    const double off = offsetOf(it.key().toStdString());
    for (int i = 0; i < it->x.size(); ++i)
      out += QString("%1,%2,%3,%4\n").arg(it.key()).arg(it->x[i]).arg(it->x[i] + off).arg(it->y[i], 0, 'g', 8);
  }
  return out;
}
