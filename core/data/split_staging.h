// A dataset split written beside the live one and swapped in only when complete, so an interrupted or
// disk-full make-data leaves the previous split (its JSONL and its pictures) as it was.
//   DIR/.staging-<split>-PID/<split>.jsonl, images/<split>/...   while writing
//   DIR/<split>.jsonl, DIR/images/<split>/                        after commit()
#pragma once

#include <string>

namespace mm::data {

class SplitStaging {
 public:
  /// Creates the staging directory. First finishes or undoes a commit that a killed run left halfway
  /// (images/.<split>.old-PID), then removes staging directories that killed runs left behind.
  SplitStaging(const std::string& out_dir, const std::string& split);
  /// Removes the staging directory unless commit() ran.
  ~SplitStaging();
  SplitStaging(const SplitStaging&) = delete;
  SplitStaging& operator=(const SplitStaging&) = delete;

  /// Where to write the split, in its final layout (images/<split>/ is created).
  const std::string& dir() const { return dir_; }
  /// Moves images/<split>/ and every top-level file of the staging directory into place, replacing the
  /// old split: the old pictures go only after the new ones are in place.
  void commit();

 private:
  std::string out_, split_, dir_;
  bool committed_ = false;
};

}  // namespace mm::data
