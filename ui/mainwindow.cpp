#include "mainwindow.h"

#include <algorithm>
#include <cmath>

#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProgressBar>
#include <QSettings>
#include <QSpinBox>
#include <QTextBrowser>
#include <QThread>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QStatusBar>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "controller/enginecontroller.h"
#include "controller/opsummary.h"
#include "pages/benchmarkpage.h"
#include "pages/chatpage.h"
#include "pages/distillpage.h"
#include "pages/modelpage.h"
#include "ops/op_registry.h"
#include "runtime/resources.h"
#include "widgets/elidedlabel.h"
#include "widgets/selftestdialog.h"
#include "widgets/textscale.h"

namespace {
const char* const kThreadsKey = "engine/cpuThreads";
const char* const kTextScaleKey = "window/textScale";
constexpr int kNavWidth = 130, kNavIcon = 28;  ///< px at the starting text size
const char* const kSelfTestKey = "selfTest/lastPassed";
/// The device and build a start-up self-test passed on; another GPU or build is checked again.
QString deviceAndBuild(const EngineController* engine) {
  return engine->deviceDescription() + " · " + QCoreApplication::applicationVersion() + " · LibTorch " +
         EngineController::torchVersion();
}
}  // namespace

MainWindow::MainWindow(EngineController* engine, QWidget* parent) : QMainWindow(parent), m_engine(engine) {
  setWindowTitle(tr("mmMamba Studio"));
  setWindowIcon(QIcon(":/mmmamba/icon.svg"));
  m_model = new ModelPage(engine);
  m_distill = new DistillPage(engine);
  m_chat = new ChatPage(engine);
  m_chat->setAutosaveDir(QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) + "/conversations");
  m_bench = new BenchmarkPage(engine);
  m_pages = new QStackedWidget;
  m_nav = new QListWidget;
  m_nav->setObjectName("pageList");
  ui::followTextSize(m_nav, [this] {
    m_nav->setFixedWidth(ui::scaledPx(kNavWidth));
    m_nav->setIconSize(QSize(ui::scaledPx(kNavIcon), ui::scaledPx(kNavIcon)));
  });
  m_nav->setSpacing(4);
  const struct {
    QWidget* page;
    const char* title;
    const char* icon;
  } pages[] = {{m_model, "Model", "document-open"},
               {m_distill, "Distill", "media-playback-start"},
               {m_chat, "Chat", "mail-send"},
               {m_bench, "Benchmark", "utilities-system-monitor"}};
  for (const auto& p : pages) {
    m_pages->addWidget(p.page);
    new QListWidgetItem(QIcon::fromTheme(p.icon), tr(p.title), m_nav);
  }
  auto* central = new QWidget;
  auto* layout = new QHBoxLayout(central);
  layout->addWidget(m_nav);
  layout->addWidget(m_pages, 1);
  setCentralWidget(central);
  connect(m_nav, &QListWidget::currentRowChanged, m_pages, &QStackedWidget::setCurrentIndex);
  m_nav->setCurrentRow(0);

  // Status bar: the device and the fast paths in use, and the running job.
  m_jobLabel = new ui::ElidedLabel;
  m_jobProgress = new QProgressBar;
  m_jobProgress->setMaximumWidth(ui::scaledPx(180));
  m_jobProgress->setFormat(tr("this job: %p%"));
  m_jobProgress->hide();
  statusBar()->addWidget(m_jobLabel, 1);
  statusBar()->addPermanentWidget(m_jobProgress);
  auto* device = new ui::ElidedLabel;
  device->setObjectName("deviceStatus");
  // The op paths come from the engine's record of what actually ran (ops/op_registry.h), refreshed after
  // every job: the fast paths by name and a count of the rest, shortened with "…" if the window is
  // narrow; the tooltip holds every op and the full table.
  auto showDevice = [device, engine] {
    device->setText(tr("Device: %1 · %2").arg(engine->deviceDescription(), ui::opPathSummary(mm::op_path_records())));
    device->setDetail(QString::fromStdString(mm::op_path_status() + "\n\n" + mm::op_path_report()));
  };
  // CPU threads, remembered; "auto" is OMP_NUM_THREADS or every core. Small models decode on one
  // thread whatever this says (runtime/device.h), so a busy laptop does not slow the chat.
  auto* threads = new QSpinBox;
  threads->setObjectName("cpuThreads");
  threads->setRange(0, std::max(1, QThread::idealThreadCount()));
  threads->setSpecialValueText(tr("CPU threads: auto"));  // replaces the prefix too
  threads->setPrefix(tr("CPU threads: "));
  threads->setToolTip(tr("Threads for training, prefill and benchmarks from the next job on"));
  threads->setValue(QSettings().value(kThreadsKey, 0).toInt());
  engine->setCpuThreads(threads->value());
  showDevice();
  connect(threads, &QSpinBox::valueChanged, this, [engine, showDevice](int n) {
    engine->setCpuThreads(n);
    QSettings().setValue(kThreadsKey, n);
    showDevice();
  });
  statusBar()->addPermanentWidget(threads);
  statusBar()->addPermanentWidget(device);
  connect(engine, &EngineController::finished, device, [showDevice](quint64) { showDevice(); });
  connect(engine, &EngineController::progressChanged, this,
          [this](quint64, const QString& stage, double fraction, const QString& message) {
            m_jobLabel->setText(message.isEmpty() ? stage : message);
            m_jobLabel->setDetail({});
            m_jobProgress->show();
            if (fraction < 0) m_jobProgress->setRange(0, 0);  // indeterminate until the first estimate
            else m_jobProgress->setRange(0, 1000), m_jobProgress->setValue(int(1000 * fraction));
          });
  connect(engine, &EngineController::finished, this, [this](quint64) {
    m_jobProgress->hide();
    m_jobLabel->setText({});
    m_jobLabel->setDetail({});
  });
  connect(engine, &EngineController::failed, this, [this](quint64, const QString& message) {
    m_jobProgress->hide();
    m_jobLabel->setText(tr("Failed: %1").arg(message.section('\n', 0, 0)));
    m_jobLabel->setDetail(message);  // the HINT lines too
  });

  // The start-up self-test's result (runStartupSelfTest): the status bar, and the table on a failure.
  connect(m_engine, &EngineController::selfTestFinished, this, [this](quint64 id, const SelfTestSummary& s) {
    if (id != m_startupSelfTest) return;
    m_startupSelfTest = 0;
    statusBar()->showMessage(tr("Self-test: %1").arg(SelfTestDialog::headline(s)), 15000);
    if (s.failed == 0) {
      QSettings().setValue(kSelfTestKey, deviceAndBuild(m_engine));
      return;
    }
    SelfTestDialog* dialog = selfTestDialog();
    dialog->showSummary(s);
    dialog->show();
  });

  // Pages talk through the window: an opened model is offered to Chat and Distill.
  connect(m_model, &ModelPage::modelLoaded, this, [this](const ModelInfo& info) {
    if (info.hasTokenizer) m_chat->addModel(QString("%1 (%2)").arg(info.name, info.role), info.path);
    const bool keepRemembered = m_startingUp && !m_distill->teacherPath().isEmpty() && m_distill->teacherPath() != info.path;
    if (info.role == "teacher" && !keepRemembered)
      m_distill->setTeacher(info.path, info.config ? int(info.config->n_layers()) : 0);
    if (info.role == "teacher") m_model->showPlan(m_distill->planText());  // the planner shows the recipe's plan
    m_startingUp = false;
    m_bench->addCheckpoint(QString("%1 (%2)").arg(info.name, info.role), info.path, false);
  });
  // The planner on the Model page is the Distill plan of that teacher.
  connect(m_model, &ModelPage::planChanged, this, [this](const QString& plan) {
    if (m_model->model().role == "teacher") m_distill->setPlan(plan);
  });
  connect(m_model, &ModelPage::studentSeeded, this, [this](const SeedSummary& s) {
    m_chat->addModel(QFileInfo(s.studentPath).fileName() + tr(" (seeded)"), s.studentPath);
  });
  // A finished distillation's student is offered to Chat (e.g. side by side with its teacher) and Benchmark.
  connect(m_distill, &DistillPage::runStopped, this, [this](bool finished) {
    const auto [stage, path] = m_distill->studentCheckpoint();
    if (!finished || path.isEmpty()) return;
    const QString label = tr("%1 (distilled, %2)").arg(QFileInfo(m_distill->runDirectory()).fileName(), stage);
    m_chat->addModel(label, path);
    m_bench->addCheckpoint(label, path, false);
    statusBar()->showMessage(tr("%1 is in the Chat and Benchmark model lists").arg(label), 10000);
  });
  buildMenus();
  resize(1360, 860);
  restoreSettings();
}

MainWindow::~MainWindow() { ui::setTextScale(1.0); }

void MainWindow::setUserTextScale(double factor) {
  m_userTextScale = std::clamp(std::round(10 * factor) / 10, 0.7, 2.0);
  QSettings().setValue(kTextScaleKey, m_userTextScale);
  applyTextScale();
}

void MainWindow::applyTextScale() {
  ui::setTextScale(ui::textScaleFor(size()) * m_userTextScale);
}

void MainWindow::resizeEvent(QResizeEvent* event) {
  QMainWindow::resizeEvent(event);
  applyTextScale();
}

void MainWindow::saveSettings() const {
  QSettings settings;
  settings.setValue("window/geometry", saveGeometry());
  settings.setValue("window/page", m_nav->currentRow());
  m_chat->saveSettings(settings);
  m_distill->saveSettings(settings);
  m_bench->saveSettings(settings);
}

void MainWindow::restoreSettings() {
  const QSettings settings;
  restoreGeometry(settings.value("window/geometry").toByteArray());
  const double textScale = settings.value(kTextScaleKey, 1.0).toDouble();  // 0 for a damaged entry
  m_userTextScale = textScale >= 0.7 && textScale <= 2.0 ? textScale : 1.0;
  showPage(std::clamp(settings.value("window/page", 0).toInt(), 0, m_pages->count() - 1));
  m_chat->restoreSettings(settings);
  m_distill->restoreSettings(settings);
  m_bench->restoreSettings(settings);
}

void MainWindow::closeEvent(QCloseEvent* event) {
  if (!m_chat->confirmDiscard()) {
    event->ignore();
    return;
  }
  saveSettings();
  event->accept();
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(QIcon::fromTheme("document-open"), tr("&Open checkpoint…"), QKeySequence::Open, this, [this] {
    showPage(0);
    m_model->findChild<QPushButton*>()->click();
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::closeAllWindows);
  QMenu* go = menuBar()->addMenu(tr("&Go"));
  const char* names[] = {"&Model", "&Distill", "&Chat", "&Benchmark"};
  for (int i = 0; i < 4; ++i)
    go->addAction(tr(names[i]), QKeySequence(Qt::CTRL | Qt::Key(Qt::Key_1 + i)), this, [this, i] { showPage(i); });
  // Text for the back of the room: the window's size sets a factor (larger on a 1920x1080 projector),
  // these scale it further; every form, table and plot follows.
  QMenu* view = menuBar()->addMenu(tr("&View"));
  QAction* larger = view->addAction(tr("&Larger text"), this, [this] { setUserTextScale(m_userTextScale + 0.1); });
  larger->setShortcuts({QKeySequence::ZoomIn, QKeySequence(Qt::CTRL | Qt::Key_Equal)});
  view->addAction(tr("&Smaller text"), QKeySequence::ZoomOut, this, [this] { setUserTextScale(m_userTextScale - 0.1); });
  view->addAction(tr("&Text size to fit the window"), QKeySequence(Qt::CTRL | Qt::Key_0), this, [this] { setUserTextScale(1.0); });
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Getting started and shortcuts…"), QKeySequence::HelpContents, this, &MainWindow::showGuide);
  help->addAction(tr("Show &CLI command…"), QKeySequence(Qt::CTRL | Qt::Key_K), this, &MainWindow::showCliEquivalent);
  help->addAction(tr("&Self-test of the fast paths…"), this, [this] {
    SelfTestDialog* dialog = selfTestDialog();
    dialog->show();
    dialog->raise();
    dialog->run();
  });
  help->addAction(tr("&About mmMamba Studio"), this, &MainWindow::showAbout);
}

void MainWindow::showPage(int index) { m_nav->setCurrentRow(index); }

QString MainWindow::cliEquivalent() const {
  switch (m_pages->currentIndex()) {
    case 0: return m_model->cliEquivalent();
    case 1: return m_distill->cliEquivalent();
    case 2: return m_chat->cliEquivalent();
    default: return m_bench->cliEquivalent();
  }
}

void MainWindow::showCliEquivalent() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("The same with the mmmamba CLI"));
  auto* text = new QPlainTextEdit(cliEquivalent());
  text->setReadOnly(true);
  QFont fixed = QFontDatabase::systemFont(QFontDatabase::FixedFont);
  fixed.setPointSizeF(fixed.pointSizeF() * ui::textScale());
  text->setFont(fixed);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  auto* copy = buttons->addButton(tr("Copy"), QDialogButtonBox::ActionRole);
  connect(copy, &QPushButton::clicked, text, [text] { QApplication::clipboard()->setText(text->toPlainText()); });
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  auto* layout = new QVBoxLayout(&dialog);
  layout->addWidget(new QLabel(tr("What this page shows, as commands (for scripts and headless GPU machines):")));
  layout->addWidget(text);
  layout->addWidget(buttons);
  dialog.resize(ui::scaledPx(720), ui::scaledPx(240));
  dialog.exec();
}

void MainWindow::showGuide() {
  QDialog dialog(this);
  dialog.setWindowTitle(tr("Getting started"));
  auto* text = new QTextBrowser;
  text->setHtml(tr(
      "<h3>From a Transformer to Mamba-2 in four pages</h3>"
      "<ol><li><b>Model</b>: the demo teacher is open. Choose a plan (linear, one attention layer every k, "
      "a stack, or click cells) and see the predicted memory against context. <i>Seed student…</i> "
      "writes a student whose Mamba-2 layers start from the teacher's attention weights.</li>"
      "<li><b>Distill</b>: <i>Generate scene data…</i>, then Start. Stage 1 trains the new parameters "
      "layer by layer, stage 2 whole layers, stage 3 the model end to end against the teacher. "
      "Pause, stop and resume keep every step; <i>Evaluate checkpoints</i> fills the accuracy table.</li>"
      "<li><b>Chat</b>: make a scene (or drop, paste, open an image) and ask; for a random scene the "
      "true answer is shown under each reply, marked right or wrong. <i>Regenerate</i> keeps every "
      "version (‹ 2/3 ›). <i>Side by side</i> asks a second model; tokens both chose are blue, tokens "
      "they disagree on amber. Every conversation is saved as it goes: <i>Load…</i> lists them "
      "to open or delete.</li>"
      "<li><b>Benchmark</b>: prefill and decode time and memory against context length: the "
      "teacher's cache grows, the linear student's state does not.</li></ol>"
      "<p>Every page's work is also a command: Help → Show CLI command.</p>"
      "<h3>Shortcuts</h3><table cellpadding=3>"
      "<tr><td><b>Ctrl+1 … Ctrl+4</b></td><td>Model, Distill, Chat, Benchmark</td></tr>"
      "<tr><td><b>Ctrl+O</b></td><td>open a checkpoint</td></tr>"
      "<tr><td><b>Ctrl+K</b></td><td>the page's CLI command</td></tr>"
      "<tr><td><b>Ctrl++ / Ctrl+−</b></td><td>larger / smaller text (it also grows with the window)</td></tr>"
      "<tr><td><b>Ctrl+0</b></td><td>the text size that fits the window</td></tr>"
      "<tr><td><b>Enter</b></td><td>Chat: send</td></tr>"
      "<tr><td><b>Shift+Enter</b></td><td>Chat: a new line in the prompt</td></tr>"
      "<tr><td><b>Esc</b></td><td>Chat: stop the reply</td></tr>"
      "<tr><td><b>Ctrl+V</b></td><td>Chat: paste an image from the clipboard</td></tr>"
      "<tr><td><b>F1</b></td><td>this guide</td></tr>"
      "<tr><td><b>Ctrl+Q</b></td><td>quit</td></tr></table>"
      "<p>CPU threads (status bar): small models decode on one thread whatever it says, so another "
      "busy program does not slow the chat; training, prefill and benchmarks use the setting.</p>"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  auto* layout = new QVBoxLayout(&dialog);
  layout->addWidget(text);
  layout->addWidget(buttons);
  dialog.resize(ui::scaledPx(640), ui::scaledPx(560));
  dialog.exec();
}

void MainWindow::showAbout() {
  QMessageBox::about(this, tr("About mmMamba Studio"),
                     tr("<h3>mmMamba Studio %1</h3>"
                        "<p>Turns decoder-only vision-language Transformers into linear-time Mamba-2 and hybrid "
                        "models by seeding and three-stage distillation (mmMamba, arXiv 2502.13145).</p>"
                        "<p>Qt %2 · QCustomPlot %3 · LibTorch %4<br>Device: %5</p>")
                         .arg(MM_VERSION, qVersion(), QCUSTOMPLOT_VERSION_STR, EngineController::torchVersion(),
                              m_engine->deviceDescription()));
}

SelfTestDialog* MainWindow::selfTestDialog() {
  if (!m_selfTest) m_selfTest = new SelfTestDialog(m_engine, this);
  return m_selfTest;
}

bool MainWindow::startupSelfTestDue(bool onCuda, const QString& lastPassed, const QString& thisDeviceAndBuild) {
  return onCuda && lastPassed != thisDeviceAndBuild;
}

void MainWindow::runStartupSelfTestIfDue() {
  if (startupSelfTestDue(m_engine->onCuda(), QSettings().value(kSelfTestKey).toString(), deviceAndBuild(m_engine)))
    runStartupSelfTest();
}

quint64 MainWindow::runStartupSelfTest(const QString& onlyOp) {
  m_startupSelfTest = m_engine->runSelfTest(onlyOp);
  return m_startupSelfTest;
}

void MainWindow::openDefaultModels() {
  m_startingUp = true;
  const char* labels[] = {"demo teacher", "demo linear", "demo hybrid"};
  const std::vector<std::string>& names = mm::embedded_model_names();
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string dir = mm::find_embedded_model(names[i]);
    if (dir.empty()) continue;
    if (i == 0) m_model->openModel(QString::fromStdString(dir));
    m_chat->addModel(tr(labels[i]), QString::fromStdString(dir), i == 0);
    m_bench->addCheckpoint(tr(labels[i]), QString::fromStdString(dir), true);
  }
  for (const char* plan : {"teacher", "linear", "hybrid"}) m_bench->addArchitecture("hovle-2.6b", plan, false);
}
