// The fast-path self-test: every case of mm::run_self_test with its path, largest difference from the
// reference, budget and verdict, a summary line (and which fast paths were turned off), and Run again.
// The studio opens it from Help, and by itself when the start-up check on a GPU finds a failure.
#pragma once

#include <QDialog>

#include "controller/uitypes.h"

class EngineController;
class QLabel;
class QPushButton;
class QTableWidget;

class SelfTestDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SelfTestDialog(EngineController* engine, QWidget* parent = nullptr);
  /// Shows a finished self-test (the start-up one, or a test's).
  void showSummary(const SelfTestSummary& summary);
  /// Starts a self-test on the engine; the table fills when it finishes.
  void run(const QString& onlyOp = {});
  /// "17 of 17 cases agree with their references" and the like (also the status bar's message).
  static QString headline(const SelfTestSummary& summary);

  QTableWidget* table() const { return m_table; }
  QString summaryText() const;

 private:
  EngineController* m_engine;
  quint64 m_job = 0;
  QLabel* m_summary;
  QTableWidget* m_table;
  QPushButton* m_again;
};
