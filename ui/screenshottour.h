// A scripted walk through every page that saves a screenshot of each: the model page with the demo
// teacher, the distill page (with a past run when given), a side-by-side chat over a random scene, and
// a short benchmark sweep. Used by tests/screenshots.sh under Xvfb.
#pragma once

#include <QObject>
#include <QString>

#include <functional>

class MainWindow;

class ScreenshotTour : public QObject {
  Q_OBJECT
 public:
  ScreenshotTour(MainWindow* window, QString outDir, QString runDir, QObject* parent = nullptr);
  void start();

 signals:
  void done(bool ok);

 private:
  /// Calls then() once ready() holds, or after timeoutMs (noting a timeout).
  void waitFor(std::function<bool()> ready, int timeoutMs, std::function<void()> then);
  void grab(const QString& name);

  MainWindow* m_window;
  QString m_outDir, m_runDir;
  bool m_ok = true;
};
