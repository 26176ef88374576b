// The Benchmark page's results: one row per measurement (model, length, phase, time, spread, decode
// floor, measured and predicted peak memory, process RSS, a note). Short headers with a tooltip each, so
// all eleven columns fit side by side at 1024 px; the model's name is the one open-ended cell, capped and
// elided, whole in its tooltip.
#pragma once

#include <QTableWidget>

#include "bench/bench_row.h"

class BenchTable : public QTableWidget {
  Q_OBJECT
 public:
  explicit BenchTable(QWidget* parent = nullptr);
  /// Appends ROW under the model label KEY and scrolls to it.
  void addRow(const QString& key, const mm::BenchRow& row);

 protected:
  /// A new text size: rows as high as the text, the model column as wide as its names.
  void changeEvent(QEvent* event) override;

 private:
  void fitModelColumn();
};
