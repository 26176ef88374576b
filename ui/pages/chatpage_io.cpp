// Saving and loading conversations (JSON with the images inline as base64 PNG), autosave and the
// conversation list, the question before an unsaved one is dropped, and the page's remembered settings.
#include <QBuffer>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QMessageBox>
#include <QSaveFile>
#include <QSettings>
#include <QSpinBox>

#include "controller/enginecontroller.h"
#include "pages/chatpage.h"
#include "widgets/conversationsdialog.h"
#include "widgets/conversationview.h"
#include "widgets/messages.h"

namespace {

constexpr int kFormatVersion = 1;

QString pngBase64(const QImage& img) {
  QByteArray png;
  QBuffer buf(&png);
  buf.open(QIODevice::WriteOnly);
  img.save(&buf, "PNG");
  return QString::fromLatin1(png.toBase64());
}

}  // namespace

QByteArray ChatPage::conversationJson() const {
  QJsonArray sides;
  for (int s = 0; s < (m_right->isVisible() ? 2 : 1); ++s) {
    QJsonArray messages;
    for (const ConversationView::Message& m : view(s)->messages()) {
      QJsonObject o{{"role", m.user ? "user" : "assistant"}, {"text", m.text}};
      if (!m.image.isNull()) o["image_png_base64"] = pngBase64(m.image);
      messages.append(o);
    }
    sides.append(QJsonObject{{"model", modelPath(s)}, {"messages", messages}});
  }
  const QJsonObject root{{"format", "mmmamba-conversation"}, {"version", kFormatVersion},
                         {"system_prompt", m_system->toPlainText()}, {"sides", sides}};
  return QJsonDocument(root).toJson();
}

bool ChatPage::saveConversation(const QString& path, QString* error) {
  QSaveFile f(path);  // temp file + rename
  if (!f.open(QIODevice::WriteOnly) || f.write(conversationJson()) < 0 || !f.commit()) {
    if (error) *error = tr("Cannot write %1: %2").arg(path, f.errorString());
    return false;
  }
  m_unsaved = false;
  m_savedPath = path;
  return true;
}

bool ChatPage::loadConversation(const QString& path, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) {
    if (error) *error = tr("Cannot read %1: %2").arg(path, f.errorString());
    return false;
  }
  QJsonParseError parseError;
  const QJsonDocument doc = QJsonDocument::fromJson(f.read(64 << 20), &parseError);
  const QJsonObject root = doc.object();
  if (doc.isNull() || root.value("format").toString() != "mmmamba-conversation") {
    if (error) *error = tr("%1 is not a saved mmMamba conversation (%2).").arg(path, parseError.errorString());
    return false;
  }
  if (busy()) stop();
  m_system->setPlainText(root.value("system_prompt").toString());
  const QJsonArray sides = root.value("sides").toArray();
  setSideBySide(sides.size() > 1);
  for (int s = 0; s < std::min<int>(2, sides.size()); ++s) {
    const QJsonObject side = sides[s].toObject();
    const QString model = side.value("model").toString();
    if (!model.isEmpty()) {
      addModel(QFileInfo(model).fileName(), model);
      QComboBox* box = s == 0 ? m_model : m_second;
      box->setCurrentIndex(box->findData(model));
    }
    QVector<ConversationView::Message> messages;
    QVector<ChatExchange> exchanges;
    for (const QJsonValue& v : side.value("messages").toArray()) {
      const QJsonObject o = v.toObject();
      ConversationView::Message m;
      m.user = o.value("role").toString() == "user";
      m.text = o.value("text").toString();
      const QByteArray png = QByteArray::fromBase64(o.value("image_png_base64").toString().toLatin1());
      if (!png.isEmpty()) m.image = QImage::fromData(png, "PNG");
      messages << m;
      if (m.user) exchanges.push_back({m.text, m.image, {}});
      else if (!exchanges.isEmpty()) exchanges.back().reply = m.text;
    }
    view(s)->setMessages(messages);
    if (!exchanges.isEmpty() && exchanges.back().reply.isNull()) exchanges.removeLast();  // unanswered
    if (!exchanges.isEmpty() && !modelPath(s).isEmpty())
      m_engine->restoreChat(modelPath(s), m_system->toPlainText(), exchanges);
  }
  m_unsaved = false;
  m_savedPath = path;
  // An autosaved conversation goes on in its own file; one loaded from elsewhere gets a new one.
  const bool autosaved = !m_autosaveDir.isEmpty() && QFileInfo(path).absolutePath() == QDir(m_autosaveDir).absolutePath();
  m_autosavePath = autosaved ? path : QString();
  m_autosaved = autosaved;
  // The loaded images' scenes are not known: no truth for questions about them.
  bool images = false;
  for (int s = 0; s < 2; ++s)
    for (const ConversationView::Message& m : view(s)->messages()) images |= !m.image.isNull();
  m_scenes = images ? std::nullopt : std::optional<std::vector<mm::data::Scene>>(std::vector<mm::data::Scene>{});
  m_truth.clear();
  updateButtons();
  return true;
}

void ChatPage::setAutosaveDir(const QString& dir) {
  m_autosaveDir = dir;
  m_load->setToolTip(dir.isEmpty() ? tr("Open a saved conversation")
                                   : tr("Every conversation, saved as it goes: open or delete one, or open another file"));
}

void ChatPage::autosave() {
  if (m_autosaveDir.isEmpty() || view(0)->messages().isEmpty()) return;
  if (m_autosavePath.isEmpty()) {
    if (!QDir().mkpath(m_autosaveDir)) return;
    const QString stamp = QDateTime::currentDateTime().toString("yyyyMMdd-hhmmss-zzz");
    m_autosavePath = QDir(m_autosaveDir).filePath("chat-" + stamp + ".json");
  }
  QSaveFile f(m_autosavePath);
  m_autosaved = f.open(QIODevice::WriteOnly) && f.write(conversationJson()) >= 0 && f.commit();
}

void ChatPage::showHistory() {
  ConversationsDialog dialog(m_autosaveDir, this);
  if (dialog.exec() != QDialog::Accepted || dialog.chosen().isEmpty() || !confirmDiscard()) return;
  QString error;
  if (!loadConversation(dialog.chosen(), &error)) ui::showError(this, tr("Cannot load"), error);
}

bool ChatPage::confirmDiscard() {
  if (!m_unsaved || m_autosaved) return true;  // nothing would be lost
  QMessageBox box(QMessageBox::Question, tr("Unsaved conversation"),
                  tr("The conversation has replies that are not saved."), QMessageBox::Save | QMessageBox::Discard | QMessageBox::Cancel, this);
  box.setInformativeText(m_savedPath.isEmpty() ? tr("Save it before it is cleared?")
                                               : tr("Save it to %1 before it is cleared?").arg(QFileInfo(m_savedPath).fileName()));
  box.setDefaultButton(QMessageBox::Save);
  switch (box.exec()) {
    case QMessageBox::Discard: return true;
    case QMessageBox::Save: {
      const QString f = !m_savedPath.isEmpty() ? m_savedPath
                                               : QFileDialog::getSaveFileName(this, tr("Save conversation"), "conversation.json", tr("JSON (*.json)"));
      return !f.isEmpty() && saveTo(f);
    }
    default: return false;
  }
}

bool ChatPage::saveTo(const QString& path) {
  QString error;
  if (!saveConversation(path, &error)) {
    ui::showError(this, tr("Cannot save"), error);
    return false;
  }
  return true;
}

void ChatPage::saveSettings(QSettings& settings) const {
  const SamplingSettings s = sampling();
  settings.setValue("chat/temperature", s.temperature);
  settings.setValue("chat/topK", s.topK);
  settings.setValue("chat/topP", s.topP);
  settings.setValue("chat/repetitionPenalty", s.repetitionPenalty);
  settings.setValue("chat/maxNewTokens", s.maxNewTokens);
  settings.setValue("chat/seed", qulonglong(s.seed));
  settings.setValue("chat/systemPrompt", m_system->toPlainText());
}

void ChatPage::restoreSettings(const QSettings& settings) {
  // Spin boxes clamp what an edited settings file holds to their ranges.
  m_temperature->setValue(settings.value("chat/temperature", m_temperature->value()).toDouble());
  m_topK->setValue(settings.value("chat/topK", m_topK->value()).toInt());
  m_topP->setValue(settings.value("chat/topP", m_topP->value()).toDouble());
  m_repetition->setValue(settings.value("chat/repetitionPenalty", m_repetition->value()).toDouble());
  m_maxTokens->setValue(settings.value("chat/maxNewTokens", m_maxTokens->value()).toInt());
  m_seed->setValue(settings.value("chat/seed", m_seed->value()).toInt());
  m_system->setPlainText(settings.value("chat/systemPrompt", m_system->toPlainText()).toString());
}
