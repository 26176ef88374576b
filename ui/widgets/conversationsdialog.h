// The conversation list: every autosaved conversation of the Chat page, newest first, with its date,
// models, length and first question; Open loads one, Delete removes it (after a question), Other
// file… picks any saved conversation.
#pragma once

#include <QDateTime>
#include <QDialog>
#include <QVector>

class QListWidget;
class QPushButton;

class ConversationsDialog : public QDialog {
  Q_OBJECT
 public:
  struct Entry {
    QString path;
    QDateTime modified;
    QStringList models;  ///< checkpoint folder names, one per side
    int messages = 0;
    QString firstQuestion;
  };
  /// The conversations in dir, newest first; files that are not saved conversations are left out.
  static QVector<Entry> list(const QString& dir);

  explicit ConversationsDialog(const QString& dir, QWidget* parent = nullptr);
  /// The conversation chosen with Open, or empty.
  QString chosen() const { return m_chosen; }

 private:
  void refresh();
  void removeSelected();

  QString m_dir;
  QString m_chosen;
  QVector<Entry> m_entries;
  QListWidget* m_list;
  QPushButton* m_open;
  QPushButton* m_delete;
};
