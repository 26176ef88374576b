// The studio's colours: one per layer kind and per model, shared by strips, plots and tables.
#pragma once

#include <QColor>

namespace ui {

inline const QColor kAttentionColor{59, 110, 181};  // blue: attention
inline const QColor kMambaColor{222, 125, 44};      // orange: Mamba-2
inline const QColor kTrainableEdge{255, 214, 64};

/// Teacher, linear, hybrid, then further models.
inline QColor modelColor(int index) {
  static const QColor colors[] = {{59, 110, 181}, {222, 125, 44}, {46, 160, 90}, {150, 80, 170}, {200, 60, 70}, {90, 90, 90}};
  return colors[index % 6];
}

}  // namespace ui
