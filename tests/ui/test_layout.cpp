// The studio at the smallest screen it promises (1024x700, a projector's): every page's minimum size
// fits, and at that size nothing a speaker needs is squeezed (the chat prompt, the plots).
#include <QLabel>
#include <QPlainTextEdit>
#include <QStackedWidget>
#include <QtTest>
#include <qcustomplot.h>

#include "controller/enginecontroller.h"
#include "mainwindow.h"
#include "pages/benchmarkpage.h"
#include "pages/chatpage.h"
#include "pages/distillpage.h"
#include "pages/modelpage.h"
#include "plots/lossplot.h"
#include "widgets/imagedrop.h"
#include "widgets/conversationview.h"
#include "widgets/promptedit.h"

namespace {
const QSize kSmallScreen(1024, 700);
const char* const kPageNames[] = {"Model", "Distill", "Chat", "Benchmark"};
}  // namespace

class TestLayout : public QObject {
  Q_OBJECT
  EngineController* m_engine = nullptr;

 private slots:
  void initTestCase() {
    QStandardPaths::setTestModeEnabled(true);
    m_engine = new EngineController(this);
  }

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
    window.showPage(2);
    QTest::qWait(50);
    // The prompt holds at least two lines of text.
    QWidget* prompt = chat->input();
    const int line = prompt->fontMetrics().lineSpacing();
    QVERIFY2(prompt->height() >= 2 * line + 8, qPrintable(QString("the prompt is %1 px high").arg(prompt->height())));
  }
};

QTEST_MAIN(TestLayout)
#include "test_layout.moc"
