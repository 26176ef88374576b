#include "pages/modelpage.h"

#include <QComboBox>
#include <QDir>
#include <QDragEnterEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "config/layer_plan.h"
#include "controller/enginecontroller.h"
#include "plots/plotstyle.h"
#include "widgets/layerstrip.h"
#include "widgets/messages.h"
#include "widgets/palette.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

namespace {

constexpr const char* kRecentKey = "recentModels";

QString humanCount(qint64 n) {
  if (n >= 1000000000) return QString::number(n / 1e9, 'f', 2) + " B";
  if (n >= 1000000) return QString::number(n / 1e6, 'f', 2) + " M";
  if (n >= 1000) return QString::number(n / 1e3, 'f', 1) + " K";
  return QString::number(n);
}


}  // namespace

ModelPage::ModelPage(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine) {
  setAcceptDrops(true);
  auto* open = new QPushButton(QIcon::fromTheme("document-open"), tr("Open checkpoint…"));
  m_recent = new QComboBox;
  m_recent->setMinimumContentsLength(20);
  m_recent->setToolTip(tr("Recently opened checkpoints"));
  m_path = new QLabel(tr("Drop a checkpoint directory here, or open one."));
  m_path->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_path->setWordWrap(true);  // a long path must not widen the window past 1024 px
  auto* top = new QHBoxLayout;
  top->addWidget(open);
  top->addWidget(new QLabel(tr("Recent:")));
  top->addWidget(m_recent, 1);

  m_summary = new QLabel;
  m_summary->setTextFormat(Qt::RichText);
  m_summary->setAlignment(Qt::AlignTop | Qt::AlignLeft);
  m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_summary->setWordWrap(true);
  auto* archBox = new QGroupBox(tr("Architecture"));
  auto* summaryScroll = new QScrollArea;  // a narrow window scrolls the summary instead of cutting it
  summaryScroll->setWidget(m_summary);
  summaryScroll->setWidgetResizable(true);
  summaryScroll->setFrameShape(QFrame::NoFrame);
  summaryScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  (new QVBoxLayout(archBox))->addWidget(summaryScroll);

  m_strip = new LayerStrip;
  auto* stripScroll = new QScrollArea;
  stripScroll->setWidget(m_strip);
  stripScroll->setWidgetResizable(true);
  stripScroll->setFrameShape(QFrame::NoFrame);
  ui::followTextSize(m_strip, [this, stripScroll] { stripScroll->setFixedHeight(m_strip->sizeHint().height() + 20); });
  auto* stripBox = new QGroupBox(tr("Layers"));
  (new QVBoxLayout(stripBox))->addWidget(stripScroll);

  m_mode = new QComboBox;
  m_mode->addItem(tr("As loaded"), "as-is");
  m_mode->addItem(tr("Linear (all Mamba-2)"), "linear");
  m_mode->addItem(tr("Hybrid: one attention layer every k"), "interval");
  m_mode->addItem(tr("Hybrid: attention layers stacked"), "stacked");
  m_mode->addItem(tr("Custom (click cells)"), "custom");
  m_interval = new QSpinBox;
  m_interval->setRange(2, 64);
  m_interval->setValue(4);
  m_interval->setPrefix("k = ");
  m_count = new QSpinBox;
  m_count->setRange(1, 64);
  m_count->setValue(2);
  m_count->setSuffix(tr(" attention layers"));
  m_placement = new QComboBox;
  m_placement->addItem(tr("head (first of each block)"), "head");
  m_placement->addItem(tr("tail (last of each block)"), "tail");
  m_planLabel = new QLabel;
  m_planLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_planStats = new QLabel;
  m_planStats->setTextFormat(Qt::RichText);
  auto* planForm = new QFormLayout;
  planForm->addRow(tr("Plan"), m_mode);
  planForm->addRow(tr("Interval"), m_interval);
  planForm->addRow(tr("Stacked"), m_count);
  planForm->addRow(tr("Placement"), m_placement);
  planForm->addRow(tr("As text"), m_planLabel);
  planForm->addRow(m_planStats);

  m_init = new QComboBox;
  m_init->addItem(tr("mimic (inherit Q/K/V/O, attention-like init)"), "mimic");
  m_init->addItem(tr("inherit (Q/K/V/O only)"), "inherit");
  m_init->addItem(tr("scratch (W_O only)"), "scratch");
  m_seed = new QPushButton(tr("Seed student…"));
  m_seed->setToolTip(tr("Write a student checkpoint with this plan, seeded from the teacher (METHOD §3)"));
  planForm->addRow(tr("Init"), m_init);
  planForm->addRow(m_seed);
  auto* planBox = new QGroupBox(tr("Hybrid planner"));
  planBox->setLayout(planForm);

  m_plot = new QCustomPlot;
  m_plot->setMinimumSize(300, 260);
  m_plot->xAxis->setLabel(tr("context length (tokens)"));
  m_plot->yAxis->setLabel(tr("predicted MiB (bf16)"));  // short: fits the plot's height at 1024x700
  m_plot->setToolTip(tr("Predicted memory against context length: the bf16 weights plus the KV cache "
                        "(attention layers) or the constant state (Mamba-2 layers)"));
  ui::styleForProjector(m_plot);  // the same label sizes as the other pages' plots
  ui::useLogTicks(m_plot->yAxis);
  ui::usePowerOfTwoTicks(m_plot->xAxis);  // 1K, 32K, 1M instead of 10^6
  const char* names[] = {"teacher", "linear", "this plan"};
  for (int i = 0; i < 3; ++i) {
    QCPGraph* g = m_plot->addGraph();
    g->setName(tr(names[i]));
    QPen pen(ui::modelColor(i), i == 2 ? 3.0 : 2.0);
    if (i < 2) pen.setStyle(Qt::DashLine);
    g->setPen(pen);
  }
  m_plot->legend->setVisible(true);
  m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);

  m_report = new QPlainTextEdit;
  m_report->setReadOnly(true);
  m_report->setPlaceholderText(tr("The seeding report appears here: which tensors were inherited from the "
                                  "teacher and which were initialised, and how."));
  ui::followTextSize(this, [this] {  // its own font: the fixed one at the studio's text size
    QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
    fixed.setPointSizeF(fixed.pointSizeF() * ui::textScale());
    m_report->setFont(fixed);
  });

  auto* middle = new QHBoxLayout;
  middle->addWidget(archBox, 2);
  middle->addWidget(planBox, 2);
  middle->addWidget(m_plot, 3);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(top);
  layout->addWidget(m_path);
  layout->addWidget(stripBox);
  layout->addLayout(middle, 3);
  layout->addWidget(m_report, 1);

  m_recent->addItems(QSettings().value(kRecentKey).toStringList());
  m_recent->setCurrentIndex(-1);
  connect(open, &QPushButton::clicked, this, &ModelPage::chooseDirectory);
  connect(m_recent, &QComboBox::activated, this, [this](int i) { openModel(m_recent->itemText(i)); });
  for (QComboBox* c : {m_mode, m_placement})
    connect(c, &QComboBox::currentIndexChanged, this, &ModelPage::updatePlan);
  for (QSpinBox* s : {m_interval, m_count}) connect(s, &QSpinBox::valueChanged, this, &ModelPage::updatePlan);
  // A click plans that cell by hand, whatever the plan box says: the current plan becomes Custom with
  // the cell toggled.
  connect(m_strip, &LayerStrip::layerClicked, this, [this](int layer) {
    if (!m_model.config || layer < 0 || layer >= int(m_model.config->n_layers())) return;
    if (m_mode->currentData().toString() != "custom") {
      m_custom = m_strip->kinds();
      const QSignalBlocker block(m_mode);
      m_mode->setCurrentIndex(m_mode->findData("custom"));
    }
    auto& k = m_custom[size_t(layer)];
    k = k == mm::LayerKind::attention ? mm::LayerKind::mamba2 : mm::LayerKind::attention;
    updatePlan();
  });
  connect(m_seed, &QPushButton::clicked, this, &ModelPage::seedStudent);
  connect(engine, &EngineController::modelOpened, this, [this](quint64 id, const ModelInfo& info) {
    if (id == m_openJob) showModel(info);
  });
  connect(engine, &EngineController::seeded, this, [this](quint64 id, const SeedSummary& s) {
    if (id != m_seedJob) return;
    m_report->setPlainText(tr("Seeded %1 (plan %2, init %3)\n%4 tensors copied, %5 inherited, %6 initialised\n\n%7")
                               .arg(s.studentPath, s.plan, s.init)
                               .arg(s.copied).arg(s.inherited).arg(s.initialised).arg(s.report));
    m_seed->setEnabled(true);
    emit studentSeeded(s);
  });
  connect(engine, &EngineController::failed, this, [this](quint64 id, const QString& message) {
    if (id == m_openJob) ui::showError(this, tr("Cannot open checkpoint"), message);
    if (id == m_seedJob) {
      m_seed->setEnabled(true);
      ui::showError(this, tr("Seeding failed"), message);
    }
  });
  updatePlan();
}

void ModelPage::chooseDirectory() {
  const QString start = m_model.path.isEmpty() ? QDir::homePath() : QFileInfo(m_model.path).path();
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Open an HF checkpoint directory"), start);
  if (!dir.isEmpty()) openModel(dir);
}

void ModelPage::openModel(const QString& dir) {
  m_path->setText(tr("Opening %1…").arg(dir));
  m_openJob = m_engine->openModel(dir);
}

void ModelPage::rememberRecent(const QString& dir) {
  QStringList recent = QSettings().value(kRecentKey).toStringList();
  recent.removeAll(dir);
  recent.prepend(dir);
  while (recent.size() > 10) recent.removeLast();
  QSettings().setValue(kRecentKey, recent);
  const QSignalBlocker block(m_recent);
  m_recent->clear();
  m_recent->addItems(recent);
  m_recent->setCurrentIndex(0);
}

void ModelPage::showModel(const ModelInfo& info) {
  m_model = info;
  const mm::ModelConfig& c = *info.config;
  m_path->setText(tr("<b>%1</b> — %2").arg(info.name.toHtmlEscaped(), info.path.toHtmlEscaped()));
  const QLocale loc;
  auto stack = [](const mm::StackConfig& s) {
    return QObject::tr("%1 layers, hidden %2, %3 heads (%4 KV) × %5, MLP %6")
        .arg(s.n_layers).arg(s.hidden).arg(s.n_heads).arg(s.n_kv_heads).arg(s.head_dim).arg(s.intermediate);
  };
  QString meta;
  for (const char* key : {"mmmamba.stage", "mmmamba.step", "mmmamba.plan", "mmmamba.recipe", "mmmamba.version"})
    if (info.metadata.contains(key)) meta += tr("<br>%1: %2").arg(QString(key).mid(8), info.metadata[key].toHtmlEscaped());
  m_summary->setText(tr("<b>%1</b> (%2 format)<br>%3 parameters<br>embedding: %4<br>LLM: %5<br>vocabulary %6; "
                        "images %7 px tiles, %8 tokens each%9%10")
                         .arg(info.role, QString::fromStdString(c.source_format), humanCount(info.params))
                         .arg(stack(c.he), stack(c.llm))
                         .arg(c.vocab_size).arg(c.vision.image_size).arg(c.tokens_per_tile())
                         .arg(info.hasTokenizer ? QString() : tr("<br><font color=#b00>no tokenizer.model: cannot chat</font>"))
                         .arg(meta));
  m_custom = c.layer_kinds;
  {  // a stack or an interval longer than the model means nothing
    const QSignalBlocker a(m_count), b(m_interval);
    m_count->setMaximum(std::max<int>(1, int(c.n_layers())));
    m_interval->setMaximum(std::max<int>(2, int(c.n_layers())));
  }
  const bool teacher = info.role == "teacher";
  m_seed->setEnabled(teacher);
  m_seed->setToolTip(teacher ? tr("Write a student checkpoint with this plan, seeded from the teacher")
                             : tr("Seeding starts from a teacher (all-attention) checkpoint"));
  {
    const QSignalBlocker block(m_mode);
    m_mode->setCurrentIndex(teacher ? 2 : 0);
  }
  {
    const QSignalBlocker block(this);  // opening a checkpoint is not a plan choice: the Distill recipe keeps its own
    updatePlan();
  }
  rememberRecent(info.path);
  emit modelLoaded(info);
}

QString ModelPage::planText() const {
  const QString mode = m_mode->currentData().toString();
  const QString place = m_placement->currentData().toString();
  if (mode == "linear") return "linear";
  if (mode == "interval") return QString("interval:%1:%2").arg(m_interval->value()).arg(place);
  if (mode == "stacked") return QString("stacked:%1:%2").arg(m_count->value()).arg(place);
  const std::vector<mm::LayerKind> kinds = mode == "custom" || !m_model.config ? m_custom : m_model.config->layer_kinds;
  QStringList attention;
  for (size_t i = 0; i < kinds.size(); ++i)
    if (kinds[i] == mm::LayerKind::attention) attention << QString::number(i);
  if (attention.size() == int(kinds.size())) return "teacher";
  return attention.isEmpty() ? "linear" : "list:" + attention.join(',');
}

void ModelPage::showPlan(const QString& text) {
  if (!m_model.config) return;
  const int n = int(m_model.config->n_layers());
  mm::LayerPlan plan;
  std::vector<mm::LayerKind> kinds;
  try {
    plan = mm::LayerPlan::parse(text.toStdString());
    kinds = plan.kinds(n);
  } catch (const std::exception&) {
    return;  // the Distill page says what is wrong with it
  }
  {
    const QSignalBlocker a(m_mode), b(m_interval), c(m_count), d(m_placement);
    using Mode = mm::LayerPlan::Mode;
    QString mode = plan.mode == Mode::teacher ? "as-is" : plan.mode == Mode::linear ? "linear" : "custom";
    if (plan.mode == Mode::interval || plan.mode == Mode::stacked) {
      mode = plan.mode == Mode::interval ? "interval" : "stacked";
      (plan.mode == Mode::interval ? m_interval : m_count)->setValue(plan.mode == Mode::interval ? plan.interval : plan.count);
      m_placement->setCurrentIndex(m_placement->findData(plan.tail ? "tail" : "head"));
    }
    if (mode == "custom") m_custom = kinds;  // list:...
    m_mode->setCurrentIndex(m_mode->findData(mode));
    if (mm::LayerPlan::parse(planText().toStdString()).kinds(n) != kinds) {  // a spin box clamped it
      m_custom = kinds;
      m_mode->setCurrentIndex(m_mode->findData("custom"));
    }
  }
  const QSignalBlocker block(this);
  updatePlan();
}

mm::ModelConfig ModelPage::plannedConfig() const {
  return mm::apply_plan(*m_model.config, mm::LayerPlan::parse(planText().toStdString()));
}

void ModelPage::updatePlan() {
  const QString mode = m_mode->currentData().toString();
  m_interval->setEnabled(mode == "interval");
  m_count->setEnabled(mode == "stacked");
  m_placement->setEnabled(mode == "interval" || mode == "stacked");
  m_strip->setEditable(m_model.config != nullptr);
  m_planLabel->setText(planText());
  emit planChanged(planText());
  if (!m_model.config) return;
  mm::ModelConfig planned;
  try {
    planned = plannedConfig();
  } catch (const std::exception& e) {
    m_planStats->setText(tr("<font color=#b00>%1</font>").arg(QString::fromUtf8(e.what()).toHtmlEscaped()));
    return;
  }
  if (mode == "custom") m_custom = planned.layer_kinds;
  // The checkpoint as loaded shows its own state (a stage-3 student is distilled); any other plan is
  // what seeding would make.
  const bool asLoaded = planned.layer_kinds == m_model.config->layer_kinds;
  m_strip->setLayers(planned, asLoaded ? LayerStrip::lookForStage(m_model.metadata.value("mmmamba.stage"), planned.is_teacher())
                                       : LayerStrip::lookForStage("seeded", planned.is_teacher()));
  const mm::PlanStats st = mm::compute_plan_stats(planned);
  const QLocale loc;
  m_planStats->setText(tr("%1 attention + %2 Mamba-2 layers<br>%3 parameters, %4 trainable in stage 3 (%5%)<br>"
                          "cache: %6 per token + %7 constant state")
                           .arg(st.attention_layers).arg(st.mamba_layers)
                           .arg(humanCount(st.total_params), humanCount(st.trainable_params))
                           .arg(100 * st.trainable_share(), 0, 'f', 1)
                           .arg(loc.formattedDataSize(st.kv_bytes_per_token), loc.formattedDataSize(st.state_bytes)));
  updateMemoryPlot(planned);
}

void ModelPage::updateMemoryPlot(const mm::ModelConfig& planned) {
  const mm::ModelConfig* configs[3];
  const mm::ModelConfig teacher = mm::apply_plan(planned, mm::LayerPlan::parse("teacher"));
  const mm::ModelConfig linear = mm::apply_plan(planned, mm::LayerPlan::parse("linear"));
  configs[0] = &teacher, configs[1] = &linear, configs[2] = &planned;
  double lo = 1e300, hi = 0;
  for (int i = 0; i < 3; ++i) {
    const mm::PlanStats st = mm::compute_plan_stats(*configs[i]);
    QVector<double> x, y;
    for (double n = 256; n <= (1 << 20); n *= 2) {
      x << n;
      y << (2.0 * double(st.total_params) + double(st.cache_bytes(int64_t(n)))) / (1024.0 * 1024.0);
      lo = std::min(lo, y.back()), hi = std::max(hi, y.back());
    }
    m_plot->graph(i)->setData(x, y, true);
  }
  m_plot->xAxis->setRange(256, 1 << 20);
  m_plot->yAxis->setRange(lo / 1.5, hi * 1.5);
  m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void ModelPage::seedStudent() {
  if (m_model.role != "teacher") return;
  const QString base = QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/students";
  const QString suggested = base + "/" + m_model.name + "-" + QString(planText()).replace(':', '-').replace(',', '_');
  const QString out = QFileDialog::getSaveFileName(this, tr("Student checkpoint directory"), suggested);
  if (out.isEmpty()) return;
  m_report->setPlainText(tr("Seeding %1 with plan %2…").arg(out, planText()));
  m_seed->setEnabled(false);
  m_seedJob = m_engine->seedStudent(m_model.path, planText(), m_init->currentData().toString(), out);
}

QString ModelPage::cliEquivalent() const {
  if (m_model.path.isEmpty()) return "mmmamba info --arch demo";
  QString cmd = QString("mmmamba info %1 --plan %2").arg(ui::shellQuote(m_model.path), planText());
  if (m_model.role == "teacher")
    cmd += QString("\nmmmamba seed --teacher %1 --plan %2 --init %3 --out STUDENT_DIR")
               .arg(ui::shellQuote(m_model.path), planText(), m_init->currentData().toString());
  return cmd;
}

void ModelPage::dragEnterEvent(QDragEnterEvent* event) {
  if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void ModelPage::dropEvent(QDropEvent* event) {
  for (const QUrl& url : event->mimeData()->urls()) {
    QFileInfo fi(url.toLocalFile());
    openModel(fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath());  // a dropped file opens its directory
    break;
  }
}
