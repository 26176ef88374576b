// One model's side of a chat: messages rendered as HTML, the streaming reply appended token by token
// (redrawn at most once per frame), statistics under each reply, and optional per-token agreement
// marks against another model's reply.
#pragma once

#include <QImage>
#include <QStringList>
#include <QTextBrowser>
#include <QTimer>
#include <QVector>

#include "controller/uitypes.h"

class ConversationView : public QTextBrowser {
  Q_OBJECT
 public:
  struct Message {
    bool user = false;
    QString text;
    QImage image;
    QString stats;          ///< the statistics line of a finished reply
    QStringList pieces;     ///< reply tokens, for agreement marks
    QVector<qint64> ids;
    QVector<int> agreement;  ///< per piece: 1 agrees, 0 differs; empty: no comparison
    bool streaming = false;
    QString speaker;         ///< the model that wrote a reply (its label when the reply began)
  };

  explicit ConversationView(QWidget* parent = nullptr);
  void setTitle(const QString& title);
  void addUser(const QString& text, const QImage& image);
  /// Starts an empty reply (or clears the last one to regenerate it).
  void beginReply(bool replaceLast);
  void appendToReply(const QString& delta);
  void finishReply(const ChatReplyInfo& info);
  /// Marks the last reply's tokens against reference ids; returns the share that agrees.
  double markAgreement(const QVector<qint64>& reference);
  void failReply(const QString& message);
  void clearAll();
  const QVector<Message>& messages() const { return m_messages; }
  void setMessages(const QVector<Message>& messages);

 private:
  void scheduleRender();
  void render();

  QString m_title;
  QVector<Message> m_messages;
  QTimer m_renderTimer;
};
