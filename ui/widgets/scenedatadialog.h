// The "Generate scene data" dialog: where, how many train and val conversations, which question
// families, the seed and the image size. The val split uses the next seed, so it never repeats a train
// scene's draw (scenes are also split by content hash, core/data/scene.h).
#pragma once

#include <QDialog>
#include <QList>

#include "data/scene.h"

class QCheckBox;
class QLineEdit;
class QSpinBox;

class SceneDataDialog : public QDialog {
  Q_OBJECT
 public:
  explicit SceneDataDialog(QWidget* parent = nullptr);

  /// The train and val splits as chosen; throws InputError (with a hint) on an invalid choice.
  std::vector<mm::data::SceneDataOptions> splits() const;
  QString directory() const;
  void setDirectory(const QString& dir);
  void setCounts(int train, int val);

 private:
  /// A folder name that says what is inside: "scenes-3000-s0" under the app's data directory.
  QString defaultDirectory() const;
  void accept() override;

  QLineEdit* m_dir;
  QSpinBox* m_train;
  QSpinBox* m_val;
  QSpinBox* m_seed;
  QSpinBox* m_side;
  QSpinBox* m_questions;
  QList<QCheckBox*> m_families;
  bool m_dirEdited = false;
};
