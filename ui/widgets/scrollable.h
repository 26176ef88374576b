// A side panel that scrolls vertically instead of forcing the window's minimum size up.
#pragma once

#include <QFrame>
#include <QScrollArea>

#include <algorithm>

#include "widgets/textscale.h"

namespace ui {

/// Wraps panel in a frameless vertical scroll area as wide as the panel wants (at most its maximum
/// width), at every text size.
inline QScrollArea* scrollable(QWidget* panel) {
  auto* area = new QScrollArea;
  area->setWidget(panel);
  area->setWidgetResizable(true);
  area->setFrameShape(QFrame::NoFrame);
  area->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  followTextSize(area, [area, panel] {
    area->setMaximumWidth(panel->maximumWidth() + 16);
    area->setMinimumWidth(std::min(panel->minimumSizeHint().width(), panel->maximumWidth()) + 16);
  });
  return area;
}

}  // namespace ui
