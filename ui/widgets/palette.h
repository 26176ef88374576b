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

/// Ten colours far apart from each other, for many lines on one plot (per-layer curves): neighbours
/// never share a hue, as evenly spread hues did (layers 2 and 3 were both green).
inline QColor seriesColor(int index) {
  static const QColor colors[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189},
                                  {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};
  return colors[index % 10];
}

}  // namespace ui
