#include "pages/chatpage.h"

#include <QApplication>
#include <QCheckBox>
#include <QClipboard>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QKeyEvent>
#include <QLabel>
#include <QLineEdit>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QShortcut>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include "controller/enginecontroller.h"
#include "widgets/conversationview.h"
#include "widgets/imagedrop.h"
#include "widgets/messages.h"
#include "widgets/promptedit.h"
#include "widgets/text.h"
#include "widgets/textscale.h"

ChatPage::ChatPage(EngineController* engine, QWidget* parent) : QWidget(parent), m_engine(engine) {
  m_model = new QComboBox;
  m_second = new QComboBox;
  m_sideBySide = new QCheckBox(tr("Side by side with"));
  m_second->setEnabled(false);
  auto* browse = new QPushButton(tr("Other…"));
  browse->setToolTip(tr("Chat with another checkpoint directory"));
  auto* modelRow = new QHBoxLayout;
  modelRow->addWidget(m_model, 1);
  modelRow->addWidget(browse);
  auto* models = new QFormLayout;
  models->addRow(tr("Model"), modelRow);
  models->addRow(m_sideBySide, m_second);

  m_image = new ImageDrop;
  auto* openImage = new QPushButton(tr("Open…"));
  auto* scene = new QPushButton(tr("Random scene"));
  auto* clearImage = new QPushButton(tr("Clear"));
  auto* imageButtons = new QHBoxLayout;
  imageButtons->addWidget(openImage);
  imageButtons->addWidget(scene);
  imageButtons->addWidget(clearImage);
  // The tiles row: its label, then the tiles of the last image sent.
  m_tiles = new QHBoxLayout;
  auto* tilesLabel = new QLabel(tr("Tiles sent:"));
  tilesLabel->setToolTip(tr("The tiles the model received for the last image"));
  m_tiles->addWidget(tilesLabel);
  m_tiles->addStretch();
  auto* imageBox = new QGroupBox(tr("Image (attached to the next question)"));
  auto* imageLayout = new QVBoxLayout(imageBox);
  imageLayout->addWidget(m_image, 1);
  imageLayout->addLayout(imageButtons);
  imageLayout->addLayout(m_tiles);

  m_temperature = new QDoubleSpinBox;
  m_temperature->setRange(0, 2);
  m_temperature->setSingleStep(0.1);
  m_temperature->setToolTip(tr("0 is greedy"));
  m_topK = new QSpinBox;
  m_topK->setRange(0, 1000);
  m_topK->setSpecialValueText(tr("off"));
  m_topP = new QDoubleSpinBox;
  m_topP->setRange(0.01, 1);
  m_topP->setSingleStep(0.05);
  m_topP->setValue(1);
  m_repetition = new QDoubleSpinBox;
  m_repetition->setRange(1, 2);
  m_repetition->setSingleStep(0.05);
  m_maxTokens = new QSpinBox;
  m_maxTokens->setRange(1, 4096);
  m_maxTokens->setValue(64);
  m_seed = new QSpinBox;
  m_seed->setRange(0, 1 << 30);
  const std::pair<QWidget*, const char*> named[] = {{m_temperature, "temperature"}, {m_topK, "topK"}, {m_topP, "topP"},
                                                    {m_repetition, "repetitionPenalty"}, {m_maxTokens, "maxTokens"}, {m_seed, "seed"}};
  for (const auto& [w, name] : named) w->setObjectName(name);  // for tests and settings
  m_system = new QPlainTextEdit;
  m_system->setPlaceholderText(tr("none (the demo models were trained without one)"));
  m_system->setToolTip(tr("System prompt"));
  // Two settings per row: the panel stays short enough for a 700 px high window.
  auto* samplingBox = new QGroupBox(tr("Sampling"));
  auto* grid = new QGridLayout(samplingBox);
  const std::pair<QString, QWidget*> fields[] = {{tr("Temperature"), m_temperature}, {tr("Top-k"), m_topK},
                                                 {tr("Top-p"), m_topP}, {tr("Repetition"), m_repetition},
                                                 {tr("Max tokens"), m_maxTokens}, {tr("Seed"), m_seed}};
  for (int i = 0; i < 6; ++i) {
    grid->addWidget(new QLabel(fields[i].first), i / 2, 2 * (i % 2));
    grid->addWidget(fields[i].second, i / 2, 2 * (i % 2) + 1);
  }
  m_repetition->setToolTip(tr("Repetition penalty (1 is off)"));
  m_maxTokens->setToolTip(tr("Max new tokens per reply"));
  grid->addWidget(new QLabel(tr("System")), 3, 0);
  grid->addWidget(m_system, 3, 1, 1, 3);

  auto* side = new QWidget;
  auto* sideLayout = new QVBoxLayout(side);
  sideLayout->setContentsMargins(0, 0, 0, 0);
  sideLayout->addLayout(models);
  sideLayout->addWidget(imageBox, 1);
  sideLayout->addWidget(samplingBox);

  m_left = new ConversationView;
  m_right = new ConversationView;
  m_right->hide();
  auto* views = new QSplitter;
  views->addWidget(m_left);
  views->addWidget(m_right);
  m_input = new PromptEdit;
  m_input->setPlaceholderText(tr("Ask about the image, e.g. \"What colour is the circle?\"\n"
                                 "Enter sends, Shift+Enter starts a new line"));
  m_send = new QPushButton(tr("Send"));
  m_send->setDefault(true);
  m_stop = new QPushButton(tr("Stop"));
  m_regen = new QPushButton(tr("Regenerate"));
  m_prevVersion = new QPushButton(tr("‹"));
  m_nextVersion = new QPushButton(tr("›"));
  m_prevVersion->setToolTip(tr("The previous version of the last reply"));
  m_nextVersion->setToolTip(tr("The next version of the last reply"));
  ui::followTextSize(this, [this, side] {  // sizes at the starting text size, and at any other
    m_system->setFixedHeight(2 * m_system->fontMetrics().lineSpacing() + 14);
    side->setMaximumWidth(ui::scaledPx(380));
    for (QPushButton* b : {m_prevVersion, m_nextVersion}) b->setMaximumWidth(ui::scaledPx(28));
  });
  m_versionLabel = new QLabel;
  m_versionLabel->setToolTip(tr("Regenerate keeps every version of the last reply; the conversation goes on from the one shown"));
  auto* reset = new QPushButton(tr("New chat"));
  reset->setObjectName("newChat");
  m_regen->setObjectName("regenerate");
  auto* save = new QPushButton(tr("Save…"));
  auto* load = new QPushButton(tr("Load…"));
  // The prompt gets a row of its own (three lines high), so a narrow window shrinks the buttons'
  // row, not the prompt.
  auto* sendButtons = new QVBoxLayout;
  sendButtons->addWidget(m_send);
  sendButtons->addWidget(m_stop);
  sendButtons->addStretch();
  auto* promptRow = new QHBoxLayout;
  promptRow->addWidget(m_input, 1);
  promptRow->addLayout(sendButtons);
  auto* inputRow = new QVBoxLayout;
  inputRow->addLayout(promptRow);
  auto* buttonRow = new QHBoxLayout;
  buttonRow->addWidget(m_regen);
  buttonRow->addWidget(m_prevVersion);
  buttonRow->addWidget(m_versionLabel);
  buttonRow->addWidget(m_nextVersion);
  m_load = load;
  for (QPushButton* b : {reset, save, load}) buttonRow->addWidget(b);
  buttonRow->addStretch();
  inputRow->addLayout(buttonRow);
  auto* right = new QWidget;
  auto* rightLayout = new QVBoxLayout(right);
  rightLayout->setContentsMargins(0, 0, 0, 0);
  rightLayout->addWidget(views, 1);
  rightLayout->addLayout(inputRow);

  auto* layout = new QHBoxLayout(this);
  layout->addWidget(side);
  layout->addWidget(right, 1);

  connect(m_sideBySide, &QCheckBox::toggled, this, &ChatPage::setSideBySide);
  connect(m_model, &QComboBox::currentIndexChanged, this, [this] { m_left->setTitle(m_model->currentText()); });
  connect(m_second, &QComboBox::currentIndexChanged, this, [this] { m_right->setTitle(m_second->currentText()); });
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Checkpoint directory to chat with"));
    if (!dir.isEmpty()) addModel(QFileInfo(dir).fileName(), dir, true);
  });
  connect(openImage, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getOpenFileName(this, tr("Open image"), {}, tr("Images (*.png *.jpg *.jpeg *.bmp *.webp *.gif)"));
    QString error;
    if (!f.isEmpty() && !m_image->loadFile(f, &error)) ui::showError(this, tr("Cannot open image"), error);
  });
  connect(m_image, &ImageDrop::loadFailed, this, [this](const QString& e) { ui::showError(this, tr("Cannot open image"), e); });
  connect(scene, &QPushButton::clicked, this, [this] { m_image->makeScene(m_sceneSeed++); });
  connect(clearImage, &QPushButton::clicked, m_image, &ImageDrop::clear);
  connect(m_input, &PromptEdit::submitted, this, [this] { send(false); });
  // Esc stops a streaming reply; Ctrl+V with an image on the clipboard attaches it, also from the
  // prompt box (which would otherwise take the paste as text).
  auto* escape = new QShortcut(QKeySequence(Qt::Key_Escape), this, this, &ChatPage::stop);
  escape->setContext(Qt::WidgetWithChildrenShortcut);
  m_input->installEventFilter(this);
  connect(m_send, &QPushButton::clicked, this, [this] { send(false); });
  connect(m_stop, &QPushButton::clicked, this, &ChatPage::stop);
  connect(m_regen, &QPushButton::clicked, this, &ChatPage::regenerate);
  connect(m_prevVersion, &QPushButton::clicked, this, [this] { showReplyVersion(m_left->currentVersion() - 1); });
  connect(m_nextVersion, &QPushButton::clicked, this, [this] { showReplyVersion(m_left->currentVersion() + 1); });
  connect(reset, &QPushButton::clicked, this, [this] {
    if (confirmDiscard()) resetConversation();
  });
  connect(save, &QPushButton::clicked, this, [this] {
    const QString f = QFileDialog::getSaveFileName(this, tr("Save conversation"),
                                                   m_savedPath.isEmpty() ? "conversation.json" : m_savedPath, tr("JSON (*.json)"));
    if (!f.isEmpty()) saveTo(f);
  });
  connect(load, &QPushButton::clicked, this, [this] {
    if (!m_autosaveDir.isEmpty()) return showHistory();  // the list, with "Other file…" in it
    if (!confirmDiscard()) return;
    const QString f = QFileDialog::getOpenFileName(this, tr("Load conversation"), {}, tr("JSON (*.json)"));
    QString error;
    if (!f.isEmpty() && !loadConversation(f, &error)) ui::showError(this, tr("Cannot load"), error);
  });

  connect(engine, &EngineController::tilesReady, this, [this](quint64 id, const TilePreview& p) {
    if (m_jobs.value(id, -1) == 0) showTiles(p);
  });
  connect(engine, &EngineController::tokenAvailable, this, [this](quint64 id, qint64, const QString& delta) {
    if (m_jobs.contains(id)) view(m_jobs[id])->appendToReply(delta);
  });
  connect(engine, &EngineController::replyFinished, this, [this](quint64 id, const ChatReplyInfo& r) {
    if (!m_jobs.contains(id)) return;
    const int s = m_jobs[id];
    view(s)->finishReply(r);
    m_lastReplies[s] = r;
    m_unsaved = true;
    m_autosaved = false;
    emit replyDone(s, r);
  });
  connect(engine, &EngineController::failed, this, [this](quint64 id, const QString& message) {
    if (!m_jobs.contains(id)) return;
    view(m_jobs.take(id))->failReply(message);
    updateButtons();
    ui::showError(this, tr("Chat failed"), message);
  });
  connect(engine, &EngineController::finished, this, [this](quint64 id) {
    if (!m_jobs.remove(id)) return;
    if (m_jobs.isEmpty()) compareReplies();
    if (m_jobs.isEmpty()) autosave();
    updateButtons();
  });
  updateButtons();
}

void ChatPage::addModel(const QString& label, const QString& path, bool select) {
  for (QComboBox* box : {m_model, m_second}) {
    int i = box->findData(path);
    if (i < 0) {
      box->addItem(label, path);
      box->setItemData(box->count() - 1, path, Qt::ToolTipRole);
      i = box->count() - 1;
    }
    if (select && box == m_model) box->setCurrentIndex(i);
  }
  if (m_second->count() > 1 && m_second->currentIndex() == m_model->currentIndex())
    m_second->setCurrentIndex(m_model->currentIndex() == 0 ? 1 : 0);
  updateButtons();
}

void ChatPage::setSideBySide(bool on) {
  const QSignalBlocker block(m_sideBySide);
  m_sideBySide->setChecked(on);
  m_second->setEnabled(on);
  m_right->setVisible(on);
  m_right->setTitle(m_second->currentText());
}

void ChatPage::setMaxNewTokens(int n) { m_maxTokens->setValue(n); }

QString ChatPage::modelPath(int side) const { return (side == 0 ? m_model : m_second)->currentData().toString(); }

SamplingSettings ChatPage::sampling() const {
  SamplingSettings s;
  s.temperature = m_temperature->value();
  s.topK = m_topK->value();
  s.topP = m_topP->value();
  s.repetitionPenalty = m_repetition->value();
  s.maxNewTokens = m_maxTokens->value();
  s.seed = quint64(m_seed->value());
  return s;
}

void ChatPage::ask(const QString& question) {
  m_input->setText(question);
  send(false);
}

void ChatPage::send(bool regen) {
  if (busy() || modelPath(0).isEmpty()) return;
  const QString question = m_input->text().trimmed();
  if (!regen && question.isEmpty() && m_image->image().isNull()) return;
  const int sides = m_sideBySide->isChecked() ? 2 : 1;
  if (sides == 2 && modelPath(1) == modelPath(0)) {
    ui::showError(this, tr("Choose two different models"),
                  tr("Side by side compares two models.\nPick another model in \"Side by side with\", or turn it off."));
    return;
  }
  m_lastReplies.clear();
  if (!regen) {  // the known answer, when every image so far is a generated scene
    if (!m_image->image().isNull() && m_scenes) {
      if (m_image->scene()) m_scenes->push_back(*m_image->scene());
      else m_scenes.reset();
    }
    const std::optional<std::string> truth =
        m_scenes && !m_scenes->empty() ? mm::data::answer_question(*m_scenes, question.toStdString()) : std::nullopt;
    m_truth = truth ? QString::fromStdString(*truth) : QString();
  }
  for (int s = 0; s < sides; ++s) {
    ChatRequest req;
    req.modelPath = modelPath(s);
    req.question = question;
    req.image = regen ? QImage() : m_image->image();
    req.systemPrompt = m_system->toPlainText();
    req.sampling = sampling();
    req.regenerate = regen;
    if (!regen) view(s)->addUser(question, req.image);
    view(s)->beginReply(regen);
    if (!m_truth.isEmpty()) view(s)->setReplyTruth(m_truth);
    m_jobs.insert(m_engine->chat(req), s);
  }
  if (!regen) {
    m_input->clear();
    m_image->clear();
  }
  updateButtons();
}

void ChatPage::stop() {
  for (quint64 id : m_jobs.keys()) m_engine->cancel(id);
}

void ChatPage::regenerate() {
  m_seed->setValue(m_seed->value() + (m_temperature->value() > 0 ? 1 : 0));  // a new draw when sampling
  send(true);
}

void ChatPage::resetConversation() {
  stop();
  for (int s = 0; s < 2; ++s) {
    view(s)->clearAll();
    if (!modelPath(s).isEmpty()) m_engine->resetChat(modelPath(s));
  }
  m_lastReplies.clear();
  m_scenes = std::vector<mm::data::Scene>{};
  m_truth.clear();
  m_unsaved = false;
  m_savedPath.clear();
  m_autosavePath.clear();
  m_autosaved = false;
  showTiles(TilePreview{});  // the previous image's tiles go with the conversation
  updateButtons();
}

int ChatPage::replyVersionCount() const { return m_left->versionCount(); }

void ChatPage::showReplyVersion(int i) {
  if (busy() || i < 0 || i >= m_left->versionCount()) return;
  for (int s = 0; s < (m_right->isVisible() ? 2 : 1); ++s) {
    if (!view(s)->showVersion(i)) continue;
    const ConversationView::Message& m = view(s)->version(i);
    if (m.failed || m.streaming) continue;  // nothing sampled to put back
    ChatReplyInfo r;
    r.text = m.text;
    r.ids = m.ids;
    r.lastToken = m.lastToken;
    m_engine->useReply(modelPath(s), r);  // the next question follows the version shown
  }
  autosave();  // the file holds the versions shown
  updateButtons();  // each version keeps the agreement marks of its own comparison
}

void ChatPage::compareReplies() {
  if (!m_sideBySide->isChecked() || !m_lastReplies.contains(0) || !m_lastReplies.contains(1)) return;
  m_right->markAgreement(m_lastReplies[0].ids);
}

void ChatPage::showTiles(const TilePreview& p) {
  while (m_tiles->count() > 2) delete m_tiles->takeAt(1)->widget();  // keep the label and the stretch
  for (int i = 0; i < p.tiles.size(); ++i) {
    auto* l = new QLabel;
    l->setPixmap(QPixmap::fromImage(p.tiles[i].scaled(56, 56, Qt::KeepAspectRatio)));
    l->setFrameShape(QFrame::Box);
    const bool thumb = p.thumbnail && i == p.tiles.size() - 1;
    l->setToolTip(thumb ? tr("thumbnail of the whole image") : tr("tile %1 of a %2×%3 grid").arg(i + 1).arg(p.cols).arg(p.rows));
    m_tiles->insertWidget(m_tiles->count() - 1, l);
  }
}

void ChatPage::updateButtons() {
  const bool ready = !modelPath(0).isEmpty();
  m_send->setEnabled(ready && !busy());
  m_regen->setEnabled(ready && !busy() && !m_left->messages().isEmpty());
  m_stop->setEnabled(busy());
  // Regenerate says it is at work; the reply's header says which version is being written.
  const int versions = m_left->versionCount(), current = m_left->currentVersion();
  m_regen->setText(busy() && versions > 1 && current == versions - 1 ? tr("Regenerating…") : tr("Regenerate"));
  for (QWidget* w : std::initializer_list<QWidget*>{m_prevVersion, m_versionLabel, m_nextVersion}) w->setVisible(versions > 1);
  m_versionLabel->setText(QString("%1/%2").arg(current + 1).arg(versions));
  m_prevVersion->setEnabled(!busy() && current > 0);
  m_nextVersion->setEnabled(!busy() && current + 1 < versions);
}

bool ChatPage::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_input && (event->type() == QEvent::ShortcutOverride || event->type() == QEvent::KeyPress) &&
      static_cast<QKeyEvent*>(event)->matches(QKeySequence::Paste)) {
    const QMimeData* mime = QApplication::clipboard()->mimeData();
    if (mime && mime->hasImage()) {
      if (event->type() == QEvent::KeyPress) m_image->setImage(qvariant_cast<QImage>(mime->imageData()), tr("pasted image"));
      event->accept();
      return true;
    }
  }
  return QWidget::eventFilter(watched, event);
}

void ChatPage::keyPressEvent(QKeyEvent* event) {
  if (event->matches(QKeySequence::Paste)) {
    const QMimeData* mime = QApplication::clipboard()->mimeData();
    if (mime && mime->hasImage()) {
      m_image->setImage(qvariant_cast<QImage>(mime->imageData()), tr("pasted image"));
      return;
    }
  }
  QWidget::keyPressEvent(event);
}

QString ChatPage::cliEquivalent() const {
  const SamplingSettings s = sampling();
  QString cmd = QString("mmmamba chat %1 --temperature %2 --top-k %3 --top-p %4 --repetition-penalty %5 "
                        "--max-new-tokens %6 --seed %7")
                    .arg(ui::shellQuote(modelPath(0))).arg(s.temperature).arg(s.topK).arg(s.topP).arg(s.repetitionPenalty)
                    .arg(s.maxNewTokens).arg(s.seed);
  cmd += " --system " + ui::shellQuote(m_system->toPlainText());  // always: the CLI's default is the model's own
  return cmd + " --image IMAGE --prompt 'QUESTION'";
}
