#include "widgets/selftestdialog.h"

#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QTableWidget>
#include <QVBoxLayout>

#include "controller/enginecontroller.h"

namespace {

const QColor kFailColor{200, 40, 40};
const QColor kSkipColor{120, 120, 120};

QTableWidgetItem* cell(const QString& text, Qt::Alignment align = Qt::AlignLeft | Qt::AlignVCenter) {
  auto* item = new QTableWidgetItem(text);
  item->setTextAlignment(align);
  item->setFlags(item->flags() & ~Qt::ItemIsEditable);
  return item;
}

}  // namespace

SelfTestDialog::SelfTestDialog(EngineController* engine, QWidget* parent) : QDialog(parent), m_engine(engine) {
  setWindowTitle(tr("Self-test of the fast paths"));
  auto* intro = new QLabel(tr("Each fast path (a CUDA kernel, cuDNN or SDPA flash attention) runs a small input and is "
                              "compared with its plain reference. A fast path that disagrees is switched off for "
                              "this session, and its op runs on the reference. The same table: mmmamba selftest."));
  intro->setWordWrap(true);
  m_summary = new QLabel;
  m_summary->setObjectName("selfTestSummary");
  m_summary->setWordWrap(true);
  m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_table = new QTableWidget(0, 6);
  m_table->setObjectName("selfTestTable");
  m_table->setHorizontalHeaderLabels({tr("Op"), tr("Case"), tr("Path"), tr("Max diff"), tr("Budget"), tr("Result")});
  m_table->verticalHeader()->hide();
  m_table->setAlternatingRowColors(true);
  m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
  m_again = new QPushButton(tr("Run again"));
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
  buttons->addButton(m_again, QDialogButtonBox::ActionRole);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  connect(m_again, &QPushButton::clicked, this, [this] { run(); });
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(intro);
  layout->addWidget(m_summary);
  layout->addWidget(m_table, 1);
  layout->addWidget(buttons);
  resize(900, 560);

  connect(engine, &EngineController::selfTestFinished, this, [this](quint64 id, const SelfTestSummary& s) {
    if (id != m_job) return;
    m_job = 0;
    showSummary(s);
  });
  connect(engine, &EngineController::failed, this, [this](quint64 id, const QString& message) {
    if (id != m_job) return;
    m_job = 0;
    m_again->setEnabled(true);
    m_summary->setText(tr("The self-test could not run: %1").arg(message));
  });
}

QString SelfTestDialog::headline(const SelfTestSummary& s) {
  const int ran = s.passed + s.failed;
  QString text = s.failed == 0 ? tr("%1 of %2 cases agree with their references").arg(s.passed).arg(ran)
                               : tr("%1 of %2 cases disagree with their references").arg(s.failed).arg(ran);
  if (s.skipped > 0) text += tr(" (%1 skipped)").arg(s.skipped);
  if (!s.turnedOff.isEmpty()) text += tr("; now on the reference: %1").arg(s.turnedOff.join(", "));
  return text;
}

QString SelfTestDialog::summaryText() const { return m_summary->text(); }

void SelfTestDialog::run(const QString& onlyOp) {
  m_table->setRowCount(0);
  m_summary->setText(tr("Checking each fast path on %1…").arg(m_engine->deviceDescription()));
  m_again->setEnabled(false);
  m_job = m_engine->runSelfTest(onlyOp);
}

void SelfTestDialog::showSummary(const SelfTestSummary& s) {
  m_again->setEnabled(true);
  int fast = 0;
  for (const SelfTestRow& r : s.rows) fast += !r.skipped && r.path != "reference";
  QString text = QString("<b>%1</b><br>%2").arg(headline(s).toHtmlEscaped(), s.device.toHtmlEscaped());
  if (fast == 0)
    text += "<br>" + tr("No fast path runs here: every case took its reference (the fast paths are CUDA's).").toHtmlEscaped();
  m_summary->setText(text);
  m_table->setRowCount(int(s.rows.size()));
  const Qt::Alignment right = Qt::AlignRight | Qt::AlignVCenter;
  for (int i = 0; i < s.rows.size(); ++i) {
    const SelfTestRow& r = s.rows[i];
    m_table->setItem(i, 0, cell(r.op));
    m_table->setItem(i, 1, cell(r.label));
    m_table->setItem(i, 2, cell(r.skipped ? QString("-") : r.path));
    m_table->setItem(i, 3, cell(r.skipped ? QString() : QString::number(r.maxDiff, 'g', 3), right));
    m_table->setItem(i, 4, cell(r.skipped ? QString() : QString::number(r.budget, 'g', 3), right));
    QTableWidgetItem* verdict = cell(r.skipped ? tr("skipped: %1").arg(r.note) : r.passed ? tr("ok") : tr("FAIL"));
    if (r.skipped) verdict->setForeground(kSkipColor);
    if (!r.skipped && !r.passed) {
      verdict->setForeground(kFailColor);
      QFont bold = verdict->font();
      bold.setBold(true);
      verdict->setFont(bold);
    }
    m_table->setItem(i, 5, verdict);
  }
}
