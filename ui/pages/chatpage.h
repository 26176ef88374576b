// The Chat page: an image (dropped, pasted, opened or a random scene) and the tiles the model gets,
// a streaming reply with stop and regenerate (every version kept, ‹ 2/3 › steps through them),
// sampling settings and system prompt, a side-by-side mode where a second model answers the same
// prompt with per-token agreement marked, and a question before an unsaved conversation is dropped.
#pragma once

#include <QMap>
#include <QWidget>

#include <optional>
#include <vector>

#include "controller/uitypes.h"
#include "data/scene.h"

class ConversationView;
class EngineController;
class ImageDrop;
class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QHBoxLayout;
class QLabel;
class PromptEdit;
class QPlainTextEdit;
class QPushButton;
class QSettings;
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
  /// Drops the conversation (no question asked; see confirmDiscard).
  void resetConversation();
  /// Shows version i (0-based) of the last reply on every side and continues the conversation from it.
  void showReplyVersion(int i);
  int replyVersionCount() const;
  /// Replies written since the conversation was last saved, loaded or begun.
  bool hasUnsavedConversation() const { return m_unsaved; }
  /// Asks Save / Discard / Cancel when there is an unsaved conversation; true when it may go (saved
  /// or discarded), false on Cancel or a failed save.
  bool confirmDiscard();
  bool busy() const { return !m_jobs.isEmpty(); }
  QString cliEquivalent() const;
  /// Sampling settings and the system prompt, under chat/ (QSettings).
  void saveSettings(QSettings& settings) const;
  void restoreSettings(const QSettings& settings);
  /// Writes the conversation (the versions shown) as JSON; it then counts as saved.
  bool saveConversation(const QString& path, QString* error);
  bool loadConversation(const QString& path, QString* error);
  /// Each conversation is also written to a file of its own in dir after every turn, and Load… lists
  /// them; then New chat, Load and quit lose nothing and ask nothing. Empty: off (the default).
  void setAutosaveDir(const QString& dir);
  QString autosaveDir() const { return m_autosaveDir; }
  /// The file the current conversation is autosaved to, or empty before its first turn.
  QString autosavePath() const { return m_autosavePath; }
  /// The conversation list (Load… with autosave on); loads the conversation chosen there.
  void showHistory();

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
  bool saveTo(const QString& path);
  QByteArray conversationJson() const;
  void autosave();
  void showTiles(const TilePreview& preview);
  void updateButtons();
  void compareReplies();
  SamplingSettings sampling() const;
  QString modelPath(int side) const;

  EngineController* m_engine;
  QMap<quint64, int> m_jobs;  ///< running chat job -> side (0 main, 1 second)
  QMap<int, ChatReplyInfo> m_lastReplies;
  /// The scenes of the images sent so far when every one is a generated scene (their objects answer
  /// the questions); unset once an image of unknown content is sent.
  std::optional<std::vector<mm::data::Scene>> m_scenes = std::vector<mm::data::Scene>{};
  QString m_truth;  ///< the known answer to the last question, or empty
  bool m_unsaved = false;
  QString m_savedPath;  ///< where the conversation was last saved or loaded from
  QString m_autosaveDir;
  QString m_autosavePath;
  bool m_autosaved = false;  ///< the autosave file holds every reply shown
  QPushButton* m_load = nullptr;
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
  QPushButton* m_prevVersion;
  QPushButton* m_nextVersion;
  QLabel* m_versionLabel;
};
