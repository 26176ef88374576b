#include "screenshottour.h"

#include <QCoreApplication>
#include <QDoubleSpinBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTableWidget>
#include <QTimer>
#include <qcustomplot.h>

#include "mainwindow.h"
#include "pages/benchmarkpage.h"
#include "pages/chatpage.h"
#include "pages/distillpage.h"
#include "pages/modelpage.h"
#include "plots/layerlossplot.h"
#include "widgets/conversationsdialog.h"
#include "widgets/imagedrop.h"
#include "widgets/scenedatadialog.h"
#include "widgets/selftestdialog.h"

ScreenshotTour::ScreenshotTour(MainWindow* window, QString outDir, QString runDir, QObject* parent)
    : QObject(parent), m_window(window), m_outDir(std::move(outDir)), m_runDir(std::move(runDir)) {}

void ScreenshotTour::waitFor(std::function<bool()> ready, int timeoutMs, std::function<void()> then) {
  auto clock = std::make_shared<QElapsedTimer>();
  clock->start();
  auto* timer = new QTimer(this);
  timer->setInterval(100);
  connect(timer, &QTimer::timeout, this, [=] {
    const bool ok = ready();
    if (!ok && clock->elapsed() < timeoutMs) return;
    if (!ok) {
      qWarning("screenshot tour: timed out after %d ms", timeoutMs);
      m_ok = false;
    }
    timer->deleteLater();
    QTimer::singleShot(400, this, then);  // let queued replots land
  });
  timer->start();
}

void ScreenshotTour::grab(const QString& name) {
  const QString file = QDir(m_outDir).filePath(name + ".png");
  if (!m_window->grab().save(file)) {
    qWarning("screenshot tour: cannot write %s", qPrintable(file));
    m_ok = false;
  }
}

void ScreenshotTour::start() {
  QDir().mkpath(m_outDir);
  m_window->showPage(0);
  ModelPage* model = m_window->modelPage();
  waitFor([model] { return !model->model().path.isEmpty(); }, 30000, [this] {
    grab("1-model");
    m_window->showPage(1);
    DistillPage* distill = m_window->distillPage();
    QString error;
    if (!m_runDir.isEmpty() && !distill->openRun(m_runDir, &error)) qWarning("%s", qPrintable(error));
    waitFor([] { return true; }, 0, [this, distill] {
      grab("2-distill");
      distill->layerPlot()->showPage(distill->layerPlot()->heatmap());  // the other view of a run
      QCoreApplication::processEvents();
      distill->layerPlot()->heatmap()->replot();
      grab("2d-distill-heatmap");
      distill->layerPlot()->showPage(distill->layerPlot()->curves());
      // A plan the engine cannot run, as a user might type it: refused on the spot.
      const QString plan = distill->planText();
      distill->setPlan("interval:9:middle");
      grab("2b-distill-bad-plan");
      distill->setPlan(plan);
      SceneDataDialog dialog(m_window);
      dialog.show();
      QCoreApplication::processEvents();
      if (!dialog.grab().save(QDir(m_outDir).filePath("2c-scene-data-dialog.png"))) m_ok = false;
      dialog.close();
      m_window->showPage(2);
      ChatPage* chat = m_window->chatPage();
      chat->setSideBySide(true);
      chat->imageDrop()->makeScene(7);
      chat->ask("What shape is the green object?");  // scene 7: a yellow cross and a green square
      waitFor([chat] { return !chat->busy(); }, 60000, [this, chat] {
        grab("3-chat");
        // Regenerate with sampling on: a second version of the reply beside the first (‹ 2/2 ›).
        chat->findChild<QDoubleSpinBox*>("temperature")->setValue(0.8);
        chat->regenerate();
        waitFor([chat] { return !chat->busy(); }, 60000, [this, chat] {
        grab("3c-chat-versions");
        if (!chat->autosaveDir().isEmpty()) {  // the conversation list Load… opens, this one at the top
          ConversationsDialog list(chat->autosaveDir(), m_window);
          list.show();
          QCoreApplication::processEvents();
          if (!list.grab().save(QDir(m_outDir).filePath("3d-chat-conversations.png"))) m_ok = false;
        }
        chat->findChild<QDoubleSpinBox*>("temperature")->setValue(0);
        // A checkpoint given on the command line (e.g. `mmmamba create --arch tiny`) answers too.
        const QString opened = m_window->modelPage()->model().path;
        const bool other = !opened.isEmpty() && !opened.contains("demo-teacher");
        if (other) {
          chat->setSideBySide(false);
          chat->addModel(QFileInfo(opened).fileName(), opened, true);
          chat->ask("What is in the image?");
        }
        waitFor([chat] { return !chat->busy(); }, 60000, [this, other] {
          if (other) grab("3b-chat-opened-model");
          m_window->showPage(3);
          BenchmarkPage* bench = m_window->benchmarkPage();
          grab("4a-benchmark-empty");  // what a first visit shows
          bench->setLengths("64,128,256,512,1024");
          bench->setPhases(true, true);
          bench->setRepeats(2);
          bench->setOpTimes(true);  // the table's note names each prefill's slowest op
          bench->start();
          waitFor([bench] { return !bench->running(); }, 180000, [this] {
            grab("4-benchmark");
            SelfTestDialog* selfTest = m_window->selfTestDialog();  // Help > Self-test of the fast paths…
            selfTest->show();
            selfTest->run();
            waitFor([selfTest] { return selfTest->table()->rowCount() > 0; }, 120000, [this, selfTest] {
              if (!selfTest->grab().save(QDir(m_outDir).filePath("5-self-test.png"))) m_ok = false;
              selfTest->hide();
              emit done(m_ok);
            });
          });
        });
        });
      });
    });
  });
}
