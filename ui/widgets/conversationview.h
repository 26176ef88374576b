// One model's side of a chat: messages rendered as HTML, the streaming reply appended token by token
// (redrawn at most once per frame), statistics under each reply, optional per-token agreement marks
// against another model's reply, and the versions of the last reply that regenerate made.
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
    qint64 lastToken = -1;   ///< see ChatReplyInfo::lastToken
    QString truth;           ///< the known answer (a generated scene's), or empty
    bool failed = false;
  };

  explicit ConversationView(QWidget* parent = nullptr);
  void setTitle(const QString& title);
  void addUser(const QString& text, const QImage& image);
  /// Starts an empty reply. regenerate: a new version of the last reply, the earlier ones kept.
  void beginReply(bool regenerate);
  void appendToReply(const QString& delta);
  /// The known answer to the reply's question (from a generated scene): shown under the reply, with
  /// right or wrong once it is finished (normalised exact match, as the evaluation scores).
  void setReplyTruth(const QString& truth);
  /// Whether a finished reply matches its truth.
  static bool matchesTruth(const Message& reply);
  void finishReply(const ChatReplyInfo& info);
  /// Marks the last reply's tokens against reference ids; returns the share that agrees.
  double markAgreement(const QVector<qint64>& reference);
  void failReply(const QString& message);
  void clearAll();
  /// Versions of the last reply (1 until a regenerate; only the last reply has versions, since the
  /// engine can only put back the reply its snapshot was taken before).
  int versionCount() const { return int(m_versions.size()); }
  int currentVersion() const { return m_version; }
  /// Shows version i of the last reply (0-based); false when there is none.
  bool showVersion(int i);
  const Message& version(int i) const { return m_versions[i]; }
  const QVector<Message>& messages() const { return m_messages; }
  void setMessages(const QVector<Message>& messages);
  /// The text's size against the studio's: 1 up to 480 px wide (at the starting text size, wider at a
  /// larger one), up to 1.5 on a wide view.
  double textScale() const { return m_scale; }

 protected:
  /// Larger text on a wide view (a 1920 px projector), the normal size in a 1024 px window.
  void resizeEvent(QResizeEvent* event) override;

 private:
  /// The reply being written or shown: the last message (a reply), kept in step with its version.
  Message* lastReply();
  void replyChanged();
  void scheduleRender();
  void render();
  void fitText();

  QString m_title;
  QVector<Message> m_messages;
  QVector<Message> m_versions;  ///< the last reply's versions; m_messages.back() shows m_versions[m_version]
  int m_version = 0;
  QTimer m_renderTimer;
  double m_scale = 1;
};
