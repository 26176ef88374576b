#include "plots/layerlossplot.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QTabWidget>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include <cmath>

#include "plots/plotstyle.h"
#include "widgets/palette.h"

LayerLossPlot::LayerLossPlot(QWidget* parent) : QWidget(parent) {
  m_stage = new QComboBox;
  m_curves = new QCustomPlot;
  m_curves->xAxis->setLabel(tr("step"));

  m_curves->yAxis->setTickLabelPadding(2);
  ui::useLogTicks(m_curves->yAxis);  // 100, 200, 500: not 100, 150, ..., 400 on top of each other
  ui::styleForProjector(m_curves);
  ui::putLegendAbove(m_curves);
  ui::showLegendAbove(m_curves, false);  // until there are curves
  ui::useIntegerTicks(m_curves->xAxis);
  m_curvesEmpty = ui::addEmptyNote(m_curves, tr("None yet: stages 1 and 2 report them"));
  m_heat = new QCustomPlot;
  m_heat->xAxis->setLabel(tr("step"));
  m_heat->yAxis->setLabel(tr("layer"));
  ui::useIntegerTicks(m_heat->xAxis);
  ui::useIntegerTicks(m_heat->yAxis);
  m_heatEmpty = ui::addEmptyNote(m_heat, tr("No per-layer losses yet"));
  m_map = new QCPColorMap(m_heat->xAxis, m_heat->yAxis);
  m_scale = new QCPColorScale(m_heat);
  m_heat->plotLayout()->addElement(0, 1, m_scale);
  m_scale->setDataScaleType(QCPAxis::stLogarithmic);
  ui::useLogTicks(m_scale->axis());  // 100, 200, 300: the colour scale labelled like the curves
  m_map->setColorScale(m_scale);
  ui::styleForProjector(m_heat);  // with its colour scale
  m_map->setGradient(QCPColorGradient::gpThermal);
  m_map->setInterpolate(false);
  m_tabs = new QTabWidget;
  m_tabs->addTab(m_curves, tr("Per-layer curves"));
  m_tabs->addTab(m_heat, tr("Layer × step heatmap"));
  m_curves->setMinimumHeight(170);
  m_heat->setMinimumHeight(170);
  auto* top = new QHBoxLayout;
  top->addWidget(new QLabel(tr("Per-layer loss of")));
  top->addWidget(m_stage);
  top->addStretch();
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(top);
  layout->addWidget(m_tabs, 1);
  m_flushTimer.setInterval(50);
  m_flushTimer.setSingleShot(true);
  connect(&m_flushTimer, &QTimer::timeout, this, &LayerLossPlot::flush);
  connect(m_stage, &QComboBox::currentIndexChanged, this, &LayerLossPlot::redraw);
  connect(m_tabs, &QTabWidget::currentChanged, this, [this](int i) { m_stage->setEnabled(i < 2); });
  redraw();  // the unit on the axes before any data
}

void LayerLossPlot::addPage(QWidget* page, const QString& title) { m_tabs->addTab(page, title); }

void LayerLossPlot::showPage(QWidget* page) { m_tabs->setCurrentWidget(page); }

void LayerLossPlot::addMetric(const mm::MetricEvent& m) {
  if (m.layer_losses.empty()) return;
  m_pending.push_back(m);
  if (!m_flushTimer.isActive()) m_flushTimer.start();
}

void LayerLossPlot::flush() {
  m_flushTimer.stop();
  if (m_pending.isEmpty()) return;
  QString latest;
  for (const mm::MetricEvent& m : m_pending) {
    const QString stage = QString::fromStdString(m.stage);
    StageData& d = m_data[stage];
    const int n = int(m.layer_losses.size());
    if (d.layers.size() != n) d = StageData{{}, QVector<QVector<double>>(n)};
    while (!d.steps.isEmpty() && d.steps.back() >= double(m.step)) {  // a resumed run repeats steps
      d.steps.removeLast();
      for (auto& l : d.layers) l.removeLast();
    }
    d.steps << double(m.step);
    for (int i = 0; i < n; ++i) d.layers[i] << m.layer_losses[size_t(i)];
    latest = stage;
  }
  m_pending.clear();
  if (m_stage->findText(latest) < 0) m_stage->addItem(latest);
  if (m_stage->currentText() != latest) m_stage->setCurrentText(latest);  // follow the running stage
  else redraw();
}

void LayerLossPlot::setMseFactor(const QString& stage, double factor) {
  if (factor > 0 && std::isfinite(factor)) m_factors[stage] = factor;
  redraw();
}

void LayerLossPlot::redraw() {
  const double factor = mseFactor(m_stage->currentText());
  const QString unit = tr("layer MSE ×%1").arg(factor);
  m_curves->yAxis->setLabel(unit);
  m_scale->axis()->setLabel(unit + tr(" (log)"));
  const auto it = m_data.find(m_stage->currentText());
  if (it == m_data.end()) {
    m_curves->replot(QCustomPlot::rpQueuedReplot);
    m_heat->replot(QCustomPlot::rpQueuedReplot);
    return;
  }
  const StageData& d = *it;
  const int layers = d.layers.size();
  while (m_curves->graphCount() > layers) m_curves->removeGraph(m_curves->graphCount() - 1);
  while (m_curves->graphCount() < layers) {
    const int i = m_curves->graphCount();
    QCPGraph* g = m_curves->addGraph();
    g->setPen(QPen(ui::seriesColor(i), 2.0, i < 10 ? Qt::SolidLine : Qt::DashLine));  // past ten: dashed
    g->setName(tr("layer %1").arg(i));
  }
  for (int i = 0; i < layers; ++i) {
    QVector<double> scaled = d.layers[i];
    for (double& v : scaled) v *= factor;
    m_curves->graph(i)->setData(d.steps, scaled, true);
  }
  ui::showLegendAbove(m_curves, layers > 0 && layers <= 12);  // beyond a dozen the legend hides the curves
  ui::setEmpty(m_curvesEmpty, d.steps.isEmpty());
  ui::setEmpty(m_heatEmpty, d.steps.isEmpty());
  m_curves->rescaleAxes();
  ui::padRange(m_curves->yAxis);
  m_curves->xAxis->setRange(0, std::max(1.0, (d.steps.isEmpty() ? 0 : d.steps.back()) + 1));
  m_curves->replot(QCustomPlot::rpQueuedReplot);

  // Heatmap: at most 400 columns; a column averages the steps that fall into it.
  const int steps = d.steps.size();
  const int cols = std::max(1, std::min(steps, 400));
  m_map->data()->setSize(cols, std::max(layers, 1));
  const double first = steps ? d.steps.front() : 0, last = steps ? d.steps.back() : 1;
  m_map->data()->setRange(QCPRange(first, std::max(last, first + 1)), QCPRange(0, std::max(layers - 1, 1)));
  for (int l = 0; l < layers; ++l)
    for (int c = 0; c < cols; ++c) {
      const int a = c * steps / cols, b = std::max(a + 1, (c + 1) * steps / cols);
      double sum = 0;
      for (int i = a; i < b && i < steps; ++i) sum += factor * d.layers[l][i];
      m_map->data()->setCell(c, l, sum / std::max(1, b - a));
    }
  m_map->rescaleDataRange(true);
  // The data range holds the cells' centres: show the first and last cells whole.
  const double half = cols > 1 ? 0.5 * (std::max(last, first + 1) - first) / double(cols - 1) : 0.5;
  m_heat->xAxis->setRange(first - half, std::max(last, first + 1) + half);
  m_heat->yAxis->setRange(-0.5, std::max(layers - 1, 1) + 0.5);
  m_heat->replot(QCustomPlot::rpQueuedReplot);
}

void LayerLossPlot::clearAll() {
  m_pending.clear();
  m_data.clear();
  m_stage->clear();
  m_curves->clearGraphs();
  m_map->data()->clear();
  ui::showLegendAbove(m_curves, false);
  ui::setEmpty(m_curvesEmpty, true);
  ui::setEmpty(m_heatEmpty, true);
  redraw();  // the empty plots' unit labels
}

int LayerLossPlot::stepCount(const QString& stage) const { return m_data.value(stage).steps.size(); }

QString LayerLossPlot::toCsv() const {
  QString out = "stage,step,layer,mse\n";
  for (auto it = m_data.begin(); it != m_data.end(); ++it)
    for (int l = 0; l < it->layers.size(); ++l)
      for (int i = 0; i < it->steps.size(); ++i)
        out += QString("%1,%2,%3,%4\n").arg(it.key()).arg(it->steps[i]).arg(l).arg(it->layers[l][i], 0, 'g', 8);
  return out;
}
