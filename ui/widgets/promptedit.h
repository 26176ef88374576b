// The chat prompt: several lines of text, Enter sends, Shift+Enter starts a new line.
#pragma once

#include <QPlainTextEdit>

class PromptEdit : public QPlainTextEdit {
  Q_OBJECT
 public:
  explicit PromptEdit(QWidget* parent = nullptr);
  /// Room for `lines` lines of text (the box scrolls past that).
  void setVisibleLines(int lines);
  QString text() const { return toPlainText(); }
  void setText(const QString& text) { setPlainText(text); }

 signals:
  /// Enter (or the keypad's Enter) without Shift.
  void submitted();

 protected:
  void keyPressEvent(QKeyEvent* event) override;
  /// A new text size: still room for the same lines.
  void changeEvent(QEvent* event) override;

 private:
  int m_lines = 3;
};
