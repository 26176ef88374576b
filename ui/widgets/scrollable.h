// A side panel that scrolls vertically instead of forcing the window's minimum size up.
#pragma once

#include <QEvent>
#include <QFrame>
#include <QScrollArea>

#include <algorithm>

namespace ui {

/// Keeps a scroll area as wide as its panel wants, up to the panel's maximum width, whenever the
/// panel's layout changes (a new text size): QScrollArea's own hint keeps the panel's first size.
class PanelWidth : public QObject {
 public:
  PanelWidth(QScrollArea* area, QWidget* panel) : QObject(area), m_area(area), m_panel(panel) {
    panel->installEventFilter(this);
    fit();
  }
  bool eventFilter(QObject*, QEvent* event) override {
    if (event->type() == QEvent::LayoutRequest) fit();
    return false;
  }

 private:
  void fit() {
    m_area->setMaximumWidth(m_panel->maximumWidth() + 16);
    m_area->setMinimumWidth(std::min(m_panel->sizeHint().width(), m_panel->maximumWidth()) + 16);
  }
  QScrollArea* m_area;
  QWidget* m_panel;
};

/// Wraps panel in a frameless vertical scroll area as wide as the panel wants (at most its maximum
/// width), at every text size.
inline QScrollArea* scrollable(QWidget* panel) {
  auto* area = new QScrollArea;
  area->setWidget(panel);
  area->setWidgetResizable(true);
  area->setFrameShape(QFrame::NoFrame);
  area->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  new PanelWidth(area, panel);
  return area;
}

}  // namespace ui
