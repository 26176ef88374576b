#include "widgets/scenedatadialog.h"

#include <QCheckBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QStandardPaths>

#include <algorithm>

#include "runtime/errors.h"
#include "widgets/messages.h"
#include "widgets/textscale.h"

SceneDataDialog::SceneDataDialog(QWidget* parent) : QDialog(parent) {
  setWindowTitle(tr("Generate scene data"));
  auto* form = new QFormLayout(this);
  m_dir = new QLineEdit;
  m_dir->setObjectName("sceneDataDir");
  auto* browse = new QPushButton(tr("…"));
  browse->setMaximumWidth(ui::scaledPx(32));
  auto* dirRow = new QHBoxLayout;
  dirRow->addWidget(m_dir, 1);
  dirRow->addWidget(browse);
  form->addRow(tr("Directory"), dirRow);
  auto spin = [](int lo, int hi, int value) {
    auto* s = new QSpinBox;
    s->setRange(lo, hi);
    s->setValue(value);
    s->setGroupSeparatorShown(true);
    return s;
  };
  m_train = spin(1, 1000000, 3000);
  m_val = spin(1, 100000, 200);
  m_seed = spin(0, 1 << 30, 0);
  m_side = spin(28, 896, 112);
  m_side->setSingleStep(28);
  m_side->setSuffix(tr(" px"));
  m_side->setToolTip(tr("The demo models read 112 px tiles"));
  m_questions = spin(1, 8, 3);
  m_questions->setToolTip(tr("Turns per train conversation about the same image(s); val has one"));
  form->addRow(tr("Train conversations"), m_train);
  form->addRow(tr("Val conversations"), m_val);
  form->addRow(tr("Questions per scene"), m_questions);
  auto* families = new QGridLayout;
  int i = 0;
  for (mm::data::Family f : mm::data::all_families()) {
    auto* box = new QCheckBox(QString::fromUtf8(mm::data::family_name(f)));
    box->setChecked(true);
    box->setProperty("family", int(f));
    m_families << box;
    families->addWidget(box, i / 4, i % 4);
    ++i;
  }
  form->addRow(tr("Question families"), families);
  form->addRow(tr("Seed"), m_seed);
  form->addRow(tr("Image size"), m_side);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Generate"));
  form->addRow(buttons);

  m_dir->setText(defaultDirectory());
  // Wide enough for the suggested path (it was cut at both ends in a 430 px dialog).
  m_dir->setMinimumWidth(std::min(ui::scaledPx(560), m_dir->fontMetrics().horizontalAdvance(m_dir->text()) + 24));
  connect(m_dir, &QLineEdit::textEdited, this, [this] { m_dirEdited = true; });
  for (QSpinBox* s : {m_train, m_seed})
    connect(s, &QSpinBox::valueChanged, this, [this] {
      if (!m_dirEdited) m_dir->setText(defaultDirectory());
    });
  connect(browse, &QPushButton::clicked, this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Directory for the scene data"), m_dir->text());
    if (!d.isEmpty()) m_dir->setText(d), m_dirEdited = true;
  });
  connect(buttons, &QDialogButtonBox::accepted, this, &SceneDataDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
}

QString SceneDataDialog::defaultDirectory() const {
  return QStandardPaths::writableLocation(QStandardPaths::AppLocalDataLocation) +
         QString("/data/scenes-%1-s%2").arg(m_train->value()).arg(m_seed->value());
}

QString SceneDataDialog::directory() const { return m_dir->text().trimmed(); }
void SceneDataDialog::setDirectory(const QString& dir) { m_dir->setText(dir), m_dirEdited = true; }
void SceneDataDialog::setCounts(int train, int val) { m_train->setValue(train), m_val->setValue(val); }

std::vector<mm::data::SceneDataOptions> SceneDataDialog::splits() const {
  if (directory().isEmpty()) throw mm::InputError("no directory chosen", "type or browse to a directory for the data");
  mm::data::SceneDataOptions train;
  train.out_dir = directory().toStdString();
  train.split = "train";
  train.count = m_train->value();
  train.seed = uint64_t(m_seed->value());
  train.image_side = m_side->value();
  train.questions_per_scene = m_questions->value();
  train.families.clear();
  for (QCheckBox* box : m_families)
    if (box->isChecked()) train.families.push_back(mm::data::Family(box->property("family").toInt()));
  if (train.families.empty()) throw mm::InputError("no question family is checked", "check at least one family");
  mm::data::SceneDataOptions val = train;
  val.split = "val";
  val.count = m_val->value();
  val.seed = train.seed + 1;
  val.questions_per_scene = 1;
  mm::data::validate(train);
  mm::data::validate(val);
  return {train, val};
}

void SceneDataDialog::accept() {
  try {
    (void)splits();
  } catch (const mm::Error& e) {
    ui::showError(this, tr("Cannot generate scene data"), QString::fromStdString(e.full_message()));
    return;
  }
  QDialog::accept();
}
