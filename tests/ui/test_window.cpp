// The studio's window: at the smallest screen it promises (1024x700, a projector's) every page fits and
// nothing a speaker needs is squeezed (the chat prompt, the plots); it remembers its geometry, page,
// Distill recipe, paths and chat sampling in QSettings (a temporary scope here); the Distill page
// starts with the shipped demo recipe. Plot looks a projector needs: log axes with few labels that never
// crowd, the smoothed loss over faint raw points; the status bar shortens long text, tooltip whole.
#include <cmath>

#include <QComboBox>
#include <QDir>
#include <QScrollArea>
#include <QDoubleSpinBox>
#include <QFileInfo>
#include <QHeaderView>
#include <QScrollBar>
#include <QFile>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QStatusBar>
#include <QTableWidget>
#include <QSpinBox>
#include <QSplitter>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QPlainTextEdit>
#include <QStackedWidget>
#include <QStandardPaths>
#include <QtTest>
#include <qcustomplot.h>

#include "bench/benchmark.h"
#include "controller/enginecontroller.h"
#include "controller/opsummary.h"
#include "mainwindow.h"
#include "pages/benchmarkpage.h"
#include "pages/chatpage.h"
#include "pages/distillpage.h"
#include "pages/modelpage.h"
#include "plots/layerlossplot.h"
#include "plots/lossplot.h"
#include "plots/plotstyle.h"
#include "runtime/resources.h"
#include "widgets/benchtable.h"
#include "widgets/layerstrip.h"
#include "widgets/imagedrop.h"
#include "widgets/conversationview.h"
#include "widgets/elidedlabel.h"
#include "widgets/promptedit.h"
#include "widgets/selftestdialog.h"

namespace {
const QSize kSmallScreen(1024, 700);
const char* const kPageNames[] = {"Model", "Distill", "Chat", "Benchmark"};
}  // namespace

/// A run directory with every stage's points (stage 1 and 2 with per-layer losses), as a finished
/// run has them; factor is the recipe's mse_factor.
QString writeRun(const QString& dir, int factor) {
  QDir().mkpath(dir);
  QFile recipe(dir + "/recipe.json");
  if (!recipe.open(QIODevice::WriteOnly)) return {};
  recipe.write(QString(R"({"name": "unit", "stages": [{"stage": 1, "steps": 2, "mse_factor": %1},
                       {"stage": 2, "steps": 2, "mse_factor": %1}, {"stage": 3, "steps": 2}]})").arg(factor).toUtf8());
  QFile metrics(dir + "/metrics.jsonl");
  if (!metrics.open(QIODevice::WriteOnly)) return {};
  const double f = factor;
  const double layers[2][2] = {{0.25, 0.5}, {0.125, 0.375}};
  for (const char* stage : {"stage1", "stage2"})
    for (int step = 1; step <= 2; ++step)
      metrics.write(QString(R"({"stage": "%1", "step": %2, "loss": %3, "layer_losses": [%4, %5]})" "\n")
                        .arg(stage).arg(step).arg(f * (layers[step - 1][0] + layers[step - 1][1]) / 2)
                        .arg(layers[step - 1][0]).arg(layers[step - 1][1]).toUtf8());
  metrics.write(R"({"stage": "stage3", "step": 1, "loss": 2.5})" "\n" R"({"stage": "stage3", "step": 2, "loss": 2.25})" "\n");
  return dir;
}

/// Shows the window at `size` on `page` and lets the queued layouts settle; false when it never appeared.
bool showPageAt(MainWindow& window, int page, QSize size, int settleMs = 50) {
  window.resize(size);
  window.show();
  window.showPage(page);
  if (!QTest::qWaitForWindowExposed(&window)) return false;
  QTest::qWait(settleMs);
  return true;
}

class TestWindow : public QObject {
  Q_OBJECT
  EngineController* m_engine = nullptr;
  QTemporaryDir m_settingsDir;

  /// Overlays a saved GPU sweep of teacher, linear and hybrid from `card` ("H100 80GB HBM3"): three
  /// legend entries with long names.
  bool loadGpuOverlay(BenchmarkPage* bench, const QString& card) {
    std::vector<mm::BenchRow> rows;
    mm::BenchOptions o;
    for (const char* plan : {"teacher", "linear", "hybrid"}) {
      mm::BenchRow r;
      r.model = std::string("hovle-2.6b/") + plan + " (random weights, stacked:3:head)";
      r.length = 105472, r.phase = "decode", r.repeats = 1, r.seconds = 0.002, r.floor_seconds = 0.001;
      r.peak_bytes = 5'000'000'000;
      rows.push_back(r);
      o.models.push_back({r.model, "", "hovle-2.6b", plan});
    }
    o.lengths = {105472};
    nlohmann::json j = mm::bench_json(rows, o);
    j["environment"]["device"] = "cuda:0 (NVIDIA " + card.toStdString() + ")";
    const QString saved = m_settingsDir.filePath("overlay-" + QString(card).replace(' ', '-') + ".json");
    QFile f(saved);
    if (!f.open(QIODevice::WriteOnly)) return false;
    f.write(QByteArray::fromStdString(j.dump()));
    f.close();
    QString error;
    const bool ok = bench->loadOverlay(saved, &error);
    if (!ok) qWarning("%s", qPrintable(error));
    return ok;
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_settingsDir.isValid());
    QStandardPaths::setTestModeEnabled(true);  // the chat's autosave goes to a test location
    // Every QSettings() of the studio reads and writes a file in this directory only.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QCoreApplication::setOrganizationName("mmMamba-test");
    QCoreApplication::setApplicationName("test_window");
    m_engine = new EngineController(this);
  }

  void init() { QSettings().clear(); }  // each test starts from nothing remembered

  void everyPageFitsIn1024x700AndKeepsItsRoom() {
    MainWindow window(m_engine);
    window.openDefaultModels();  // the demo models (MMMAMBA_MODELS): the strip, the plots and chat filled
    QTRY_VERIFY_WITH_TIMEOUT(!window.modelPage()->model().path.isEmpty(), 30000);
    window.resize(kSmallScreen);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    // A side-by-side reply to an image: the tiles row and both conversations filled, as on stage.
    ChatPage* chat = window.chatPage();
    window.showPage(2);
    chat->setSideBySide(true);
    chat->imageDrop()->makeScene(7);
    chat->ask("What colour is the circle?");
    QTRY_VERIFY_WITH_TIMEOUT(!chat->busy(), 60000);
    QCOMPARE(chat->view(1)->messages().size(), 2);
    // A finished run on the Distill page: three stages in the legend, per-layer curves.
    QString error;
    QVERIFY2(window.distillPage()->openRun(writeRun(m_settingsDir.filePath("layout-run"), 1000), &error), qPrintable(error));
    auto* stack = window.findChild<QStackedWidget*>();
    QVERIFY(stack);
    QStringList tooBig;
    for (int i = 0; i < 4; ++i) {
      window.showPage(i);
      QTest::qWait(50);  // layouts settle, a window whose contents need more grows
      QWidget* page = stack->widget(i);
      const QSize need = page->minimumSizeHint().expandedTo(page->minimumSize());
      qInfo("%s page needs %dx%d, window %dx%d", kPageNames[i], need.width(), need.height(), window.width(), window.height());
      if (window.size() != kSmallScreen) {
        tooBig << QString("%1 grew the window to %2x%3").arg(kPageNames[i]).arg(window.width()).arg(window.height());
        window.resize(kSmallScreen);
        continue;
      }
      // Every visible plot on the page keeps a readable height, and its data area most of its width
      // (an empty plot's hidden legend once squeezed it to 50 px).
      for (QCustomPlot* plot : page->findChildren<QCustomPlot*>()) {
        if (!plot->isVisible()) continue;
        plot->replot();
        if (plot->height() < 150) tooBig << QString("%1: a plot is %2 px high").arg(kPageNames[i]).arg(plot->height());
        if (plot->axisRect()->width() < plot->width() / 2)
          tooBig << QString("%1: a plot's data area is %2 of its %3 px").arg(kPageNames[i]).arg(plot->axisRect()->width()).arg(plot->width());
      }
    }
    QVERIFY2(tooBig.isEmpty(), qPrintable(tooBig.join("; ")));
    // After a chat every op has run: the status bar's op paths still read whole beside the threads box.
    auto* status = window.findChild<ui::ElidedLabel*>("deviceStatus");
    QVERIFY(status);
    QVERIFY2(status->text().contains("ops: all"), qPrintable(status->text()));
    QVERIFY2(!status->isElided(), qPrintable(QString("shown as \"%1\" in %2 px").arg(status->displayedText()).arg(status->width())));
    window.showPage(2);
    QTest::qWait(50);
    // The prompt holds at least two lines of text.
    QWidget* prompt = chat->input();
    const int line = prompt->fontMetrics().lineSpacing();
    QVERIFY2(prompt->height() >= 2 * line + 8, qPrintable(QString("the prompt is %1 px high").arg(prompt->height())));
  }

  void emptyPlotsKeepNoBlankLegendRow() {
    // An empty plot's legend had no entries but kept its row: a blank band over "No measurements yet".
    // Out of the layout while empty, back in its row above the data when entries arrive.
    MainWindow window(m_engine);
    window.resize(QSize(1920, 1080));
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    BenchmarkPage* bench = window.benchmarkPage();
    DistillPage* distill = window.distillPage();
    const QList<QCustomPlot*> plots = {bench->latencyPlot(), bench->memoryPlot(), distill->lossPlot(), distill->layerPlot()->curves()};
    QList<int> emptyTop;
    for (QCustomPlot* plot : plots) {
      plot->replot();
      QVERIFY(plot->legend->layout() != plot->plotLayout() && !plot->legend->visible());
      emptyTop << plot->axisRect()->outerRect().top();
    }
    QString error;
    QVERIFY2(distill->openRun(writeRun(m_settingsDir.filePath("legend-run"), 1000), &error), qPrintable(error));
    distill->lossPlot()->flush();
    mm::BenchRow r;
    r.model = "m", r.length = 128, r.phase = "decode", r.repeats = 1, r.seconds = 0.001, r.peak_bytes = 1 << 20;
    mm::BenchOptions o;
    o.models = {{r.model, "", "hovle-2.6b", "linear"}};
    o.lengths = {128};
    QFile f(m_settingsDir.filePath("legend-bench.json"));
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray::fromStdString(mm::bench_json({r}, o).dump()));
    f.close();
    QVERIFY2(bench->loadOverlay(f.fileName(), &error), qPrintable(error));
    for (int i = 0; i < plots.size(); ++i) {
      plots[i]->replot();
      QVERIFY2(plots[i]->legend->layout() == plots[i]->plotLayout() && plots[i]->legend->visible(), qPrintable(QString("plot %1").arg(i)));
      QVERIFY2(plots[i]->axisRect()->outerRect().top() > emptyTop[i] + 10,
               qPrintable(QString("plot %1: data area from %2 px, empty from %3").arg(i).arg(plots[i]->axisRect()->outerRect().top()).arg(emptyTop[i])));
    }
    // Cleared, the blank row does not come back.
    distill->lossPlot()->clearAll();
    distill->lossPlot()->replot();
    QVERIFY(distill->lossPlot()->legend->layout() != distill->lossPlot()->plotLayout());
  }

  void legendEntriesStayInsideThePlots() {
    // Six long entries (two GPU sweeps of three models) once went four to a row, squeezed so that their
    // names were cut; the legend now takes as many columns as fit.
    MainWindow window(m_engine);
    BenchmarkPage* bench = window.benchmarkPage();
    for (const char* card : {"H200", "H100 80GB HBM3"}) QVERIFY(loadGpuOverlay(bench, card));
    for (const QSize size : {kSmallScreen, QSize(1280, 800)}) {
      QVERIFY(showPageAt(window, 3, size));
      QCOMPARE(window.size(), size);  // the legend's entries did not widen the window either
      QCustomPlot* plot = bench->latencyPlot();
      plot->replot();
      int entries = 0;
      for (int i = 0; i < plot->legend->itemCount(); ++i) {  // (cells of the legend's grid; some empty)
        if (!plot->legend->item(i)) continue;
        ++entries;
        // A squeezed grid cell clips its entry's name: each cell as wide as its entry needs, inside the plot.
        const QRect r = plot->legend->item(i)->outerRect();
        const int needs = plot->legend->item(i)->minimumOuterSizeHint().width();
        QVERIFY2(r.width() >= needs && r.right() <= plot->viewport().right(),
                 qPrintable(QString("at %1 px (%7 columns): entry %2 gets %3 px of %4, ends at %5 of %6").arg(size.width()).arg(i).arg(r.width())
                                .arg(needs).arg(r.right()).arg(plot->viewport().right()).arg(plot->legend->wrap())));
      }
      QCOMPARE(entries, 6);
      // Both plots show as much data height, however tall the latency plot's legend (it once had 42 px).
      // (Or as near as the memory plot's minimum height allows.)
      QTRY_VERIFY2(std::abs(plot->axisRect()->height() - bench->memoryPlot()->axisRect()->height()) <= 4 ||
                       (bench->memoryPlot()->height() == bench->memoryPlot()->minimumHeight() && plot->axisRect()->height() >= 90),
                   qPrintable(QString("at %1 px: data heights %2 and %3").arg(size.width())
                                  .arg(plot->axisRect()->height()).arg(bench->memoryPlot()->axisRect()->height())));
      // The y titles and the line keys fit their room too (with a tall legend they were cut at both ends).
      for (QCustomPlot* p : {plot, bench->memoryPlot()}) {
        p->replot();
        for (QCPAxis* axis : {p->yAxis, p->yAxis2}) {
          if (!axis->visible()) continue;
          const int needs = QFontMetrics(axis->labelFont()).horizontalAdvance(axis->label());
          QVERIFY2(!axis->label().isEmpty() && needs <= p->axisRect()->height(),
                   qPrintable(QString("at %1 px: \"%2\" needs %3 px of %4").arg(size.width()).arg(axis->label()).arg(needs).arg(p->axisRect()->height())));
        }
        for (QCPTextElement* key : p->findChildren<QCPTextElement*>()) {
          const int needs = QFontMetrics(key->font()).horizontalAdvance(key->text());
          QVERIFY2(needs <= p->viewport().width(), qPrintable(QString("at %1 px: the key \"%2\" needs %3 px of %4")
                                                                 .arg(size.width()).arg(key->text()).arg(needs).arg(p->viewport().width())));
        }
      }
    }
  }

  void manyOverlaysKeepTheWindowOnASmallScreen() {
    // Each plot asks for its legend's height over some data, but no more than a 700 px screen allows: five
    // GPU sweeps (15 entries) must not make the window taller than it was made.
    MainWindow window(m_engine);
    BenchmarkPage* bench = window.benchmarkPage();
    for (const char* card : {"H200", "H100 80GB HBM3", "A100-SXM4-80GB", "L40S", "GH200 480GB"})
      QVERIFY(loadGpuOverlay(bench, card));
    QVERIFY(showPageAt(window, 3, kSmallScreen, 100));  // 100 ms: the queued rebalancing after the first layouts
    QCOMPARE(window.size(), kSmallScreen);
    QVERIFY(window.minimumSizeHint().height() <= kSmallScreen.height());
    // The legend ends in "+N more" rather than squeezing 15 models and "out of memory" into rows that overlap.
    QCPLegend* legend = bench->latencyPlot()->legend;
    int entries = 0;
    QString last;
    for (int i = 0; i < legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) ++entries, last = item->plottable()->name();
    QVERIFY2(entries <= 6 * legend->wrap(), qPrintable(QString("%1 entries in %2 columns").arg(entries).arg(legend->wrap())));
    QVERIFY2(last.startsWith("+") && last.contains("more"), qPrintable(last));
    QVERIFY(bench->latencyPlot()->axisRect()->height() >= 60);
  }

  void theBenchmarkTableAndPlotsFitIn1024x700() {
    // A saved GPU sweep fills every column (floor, × floor, peak, predicted, RSS, a note) under a long
    // model name. At 1024x700 the table once showed 7 of its 11 columns and each plot 95 px of data.
    std::vector<mm::BenchRow> rows;
    for (int64_t length : {1024, 8192, 65536})
      for (const char* phase : {"prefill", "decode"}) {
        mm::BenchRow r;
        r.model = "hovle-2.6b/hybrid distilled with a long recipe name";
        r.length = length, r.phase = phase, r.repeats = 3;
        r.seconds = phase[0] == 'd' ? 0.0123456 : 1.234567, r.stddev = r.seconds / 7;
        if (phase[0] == 'd') r.floor_seconds = 0.0101;
        r.peak_bytes = 5'432'109'876, r.predicted_bytes = 5'400'000'000, r.rss_peak_bytes = 6'543'210'987;
        r.error = length == 65536 ? "a note" : "";
        rows.push_back(r);
      }
    mm::BenchOptions o;
    o.models = {{rows[0].model, "", "hovle-2.6b", "hybrid"}};
    o.lengths = {1024, 8192, 65536};
    const QString saved = m_settingsDir.filePath("h200-bench.json");
    QFile f(saved);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(QByteArray::fromStdString(mm::bench_json(rows, o).dump()));
    f.close();
    MainWindow window(m_engine);
    BenchmarkPage* bench = window.benchmarkPage();
    QString error;
    QVERIFY2(bench->loadOverlay(saved, &error), qPrintable(error));
    for (const QSize size : {kSmallScreen, QSize(1920, 1080)}) {
      QVERIFY(showPageAt(window, 3, size));
      QCOMPARE(window.size(), size);  // the long name, elided in the legends, did not widen it
      const QString at = QString("at %1x%2: ").arg(size.width()).arg(size.height());
      // Every column in view, none cut: no sideways scrolling, each header whole.
      QTableWidget* table = bench->resultsTable();
      QVERIFY2(table->horizontalScrollBar()->maximum() == 0,
               qPrintable(at + QString("the table scrolls %1 px sideways").arg(table->horizontalScrollBar()->maximum())));
      QHeaderView* header = table->horizontalHeader();
      for (int c = 0; c < table->columnCount(); ++c) {
        const QString label = table->horizontalHeaderItem(c)->text();
        QVERIFY2(header->sectionSize(c) >= header->fontMetrics().horizontalAdvance(label),
                 qPrintable(at + QString("header %1 is %2 px").arg(label).arg(header->sectionSize(c))));
        QVERIFY2(!table->horizontalHeaderItem(c)->toolTip().isEmpty(), qPrintable(label));
      }
      for (int c = 1; c < table->columnCount() - 1; ++c) {  // the numbers whole; only the name may be elided
        const QString text = table->item(1, c)->text();
        QVERIFY2(header->sectionSize(c) >= table->fontMetrics().horizontalAdvance(text),
                 qPrintable(at + QString("%1 in %2 px").arg(text).arg(header->sectionSize(c))));
      }
      QCOMPARE(table->item(0, 0)->toolTip(), table->item(0, 0)->text());  // the whole name
      QVERIFY2(table->width() > bench->width() * 9 / 10, qPrintable(at + QString("table %1 of %2 px").arg(table->width()).arg(bench->width())));
      QVERIFY2(table->height() >= header->height() + 4 * table->rowHeight(0), qPrintable(at + "fewer than 4 rows in view"));
      // Both plots keep a readable data area.
      for (QCustomPlot* plot : {bench->latencyPlot(), bench->memoryPlot()}) {
        plot->replot();
        QVERIFY2(plot->axisRect()->height() >= 130, qPrintable(at + QString("a plot's data area is %1 px high").arg(plot->axisRect()->height())));
      }
      // One prefill time at every length: a sane span around it on the log axis (was 10^-42 to 10^-11).
      const QCPRange prefill = bench->latencyPlot()->yAxis2->range();
      QVERIFY2(prefill.contains(1.234567) && prefill.lower > 0.1 && prefill.upper < 10,
               qPrintable(at + QString("prefill axis %1..%2").arg(prefill.lower).arg(prefill.upper)));
      // Short plots share one legend and one x-axis title; tall ones have their own.
      const bool small = size == kSmallScreen;
      QCOMPARE(bench->compact(), small);
      QCOMPARE(bench->memoryPlot()->legend->layout() != nullptr, !small);
      QCOMPARE(bench->latencyPlot()->xAxis->label().isEmpty(), small);
      QVERIFY(!bench->memoryPlot()->xAxis->label().isEmpty());
      // An export has both whatever the window, and leaves the page as it was.
      QVERIFY2(bench->exportTo(m_settingsDir.filePath("bench-export.png"), &error), qPrintable(error));
      const QImage png(m_settingsDir.filePath("bench-export-memory.png"));
      QVERIFY2(png.width() >= 1600 && png.height() >= 900, qPrintable(at + QString("exported %1x%2").arg(png.width()).arg(png.height())));
      QCOMPARE(bench->compact(), small);
      QCOMPARE(bench->memoryPlot()->legend->layout() != nullptr, !small);
    }
  }

  void theDistillPageStartsWithTheShippedDemoRecipe() {
    QFile f(MM_SOURCE_DIR "/examples/recipes/demo-linear.json");
    QVERIFY(f.open(QIODevice::ReadOnly));
    const nlohmann::json shipped = nlohmann::json::parse(f.readAll().toStdString());
    DistillPage page(m_engine);
    const nlohmann::json r = page.recipe();
    QCOMPARE(r["stages"], shipped["stages"]);
    QCOMPARE(r["plan"], shipped["plan"]);
    QCOMPARE(r["init"], shipped["init"]);
    QCOMPARE(r["max_length"], shipped["max_length"]);
    QCOMPARE(page.stageTable()->item(0, 1)->text().toLongLong(), shipped["stages"][0]["steps"].get<int64_t>());
    // Its data paths point at files that are not shipped: the fields stay empty for Generate scene data.
    QVERIFY(!r.contains("train_data") && !r.contains("eval_data"));

    // Demo > the hybrid: its plan and stages, the data fields kept, the run directory beside the linear's.
    QFile h(MM_SOURCE_DIR "/examples/recipes/demo-hybrid.json");
    QVERIFY(h.open(QIODevice::ReadOnly));
    const nlohmann::json hybrid = nlohmann::json::parse(h.readAll().toStdString());
    page.setEvalData("/somewhere/val.jsonl");
    const QFileInfo linearRun(page.runDirectory());
    QCOMPARE(linearRun.fileName(), QString("studio-linear"));
    auto* demo = page.findChild<QPushButton*>("demoRecipes");
    QVERIFY(demo && demo->menu());
    QCOMPARE(demo->menu()->actions().size(), 2);
    demo->menu()->actions()[1]->trigger();
    QCOMPARE(page.recipe()["stages"], hybrid["stages"]);
    QCOMPARE(page.planText().toStdString(), hybrid["plan"].get<std::string>());
    QCOMPARE(page.recipe()["eval_data"].get<std::string>(), std::string("/somewhere/val.jsonl"));
    QCOMPARE(QFileInfo(page.runDirectory()).fileName(), QString("studio-hybrid"));
    QCOMPARE(QFileInfo(page.runDirectory()).absolutePath(), linearRun.absolutePath());
    demo->menu()->actions()[0]->trigger();
    QCOMPARE(page.recipe()["stages"], shipped["stages"]);
    QCOMPARE(page.planText(), QString("linear"));
    QCOMPARE(QFileInfo(page.runDirectory()).fileName(), QString("studio-linear"));
    // A directory the user named is theirs: a demo recipe leaves it.
    page.setRunDirectory("/somewhere/my-run");
    demo->menu()->actions()[1]->trigger();
    QCOMPARE(page.runDirectory(), QString("/somewhere/my-run"));
  }

  void textGrowsWithTheWindowForAProjector() {
    // At 1024x700 the studio's text is the desktop's; in a 1920x1080 window (a projector) forms, tables
    // and plots are larger, the pages still fit, the stage table and the prompt still hold their rows;
    // View > Larger text adds to it and is remembered; closing gives the starting size back.
    const double base = QApplication::font().pointSizeF();
    double plotTick = 0;
    {
      MainWindow window(m_engine);
      window.openDefaultModels();
      QTRY_VERIFY_WITH_TIMEOUT(!window.modelPage()->model().path.isEmpty(), 30000);
      window.resize(kSmallScreen);
      window.show();
      QVERIFY(QTest::qWaitForWindowExposed(&window));
      QCOMPARE(QApplication::font().pointSizeF(), base);
      plotTick = window.distillPage()->lossPlot()->xAxis->tickLabelFont().pointSizeF();
      window.resize(1920, 1080);
      QTest::qWait(50);
      QCOMPARE(window.size(), QSize(1920, 1080));  // nothing grew it
      const double big = QApplication::font().pointSizeF();
      QVERIFY2(big >= 1.25 * base, qPrintable(QString("%1 pt at 1920x1080, %2 at 1024x700").arg(big).arg(base)));
      QCOMPARE(window.font().pointSizeF(), big);
      for (QCustomPlot* plot : window.findChildren<QCustomPlot*>()) {
        QVERIFY2(plot->xAxis->tickLabelFont().pointSizeF() >= big, qPrintable(plot->xAxis->label()));
        QVERIFY(plot->yAxis->labelFont().pointSizeF() > big);
      }
      QVERIFY(window.distillPage()->lossPlot()->xAxis->tickLabelFont().pointSizeF() > plotTick);
      // The stage table: the header and three whole rows at the larger text.
      window.showPage(1);
      QTest::qWait(50);
      QTableWidget* stages = window.distillPage()->stageTable();
      QVERIFY(!stages->horizontalScrollBar()->isVisible());
      QVERIFY2(stages->rowViewportPosition(2) + stages->rowHeight(2) <= stages->viewport()->height(),
               qPrintable(QString("row 3 ends at %1 of %2 px").arg(stages->rowViewportPosition(2) + stages->rowHeight(2)).arg(stages->viewport()->height())));
      QVERIFY(stages->rowHeight(0) >= stages->fontMetrics().height() + 4);
      // The prompt still two lines high and more; the chat's text between the studio's and 1.5 times it
      // (its own scale for wide panes counts the width in the larger text).
      window.showPage(2);
      QTest::qWait(50);
      QVERIFY(window.chatPage()->input()->height() >= 2 * window.chatPage()->input()->fontMetrics().lineSpacing() + 8);
      const double chat = window.chatPage()->view(0)->font().pointSizeF();
      QVERIFY2(chat >= big && chat <= 1.5 * big + 0.01, qPrintable(QString("chat %1 pt, studio %2").arg(chat).arg(big)));
      // Every page fits and its plots keep their room.
      for (int i = 0; i < 4; ++i) {
        window.showPage(i);
        QTest::qWait(50);
        QCOMPARE(window.size(), QSize(1920, 1080));
        for (QCustomPlot* plot : window.findChildren<QStackedWidget*>().first()->widget(i)->findChildren<QCustomPlot*>())
          if (plot->isVisible()) QVERIFY2(plot->height() >= 150, qPrintable(QString("page %1: a plot is %2 px").arg(i).arg(plot->height())));
        // No choice cut short: a side panel once kept its first width and showed "hovle-2." of hovle-2.6b.
        for (QComboBox* combo : window.findChildren<QStackedWidget*>().first()->widget(i)->findChildren<QComboBox*>())
          if (combo->isVisible())
            QVERIFY2(combo->width() >= combo->sizeHint().width(),
                     qPrintable(QString("page %1: \"%2\" in %3 of %4 px").arg(i).arg(combo->currentText()).arg(combo->width()).arg(combo->sizeHint().width())));
      }
      // Larger text, remembered; Ctrl+0 back to the window's own.
      QTest::keyClick(&window, Qt::Key_Plus, Qt::ControlModifier);
      QTRY_VERIFY(QApplication::font().pointSizeF() > big * 1.05);
      QCOMPARE(window.userTextScale(), 1.1);
      QCOMPARE(QSettings().value("window/textScale").toDouble(), 1.1);
      QTest::keyClick(&window, Qt::Key_0, Qt::ControlModifier);
      QTRY_COMPARE(QApplication::font().pointSizeF(), big);
      window.resize(kSmallScreen);
      QTest::qWait(50);
      QCOMPARE(QApplication::font().pointSizeF(), base);
      QCOMPARE(window.distillPage()->lossPlot()->xAxis->tickLabelFont().pointSizeF(), plotTick);
      window.resize(1920, 1080);
      QTest::qWait(50);
    }
    QCOMPARE(QApplication::font().pointSizeF(), base);  // the window closed: the next starts as the desktop is
    QSettings().setValue("window/textScale", 1.3);  // remembered from an earlier session
    MainWindow again(m_engine);
    QCOMPARE(again.userTextScale(), 1.3);
  }

  void settingsAreRemembered() {
    const QString evalData = m_settingsDir.filePath("val.jsonl");
    const QString runDir = m_settingsDir.filePath("runs/remembered");
    int benchTableHeight = 0;
    {
      MainWindow window(m_engine);
      window.show();
      window.resize(1100, 720);
      window.showPage(2);
      window.findChild<QDoubleSpinBox*>("temperature")->setValue(0.7);
      window.findChild<QDoubleSpinBox*>("topP")->setValue(0.9);
      window.findChild<QSpinBox*>("maxTokens")->setValue(33);
      DistillPage* distill = window.distillPage();
      distill->setPlan("interval:2:tail");
      distill->setEvalData(evalData);
      distill->setRunDirectory(runDir);
      distill->stageTable()->item(0, 1)->setText("17");
      window.showPage(3);
      QSplitter* split = window.benchmarkPage()->pageSplitter();
      QTest::qWait(20);
      split->setSizes({split->height() / 2, split->height() / 2});  // the table dragged up to half
      benchTableHeight = split->sizes().at(1);
      window.showPage(2);
      QVERIFY(window.close());  // nothing unsaved in the chat: it closes and remembers
    }
    MainWindow window(m_engine);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCOMPARE(window.size(), QSize(1100, 720));
    QCOMPARE(window.findChild<QStackedWidget*>()->currentIndex(), 2);
    QCOMPARE(window.findChild<QDoubleSpinBox*>("temperature")->value(), 0.7);
    QCOMPARE(window.findChild<QDoubleSpinBox*>("topP")->value(), 0.9);
    QCOMPARE(window.findChild<QSpinBox*>("maxTokens")->value(), 33);
    const nlohmann::json r = window.distillPage()->recipe();
    QCOMPARE(window.distillPage()->planText(), QString("interval:2:tail"));
    QCOMPARE(r["eval_data"].get<std::string>(), evalData.toStdString());
    QCOMPARE(r["stages"][0]["steps"].get<int64_t>(), int64_t(17));
    QCOMPARE(window.distillPage()->runDirectory(), runDir);
    window.showPage(3);
    QTest::qWait(20);
    QVERIFY2(std::abs(window.benchmarkPage()->pageSplitter()->sizes().at(1) - benchTableHeight) <= 2,
             qPrintable(QString("table %1 px, was %2").arg(window.benchmarkPage()->pageSplitter()->sizes().at(1)).arg(benchTableHeight)));
    window.showPage(2);

    // A damaged entry (an edited settings file) leaves the shipped demo recipe.
    QSettings().setValue("distill/recipe", "{\"stages\": [");
    MainWindow again(m_engine);
    QCOMPARE(again.distillPage()->recipe()["stages"], DistillPage(m_engine).recipe()["stages"]);
  }

  void openingTheTeacherKeepsTheRecipesPlanAndThePlannerShowsIt() {
    QSettings().remove("distill/recipe");  // the shipped demo-linear recipe
    MainWindow window(m_engine);
    ModelPage* model = window.modelPage();
    QSignalSpy loaded(model, &ModelPage::modelLoaded);
    model->openModel(QString::fromStdString(mm::find_embedded_model("demo-teacher")));
    QVERIFY(loaded.wait(10000));
    QCOMPARE(window.distillPage()->planText(), QString("linear"));
    QCOMPARE(model->planText(), QString("linear"));
    QCOMPARE(model->planMode()->currentData().toString(), QString("linear"));
    // A plan chosen on the planner is still the Distill plan.
    model->planMode()->setCurrentIndex(model->planMode()->findData("interval"));
    model->intervalBox()->setValue(3);
    QCOMPARE(window.distillPage()->planText(), QString("interval:3:head"));
    // The hybrid demo's stacked plan shows on the planner when its teacher opens again.
    window.distillPage()->setPlan("stacked:3:head");
    model->openModel(QString::fromStdString(mm::find_embedded_model("demo-teacher")));
    QVERIFY(loaded.wait(10000));
    QCOMPARE(model->planText(), QString("stacked:3:head"));
    QCOMPARE(window.distillPage()->planText(), QString("stacked:3:head"));
    // A list plan becomes the custom cells.
    window.distillPage()->setPlan("list:0,5");
    model->showPlan("list:0,5");
    QCOMPARE(model->planMode()->currentData().toString(), QString("custom"));
    QCOMPARE(model->planText(), QString("list:0,5"));
  }

  void theStripShowsTheCheckpointsStateAndACellClickPlansIt() {
    ModelPage page(m_engine);
    QSignalSpy loaded(&page, &ModelPage::modelLoaded);
    page.openModel(QString::fromStdString(mm::find_embedded_model("demo-linear")));  // finished stage 3
    QVERIFY(loaded.wait(10000));
    QCOMPARE(page.layerStrip()->look(), LayerStrip::Look::distilled);
    page.openModel(QString::fromStdString(mm::find_embedded_model("demo-teacher")));
    QVERIFY(loaded.wait(10000));
    // A teacher opens on the interval planner: the strip shows the student that seeding would make.
    QCOMPARE(page.planText(), QString("interval:4:head"));
    QCOMPARE(page.layerStrip()->look(), LayerStrip::Look::seeded);
    const std::vector<mm::LayerKind> before = page.layerStrip()->kinds();
    int mamba = 0;
    while (before[size_t(mamba)] != mm::LayerKind::mamba2) ++mamba;
    page.show();
    QTest::mouseClick(page.layerStrip(), Qt::LeftButton, {}, page.layerStrip()->cellRect(mamba).center());
    // The click took effect at once: the plan box says Custom, the cell is attention now.
    QCOMPARE(page.planMode()->currentData().toString(), QString("custom"));
    std::vector<mm::LayerKind> expected = before;
    expected[size_t(mamba)] = mm::LayerKind::attention;
    QCOMPARE(page.layerStrip()->kinds(), expected);
    QVERIFY2(page.planText().startsWith("list:") && page.planText().split(',').size() == 3, qPrintable(page.planText()));
    QCOMPARE(LayerStrip::lookForStage("stage1", false), LayerStrip::Look::stage1);
    QCOMPARE(LayerStrip::lookForStage("stage3", true), LayerStrip::Look::teacher);
  }

  void theTotalAndPerLayerLossesShareOneUnit() {
    // A run whose recipe scales the layer MSE by 100: the per-layer curves show 100 x MSE, the total
    // (100 x the mean over layers) is their mean, and both name the factor.
    const QString dir = writeRun(m_settingsDir.filePath("unit-run"), 100);
    DistillPage page(m_engine);
    QString error;
    QVERIFY2(page.openRun(dir, &error), qPrintable(error));
    page.lossPlot()->flush();
    page.layerPlot()->flush();
    QCustomPlot* curves = page.layerPlot()->curves();
    QCOMPARE(curves->graphCount(), 2);
    QCOMPARE(curves->graph(0)->data()->at(0)->value, 25.0);
    QCOMPARE(curves->graph(1)->data()->at(1)->value, 37.5);
    for (int i = 0; i < 2; ++i) {
      const double mean = (curves->graph(0)->data()->at(i)->value + curves->graph(1)->data()->at(i)->value) / 2;
      bool found = false;
      for (int g = 0; g < page.lossPlot()->graphCount(); ++g)
        if (page.lossPlot()->graph(g)->dataCount() == 2) found |= page.lossPlot()->graph(g)->data()->at(i)->value == mean;
      QVERIFY2(found, "the total is the mean of the per-layer curves");
    }
    QCOMPARE(curves->yAxis->label(), QString("layer MSE ×100"));
    QStringList names;
    for (int i = 0; i < page.lossPlot()->legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(page.lossPlot()->legend->item(i))) names << item->plottable()->name();
    QVERIFY2(names.contains("stage 1: MSE ×100"), qPrintable(names.join("; ")));
  }

  void theRecipeHasNoEmptyBandOnALargeScreen() {
    // At 1920x1080 the spare height once went to the plan check under the Plan box: a one-line
    // "✓ a valid plan" in an 83 px row.
    MainWindow window(m_engine);
    window.resize(1920, 1080);
    window.show();
    window.showPage(1);
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    auto* check = window.findChild<QLabel*>("planCheck");
    QVERIFY(check);
    for (const char* plan : {"linear", "interval:9:middle"}) {
      window.distillPage()->setPlan(plan);
      QTest::qWait(50);
      const int need = std::max(check->heightForWidth(check->width()), check->sizeHint().height());
      QVERIFY2(check->height() <= need + 2, qPrintable(QString("%1: %2 px for %3").arg(check->text()).arg(check->height()).arg(need)));
      QVERIFY2(check->height() >= check->heightForWidth(check->width()), qPrintable(check->text()));  // and never cut
    }
  }

  void aWideConversationHasLargerText() {
    ConversationView view;
    const double base = view.font().pointSizeF();
    view.resize(300, 300);  // a side-by-side pane in a 1024 px window: the normal size
    view.show();
    QVERIFY(QTest::qWaitForWindowExposed(&view));
    QCOMPARE(view.textScale(), 1.0);
    QCOMPARE(view.font().pointSizeF(), base);
    view.resize(700, 300);  // a pane at 1920 px, read on a projector
    QCOMPARE(view.textScale(), 1.5);
    QVERIFY(view.font().pointSizeF() > 1.4 * base);
    view.resize(300, 300);  // and back, without growing on every resize
    QCOMPARE(view.font().pointSizeF(), base);
  }

  void anEmptyPlotShowsANoteAndNoMadeUpRange() {
    LossPlot loss;
    LayerLossPlot layers;
    QVERIFY(!loss.yAxis->tickLabels() && !loss.xAxis->tickLabels());
    QVERIFY(!layers.curves()->yAxis->tickLabels() && !layers.heatmap()->xAxis->tickLabels());
    mm::MetricEvent m;
    m.stage = "stage1";
    m.step = 1;
    m.total_steps = 2;
    m.loss = 300;
    m.layer_losses = {0.25, 0.35};
    loss.addMetric(m);
    layers.addMetric(m);
    loss.flush();
    layers.flush();
    QVERIFY(loss.yAxis->tickLabels() && loss.xAxis->tickLabels());
    QVERIFY(layers.curves()->yAxis->tickLabels() && layers.heatmap()->yAxis->tickLabels());
    loss.clearAll();
    layers.clearAll();
    QVERIFY(!loss.yAxis->tickLabels());
    QVERIFY(!layers.curves()->yAxis->tickLabels());
  }

  void theSmoothedLossIsDrawnOverTheRawPoints() {
    DistillPage page(m_engine);
    QString error;
    QVERIFY2(page.openRun(writeRun(m_settingsDir.filePath("smooth-run"), 1000), &error), qPrintable(error));
    page.lossPlot()->flush();
    for (const char* stage : {"stage1", "stage2", "stage3"}) {
      const QCPGraph* smooth = page.lossPlot()->smoothGraph(stage);
      QVERIFY(smooth);
      QCOMPARE(smooth->pen().color().alpha(), 255);  // full colour
      for (const char* other : {"stage1", "stage2", "stage3"}) {  // above every stage's points
        const QCPGraph* raw = page.lossPlot()->rawGraph(other);
        QVERIFY(raw);
        QVERIFY(smooth->layer()->index() > raw->layer()->index());
        QVERIFY(raw->scatterStyle().pen().color().alpha() < 128);  // faint
        QVERIFY(smooth->pen().widthF() >= 3);
      }
    }
  }

  void logAxesTickAtFewReadableValues() {
    QCustomPlot plot;
    ui::styleForProjector(&plot);
    ui::useLogTicks(plot.yAxis);
    plot.resize(500, 400);
    plot.replot();  // the axis's height sets how many labels fit
    QVector<double> ticks, sub;
    auto labels = [&](double lo, double hi) {
      QVector<QString> text;
      ticks.clear(), sub.clear();
      plot.yAxis->ticker()->generate(QCPRange(lo, hi), QLocale::c(), 'g', 6, ticks, &sub, &text);
      return QStringList(text.begin(), text.end());
    };
    // The ranges that crowded: a run's total loss (KL 30 to MSE x1000 450), per-layer curves.
    QCOMPARE(labels(30, 450), QStringList({"30", "100", "300"}));
    QCOMPARE(labels(90, 400), QStringList({"100", "200", "300"}));
    QCOMPARE(labels(2.5, 1500), QStringList({"10", "100", "1000"}));  // decades, 2..9 as minor ticks
    QVERIFY(sub.contains(20) && sub.contains(500));
    QCOMPARE(labels(1e-3, 1e5), QStringList({"0.001", "0.1", "10", "1000", "100000"}));  // every other decade
    QCOMPARE(labels(0.75, 1.65), QStringList({"0.8", "1", "1.2", "1.4", "1.6"}));  // under a factor of 3: even steps
    // Any range on a tall or a short plot: at least two labels, no two closer than a label's height,
    // short plain numbers.
    const int labelHeight = QFontMetrics(plot.yAxis->tickLabelFont()).height();
    for (int height : {400, 140}) {
      plot.resize(500, height);
      plot.replot();
      const int px = plot.axisRect()->height();
      for (double lo = 1e-3; lo < 1e4; lo *= 1.7)
        for (double ratio : {1.2, 2.0, 2.9, 3.0, 3.5, 4.5, 7.0, 15.0, 60.0, 300.0, 999.0, 1e4, 1e8}) {
          const QStringList text = labels(lo, lo * ratio);
          const QString what = QString("%1 px, [%2, %3]: %4").arg(px).arg(lo).arg(lo * ratio).arg(text.join(" "));
          QVERIFY2(text.size() >= 2, qPrintable(what));
          for (int i = 1; i < ticks.size(); ++i)
            QVERIFY2(px * std::log(ticks[i] / ticks[i - 1]) / std::log(ratio) >= labelHeight, qPrintable(what));
          for (const QString& t : text) QVERIFY2(t.size() <= 7, qPrintable(what));
        }
    }
  }

  void contextLengthTicksFitSideBySide() {
    QCustomPlot plot;
    ui::styleForProjector(&plot);
    ui::usePowerOfTwoTicks(plot.xAxis);
    const QFontMetrics fm(plot.xAxis->tickLabelFont());
    auto labels = [&](double lo, double hi, QVector<double>* ticks) {
      QVector<QString> text;
      plot.xAxis->ticker()->generate(QCPRange(lo, hi), QLocale::c(), 'g', 6, *ticks, nullptr, &text);
      return QStringList(text.begin(), text.end());
    };
    QVector<double> ticks;
    plot.resize(900, 300);
    plot.replot();
    QCOMPARE(labels(50, 1300, &ticks), QStringList({"64", "128", "256", "512", "1K"}));  // a benchmark sweep
    for (int width : {260, 500, 900, 1600}) {  // the Model page's 256..1M at 1024 px and beyond
      plot.resize(width, 300);
      plot.replot();
      const QStringList text = labels(256 / 1.25, 1.25 * (1 << 20), &ticks);
      const double px = plot.axisRect()->width(), span = std::log2(1.25 * 1.25 * (1 << 12));
      QVERIFY2(text.size() >= 3 && text.contains("1M"), qPrintable(text.join(" ")));
      for (int i = 1; i < ticks.size(); ++i) {
        const double gap = px * std::log2(ticks[i] / ticks[i - 1]) / span;
        QVERIFY2(gap >= fm.horizontalAdvance(text[i - 1]) / 2.0 + fm.horizontalAdvance(text[i]) / 2.0 + 8,
                 qPrintable(QString("%1 px: %2").arg(px).arg(text.join(" "))));
      }
    }
  }

  void aLongStatusIsShortenedWithItsWholeTextInTheTooltip() {
    ui::ElidedLabel label;
    const QString text = "Device: cuda:0 (NVIDIA H200) · ops: attention_decode flash 100%, ssd_scan cuda 100%";
    label.setText(text);
    label.setDetail("the per-op table");
    label.resize(120, label.sizeHint().height());
    QVERIFY(label.isElided());
    QVERIFY2(label.displayedText().endsWith(QChar(0x2026)), qPrintable(label.displayedText()));
    QVERIFY(label.fontMetrics().horizontalAdvance(label.displayedText()) <= 120);
    QVERIFY(label.toolTip().startsWith(text));
    QVERIFY(label.toolTip().endsWith("the per-op table"));
    label.resize(label.sizeHint());  // room enough: all of it
    QCOMPARE(label.displayedText(), text);
    QVERIFY(label.minimumSizeHint().width() < label.sizeHint().width() / 2);  // a full bar shortens it
  }

  void theStartUpSelfTestRunsOnAGpusFirstStartOnly() {
    QVERIFY(!MainWindow::startupSelfTestDue(false, {}, "cpu"));  // no fast paths to check on the CPU
    QVERIFY(MainWindow::startupSelfTestDue(true, {}, "cuda:0 (NVIDIA H200) · 0.1.0"));
    QVERIFY(!MainWindow::startupSelfTestDue(true, "cuda:0 (NVIDIA H200) · 0.1.0", "cuda:0 (NVIDIA H200) · 0.1.0"));
    QVERIFY(MainWindow::startupSelfTestDue(true, "cuda:0 (NVIDIA H100) · 0.1.0", "cuda:0 (NVIDIA H200) · 0.1.0"));

    // The check itself runs on any device: here the CPU, one op's cases, its result in the status bar.
    MainWindow window(m_engine);
    window.show();
    const std::string ops = mm::op_path_status();
    window.runStartupSelfTest("rms_norm");
    QTRY_VERIFY_WITH_TIMEOUT(window.statusBar()->currentMessage().startsWith("Self-test: "), 30000);
    const QString message = window.statusBar()->currentMessage();
    QVERIFY2(message.contains(QRegularExpression("(\\d+) of \\1 cases agree with their references")), qPrintable(message));
    QVERIFY2(!QSettings().value("selfTest/lastPassed").toString().isEmpty(), "a passed check is remembered");
    QCOMPARE(mm::op_path_status(), ops);  // the status bar's record of what ran is untouched
  }

  void theSelfTestDialogListsEveryCase() {
    MainWindow window(m_engine);
    SelfTestDialog* dialog = window.selfTestDialog();
    dialog->show();
    dialog->run("rms_norm");
    QTRY_VERIFY_WITH_TIMEOUT(dialog->table()->rowCount() > 0, 30000);
    const QTableWidget* table = dialog->table();
    for (int row = 0; row < table->rowCount(); ++row) {
      QCOMPARE(table->item(row, 0)->text(), QString("rms_norm"));
      QCOMPARE(table->item(row, 2)->text(), QString("reference"));
      QCOMPARE(table->item(row, 5)->text(), QString("ok"));
    }
    QVERIFY2(dialog->summaryText().contains("agree with their references"), qPrintable(dialog->summaryText()));
    QVERIFY2(dialog->summaryText().contains("No fast path runs here"), qPrintable(dialog->summaryText()));

    SelfTestSummary failed;  // what a GPU with a broken kernel shows
    failed.device = "cuda:0 (NVIDIA H200)";
    failed.rows = {{"rms_norm", "rms_norm L=127", "cuda", "out", {}, 0.5, 0.01, false, false},
                   {"rope", "rope L=1", "cuda", "out", {}, 1e-4, 0.01, true, false}};
    failed.turnedOff = {"rms_norm"};
    failed.passed = 1, failed.failed = 1;
    dialog->showSummary(failed);
    QCOMPARE(dialog->table()->rowCount(), 2);
    QCOMPARE(dialog->table()->item(0, 5)->text(), QString("FAIL"));
    QVERIFY2(dialog->summaryText().contains("1 of 2 cases disagree") && dialog->summaryText().contains("now on the reference: rms_norm"),
             qPrintable(dialog->summaryText()));
    QVERIFY(!dialog->summaryText().contains("No fast path runs here"));
  }

  void theOpSummaryNamesFastPathsAndCountsTheRest() {
    using R = mm::OpPathRecord;
    QCOMPARE(ui::opPathSummary({R{"rms_norm"}, R{"rope"}}), QString("ops: nothing run yet"));
    QCOMPARE(ui::opPathSummary({R{"rms_norm", 0, 5}, R{"rope", 0, 5}, R{"ssd_scan"}}), QString("ops: all 2 on the reference"));
    const std::vector<R> mixed = {R{"rms_norm", 0, 9}, R{"attention_decode", 10, 0, "flash"},
                                  R{"ssd_scan", 97, 3, "cuda", "needs grad"}, R{"conv1d", 0, 2}};
    QCOMPARE(ui::opPathSummary(mixed), QString("ops: attention_decode flash 100%, ssd_scan cuda 97% · 2 on the reference"));
  }

  void stage3sKlHasItsOwnAxis() {
    // Stages 1-2 report 1000 x layer MSE (250-375 here), stage 3 a KL of 2.25-2.5: on one axis the
    // step between them read as a fall in loss. Each gets its own scale, the right one named and tinted.
    const QString a = writeRun(m_settingsDir.filePath("axes-a"), 1000), b = writeRun(m_settingsDir.filePath("axes-b"), 100);
    DistillPage page(m_engine);
    QString error;
    QVERIFY2(page.openRun(a, &error), qPrintable(error));
    LossPlot* plot = page.lossPlot();
    plot->flush();
    for (const char* stage : {"stage1", "stage2"}) {
      QCOMPARE(plot->smoothGraph(stage)->valueAxis(), plot->yAxis);
      QCOMPARE(plot->rawGraph(stage)->valueAxis(), plot->yAxis);
    }
    QCOMPARE(plot->smoothGraph("stage3")->valueAxis(), plot->yAxis2);
    QCOMPARE(plot->rawGraph("stage3")->valueAxis(), plot->yAxis2);
    QVERIFY(plot->yAxis2->visible() && plot->yAxis2->tickLabels());
    // The KL is summed over each sequence's tokens (core/train kl_loss), and the axis says so, in
    // full where it has the height and shortened where not, never longer than the axis.
    page.show();
    for (const QSize size : {QSize(1800, 1000), QSize(880, 640)}) {  // the page at 1920x1080 and 1024x700
      page.resize(size);
      QTest::qWait(50);
      plot->replot();
      const QString label = plot->yAxis2->label();
      QVERIFY2(label.contains("KL per sequence") || label.contains("KL, sum"), qPrintable(label));
      const int length = QFontMetrics(plot->yAxis2->labelFont()).horizontalAdvance(label), axis = plot->axisRect()->height();
      QVERIFY2(length <= axis, qPrintable(QString("%1 px label on a %2 px axis").arg(length).arg(axis)));
      if (size.height() == 1000) QCOMPARE(label, QString("stage 3 KL, summed per sequence"));
    }
    QCOMPARE(plot->yAxis->label(), QString("layer MSE ×1000"));
    QCOMPARE(plot->yAxis2->scaleType(), QCPAxis::stLogarithmic);
    QCOMPARE(plot->yAxis2->labelColor(), plot->yAxis2->tickLabelColor());
    QVERIFY(plot->yAxis2->labelColor() != plot->yAxis->labelColor());  // coloured apart
    // Each axis spans its own stages only: the KL fills the right, the MSE the left.
    QVERIFY(plot->yAxis2->range().contains(2.25) && plot->yAxis2->range().contains(2.5));
    QVERIFY(plot->yAxis2->range().upper < 4);
    QVERIFY(plot->yAxis->range().contains(250) && plot->yAxis->range().contains(375));
    QVERIFY(plot->yAxis->range().lower > 100);
    // The band starts between stage 2's last step (4) and stage 3's first (5), runs to the right edge.
    QVERIFY(plot->stage3Band()->visible());
    const double bandStart = plot->stage3Band()->topLeft->coords().x();
    QVERIFY2(bandStart > 4 && bandStart < 5, qPrintable(QString::number(bandStart)));
    QCOMPARE(plot->stage3Band()->bottomRight->coords().x(), plot->xAxis->range().upper);
    // A compared run's stage 3 follows its own axis too; linear scale turns both axes.
    QVERIFY2(page.compareWith(b, &error), qPrintable(error));
    int dashedOnRight = 0;
    for (int g = 0; g < plot->graphCount(); ++g)
      if (plot->graph(g)->pen().style() == Qt::DashLine && plot->graph(g)->valueAxis() == plot->yAxis2) {
        ++dashedOnRight;
        QCOMPARE(plot->graph(g)->dataCount(), 2);  // run-b's two stage 3 steps
      }
    QCOMPARE(dashedOnRight, 1);
    QCOMPARE(plot->yAxis->label(), QString("layer MSE × factor"));  // 1000 here, 100 in run-b
    plot->setLogScale(false);
    QCOMPARE(plot->yAxis->scaleType(), QCPAxis::stLinear);
    QCOMPARE(plot->yAxis2->scaleType(), QCPAxis::stLinear);
    // Live: the right axis and the band appear with stage 3's first point, not before.
    plot->clearAll();
    QVERIFY(!plot->yAxis2->visible() && !plot->stage3Band()->visible());
    mm::MetricEvent m;
    m.stage = "stage1", m.step = 1, m.total_steps = 2, m.loss = 300;
    plot->addMetric(m);
    plot->flush();
    QVERIFY(!plot->yAxis2->visible() && !plot->stage3Band()->visible());
    m.stage = "stage3", m.loss = 3;
    plot->addMetric(m);
    plot->flush();
    QVERIFY(plot->yAxis2->visible() && plot->stage3Band()->visible());
    QVERIFY(plot->yAxis2->range().contains(3) && !plot->yAxis2->range().contains(300));
  }

  void aSecondRunIsDrawnBesideTheFirst() {
    const QString a = writeRun(m_settingsDir.filePath("run-a"), 1000), b = writeRun(m_settingsDir.filePath("run-b"), 100);
    DistillPage page(m_engine);
    QString error;
    QVERIFY2(page.openRun(a, &error), qPrintable(error));
    const int own = page.lossPlot()->pointCount();
    QVERIFY2(page.compareWith(b, &error), qPrintable(error));
    QCOMPARE(page.lossPlot()->comparisonPointCount(), 6);  // every stage of run-b, laid end to end
    QCOMPARE(page.lossPlot()->pointCount(), own);
    // Run b's stage 1 sits where run a's does, at a tenth of its value (factor 100 against 1000).
    double lowest = INFINITY;
    for (int g = 0; g < page.lossPlot()->graphCount(); ++g)
      if (page.lossPlot()->graph(g)->pen().style() == Qt::DashLine)
        for (auto p = page.lossPlot()->graph(g)->data()->constBegin(); p != page.lossPlot()->graph(g)->data()->constEnd(); ++p)
          if (p->key == 1) lowest = std::min(lowest, p->value);
    QCOMPARE(lowest, 37.5);
    bool named = false;
    for (int i = 0; i < page.lossPlot()->legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(page.lossPlot()->legend->item(i)))
        named |= item->plottable()->name() == "run-b (compared, dashed; MSE ×100)";  // its factor, not this run's
    QVERIFY(named);
    QVERIFY(!page.compareWith(m_settingsDir.filePath("no-such-run"), &error));
    QVERIFY(!error.isEmpty());
    QVERIFY2(page.openRun(a, &error), qPrintable(error));  // another run shown: the comparison goes
    QCOMPARE(page.lossPlot()->comparisonPointCount(), 0);
  }
};

QTEST_MAIN(TestWindow)
#include "test_window.moc"
