// mmmamba-studio: builds the application, the engine controller and the main window; nothing else.
#include <QApplication>
#include <QCommandLineParser>

#include "controller/enginecontroller.h"
#include "mainwindow.h"
#include "pages/benchmarkpage.h"
#include "pages/modelpage.h"
#include "screenshottour.h"
#include "widgets/messages.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setOrganizationName("mmMamba");
  QApplication::setApplicationName("mmMamba Studio");
  QApplication::setApplicationVersion(MM_VERSION);
  QApplication::setDesktopFileName("io.github.mmmamba.Studio");
  QCommandLineParser parser;
  parser.setApplicationDescription("Distil Transformer VLMs into Mamba-2 models, chat with images, benchmark.");
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument("checkpoint", "a checkpoint directory to open instead of the embedded demo teacher");
  QCommandLineOption page("page", "start on a page: model, distill, chat or benchmark", "name", "model");
  parser.addOption(page);
  QCommandLineOption shots("screenshots", "walk through every page, save a PNG of each into dir, and quit", "dir");
  QCommandLineOption run("run", "with --screenshots: the run directory to show on the Distill page", "dir");
  QCommandLineOption size("size", "the window's size, e.g. 1024x700", "WxH");
  QCommandLineOption overlay("overlay", "draw a saved benchmark JSON on the Benchmark page (e.g. a GPU sweep from "
                             "examples/bench/results); repeatable", "file");
  parser.addOption(shots);
  parser.addOption(overlay);
  parser.addOption(run);
  parser.addOption(size);
  parser.process(app);

  EngineController engine;
  MainWindow window(&engine);
  const QStringList pages = {"model", "distill", "chat", "benchmark"};
  window.openDefaultModels();
  if (!parser.positionalArguments().isEmpty()) window.modelPage()->openModel(parser.positionalArguments().first());
  if (parser.isSet(page)) window.showPage(std::max(0, int(pages.indexOf(parser.value(page)))));  // else the remembered one
  if (parser.isSet(size)) {
    const QStringList wh = parser.value(size).split('x');
    if (wh.size() == 2 && wh[0].toInt() > 0 && wh[1].toInt() > 0) window.resize(wh[0].toInt(), wh[1].toInt());
  }
  window.show();
  window.runStartupSelfTestIfDue();  // on a GPU's first start: the fast paths against their references
  for (const QString& file : parser.values(overlay)) {
    QString error;
    if (!window.benchmarkPage()->loadOverlay(file, &error))
      ui::showError(&window, QObject::tr("Cannot load benchmark"), file + ": " + error);
  }
  if (parser.isSet(shots)) {
    auto* tour = new ScreenshotTour(&window, parser.value(shots), parser.value(run), &app);
    QObject::connect(tour, &ScreenshotTour::done, &app, [](bool ok) { QCoreApplication::exit(ok ? 0 : 1); });
    tour->start();
  }
  return app.exec();
}
