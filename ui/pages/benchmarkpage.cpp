#include "pages/benchmarkpage.h"

#include <QCheckBox>
#include <QComboBox>
#include <QEvent>
#include <QSet>
#include <algorithm>
#include <cstdlib>
#include <utility>
#include <QFileDialog>
#include <QFileInfo>
#include <QRegularExpression>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QSettings>
#include <QSplitter>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "bench/benchmark.h"
#include "controller/enginecontroller.h"
#include "plots/exportplot.h"
#include "plots/plotstyle.h"
#include "widgets/benchtable.h"
#include "widgets/messages.h"
#include "widgets/scrollable.h"
#include "widgets/palette.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

namespace {

constexpr int kCheckpointRole = Qt::UserRole, kArchRole = Qt::UserRole + 1, kPlanRole = Qt::UserRole + 2;
constexpr int kLegendEntry = 220;  ///< px at most for a model's name in the plots' legends
constexpr int kCompactBelow = 600;  ///< px of both plots' height together under which they go compact
constexpr int kMinPlotHeight = 220;  ///< px a plot keeps, whatever its legend
constexpr int kMinDataHeight = 90;   ///< px of data area a plot keeps under its legend and titles
constexpr int kMaxLegendRows = 6;  ///< past this a plot's legend ends in one "+N more" entry
constexpr int kMaxMinPlotHeight = 300;  ///< px at most that a plot asks for: a legend of many overlays must
                                        ///< not make the window taller than a 700 px screen
using ui::qs;

/// The axes, the legend above and under it the line key; returns the key (its text can change). The y
/// label and the key come in forms from longest to shortest: each shows the longest its plot has room for.
QCPTextElement* setLogAxes(QCustomPlot* plot, const QString& x, const QStringList& y, const QStringList& lineKey) {
  plot->xAxis->setLabel(x);
  ui::styleForProjector(plot);
  ui::fitAxisLabel(plot->yAxis, y);
  ui::usePowerOfTwoTicks(plot->xAxis);  // context lengths are powers of 2: 128, 1K, 32K
  ui::useLogTicks(plot->yAxis);
  // Above the plot: one legend entry per model, and under it what the line styles mean (a short
  // vertical axis has no room for that).
  ui::putLegendAbove(plot, 4, kMaxLegendRows);
  plot->plotLayout()->insertRow(1);
  auto* key = new QCPTextElement(plot, QString(), plot->font());
  key->setTextColor(QColor(90, 90, 90));
  plot->plotLayout()->addElement(1, 0, key);
  ui::sizeWithPlot(plot, key, 0);
  ui::fitText(key, lineKey);
  plot->plotLayout()->setRowStretchFactor(1, 0.001);
  ui::showLegendAbove(plot, false);  // no models yet: no blank row over the empty plot
  plot->setMinimumHeight(kMinPlotHeight);
  return key;
}

/// What the latency plot's line styles mean; the floor only when one is drawn (it needs a known bandwidth).
QStringList latencyKey(bool floorDrawn) {
  if (floorDrawn)
    return {QObject::tr("solid: decode · dashed: decode floor · dotted squares: prefill (right axis)"),
            QObject::tr("solid: decode · dashed: decode floor · squares: prefill (right)"),
            QObject::tr("solid: decode · dashed: decode floor · squares: prefill")};
  return {QObject::tr("solid: decode · dotted squares: prefill (right axis)"), QObject::tr("solid: decode · squares: prefill")};
}

/// A row's curve: its model, and the batch when several sequences were decoded together.
QString seriesName(const mm::BenchRow& r) {
  return r.batch > 1 ? QObject::tr("%1 ×%2").arg(qs(r.model)).arg(r.batch) : qs(r.model);
}

/// A short name for a saved sweep's curves: the card it was measured on ("H100"), or the file's name when
/// the file does not say.
QString overlayTag(const mm::BenchFile& f, const QString& path) {
  static const QRegularExpression card(R"(NVIDIA\s+([^\s)]+))");  // "cuda:0 (NVIDIA H200)" -> H200
  const QRegularExpressionMatch m = card.match(qs(f.device));
  return m.hasMatch() ? m.captured(1) : QFileInfo(path).completeBaseName();
}

}  // namespace

BenchmarkPage::BenchmarkPage(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine) {
  m_models = new QListWidget;
  m_models->setToolTip(tr("Checked models are measured, in this order"));
  m_arch = new QComboBox;
  for (const std::string& name : mm::architecture_preset_names()) m_arch->addItem(qs(name));
  m_arch->setCurrentText("hovle-2.6b");
  m_archPlan = new QComboBox;
  m_archPlan->addItems({"teacher", "linear", "hybrid"});
  auto* addArch = new QPushButton(tr("Add"));
  addArch->setToolTip(tr("A named architecture with random weights: speed does not depend on trained values"));
  auto* archRow = new QHBoxLayout;
  archRow->addWidget(m_arch, 1);
  archRow->addWidget(m_archPlan);
  archRow->addWidget(addArch);

  m_lengths = new QLineEdit("128,256,512,1024,2048");
  m_lengths->setToolTip(tr("Context lengths in tokens, comma separated"));
  m_phase = new QComboBox;
  m_phase->addItem(tr("prefill and decode"), 3);
  m_phase->addItem(tr("prefill only"), 1);
  m_phase->addItem(tr("decode only"), 2);
  m_repeats = new QSpinBox;
  m_repeats->setRange(1, 50);
  m_repeats->setValue(3);
  m_tokens = new QSpinBox;
  m_tokens->setRange(1, 1024);
  m_tokens->setValue(16);
  m_opTimes = new QCheckBox(tr("Time each op (prefill)"));
  m_opTimes->setToolTip(tr("After each prefill, one more that waits for the device around every op: the table's "
                           "note names the slowest op, the time cell's tooltip lists them all"));
  m_device = new QComboBox;
  m_device->addItems({"auto", "cpu", "cuda"});
  m_run = new QPushButton(tr("Run sweep"));
  m_stop = new QPushButton(tr("Stop"));
  auto* load = new QPushButton(tr("Overlay saved…"));
  load->setToolTip(tr("Draw a saved sweep (bench JSON, e.g. GPU results from the repository) beside these"));
  auto* exportButton = new QPushButton(tr("Export…"));
  auto* clear = new QPushButton(tr("Clear"));

  auto* setup = new QGroupBox(tr("Sweep"));
  auto* form = new QFormLayout(setup);
  form->addRow(m_models);
  form->addRow(tr("Architecture"), archRow);
  form->addRow(tr("Lengths"), m_lengths);
  form->addRow(tr("Phases"), m_phase);
  form->addRow(tr("Repeats"), m_repeats);
  form->addRow(tr("Decode tokens"), m_tokens);
  form->addRow(m_opTimes);
  form->addRow(tr("Device"), m_device);
  auto* buttons = new QHBoxLayout;
  buttons->addWidget(m_run);
  buttons->addWidget(m_stop);
  form->addRow(buttons);
  auto* buttons2 = new QHBoxLayout;
  buttons2->addWidget(load);
  buttons2->addWidget(exportButton);
  buttons2->addWidget(clear);
  form->addRow(buttons2);
  ui::followTextSize(setup, [setup] { setup->setMaximumWidth(ui::scaledPx(380)); });

  m_latency = new QCustomPlot;
  m_latencyKey = setLogAxes(m_latency, tr("context length (tokens)"), {tr("decode ms / token"), tr("ms / token"), tr("ms")},
                            latencyKey(false));
  m_latencyEmpty = ui::addEmptyNote(m_latency, tr("No measurements yet: Run sweep"));
  // Prefill seconds on their own axis: a different unit and a different range.
  m_latency->yAxis2->setVisible(true);
  ui::useLogTicks(m_latency->yAxis2);
  ui::fitAxisLabel(m_latency->yAxis2, {tr("prefill s"), tr("s")});
  m_memory = new QCustomPlot;
  setLogAxes(m_memory, tr("context length (tokens)"), {tr("peak memory, MiB"), tr("peak MiB"), tr("MiB")},
             {tr("peak while decoding · solid: measured · dashed: predicted"), tr("peak decoding · solid: measured · dashed: predicted"),
              tr("solid: measured · dashed: predicted")});
  m_memoryEmpty = ui::addEmptyNote(m_memory, tr("No measurements yet"));
  m_table = new BenchTable;
  // Time above memory over the same lengths, beside the setup; the table under both at the page's full
  // width (beside the plots at 1024 px it showed 7 of its 11 columns). A splitter gives it more room.
  auto* plots = m_plotSplit = new QSplitter(Qt::Vertical);
  plots->addWidget(m_latency);
  plots->addWidget(m_memory);
  plots->setChildrenCollapsible(false);
  auto* top = new QWidget;
  auto* topLayout = new QHBoxLayout(top);
  topLayout->setContentsMargins(0, 0, 0, 0);
  topLayout->addWidget(ui::scrollable(setup));
  topLayout->addWidget(plots, 1);
  auto* page = m_pageSplit = new QSplitter(Qt::Vertical);
  page->addWidget(top);
  page->addWidget(m_table);
  page->setStretchFactor(0, 3);
  page->setStretchFactor(1, 1);
  page->setSizes({3000, 1000});  // three quarters for the plots at any window size
  page->setCollapsible(0, false);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(page);

  connect(addArch, &QPushButton::clicked, this, [this] { addArchitecture(m_arch->currentText(), m_archPlan->currentText(), true); });
  connect(m_run, &QPushButton::clicked, this, &BenchmarkPage::start);
  connect(m_stop, &QPushButton::clicked, this, &BenchmarkPage::stop);
  connect(clear, &QPushButton::clicked, this, [this] {
    m_curves.clear();
    m_table->setRowCount(0);
    redraw();
  });
  connect(load, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Saved benchmark"), {}, tr("Benchmark JSON (*.json)"));
    QString error;
    if (!f.isEmpty() && !loadOverlay(f, &error)) ui::showError(this, tr("Cannot load benchmark"), error);
  });
  connect(exportButton, &QPushButton::clicked, this, &BenchmarkPage::exportResults);
  connect(engine, &EngineController::benchRowAvailable, this, [this](quint64 id, const mm::BenchRow& row) {
    if (id == m_job) addRow(seriesName(row), row, false);
  });
  connect(engine, &EngineController::benchFinished, this, [this](quint64 id, const QString& json) {
    if (id == m_job) m_lastJson = json;
  });
  connect(engine, &EngineController::finished, this, [this](quint64 id) {
    if (id != m_job) return;
    m_job = 0;
    m_run->setEnabled(true);
    m_stop->setEnabled(false);
    emit sweepFinished();
  });
  connect(engine, &EngineController::failed, this, [this](quint64 id, const QString& message) {
    if (id != m_job) return;
    m_job = 0;
    m_run->setEnabled(true);
    m_stop->setEnabled(false);
    ui::showError(this, tr("Benchmark failed"), message);
    emit sweepFinished();
  });
  m_stop->setEnabled(false);
  m_latency->installEventFilter(this);
  m_memory->installEventFilter(this);
  connect(m_plotSplit, &QSplitter::splitterMoved, this, [this] { m_plotsSizedByUser = true; });
  // Queued: a layout happens inside a replot, and resizing a plot from there would not replot it.
  for (QCustomPlot* p : {m_latency, m_memory})
    connect(p, &QCustomPlot::afterLayout, this, &BenchmarkPage::balancePlots, Qt::QueuedConnection);
}

void BenchmarkPage::balancePlots() {
  if (!m_plotSplit->isVisible()) return;
  const QList<int> sizes = m_plotSplit->sizes();  // (latency, memory) heights
  // Legend, key, ticks and titles, as of each plot's last layout (its size now may be newer).
  const auto chrome = [](QCustomPlot* p) { return p->plotLayout()->outerRect().height() - p->axisRect()->height(); };
  const int chromeLatency = chrome(m_latency), chromeMemory = chrome(m_memory);
  // Each plot at least its titles and legend over kMinDataHeight of data (the fixed minimum alone left a
  // plot under a tall legend 42 px of data).
  const auto minimum = [](int chrome) { return std::clamp(chrome + kMinDataHeight, kMinPlotHeight, kMaxMinPlotHeight); };
  m_latency->setMinimumHeight(minimum(chromeLatency));
  m_memory->setMinimumHeight(minimum(chromeMemory));
  if (m_plotsSizedByUser) return;
  const int data = (sizes[0] + sizes[1] - chromeLatency - chromeMemory) / 2;
  const int latency = data + chromeLatency;
  if (data > 0 && std::abs(latency - sizes[0]) > 2) m_plotSplit->setSizes({latency, sizes[0] + sizes[1] - latency});
}

bool BenchmarkPage::eventFilter(QObject* watched, QEvent* event) {
  if (event->type() == QEvent::Resize && (watched == m_latency || watched == m_memory))
    setCompact(m_latency->height() + m_memory->height() < kCompactBelow);
  return QWidget::eventFilter(watched, event);
}

void BenchmarkPage::setCompact(bool compact) {
  if (compact == m_compact) return;
  m_compact = compact;
  m_latency->xAxis->setLabel(compact ? QString() : tr("context length (tokens)"));
  placeLegends();
  m_latency->replot(QCustomPlot::rpQueuedReplot);
  m_memory->replot(QCustomPlot::rpQueuedReplot);
}

void BenchmarkPage::placeLegends() {
  // Compact: the latency plot's legend names the models of both.
  ui::showLegendAbove(m_latency, m_latency->legend->itemCount() > 0);
  ui::showLegendAbove(m_memory, !m_compact && m_memory->legend->itemCount() > 0);
}

void BenchmarkPage::addCheckpoint(const QString& label, const QString& path, bool checked) {
  for (int i = 0; i < m_models->count(); ++i)
    if (m_models->item(i)->data(kCheckpointRole).toString() == path) return;
  auto* item = new QListWidgetItem(label, m_models);
  item->setData(kCheckpointRole, path);
  item->setToolTip(path);
  item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
}

void BenchmarkPage::addArchitecture(const QString& arch, const QString& plan, bool checked) {
  auto* item = new QListWidgetItem(tr("%1 %2 (random weights)").arg(arch, plan), m_models);
  item->setData(kArchRole, arch);
  item->setData(kPlanRole, plan);
  item->setCheckState(checked ? Qt::Checked : Qt::Unchecked);
}

void BenchmarkPage::setLengths(const QString& s) { m_lengths->setText(s); }
void BenchmarkPage::setPhases(bool prefill, bool decode) { m_phase->setCurrentIndex(m_phase->findData((prefill ? 1 : 0) | (decode ? 2 : 0))); }
void BenchmarkPage::setRepeats(int r) { m_repeats->setValue(r); }
void BenchmarkPage::setOpTimes(bool on) { m_opTimes->setChecked(on); }

mm::BenchOptions BenchmarkPage::options() const {
  mm::BenchOptions o;
  for (int i = 0; i < m_models->count(); ++i) {
    const QListWidgetItem* item = m_models->item(i);
    if (item->checkState() != Qt::Checked) continue;
    mm::BenchModelSpec spec;
    spec.checkpoint = item->data(kCheckpointRole).toString().toStdString();
    spec.architecture = item->data(kArchRole).toString().toStdString();
    spec.plan = item->data(kPlanRole).toString().toStdString();
    spec.label = spec.checkpoint.empty() ? spec.architecture + "/" + spec.plan : item->text().toStdString();
    o.models.push_back(spec);
  }
  for (const QString& part : m_lengths->text().split(',', Qt::SkipEmptyParts)) o.lengths.push_back(part.trimmed().toLongLong());
  const int phases = m_phase->currentData().toInt();
  o.prefill = phases & 1;
  o.decode = phases & 2;
  o.repeats = m_repeats->value();
  o.decode_tokens = m_tokens->value();
  o.device = m_device->currentText().toStdString();
  o.op_times = m_opTimes->isChecked();
  o.fail_oom_at_length = m_injectOom;
  return o;
}

void BenchmarkPage::start() {
  if (running()) return;
  try {
    m_job = m_engine->runBenchmark(options());
  } catch (const std::exception& e) {
    ui::showError(this, tr("Cannot run this sweep"), QString::fromUtf8(e.what()));
    return;
  }
  for (auto it = m_curves.begin(); it != m_curves.end();)  // a new sweep replaces the live curves
    it = it->overlay ? std::next(it) : m_curves.erase(it);
  m_table->setRowCount(0);
  m_lastJson.clear();
  m_run->setEnabled(false);
  m_stop->setEnabled(true);
  redraw();
}

void BenchmarkPage::stop() {
  if (running()) m_engine->cancel(m_job);
}

void BenchmarkPage::addRow(const QString& key, const mm::BenchRow& row, bool overlay) {
  if (!m_curves.contains(key)) {
    Curve c;
    if (!m_colorOf.contains(key)) m_colorOf.insert(key, m_colorOf.size());
    c.color = m_colorOf.value(key);
    c.overlay = overlay;
    m_curves.insert(key, c);
  }
  m_curves[key].rows << row;
  m_table->addRow(key, row);
  redraw();
}

QString BenchmarkPage::latencyKeyText() const { return m_latencyKey->text(); }

void BenchmarkPage::redraw() {
  m_latency->clearGraphs();
  m_memory->clearGraphs();
  bool floorDrawn = false;
  for (const Curve& c : m_curves)
    for (const mm::BenchRow& r : c.rows) floorDrawn |= !r.oom && r.phase == "decode" && r.floor_seconds > 0;
  ui::fitText(m_latencyKey, latencyKey(floorDrawn));  // no "dashed: floor" on a CPU, where none is drawn
  double top = 0, memTop = 0;
  bool oomInLegend = false;
  for (const Curve& c : m_curves)
    for (const mm::BenchRow& r : c.rows) {
      if (!r.oom) top = std::max(top, r.phase == "decode" ? 1e3 * r.seconds : r.seconds);
      memTop = std::max(memTop, std::max(double(r.peak_bytes), double(r.predicted_bytes)) / (1 << 20));
    }
  for (auto it = m_curves.begin(); it != m_curves.end(); ++it) {
    const QColor color = ui::modelColor(it->color);
    QVector<double> dx, dy, px, py, fx, fy, ox, oy, mx, my, qx, qy;
    // One memory point per length: the decode peak when decode ran (the cache story), else prefill's.
    QMap<double, double> peakAt, predictedAt;
    QSet<double> decoded;
    for (const mm::BenchRow& r : it->rows) {
      const double L = double(r.length);
      if (r.oom) {
        ox << L, oy << std::max(top, 1e-3) * 1.4;
        continue;
      }
      if (r.phase == "decode") {
        dx << L, dy << 1e3 * r.seconds;
        if (r.floor_seconds > 0) fx << L, fy << 1e3 * r.floor_seconds;
      } else {
        px << L, py << r.seconds;
      }
      if (r.peak_bytes > 0 && (r.phase == "decode" || !decoded.contains(L))) {
        peakAt[L] = double(r.peak_bytes) / (1 << 20);
        if (r.phase == "decode") decoded.insert(L);
      }
      if (r.predicted_bytes > 0) predictedAt[L] = std::max(predictedAt.value(L), double(r.predicted_bytes) / (1 << 20));
    }
    for (auto p = peakAt.begin(); p != peakAt.end(); ++p) mx << p.key(), my << p.value();
    for (auto p = predictedAt.begin(); p != predictedAt.end(); ++p) qx << p.key(), qy << p.value();
    // A long name (a saved sweep's, with its file) elided in the legends, whole in the table: a legend
    // entry as wide as the name made the plot, and the window, wider than 1024 px.
    const QString name = QFontMetrics(m_latency->legend->font()).elidedText(it.key(), Qt::ElideMiddle, kLegendEntry);
    auto graph = [&](QCustomPlot* plot, const QVector<double>& x, const QVector<double>& y, Qt::PenStyle style,
                     const QString& label, QCPScatterStyle::ScatterShape shape, QCPAxis* valueAxis = nullptr) {
      if (x.isEmpty()) return;
      QCPGraph* g = plot->addGraph(plot->xAxis, valueAxis ? valueAxis : plot->yAxis);
      QPen pen(color, style == Qt::SolidLine ? 2.0 : 1.4);
      pen.setStyle(it->overlay && style == Qt::SolidLine ? Qt::DashDotLine : style);
      g->setPen(pen);
      g->setScatterStyle(QCPScatterStyle(shape, color, shape == QCPScatterStyle::ssCross ? 12 : 8));
      g->setData(x, y, true);
      if (label.isEmpty()) g->removeFromLegend();
      else g->setName(label);
    };
    // One legend entry per model (its decode line, or its prefill line when only prefill ran).
    graph(m_latency, dx, dy, Qt::SolidLine, name, QCPScatterStyle::ssDisc);
    graph(m_latency, fx, fy, Qt::DashLine, QString(), QCPScatterStyle::ssNone);
    graph(m_latency, px, py, Qt::DotLine, dx.isEmpty() ? name : QString(), QCPScatterStyle::ssSquare, m_latency->yAxis2);
    if (!ox.isEmpty()) {
      QCPGraph* g = m_latency->addGraph();
      g->setLineStyle(QCPGraph::lsNone);
      g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QPen(Qt::red, 3), Qt::NoBrush, 14));
      g->setData(ox, oy, true);
      g->setName(name + tr(" out of memory"));
      if (std::exchange(oomInLegend, true)) g->removeFromLegend();  // one "out of memory" entry is enough
      else g->setName(tr("out of memory"));
      QVector<double> my2(ox.size(), std::max(memTop, 1.0) * 1.4);
      QCPGraph* m = m_memory->addGraph();
      m->setLineStyle(QCPGraph::lsNone);
      m->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCross, QPen(Qt::red, 3), Qt::NoBrush, 14));
      m->setData(ox, my2, true);
      m->removeFromLegend();
    }
    graph(m_memory, mx, my, Qt::SolidLine, name, QCPScatterStyle::ssDisc);
    graph(m_memory, qx, qy, Qt::DashLine, QString(), QCPScatterStyle::ssNone);
  }
  ui::setEmpty(m_latencyEmpty, m_latency->graphCount() == 0);
  ui::setEmpty(m_memoryEmpty, m_memory->graphCount() == 0);
  placeLegends();
  for (QCustomPlot* p : {m_latency, m_memory}) {
    // One value on an axis (a single length, a flat line): rescaleAxes keeps the old span around it,
    // on a log axis its ratio; from the default 0..5 that was ticks at 10^-42. From 1..10 it is sane.
    for (QCPAxis* axis : {p->xAxis, p->yAxis, p->yAxis2}) axis->setRange(1, 10);
    p->rescaleAxes();
    for (QCPAxis* axis : {p->xAxis, p->yAxis, p->yAxis2}) {
      const QCPRange r = axis->range();
      if (r.lower <= 0 || r.upper <= r.lower * 1.05) {
        if (r.center() > 0) axis->setRange(r.center() / 2, r.center() * 2);
      } else {
        axis->scaleRange(axis == p->xAxis ? 1.3 : 1.6, r.center());
      }
    }
    p->replot(QCustomPlot::rpQueuedReplot);
  }
}

int BenchmarkPage::pointCount(const QString& model) const { return m_curves.value(model).rows.size(); }

int BenchmarkPage::oomCount() const {
  int n = 0;
  for (const Curve& c : m_curves)
    for (const mm::BenchRow& r : c.rows) n += r.oom;
  return n;
}

bool BenchmarkPage::loadOverlay(const QString& path, QString* error) {
  mm::BenchFile f;
  try {
    f = mm::read_bench_json(path.toStdString());
  } catch (const std::exception& e) {
    if (error) *error = QString::fromUtf8(e.what());
    return false;
  }
  QString tag = overlayTag(f, path);
  // A second sweep from the same card keeps its own curves: its day (or file) joins the name.
  const auto taken = [this](const QString& t) {
    for (auto it = m_curves.cbegin(); it != m_curves.cend(); ++it)
      if (it.key().endsWith(" [" + t + "]")) return true;
    return false;
  };
  if (taken(tag)) tag += " " + (f.created_utc.size() >= 10 ? qs(f.created_utc.substr(0, 10)) : QFileInfo(path).completeBaseName());
  const QString suffix = QString(" [%1]").arg(tag);
  for (const mm::BenchRow& r : f.rows) addRow(seriesName(r) + suffix, r, true);
  return true;
}

void BenchmarkPage::exportResults() {
  const QString base = QFileDialog::getSaveFileName(this, tr("Export plots, CSV and JSON (base name)"), "bench.png",
                                                    tr("PNG (*.png);;SVG (*.svg);;PDF (*.pdf)"));
  QString error;
  if (!base.isEmpty() && !exportTo(base, &error)) ui::showError(this, tr("Export failed"), error);
}

bool BenchmarkPage::exportTo(const QString& path, QString* error) {
  const QString stem = path.left(path.lastIndexOf('.')), ext = path.mid(path.lastIndexOf('.'));
  std::vector<mm::BenchRow> rows;
  for (const Curve& c : m_curves)
    if (!c.overlay) rows.insert(rows.end(), c.rows.begin(), c.rows.end());
  const bool compact = m_compact;
  setCompact(false);  // a file stands alone: each plot with its legend and both axis titles
  bool ok = ui::exportPlot(m_latency, stem + "-latency" + ext, tr("Benchmark: decode and prefill time per context length"), error) &&
            ui::exportPlot(m_memory, stem + "-memory" + ext, tr("Benchmark: memory per context length"), error) &&
            ui::writeTextFile(stem + ".csv", qs(mm::bench_csv(rows)), error);
  if (ok && !m_lastJson.isEmpty()) ok = ui::writeTextFile(stem + ".json", m_lastJson, error);
  setCompact(compact);
  return ok;
}

void BenchmarkPage::saveSettings(QSettings& settings) const {
  settings.setValue("benchmark/pageSplit", m_pageSplit->saveState());
  if (m_plotsSizedByUser) settings.setValue("benchmark/plotSplit", m_plotSplit->saveState());
  else settings.remove("benchmark/plotSplit");  // balanced again at the next start
}

void BenchmarkPage::restoreSettings(const QSettings& settings) {
  // A missing or damaged entry leaves the default split (restoreState refuses what it cannot read).
  m_pageSplit->restoreState(settings.value("benchmark/pageSplit").toByteArray());
  m_plotsSizedByUser = m_plotSplit->restoreState(settings.value("benchmark/plotSplit").toByteArray());
}

QString BenchmarkPage::cliEquivalent() const {
  const mm::BenchOptions o = options();
  QStringList ckpts, lengths;
  QString arch;
  for (const mm::BenchModelSpec& s : o.models) {
    if (!s.checkpoint.empty()) ckpts << ui::shellQuote(qs(s.checkpoint));
    else arch += QString(" --arch %1 --plans %2").arg(qs(s.architecture), qs(s.plan));
  }
  for (int64_t l : o.lengths) lengths << QString::number(l);
  const QString mode = o.prefill && o.decode ? "both" : o.prefill ? "prefill" : "decode";
  return QString("mmmamba bench %1%2 --lengths %3 --mode %4 --repeats %5 --tokens %6 --device %7%8 --json bench.json")
      .arg(ckpts.join(' '), arch, lengths.join(','), mode)
      .arg(o.repeats).arg(o.decode_tokens).arg(qs(o.device), o.op_times ? " --op-times" : "");
}
