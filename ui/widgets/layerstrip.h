// One cell per decoder layer: its kind (attention or Mamba-2), its state (teacher; kept attention
// frozen; Mamba-2 seeded and trainable, part-way through distillation, or distilled), with params and
// cache bytes in the tooltip. Cells can be clicked to toggle their kind.
#pragma once

#include <QVector>
#include <QWidget>

#include "config/model_config.h"
#include "config/plan_stats.h"

class LayerStrip : public QWidget {
  Q_OBJECT
 public:
  /// What the layers are: the teacher's own, a student just seeded (or a plan to seed), a student
  /// after stage 1 or 2, or one that finished stage 3.
  enum class Look { teacher, seeded, stage1, stage2, distilled };
  explicit LayerStrip(QWidget* parent = nullptr);

  /// config's layer kinds are drawn as `look`.
  void setLayers(const mm::ModelConfig& config, Look look);
  Look look() const { return m_look; }
  /// The look of a checkpoint from its mmmamba.stage metadata ("teacher", "seeded", "stage1".."stage3").
  static Look lookForStage(const QString& stage, bool teacher);
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
  Look m_look = Look::teacher;
  bool m_editable = false;
};
