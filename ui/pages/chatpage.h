// The Chat page: an image (dropped, pasted, opened or a random scene) and the tiles the model gets,
// a streaming reply with stop and regenerate, sampling settings and system prompt, and a side-by-side
// mode where a second model answers the same prompt with per-token agreement marked.
#pragma once

#include <QMap>
#include <QWidget>

#include "controller/uitypes.h"

class ConversationView;
class EngineController;
class ImageDrop;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QHBoxLayout;
class PromptEdit;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

class ChatPage : public QWidget {
  Q_OBJECT
 public:
  explicit ChatPage(EngineController* engine, QWidget* parent = nullptr);

  /// Adds a model to both selectors (once per path); select makes it the main one.
  void addModel(const QString& label, const QString& path, bool select = false);
  void setSideBySide(bool on);
  void setMaxNewTokens(int n);
  void ask(const QString& question);
  void stop();
  void regenerate();
  void resetConversation();
  bool busy() const { return !m_jobs.isEmpty(); }
  QString cliEquivalent() const;
  bool saveConversation(const QString& path, QString* error) const;
  bool loadConversation(const QString& path, QString* error);

  ImageDrop* imageDrop() const { return m_image; }
  ConversationView* view(int side) const { return side == 0 ? m_left : m_right; }
  PromptEdit* input() const { return m_input; }

 signals:
  void replyDone(int side, const ChatReplyInfo& reply);

 protected:
  void keyPressEvent(QKeyEvent* event) override;
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void send(bool regenerate);
  void showTiles(const TilePreview& preview);
  void updateButtons();
  void compareReplies();
  SamplingSettings sampling() const;
  QString modelPath(int side) const;

  EngineController* m_engine;
  QMap<quint64, int> m_jobs;  ///< running chat job -> side (0 main, 1 second)
  QMap<int, ChatReplyInfo> m_lastReplies;
  quint64 m_sceneSeed = 1;

  QComboBox* m_model;
  QComboBox* m_second;
  QCheckBox* m_sideBySide;
  ImageDrop* m_image;
  QHBoxLayout* m_tiles;
  QDoubleSpinBox* m_temperature;
  QSpinBox* m_topK;
  QDoubleSpinBox* m_topP;
  QDoubleSpinBox* m_repetition;
  QSpinBox* m_maxTokens;
  QSpinBox* m_seed;
  QPlainTextEdit* m_system;
  ConversationView* m_left;
  ConversationView* m_right;
  PromptEdit* m_input;
  QPushButton* m_send;
  QPushButton* m_stop;
  QPushButton* m_regen;
};
