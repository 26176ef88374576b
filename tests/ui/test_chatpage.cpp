// The Chat page's conversation handling on a micro student: the prompt takes several lines (Enter
// sends, Shift+Enter breaks the line), regenerate keeps every version and the conversation goes on
// from the one shown, a generated scene's known answer is shown with right or wrong, and New chat or
// closing the window asks before an unsaved conversation goes.
#include <ATen/ATen.h>

#include <filesystem>

#include "io/checkpoint.h"
#include "models/random_init.h"
#include "seeding/seed_student.h"
#include "text/tokenizer_files.h"

// Qt after ATen: Qt's `slots` macro breaks ATen headers.
#include <QDoubleSpinBox>
#include <QFile>
#include <QMessageBox>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QSignalSpy>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTimer>
#include <QtTest>

#include "controller/enginecontroller.h"
#include "data/scene.h"
#include "eval/evaluate.h"
#include "mainwindow.h"
#include "pages/chatpage.h"
#include "widgets/conversationsdialog.h"
#include "widgets/conversationview.h"
#include "widgets/imagedrop.h"
#include "widgets/promptedit.h"

namespace {

/// Answers the next message box with `button` as soon as it is shown (it runs its own event loop).
void answerNextMessageBox(QMessageBox::StandardButton button) {
  QTimer::singleShot(0, [button] {
    auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
    QVERIFY2(box, "no question was asked");
    box->button(button)->click();
  });
}

}  // namespace

class TestChatPage : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  QString m_student;
  EngineController* m_engine = nullptr;

  /// Asks and waits for the reply; returns it.
  static ChatReplyInfo askAndWait(ChatPage& page, const QString& question) {
    QSignalSpy replies(&page, &ChatPage::replyDone);
    page.ask(question);
    if (!replies.wait(30000) || !QTest::qWaitFor([&page] { return !page.busy(); }, 30000)) return {};
    return replies.last().at(1).value<ChatReplyInfo>();
  }
  static ChatReplyInfo regenerateAndWait(ChatPage& page) {
    QSignalSpy replies(&page, &ChatPage::replyDone);
    page.regenerate();
    if (!replies.wait(30000) || !QTest::qWaitFor([&page] { return !page.busy(); }, 30000)) return {};
    return replies.last().at(1).value<ChatReplyInfo>();
  }

 private slots:
  void initTestCase() {
    QVERIFY(m_dir.isValid());
    QStandardPaths::setTestModeEnabled(true);  // the window's autosave goes to a test location
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_dir.filePath("settings"));
    QCoreApplication::setOrganizationName("mmMamba-test");
    const mm::ModelConfig cfg = mm::architecture_preset("micro");
    const std::string tok = m_dir.filePath("tok").toStdString();
    std::filesystem::create_directories(tok);
    mm::write_tokenizer_dir(tok, int(cfg.vocab_size), mm::sample_scene_sentences(300, 1));
    const mm::SeedResult s = mm::seed_student(cfg, mm::random_weights(cfg, 3, 0.1), mm::LayerPlan::parse("linear"), 0);
    m_student = m_dir.filePath("student");
    mm::save_checkpoint(m_student.toStdString(), s.config, s.weights, mm::base_metadata(), tok);
    m_engine = new EngineController(this);
  }

  void enterSendsAndShiftEnterBreaksTheLine() {
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.setMaxNewTokens(2);
    page.show();
    PromptEdit* prompt = page.input();
    QTest::keyClicks(prompt, "Is there a circle?");
    QTest::keyClick(prompt, Qt::Key_Return, Qt::ShiftModifier);
    QTest::keyClicks(prompt, "And a square?");
    QCOMPARE(prompt->text(), QString("Is there a circle?\nAnd a square?"));
    // The CLI line names the system prompt even when it is none: the CLI's default is the model's own.
    QVERIFY2(page.cliEquivalent().contains("--system ''"), qPrintable(page.cliEquivalent()));
    QVERIFY(!page.busy());
    QSignalSpy replies(&page, &ChatPage::replyDone);
    QTest::keyClick(prompt, Qt::Key_Return);
    QVERIFY(page.busy());
    QCOMPARE(page.view(0)->messages().front().text, QString("Is there a circle?\nAnd a square?"));
    QVERIFY(prompt->text().isEmpty());
    QVERIFY(replies.wait(30000));
    QTRY_VERIFY(!page.busy());
  }

  void regenerateKeepsEveryVersionAndGoesOnFromTheOneShown() {
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.resetConversation();  // the engine keeps one conversation per model, shared by pages
    page.setMaxNewTokens(6);
    auto* temperature = page.findChild<QDoubleSpinBox*>("temperature");
    auto* seed = page.findChild<QSpinBox*>("seed");
    auto* regen = page.findChild<QPushButton*>("regenerate");
    temperature->setValue(1.0);
    seed->setValue(5);
    const ChatReplyInfo v1 = askAndWait(page, "What colour is the circle?");
    QCOMPARE(page.replyVersionCount(), 1);
    // Regenerate says it is at work, and the reply being written is a new version beside the old.
    QSignalSpy replies(&page, &ChatPage::replyDone);
    page.regenerate();
    QCOMPARE(regen->text(), QString("Regenerating…"));
    QCOMPARE(page.replyVersionCount(), 2);
    QVERIFY(page.view(0)->messages().back().streaming);
    QVERIFY(replies.wait(30000));
    QTRY_VERIFY(!page.busy());
    QCOMPARE(regen->text(), QString("Regenerate"));
    const ChatReplyInfo v2 = replies.last().at(1).value<ChatReplyInfo>();
    const ChatReplyInfo v3 = regenerateAndWait(page);
    QCOMPARE(page.replyVersionCount(), 3);
    QCOMPARE(page.view(0)->currentVersion(), 2);
    QVERIFY2(v1.ids != v2.ids && v2.ids != v3.ids, "new seeds draw new replies");
    QCOMPARE(page.view(0)->messages().size(), 2);  // one question, one reply shown
    QCOMPARE(page.view(0)->messages().back().text, v3.text);

    // Back to the first version: shown, and the conversation continues from it.
    QSignalSpy failures(m_engine, &EngineController::failed);
    page.showReplyVersion(0);
    QCOMPARE(page.view(0)->messages().back().text, v1.text);
    QCOMPARE(page.view(0)->version(1).text, v2.text);
    temperature->setValue(0);
    const ChatReplyInfo followUp = askAndWait(page, "And the square?");
    QCOMPARE(page.replyVersionCount(), 1);  // a new exchange: the earlier reply is settled
    QCOMPARE(page.view(0)->messages().at(1).text, v1.text);

    // The same conversation without regenerating: the same follow-up, token for token.
    page.resetConversation();
    temperature->setValue(1.0);
    seed->setValue(5);
    QCOMPARE(askAndWait(page, "What colour is the circle?").ids, v1.ids);
    temperature->setValue(0);
    const ChatReplyInfo expected = askAndWait(page, "And the square?");
    QCOMPARE(failures.count(), 0);
    QCOMPARE(followUp.ids, expected.ids);
    QCOMPARE(followUp.cacheBytes, expected.cacheBytes);
    QCOMPARE(followUp.promptTokens, expected.promptTokens);
  }

  void newChatAsksBeforeDroppingAnUnsavedConversation() {
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.setMaxNewTokens(3);
    page.show();
    auto* newChat = page.findChild<QPushButton*>("newChat");
    QVERIFY(!page.hasUnsavedConversation());
    newChat->click();  // nothing to lose: no question (a question here would block the test)
    askAndWait(page, "Is there a red circle?");
    QVERIFY(page.hasUnsavedConversation());
    answerNextMessageBox(QMessageBox::Cancel);
    newChat->click();
    QCOMPARE(page.view(0)->messages().size(), 2);  // kept
    answerNextMessageBox(QMessageBox::Discard);
    newChat->click();
    QVERIFY(page.view(0)->messages().isEmpty());
    QVERIFY(!page.hasUnsavedConversation());

    // Saved once, then a new reply: Save writes the same file again before clearing.
    askAndWait(page, "Is there a red circle?");
    const QString file = m_dir.filePath("conversation.json");
    QString error;
    QVERIFY2(page.saveConversation(file, &error), qPrintable(error));
    QVERIFY(!page.hasUnsavedConversation());
    askAndWait(page, "And a blue square?");
    QVERIFY(page.hasUnsavedConversation());
    answerNextMessageBox(QMessageBox::Save);
    newChat->click();
    QVERIFY(page.view(0)->messages().isEmpty());
    QFile saved(file);
    QVERIFY(saved.open(QIODevice::ReadOnly));
    QVERIFY2(saved.readAll().contains("And a blue square?"), "Save wrote the conversation as it was");
  }

  void aGeneratedScenesAnswerIsShownAndTheReplyMarkedRightOrWrong() {
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.resetConversation();
    page.setMaxNewTokens(3);
    page.imageDrop()->makeScene(11);
    QVERIFY(page.imageDrop()->scene());
    const std::optional<std::string> truth = mm::data::answer_question({*page.imageDrop()->scene()}, "How many objects are there?");
    QVERIFY(truth);
    const ChatReplyInfo r = askAndWait(page, "How many objects are there?");
    const ConversationView::Message& reply = page.view(0)->messages().back();
    QCOMPARE(reply.truth, QString::fromStdString(*truth));
    QCOMPARE(ConversationView::matchesTruth(reply), mm::normalise_answer(r.text.toStdString()) == *truth);
    QTRY_VERIFY(page.view(0)->toPlainText().contains("truth: " + QString::fromStdString(*truth)));
    QTRY_VERIFY(page.view(0)->toPlainText().contains(ConversationView::matchesTruth(reply) ? "✓ right" : "✗ wrong"));
    // The same words from the model would be right, other words wrong (normalised as the eval scores).
    ConversationView::Message same = reply;
    same.text = " " + QString::fromStdString(*truth).toUpper() + ".";
    QVERIFY(ConversationView::matchesTruth(same));
    same.text = "many";
    QVERIFY(!ConversationView::matchesTruth(same));
    // A question the scene cannot answer has no truth.
    askAndWait(page, "What colour is the dragon?");
    QVERIFY(page.view(0)->messages().back().truth.isEmpty());
    // An image of unknown content (pasted, opened): no truth from then on.
    QImage plain(64, 64, QImage::Format_RGB888);
    plain.fill(Qt::gray);
    page.imageDrop()->setImage(plain, "pasted");
    QVERIFY(!page.imageDrop()->scene());
    askAndWait(page, "How many objects are there?");
    QVERIFY(page.view(0)->messages().back().truth.isEmpty());
  }

  void closingTheWindowAsksToo() {
    MainWindow window(m_engine);
    QVERIFY(!window.chatPage()->autosaveDir().isEmpty());  // the studio autosaves...
    window.chatPage()->setAutosaveDir({});                  // ...without it, closing asks
    window.chatPage()->addModel("student", m_student, true);
    window.chatPage()->setMaxNewTokens(3);
    window.show();
    askAndWait(*window.chatPage(), "Is there a red circle?");
    answerNextMessageBox(QMessageBox::Cancel);
    QVERIFY(!window.close());
    QVERIFY(window.isVisible());
    answerNextMessageBox(QMessageBox::Discard);
    QVERIFY(window.close());
  }

  // With autosave every conversation gets a file of its own after each turn: New chat asks nothing
  // and loses nothing, the list (Load…) has them newest first, and a loaded one goes on in its own file.
  void autosaveKeepsEveryConversationInTheHistory() {
    QTemporaryDir dir;
    ChatPage page(m_engine);
    page.addModel("student", m_student, true);
    page.setMaxNewTokens(3);
    page.setAutosaveDir(dir.path());
    page.show();
    askAndWait(page, "Is there a red circle?");
    const QString first = page.autosavePath();
    QVERIFY(QFile::exists(first));
    askAndWait(page, "And a blue square?");
    QCOMPARE(page.autosavePath(), first);  // one file per conversation
    QVERIFY(page.hasUnsavedConversation());
    QVERIFY(page.confirmDiscard());  // no question: the file holds it (a question would block here)
    page.findChild<QPushButton*>("newChat")->click();
    QVERIFY(page.view(0)->messages().isEmpty());
    QVERIFY(page.autosavePath().isEmpty());
    askAndWait(page, "How many things are there?");
    const QString second = page.autosavePath();
    QVERIFY(!second.isEmpty() && second != first);

    const QVector<ConversationsDialog::Entry> entries = ConversationsDialog::list(dir.path());
    QCOMPARE(entries.size(), 2);
    QCOMPARE(entries[0].path, second);  // newest first
    QCOMPARE(entries[0].firstQuestion, QString("How many things are there?"));
    QCOMPARE(entries[1].messages, 4);
    QCOMPARE(entries[1].models, QStringList{"student"});

    QString error;
    QVERIFY2(page.loadConversation(first, &error), qPrintable(error));
    QCOMPARE(page.view(0)->messages().size(), 4);
    QCOMPARE(page.autosavePath(), first);
    askAndWait(page, "And now?");
    QCOMPARE(ConversationsDialog::list(dir.path()).size(), 2);
    QFile f(first);
    QVERIFY(f.open(QIODevice::ReadOnly) && f.readAll().contains("And now?"));
  }
};

QTEST_MAIN(TestChatPage)
#include "test_chatpage.moc"
