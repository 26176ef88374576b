// A one-line label for a status bar: when its text does not fit it ends in "…" instead of being cut
// off, and its tooltip always holds the whole text (plus any detail, such as a table).
#pragma once

#include <QFrame>
#include <QString>

namespace ui {

class ElidedLabel : public QFrame {
  Q_OBJECT
 public:
  explicit ElidedLabel(QWidget* parent = nullptr);

  void setText(const QString& text);
  QString text() const { return m_text; }
  /// Shown in the tooltip below the whole text (e.g. a per-op table); empty for none.
  void setDetail(const QString& detail);
  /// The text as drawn at the current width ("…" at the end when it did not fit).
  QString displayedText() const;
  bool isElided() const { return displayedText() != m_text; }

  QSize sizeHint() const override;
  /// Narrow: a squeezed status bar shortens this label instead of pushing others out of view.
  QSize minimumSizeHint() const override;

 protected:
  void paintEvent(QPaintEvent* event) override;

 private:
  void updateToolTip();

  QString m_text, m_detail;
};

}  // namespace ui
