// One cell per decoder layer: its kind (attention or Mamba-2), its state (teacher, frozen, seeded and
// trainable), with params and cache bytes in the tooltip. Cells can be clicked to toggle their kind.
#pragma once

#include <QVector>
#include <QWidget>

#include "config/model_config.h"
#include "config/plan_stats.h"

class LayerStrip : public QWidget {
  Q_OBJECT
 public:
  explicit LayerStrip(QWidget* parent = nullptr);

  /// kinds: the plan shown; teacherView: every layer is the teacher's own (no student yet).
  void setLayers(const mm::ModelConfig& config, bool teacherView);
  void setEditable(bool editable) { m_editable = editable; }
  const std::vector<mm::LayerKind>& kinds() const { return m_config.layer_kinds; }
  /// The cell under a point, or -1.
  int cellAt(const QPoint& pos) const;
  QRect cellRect(int layer) const;

  QSize sizeHint() const override;
  QSize minimumSizeHint() const override;

 signals:
  void layerClicked(int layer);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* event) override;
  bool event(QEvent* event) override;

 private:
  QString tooltipFor(int layer) const;

  mm::ModelConfig m_config;
  std::vector<mm::LayerStats> m_stats;
  bool m_teacherView = true;
  bool m_editable = false;
};
