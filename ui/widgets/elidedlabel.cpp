#include "widgets/elidedlabel.h"

#include <QPainter>

#include <algorithm>

namespace ui {

ElidedLabel::ElidedLabel(QWidget* parent) : QFrame(parent) {
  setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
}

void ElidedLabel::setText(const QString& text) {
  if (text == m_text) return;
  m_text = text;
  updateToolTip();
  updateGeometry();
  update();
}

void ElidedLabel::setDetail(const QString& detail) {
  m_detail = detail;
  updateToolTip();
}

void ElidedLabel::updateToolTip() {
  setToolTip(m_detail.isEmpty() ? m_text : m_text + "\n\n" + m_detail);
}

QString ElidedLabel::displayedText() const {
  return fontMetrics().elidedText(m_text, Qt::ElideRight, contentsRect().width());
}

QSize ElidedLabel::sizeHint() const {
  const QMargins m = contentsMargins();
  // +2: horizontalAdvance rounds down and elidedText then drops the last character
  return {fontMetrics().horizontalAdvance(m_text) + 2 + m.left() + m.right(), fontMetrics().height() + m.top() + m.bottom()};
}

QSize ElidedLabel::minimumSizeHint() const {
  const QSize full = sizeHint();
  return {std::min(full.width(), fontMetrics().averageCharWidth() * 12), full.height()};
}

void ElidedLabel::paintEvent(QPaintEvent* event) {
  QFrame::paintEvent(event);
  QPainter painter(this);
  painter.drawText(contentsRect(), Qt::AlignLeft | Qt::AlignVCenter, displayedText());
}

}  // namespace ui
