// The studio's pages over a real engine controller, offscreen, on micro checkpoints: opening a model
// fills the layer strip, the planner follows the interval, a distillation run plots, stops and resumes,
// a chat turn streams and stops, a benchmark sweep adds a point per length with an injected
// out-of-memory as a marked point, and a corrupt checkpoint shows an error while the page stays usable.
#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>

#include "bench/benchmark.h"
#include "dist/dist_group.h"
#include "io/checkpoint.h"
#include "models/random_init.h"
#include "seeding/seed_student.h"
#include "text/tokenizer_files.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QComboBox>
#include <QFileInfo>
#include <QMessageBox>
#include <QSignalSpy>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QThread>
#include <QTemporaryDir>
#include <QtTest>
#include <qcustomplot.h>

#include "controller/enginecontroller.h"
#include "ops/op_registry.h"
#include "mainwindow.h"
#include "pages/benchmarkpage.h"
#include "pages/chatpage.h"
#include "pages/distillpage.h"
#include "pages/modelpage.h"
#include "plots/layerlossplot.h"
#include "plots/lossplot.h"
#include "widgets/benchtable.h"
#include "widgets/conversationview.h"
#include "widgets/elidedlabel.h"
#include "widgets/imagedrop.h"
#include "widgets/imagedrop.h"
#include "widgets/layerstrip.h"
#include "widgets/scenedatadialog.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

/// A run directory written by hand: two stage-1 steps (per-layer losses, one evaluated), a stage-2
/// step, a torn last line.
QString writeSmallRun(const QString& dir) {
  fs::create_directories(dir.toStdString());
  std::ofstream(dir.toStdString() + "/recipe.json")
      << json{{"name", "csv-run"}, {"stages", {{{"stage", 1}, {"steps", 2}}, {{"stage", 2}, {"steps", 4}}}}}.dump();
  std::ofstream m(dir.toStdString() + "/metrics.jsonl");
  m << json{{"stage", "stage1"}, {"step", 1}, {"loss", 700.5}, {"layer_losses", {0.25, 0.5}}, {"lr", 0.001},
            {"grad_norm", 12.5}, {"tokens", 229}, {"tokens_per_s", 81.5}, {"wall_s", 2.5}}.dump() << "\n"
    << json{{"stage", "stage1"}, {"step", 2}, {"loss", 600.25}, {"layer_losses", {0.125, 0.375}}, {"lr", 0.002},
            {"grad_norm", 11}, {"tokens", 468}, {"tokens_per_s", 125}, {"wall_s", 4.5}, {"eval_loss", 650.5}}.dump() << "\n"
    << json{{"stage", "stage2"}, {"step", 1}, {"loss", 3.5}, {"lr", 0.0005}, {"grad_norm", 2}, {"tokens", 240},
            {"tokens_per_s", 90}, {"wall_s", 2.75}}.dump() << "\n"
    << json{{"stage", "stage2"}, {"step", 2}, {"loss", 3.25}}.dump().substr(0, 20);  // torn by a kill
  return dir;
}

void writeData(const std::string& path, int n, int salt) {
  const char* colours[] = {"red", "green", "blue", "yellow"};
  std::ofstream out(path);
  for (int i = 0; i < n; ++i)
    out << json{{"id", std::to_string(i)}, {"family", "exist"},
                {"conversations", {{{"from", "human"}, {"value", std::string("Is there a ") + colours[(i + salt) % 4] + " circle?"}},
                                   {{"from", "gpt"}, {"value", i % 3 ? "no" : "yes"}}}}}
               .dump()
        << "\n";
}

int attentionCount(const std::vector<mm::LayerKind>& kinds) {
  return int(std::count(kinds.begin(), kinds.end(), mm::LayerKind::attention));
}

}  // namespace

class TestStudio : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  QString m_teacher, m_student, m_corrupt;
  EngineController* m_engine = nullptr;

  QString path(const char* name) const { return m_dir.filePath(name); }
  QString path(const QString& name) const { return m_dir.filePath(name); }

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);  // QSettings go to a test location
    QVERIFY(m_dir.isValid());
    const mm::ModelConfig cfg = mm::architecture_preset("micro");
    const std::string tok = path("tok").toStdString();
    fs::create_directories(tok);
    mm::write_tokenizer_dir(tok, int(cfg.vocab_size), mm::sample_scene_sentences(300, 1));
    m_teacher = path("teacher");
    const mm::TensorMap weights = mm::random_weights(cfg, 3, 0.1);
    auto meta = mm::base_metadata();
    meta["mmmamba.stage"] = "teacher";
    mm::save_checkpoint(m_teacher.toStdString(), cfg, weights, meta, tok);
    const mm::SeedResult s = mm::seed_student(cfg, weights, mm::LayerPlan::parse("linear"), 0);
    m_student = path("student");
    mm::save_checkpoint(m_student.toStdString(), s.config, s.weights, mm::base_metadata(), tok);
    // A corrupt copy: the config is fine, the weights file is cut in half.
    m_corrupt = path("corrupt");
    fs::create_directories(m_corrupt.toStdString());
    fs::copy(m_teacher.toStdString() + "/config.json", m_corrupt.toStdString() + "/config.json");
    const auto size = fs::file_size(m_teacher.toStdString() + "/model.safetensors");
    fs::copy(m_teacher.toStdString() + "/model.safetensors", m_corrupt.toStdString() + "/model.safetensors");
    fs::resize_file(m_corrupt.toStdString() + "/model.safetensors", size / 2);
    writeData(path("train.jsonl").toStdString(), 24, 0);
    writeData(path("val.jsonl").toStdString(), 6, 1);
    m_engine = new EngineController(this);
  }

  void openingACheckpointFillsTheLayerStrip() {
    ModelPage page(m_engine);
    QSignalSpy loaded(&page, &ModelPage::modelLoaded);
    page.openModel(m_teacher);
    QVERIFY(loaded.wait(10000));
    QCOMPARE(page.model().role, QString("teacher"));
    QCOMPARE(int(page.layerStrip()->kinds().size()), 6);
    QVERIFY(page.layerStrip()->cellRect(5).right() < page.layerStrip()->sizeHint().width());
  }

  void theIntervalChangesThePlanAndThePredictedCurve() {
    ModelPage page(m_engine);
    QSignalSpy loaded(&page, &ModelPage::modelLoaded);
    page.openModel(m_teacher);
    QVERIFY(loaded.wait(10000));
    page.planMode()->setCurrentIndex(page.planMode()->findData("interval"));
    page.intervalBox()->setValue(2);
    QCOMPARE(page.planText(), QString("interval:2:head"));
    QCOMPARE(attentionCount(page.layerStrip()->kinds()), 3);
    QCPGraph* planned = page.memoryPlot()->graph(2);
    const double at2 = (planned->data()->constEnd() - 1)->value;
    page.intervalBox()->setValue(3);
    QCOMPARE(page.planText(), QString("interval:3:head"));
    QCOMPARE(attentionCount(page.layerStrip()->kinds()), 2);
    const double at3 = (planned->data()->constEnd() - 1)->value;
    QVERIFY2(at3 < at2, "fewer attention layers must predict less memory at long context");
    // The linear curve stays below the teacher's at the longest context.
    QVERIFY((page.memoryPlot()->graph(1)->data()->constEnd() - 1)->value <
            (page.memoryPlot()->graph(0)->data()->constEnd() - 1)->value);
  }

  void aCorruptCheckpointShowsAnErrorAndThePageStaysUsable() {
    ModelPage page(m_engine);
    page.openModel(m_corrupt);
    QTRY_VERIFY_WITH_TIMEOUT(page.findChild<QMessageBox*>("errorBox") != nullptr, 10000);
    QMessageBox* box = page.findChild<QMessageBox*>("errorBox");
    // It names the damaged file and says what is wrong and what to do.
    QVERIFY2(box->text().contains("model.safetensors") && box->text().contains("past the data section"),
             qPrintable(box->text()));
    QVERIFY2(box->informativeText().contains("HINT") && box->informativeText().contains("truncated"),
             qPrintable(box->informativeText()));
    box->close();
    QSignalSpy loaded(&page, &ModelPage::modelLoaded);
    page.openModel(m_teacher);
    QVERIFY(loaded.wait(10000));
    QCOMPARE(page.model().path, QFileInfo(m_teacher).absoluteFilePath());
  }

  void aDistillationRunPlotsStopsAndResumes() {
    DistillPage page(m_engine);
    const QString recipe = path("recipe.json");
    std::ofstream(recipe.toStdString()) << json{
        {"name", "ui-test"}, {"teacher", m_teacher.toStdString()}, {"plan", "interval:3"},
        {"train_data", path("train.jsonl").toStdString()}, {"eval_data", path("val.jsonl").toStdString()},
        {"seed", 1}, {"max_length", 512},
        {"stages", {{{"stage", 1}, {"steps", 40}, {"lr", 0.01}, {"batch", 2}, {"checkpoint_every", 5}},
                    {{"stage", 2}, {"steps", 10}, {"lr", 0.005}, {"batch", 2}, {"checkpoint_every", 5}}}}}.dump();
    QString error;
    QVERIFY2(page.loadRecipe(recipe, &error), qPrintable(error));
    QCOMPARE(page.stageTable()->item(0, 1)->text(), QString("40"));
    page.setRunDirectory(path("run"));
    QSignalSpy stopped(&page, &DistillPage::runStopped);
    QSignalSpy metrics(m_engine, &EngineController::metricAvailable);
    page.start();
    QVERIFY(page.running());
    QTRY_VERIFY_WITH_TIMEOUT(metrics.count() >= 3, 30000);
    page.stop();
    QVERIFY(stopped.wait(30000));
    QCOMPARE(stopped.last().at(0).toBool(), false);
    QVERIFY(!page.running());
    page.lossPlot()->flush();
    const int before = page.lossPlot()->pointCount();
    QVERIFY2(before >= 3 && before < 50, qPrintable(QString::number(before)));
    page.resumeRun();
    QVERIFY(stopped.wait(60000));
    QCOMPARE(stopped.last().at(0).toBool(), true);
    page.lossPlot()->flush();
    page.layerPlot()->flush();
    QCOMPARE(page.lossPlot()->pointCount(), 50);  // every step of both stages, repeats after resume dropped
    QCOMPARE(page.layerPlot()->stepCount("stage1"), 40);
    QVERIFY(page.lossPlot()->toCsv().count('\n') == 51);
  }

  // A finished run's student appears in Chat's two model lists (to ask it beside its teacher).
  void aFinishedRunsStudentIsOfferedToChat() {
    MainWindow window(m_engine);
    DistillPage* page = window.distillPage();
    const QString recipe = path("recipe-chat.json");
    std::ofstream(recipe.toStdString()) << json{
        {"name", "ui-chat"}, {"teacher", m_teacher.toStdString()}, {"plan", "interval:3"},
        {"train_data", path("train.jsonl").toStdString()}, {"seed", 1}, {"max_length", 512},
        {"stages", {{{"stage", 1}, {"steps", 2}, {"lr", 0.01}, {"batch", 2}, {"checkpoint_every", 1}},
                    {{"stage", 2}, {"steps", 2}, {"lr", 0.01}, {"batch", 2}, {"checkpoint_every", 1}}}}}.dump();
    QString error;
    QVERIFY2(page->loadRecipe(recipe, &error), qPrintable(error));
    page->setRunDirectory(path("run-chat"));
    QSignalSpy stopped(page, &DistillPage::runStopped);
    page->start();
    QVERIFY(stopped.wait(60000));
    QCOMPARE(stopped.last().at(0).toBool(), true);
    const auto [stage, student] = page->studentCheckpoint();
    QCOMPARE(stage, QString("stage2"));
    QVERIFY2(QFileInfo::exists(student + "/config.json"), qPrintable(student));
    int lists = 0;
    for (QComboBox* box : window.chatPage()->findChildren<QComboBox*>()) {
      const int i = box->findData(student);
      if (i < 0) continue;
      ++lists;
      QCOMPARE(box->itemText(i), QString("run-chat (distilled, stage2)"));
    }
    QCOMPARE(lists, 2);  // the model asked and the side-by-side one
  }

  // Issue 12: the Distill page runs a recipe data parallel with N workers in the studio; rank 0 writes
  // each step once with every rank's tokens/s, the status shows them, the CLI line says --nproc.
  void twoWorkersRunARecipeDataParallel() {
    if (!mm::DistGroup::has_backend(c10::kCPU)) QSKIP("this build has no Gloo backend (install libgloo-dev)");
    DistillPage page(m_engine);
    const QString recipe = path("recipe-dp.json");
    std::ofstream(recipe.toStdString()) << json{
        {"name", "ui-dp"}, {"teacher", m_teacher.toStdString()}, {"plan", "interval:3"},
        {"train_data", path("train.jsonl").toStdString()}, {"seed", 1}, {"max_length", 512},
        {"stages", {{{"stage", 1}, {"steps", 4}, {"lr", 0.01}, {"batch", 4}, {"checkpoint_every", 2}}}}}.dump();
    QString error;
    QVERIFY2(page.loadRecipe(recipe, &error), qPrintable(error));
    page.setRunDirectory(path("run-dp"));
    page.findChild<QSpinBox*>("workers")->setValue(2);
    QVERIFY(page.cliEquivalent().contains("mmmamba distill --nproc 2 --recipe"));
    QSignalSpy stopped(&page, &DistillPage::runStopped);
    page.start();
    QVERIFY(page.running());
    QVERIFY(!page.findChild<QPushButton*>("pause")->isEnabled());  // Pause needs one worker
    QVERIFY(stopped.wait(60000));
    QCOMPARE(stopped.last().at(0).toBool(), true);
    QFile metrics(path("run-dp/metrics.jsonl"));
    QVERIFY(metrics.open(QIODevice::ReadOnly));
    const QList<QByteArray> lines = metrics.readAll().split('\n');
    int steps = 0;
    for (const QByteArray& line : lines) {
      if (line.trimmed().isEmpty()) continue;
      const json j = json::parse(line.toStdString());
      QCOMPARE(j.at("rank_tokens_per_s").size(), size_t(2));
      ++steps;
    }
    QCOMPARE(steps, 4);  // written once, by rank 0
    QFile log(path("run-dp/run.log"));
    QVERIFY(log.open(QIODevice::ReadOnly) && log.readAll().contains("2 ranks over gloo"));
  }

  void theExportedCsvHasEveryMetricColumnAndThePlotsATitle() {
    DistillPage page(m_engine);
    const QString run = writeSmallRun(path("csv-run-dir"));
    QString error;
    QVERIFY2(page.openRun(run, &error), qPrintable(error));
    const int elements = page.lossPlot()->plotLayout()->elementCount();
    QVERIFY(QDir().mkpath(path("export")));
    QVERIFY2(page.exportTo(path("export/plots.svg"), &error), qPrintable(error));
    QFile csv(path("export/plots-metrics.csv"));
    QVERIFY(csv.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(csv.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.size(), 4);
    QCOMPARE(lines[0], QString("stage,step,loss,lr,grad_norm,tokens,tokens_per_s,wall_s,eval_loss,layer0,layer1"));
    QCOMPARE(lines[1], QString("stage1,1,700.5,0.001,12.5,229,81.5,2.5,,0.25,0.5"));
    QCOMPARE(lines[2], QString("stage1,2,600.25,0.002,11,468,125,4.5,650.5,0.125,0.375"));
    QCOMPARE(lines[3], QString("stage2,1,3.5,0.0005,2,240,90,2.75,,,"));
    // Each plot file carries its title: the run's name and what is plotted.
    for (const char* file : {"export/plots.svg", "export/plots-layers.svg", "export/plots-heatmap.svg"}) {
      QFile svg(path(file));
      QVERIFY2(svg.open(QIODevice::ReadOnly), file);
      const QString text = QString::fromUtf8(svg.readAll());
      QVERIFY2(text.contains("csv-run (csv-run-dir)"), file);
    }
    QFile loss(path("export/plots.svg"));
    QVERIFY(loss.open(QIODevice::ReadOnly));
    QVERIFY(QString::fromUtf8(loss.readAll()).contains("distillation loss per step"));
    // The title is for the file only: the plot on screen keeps its layout.
    QCOMPARE(page.lossPlot()->plotLayout()->elementCount(), elements);
    QVERIFY2(page.exportTo(path("export/plots.png"), &error), qPrintable(error));
    QVERIFY(QImage(path("export/plots.png")).height() > 0);
  }

  void aReopenedRunShowsItsSavedEvaluation() {
    const QString run = writeSmallRun(path("eval-run"));
    {
      DistillPage page(m_engine);
      QString error;
      QVERIFY2(page.openRun(run, &error), qPrintable(error));
      QCOMPARE(page.evalTable()->rowCount(), 0);  // not evaluated yet
      page.setTeacher(m_teacher);
      page.setEvalData(path("val.jsonl"));
      QSignalSpy evaluated(m_engine, &EngineController::evaluated);
      page.evaluateCheckpoints();
      QVERIFY(evaluated.wait(60000));
      QCOMPARE(page.evalTable()->rowCount(), 1);
    }
    QVERIFY(QFileInfo::exists(run + "/eval.json"));
    DistillPage reopened(m_engine);
    QString error;
    QVERIFY2(reopened.openRun(run, &error), qPrintable(error));
    QTableWidget* table = reopened.evalTable();
    QCOMPARE(table->rowCount(), 1);
    QCOMPARE(table->item(0, 0)->text(), QString("teacher"));
    QCOMPARE(table->horizontalHeaderItem(table->columnCount() - 1)->text(), QString("overall"));
    QVERIFY(table->item(0, table->columnCount() - 1)->text().endsWith("%"));
    // A damaged eval.json does not stop the run from opening; the table is just empty.
    std::ofstream(run.toStdString() + "/eval.json") << "{\"results\": [{\"label\": 3}, 7";
    DistillPage damaged(m_engine);
    QVERIFY2(damaged.openRun(run, &error), qPrintable(error));
    QCOMPARE(damaged.evalTable()->rowCount(), 0);
  }

  void aBadPlanIsRefusedBeforeAnyRunStarts() {
    DistillPage page(m_engine);
    page.setTeacher(m_teacher, 6);
    page.setPlan("interval:3");
    QVERIFY(page.planProblem().isEmpty());
    QVERIFY2(page.planCheck()->text().contains("2 of 6 layers stay attention"), qPrintable(page.planCheck()->text()));
    page.setPlan("interval:9:middle");
    QVERIFY(page.planCheck()->text().contains("placement must be head or tail"));
    page.setPlan("list:0,7");  // parses, but the teacher has 6 layers
    QVERIFY2(page.planProblem().contains("does not exist"), qPrintable(page.planProblem()));
    page.setPlan("interval:9:middle");
    page.setRunDirectory(path("bad-plan-run"));
    page.start();
    QVERIFY(!page.running());
    QTRY_VERIFY(page.findChild<QMessageBox*>("errorBox") != nullptr);
    QVERIFY(page.findChild<QMessageBox*>("errorBox")->informativeText().contains("HINT"));
    QVERIFY(!QFileInfo::exists(path("bad-plan-run")));  // nothing was written
  }

  // Issue 10: Start runs the engine's whole-recipe check (a typo'd key, missing data, a bad "from"),
  // writes nothing when it fails, and shows the run's warnings (records left out) on the page.
  void startValidatesTheRecipeAndShowsItsWarnings() {
    const json good = {{"name", "ui-check"}, {"teacher", m_teacher.toStdString()}, {"plan", "interval:3"},
                       {"train_data", path("long-train.jsonl").toStdString()}, {"seed", 1}, {"max_length", 100},
                       {"stages", {{{"stage", 1}, {"steps", 1}, {"lr", 0.01}, {"batch", 2}}}}};
    writeData(path("long-train.jsonl").toStdString(), 6, 0);
    std::string words;
    for (int i = 0; i < 120; ++i) words += "red circle ";
    std::ofstream(path("long-train.jsonl").toStdString(), std::ios::app)
        << json{{"id", "too-long"}, {"conversations", {{{"from", "human"}, {"value", words}}, {{"from", "gpt"}, {"value", "yes"}}}}}.dump()
        << "\n";
    struct Bad {
      json recipe;
      const char* says;
    };
    std::vector<Bad> bad = {{good, "did you mean \"steps\""}, {good, "no file at"}, {good, "no checkpoint directory"}};
    bad[0].recipe["stages"][0]["step"] = 3;  // a typo the editor does not show, kept from the loaded file
    bad[1].recipe["train_data"] = path("no-such.jsonl").toStdString();
    bad[2].recipe["stages"][0]["stage"] = 2;
    bad[2].recipe["stages"][0]["from"] = path("no-such-checkpoint").toStdString();
    for (size_t i = 0; i < bad.size(); ++i) {
      DistillPage page(m_engine);
      const QString file = path(QString("bad-recipe-%1.json").arg(i));
      std::ofstream(file.toStdString()) << bad[i].recipe.dump();
      QString error;
      QVERIFY2(page.loadRecipe(file, &error), qPrintable(error));
      const QString run = path(QString("bad-recipe-run-%1").arg(i));
      page.setRunDirectory(run);
      page.start();
      QVERIFY(!page.running());
      QTRY_VERIFY(page.findChild<QMessageBox*>("errorBox") != nullptr);
      const QMessageBox* box = page.findChild<QMessageBox*>("errorBox");
      const QString text = box->text() + "\n" + box->informativeText();
      QVERIFY2(text.contains(bad[i].says) && text.contains("HINT"), qPrintable(text));
      QVERIFY2(!QFileInfo::exists(run), qPrintable(run));  // nothing was written
    }
    DistillPage page(m_engine);
    const QString file = path("long-recipe.json");
    std::ofstream(file.toStdString()) << good.dump();
    QString error;
    QVERIFY2(page.loadRecipe(file, &error), qPrintable(error));
    page.setRunDirectory(path("long-run"));
    QSignalSpy stopped(&page, &DistillPage::runStopped);
    page.start();
    QVERIFY(page.running());
    QVERIFY(stopped.wait(60000));
    QVERIFY2(page.warningsLabel()->isVisibleTo(&page) &&
                 page.warningsLabel()->text().contains("1 of 7 records are longer than max_length 100") &&
                 page.warningsLabel()->text().contains("too-long"),
             qPrintable(page.warningsLabel()->text()));
  }

  void generatedSceneDataFillsTheRecipeAndSaysSo() {
    DistillPage page(m_engine);
    SceneDataDialog dialog;
    dialog.setDirectory(path("scenes"));
    dialog.setCounts(12, 4);
    QSignalSpy ready(&page, &DistillPage::sceneDataReady);
    page.generateSceneData(dialog.splits());
    QVERIFY(ready.wait(60000));
    QCOMPARE(page.recipe()["train_data"].get<std::string>(), path("scenes/train.jsonl").toStdString());
    QCOMPARE(page.recipe()["eval_data"].get<std::string>(), path("scenes/val.jsonl").toStdString());
    const QString status = page.statusLabel()->text();
    QVERIFY2(status.contains("train.jsonl (12 conversations)") && status.contains("val.jsonl (4 conversations)"),
             qPrintable(status));
  }

  void aChatTurnStreamsAndStopWorks() {
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.setMaxNewTokens(8);
    QSignalSpy replies(&page, &ChatPage::replyDone);
    QSignalSpy tokens(m_engine, &EngineController::tokenAvailable);
    page.ask("What colour is the circle?");
    QVERIFY(page.busy());
    QVERIFY(replies.wait(30000));
    QTRY_VERIFY(!page.busy());
    const ChatReplyInfo first = replies.last().at(1).value<ChatReplyInfo>();
    // The reply streamed one signal per token, and the streamed pieces are the reply's text.
    QVERIFY(first.newTokens >= 1 && first.newTokens <= 8);
    QString streamed;
    qint64 streamedTokens = 0;
    for (const QList<QVariant>& t : tokens) {
      streamed += t.at(2).toString();
      streamedTokens += t.at(1).toLongLong() >= 0;  // id -1: held-back text flushed at the end
    }
    QCOMPARE(streamedTokens, first.newTokens);
    QCOMPARE(qint64(first.ids.size()), first.newTokens);
    QCOMPARE(streamed.trimmed(), first.text.trimmed());
    QCOMPARE(page.view(0)->messages().size(), 2);
    QCOMPARE(page.view(0)->messages().back().text, first.text);

    // A long reply stopped after its first token ends early as "cancelled".
    page.setMaxNewTokens(4000);
    auto once = std::make_shared<bool>(false);
    connect(m_engine, &EngineController::tokenAvailable, &page, [&page, once] {
      if (!*once) *once = true, page.stop();
    });
    page.ask("Is there a red circle?");
    QVERIFY(replies.wait(30000));
    const ChatReplyInfo stopped = replies.last().at(1).value<ChatReplyInfo>();
    QCOMPARE(stopped.stopReason, QString("cancelled"));
    QVERIFY(stopped.newTokens < 4000);
    QTRY_VERIFY(!page.busy());
  }

  void aSavedConversationLoadsBackIntoTheModel() {
    // The teacher: its KV cache grows with every token, so cache bytes show how much history it holds.
    // Pages share the engine's session per model, so each step below starts from a known state.
    ChatPage page(m_engine);
    page.addModel("teacher", m_teacher, true);
    page.setMaxNewTokens(4);
    QSignalSpy replies(&page, &ChatPage::replyDone);
    page.imageDrop()->makeScene(3);
    page.ask("What colour is the circle?");
    QVERIFY(replies.wait(30000));
    QTRY_VERIFY(!page.busy());
    const QString file = path("conversation.json");
    QString error;
    QVERIFY2(page.saveConversation(file, &error), qPrintable(error));
    // The follow-up in the original conversation, then that conversation is dropped from the engine.
    page.ask("And the square?");
    QVERIFY(replies.wait(30000));
    QTRY_VERIFY(!page.busy());
    const ChatReplyInfo original = replies.last().at(1).value<ChatReplyInfo>();
    page.resetConversation();

    ChatPage loaded(m_engine);
    loaded.setMaxNewTokens(4);
    QSignalSpy failures(m_engine, &EngineController::failed);
    QVERIFY2(loaded.loadConversation(file, &error), qPrintable(error));
    QCOMPARE(loaded.view(0)->messages().size(), 2);
    QVERIFY(!loaded.view(0)->messages().front().image.isNull());
    QCOMPARE(loaded.view(0)->messages().back().text, page.view(0)->messages().at(1).text);
    // The exchange was read back into the model: the same follow-up continues the same context.
    QSignalSpy loadedReplies(&loaded, &ChatPage::replyDone);
    loaded.ask("And the square?");
    QVERIFY(loadedReplies.wait(30000));
    QTRY_VERIFY(!loaded.busy());
    QCOMPARE(failures.count(), 0);
    const ChatReplyInfo restored = loadedReplies.last().at(1).value<ChatReplyInfo>();
    // The saved reply is re-encoded from its text, and a random model's pieces re-encode into other
    // (often more) tokens than it sampled: the cache holds the same history up to the reply's tokens.
    const qint64 kv = original.kvBytesPerToken;
    QVERIFY(kv > 0);
    QVERIFY2(std::abs(restored.cacheBytes - original.cacheBytes) <= 16 * kv,
             qPrintable(QString("restored %1, original %2 bytes").arg(restored.cacheBytes).arg(original.cacheBytes)));
    // Without the history (image tiles and all) the same question leaves a much smaller cache.
    loaded.resetConversation();
    loaded.ask("And the square?");
    QVERIFY(loadedReplies.wait(30000));
    QTRY_VERIFY(!loaded.busy());
    const qint64 fresh = loadedReplies.last().at(1).value<ChatReplyInfo>().cacheBytes;
    QVERIFY2(fresh + 32 * kv < restored.cacheBytes, qPrintable(QString("fresh %1, restored %2").arg(fresh).arg(restored.cacheBytes)));
    QVERIFY(!loaded.loadConversation(path("train.jsonl"), &error));
    QVERIFY(error.contains("not a saved"));
  }

  void aBenchmarkSweepAddsAPointPerLengthAndMarksOutOfMemory() {
    BenchmarkPage page(m_engine);
    page.addArchitecture("micro", "teacher", true);
    page.addArchitecture("micro", "linear", true);
    page.setLengths("16,32,64");
    page.setPhases(false, true);
    page.setRepeats(1);
    page.setInjectedOomLength(64);
    QSignalSpy done(&page, &BenchmarkPage::sweepFinished);
    QSignalSpy rows(m_engine, &EngineController::benchRowAvailable);
    QVERIFY(!page.latencyPlot()->yAxis->tickLabels());  // nothing measured: a note, not an invented range
    page.start();
    QVERIFY(done.wait(60000));
    QVERIFY(page.latencyPlot()->yAxis->tickLabels());
    QCOMPARE(rows.count(), 6);
    QCOMPARE(page.pointCount("micro/teacher"), 3);
    QCOMPARE(page.pointCount("micro/linear"), 3);
    QCOMPARE(page.oomCount(), 2);
    bool marked = false;
    for (int i = 0; i < page.latencyPlot()->graphCount(); ++i)
      marked |= page.latencyPlot()->graph(i)->name().contains("out of memory") && page.latencyPlot()->graph(i)->dataCount() == 1;
    QVERIFY(marked);
    // The CPU's bandwidth is not known: no floor is drawn, and the key does not promise one.
    QVERIFY2(!page.latencyKeyText().contains("floor"), qPrintable(page.latencyKeyText()));

    // A saved sweep overlays beside the live curves under its file's name.
    mm::BenchRow row;
    row.model = "gpu";
    row.length = 1024;
    row.phase = "decode";
    row.seconds = 0.002;
    row.floor_seconds = 0.001;  // a GPU row: its floor drawn dashed
    row.repeats = 1;
    mm::BenchOptions o;
    o.models = {{"gpu", "", "micro", "linear"}};
    o.lengths = {1024};
    const QString saved = path("saved-bench.json");
    std::ofstream(saved.toStdString()) << mm::bench_json({row}, o).dump();
    QString error;
    QVERIFY2(page.loadOverlay(saved, &error), qPrintable(error));
    QCOMPARE(page.pointCount("gpu [saved-bench]"), 1);
    // A GPU sweep's curves are named by its card instead; a second sweep from that card adds its day.
    nlohmann::json gpuJson = mm::bench_json({row}, o);
    gpuJson["environment"]["device"] = "cuda:0 (NVIDIA H100 80GB HBM3)";
    gpuJson["created_utc"] = "2026-12-06T00:13:53Z";
    const QString gpuSaved = path("h100-sweep.json");
    std::ofstream(gpuSaved.toStdString()) << gpuJson.dump();
    QVERIFY2(page.loadOverlay(gpuSaved, &error), qPrintable(error));
    QCOMPARE(page.pointCount("gpu [H100]"), 1);
    QVERIFY2(page.loadOverlay(gpuSaved, &error), qPrintable(error));
    QCOMPARE(page.pointCount("gpu [H100 2026-12-06]"), 1);
    QCOMPARE(page.pointCount("gpu [H100]"), 1);
    // A device string that ends at the card's name: no bracket carried into the tag.
    gpuJson["environment"]["device"] = "cuda:0 (NVIDIA H200)";
    const QString h200Saved = path("h200-sweep.json");
    std::ofstream(h200Saved.toStdString()) << gpuJson.dump();
    QVERIFY2(page.loadOverlay(h200Saved, &error), qPrintable(error));
    QCOMPARE(page.pointCount("gpu [H200]"), 1);
    QVERIFY2(page.latencyKeyText().contains("dashed: decode floor"), qPrintable(page.latencyKeyText()));
    QVERIFY(!page.loadOverlay(path("train.jsonl"), &error));
  }

  void opTimesNameTheSlowestOpOfEachPrefill() {
    BenchmarkPage page(m_engine);
    page.addArchitecture("micro", "hybrid", true);
    page.setLengths("32");
    page.setPhases(true, false);
    page.setRepeats(1);
    page.setOpTimes(true);
    QVERIFY2(page.cliEquivalent().contains("--op-times"), qPrintable(page.cliEquivalent()));
    QSignalSpy done(&page, &BenchmarkPage::sweepFinished);
    page.start();
    QVERIFY(done.wait(60000));
    const BenchTable* t = page.resultsTable();
    QCOMPARE(t->rowCount(), 1);
    QVERIFY2(t->item(0, 10)->text().startsWith("slowest op: "), qPrintable(t->item(0, 10)->text()));
    const QString ops = t->item(0, 3)->toolTip();
    QVERIFY2(ops.contains("norm_swiglu (reference)") && ops.contains("outside the ops"), qPrintable(ops));
  }

  void anImageChatAfterABenchmarkReplies() {
    // The sweep above installed the CPU memory counter; the image embedding's convolution (oneDNN)
    // then allocates raw buffers through it, which failed LibTorch's internal assert before.
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.resetConversation();
    page.setMaxNewTokens(2);
    page.imageDrop()->makeScene(5);
    QSignalSpy replies(&page, &ChatPage::replyDone);
    QSignalSpy failures(m_engine, &EngineController::failed);
    page.ask("What shape is the red object?");
    QTRY_VERIFY_WITH_TIMEOUT(replies.count() + failures.count() > 0, 30000);
    QVERIFY2(failures.isEmpty(), failures.isEmpty() ? "" : qPrintable(failures.first().at(1).toString()));
    QVERIFY(replies.last().at(1).value<ChatReplyInfo>().newTokens >= 1);
    QTRY_VERIFY(!page.busy());
  }

  void theWindowOpensEveryPage() {
    mm::reset_op_paths();
    MainWindow window(m_engine);
    window.show();
    // The status bar shows the engine's record of the op paths that ran, refreshed when a job ends.
    auto* status = window.findChild<ui::ElidedLabel*>("deviceStatus");
    QVERIFY(status);
    QVERIFY2(status->text().contains("ops: nothing run yet"), qPrintable(status->text()));
    mm::record_op_path(mm::Op::rms_norm, "reference");
    ModelPage page(m_engine);
    QSignalSpy loaded(&page, &ModelPage::modelLoaded);
    page.openModel(m_teacher);
    QVERIFY(loaded.wait(10000));
    // On this CPU build every op ran its reference: the bar counts them, the tooltip names each one.
    QTRY_VERIFY2(status->text().contains(QRegularExpression("ops: all \\d+ on the reference")), qPrintable(status->text()));
    QVERIFY2(status->toolTip().contains("ops: rms_norm reference"), qPrintable(status->toolTip()));
    for (int i = 0; i < 4; ++i) {
      window.showPage(i);
      QVERIFY(!window.cliEquivalent().isEmpty());
      QVERIFY(window.cliEquivalent().startsWith("mmmamba"));
    }
    // The CPU threads setting reaches the engine's jobs and is remembered.
    auto* threads = window.findChild<QSpinBox*>("cpuThreads");
    QVERIFY(threads);
    threads->setValue(1);
    QCOMPARE(EngineController::cpuThreads(), 1);
    QCOMPARE(QSettings().value("engine/cpuThreads").toInt(), 1);
    threads->setValue(0);  // auto
    const int omp = qEnvironmentVariableIntValue("OMP_NUM_THREADS");
    QCOMPARE(EngineController::cpuThreads(), omp > 0 ? omp : QThread::idealThreadCount());
  }
};

QTEST_MAIN(TestStudio)
#include "test_studio.moc"
