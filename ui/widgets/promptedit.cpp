#include "widgets/promptedit.h"

#include <QEvent>
#include <QKeyEvent>

PromptEdit::PromptEdit(QWidget* parent) : QPlainTextEdit(parent) {
  setTabChangesFocus(true);  // Tab leaves the box, as in a line edit
  setVisibleLines(3);
}

void PromptEdit::setVisibleLines(int lines) {
  m_lines = lines;
  const QMargins m = contentsMargins();
  const int text = lines * fontMetrics().lineSpacing() + 2 * int(document()->documentMargin());
  setFixedHeight(text + m.top() + m.bottom() + 2 * frameWidth());
}

void PromptEdit::keyPressEvent(QKeyEvent* event) {
  const bool enter = event->key() == Qt::Key_Return || event->key() == Qt::Key_Enter;
  if (enter && !(event->modifiers() & Qt::ShiftModifier)) {
    emit submitted();
    return;
  }
  if (enter) {  // Shift+Enter: a plain new line (QPlainTextEdit would insert a line separator)
    insertPlainText("\n");
    return;
  }
  QPlainTextEdit::keyPressEvent(event);
}

void PromptEdit::changeEvent(QEvent* event) {
  QPlainTextEdit::changeEvent(event);
  if (event->type() == QEvent::FontChange) setVisibleLines(m_lines);
}
