// The studio's window: a page list on the left (Model, Distill, Chat, Benchmark), the device and the
// active fast paths in the status bar, the CLI equivalent of what a page shows, and the About box.
#pragma once

#include <QMainWindow>

class ChatPage;
class DistillPage;
class EngineController;
class ModelPage;
class BenchmarkPage;
class SelfTestDialog;
class QLabel;
class QListWidget;
class QProgressBar;
class QStackedWidget;
namespace ui {
class ElidedLabel;
}

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(EngineController* engine, QWidget* parent = nullptr);
  /// Gives the application its starting text size back.
  ~MainWindow() override;

  /// Opens the embedded demo teacher (and offers its students in Chat) when it is installed.
  void openDefaultModels();
  /// On a GPU the first start (per device and build) checks every fast path against its reference in
  /// the background: the status bar says how it went, and a failure opens the self-test's table.
  void runStartupSelfTestIfDue();
  /// That check itself, whatever the device (onlyOp: one op's cases): what runStartupSelfTestIfDue runs.
  quint64 runStartupSelfTest(const QString& onlyOp = {});
  /// Whether the start-up check is due: on CUDA, when the device and build it last passed on differ.
  static bool startupSelfTestDue(bool onCuda, const QString& lastPassed, const QString& thisDeviceAndBuild);
  /// The self-test's dialog (Help > Self-test of the fast paths…), made on first use.
  SelfTestDialog* selfTestDialog();
  void showPage(int index);
  QString cliEquivalent() const;

  ModelPage* modelPage() const { return m_model; }
  DistillPage* distillPage() const { return m_distill; }
  ChatPage* chatPage() const { return m_chat; }
  BenchmarkPage* benchmarkPage() const { return m_bench; }
  /// The window's geometry and page, and each page's remembered settings (QSettings).
  void saveSettings() const;
  void restoreSettings();
  /// The user's text size over the one the window's size gives (View menu: 0.7 to 2, remembered).
  double userTextScale() const { return m_userTextScale; }
  void setUserTextScale(double factor);

 protected:
  /// Asks before an unsaved conversation is dropped, then remembers the settings.
  void closeEvent(QCloseEvent* event) override;
  /// A larger window gets larger text (ui/widgets/textscale.h).
  void resizeEvent(QResizeEvent* event) override;

 private:
  void buildMenus();
  void showCliEquivalent();
  void showAbout();
  void showGuide();
  void applyTextScale();

  EngineController* m_engine;
  QListWidget* m_nav;
  QStackedWidget* m_pages;
  ModelPage* m_model;
  DistillPage* m_distill;
  ChatPage* m_chat;
  BenchmarkPage* m_bench;
  ui::ElidedLabel* m_jobLabel;  ///< the running job's message, shortened with "…" when the bar is full
  QProgressBar* m_jobProgress;
  double m_userTextScale = 1.0;
  SelfTestDialog* m_selfTest = nullptr;
  quint64 m_startupSelfTest = 0;
  bool m_startingUp = false;  ///< the embedded teacher opening at start: a remembered Distill teacher stays
};
