// Total loss per stage against the step count over the whole run (stages laid end to end). Points are
// buffered and appended in batches with one queued replot per frame, so a fast stream stays smooth.
// Raw points stay visible as faint dots under a thick, debiased exponentially smoothed line.
// Two units, two axes: stages 1-2 (factor x layer MSE) on the left, the output-distribution losses
// (stage 3's KL, a teacher's cross-entropy) on a right axis in stage 3's colour over a tinted band, so
// the step between stage 2 and stage 3 is not read as a change in loss.
#pragma once

#include <QMap>
#include <QTimer>
#include <QVector>

#include <qcustomplot.h>

#include "runtime/job.h"

class LossPlot : public QCustomPlot {
  Q_OBJECT
 public:
  explicit LossPlot(QWidget* parent = nullptr);

  void addMetric(const mm::MetricEvent& m);
  void clearAll();
  /// 0: no smoothing; towards 1: heavier (EMA weight of the past).
  void setSmoothing(double weight);
  void setLogScale(bool on);
  /// The recipe's mse_factor of a stage ("stage1"), named in its legend entry (default 1000).
  void setMseFactor(const QString& stage, double factor);
  /// Flushes buffered points now (tests, export).
  void flush();
  /// Overlays another run's total loss: its stages end to end by its own step counts, smoothed like
  /// the live curves, dashed in lighter stage colours, one legend entry "name (compared)". Empty
  /// metrics remove it; clearAll() too. factors: its stages' mse_factor (default 1000), named in the
  /// legend entry where they differ from the shown run's.
  void setComparison(const QString& name, const std::vector<mm::MetricEvent>& metrics,
                     const QMap<QString, double>& factors = {});
  /// Points of the compared run.
  int comparisonPointCount() const;
  /// Points drawn so far across all stages.
  int pointCount() const;
  /// The smoothed line and the raw points of a stage ("stage1"), nullptr when it has none (tests).
  const QCPGraph* smoothGraph(const QString& stage) const { return m_series.contains(stage) ? m_series[stage].smooth : nullptr; }
  const QCPGraph* rawGraph(const QString& stage) const { return m_series.contains(stage) ? m_series[stage].raw : nullptr; }
  /// The axis a stage's values are drawn against: yAxis2 for "stage3" and "teacher", else yAxis.
  QCPAxis* valueAxisOf(const QString& stage) const;
  /// The tinted band behind stage 3's steps (hidden while there are none).
  const QCPItemRect* stage3Band() const { return m_band; }
  /// stage,step,global_step,loss rows.
  QString toCsv() const;

 private:
  struct Series {
    QCPGraph* raw = nullptr;
    QCPGraph* smooth = nullptr;
    QVector<double> x, y;
    int64_t total = 0;  ///< the stage's step count, for laying stages end to end
  };
  Series& series(const std::string& stage, int64_t total);
  double offsetOf(const std::string& stage) const;
  void rebuildSmooth(Series& s);
  void rebuildCompare(Series& s);
  /// Axis ranges that hold every raw point (with a margin), each value axis its own stages'; legend,
  /// axis labels, the band and the empty note follow the data.
  void fitRanges();
  void labelAxes(bool left, bool right);
  /// The right axis's unit, shortened when the axis is too short for the whole of it.
  void labelRightAxis();

  QMap<QString, Series> m_series;
  QMap<QString, Series> m_compare;  ///< the compared run per stage (smooth line only; x already laid end to end)
  QMap<QString, double> m_factors;
  QMap<QString, double> m_compareFactors;  ///< the compared run's mse_factor per stage
  /// The distinct mse_factors of stages 1-2 drawn from m_series (or m_compare): the left axis's unit.
  QList<double> leftFactors(bool compared) const;
  QVector<mm::MetricEvent> m_pending;
  QTimer m_flushTimer;
  double m_smoothing = 0.9;
  QCPItemText* m_empty = nullptr;  ///< "No loss yet" while there is nothing to draw
  QCPItemRect* m_band = nullptr;   ///< behind stage 3's steps, the right axis's colour
  bool m_rightLabelled = false;    ///< the right axis has points to name
};
