// A small command-line parser: positionals, --name value, --name=value, repeatable options and flags,
// each declared with its help line, so every command prints accurate --help.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace mm::cli {

struct OptionSpec {
  std::string name;   ///< without dashes
  std::string value;  ///< value placeholder ("N", "DIR"); empty for a flag
  std::string help;
  std::string fallback;  ///< default shown in help and returned by get()
  bool repeat = false;
};

class Args {
 public:
  Args(std::string command, std::string usage, std::string summary, std::vector<OptionSpec> options);
  /// Parses argv after the command name. Throws mm::InputError on unknown options or missing values.
  void parse(const std::vector<std::string>& argv);
  bool help_requested() const { return help_; }
  std::string help_text() const;

  const std::vector<std::string>& positionals() const { return positionals_; }
  /// The positional at i, or an InputError naming `what`.
  std::string positional(size_t i, const char* what) const;
  bool has(const std::string& name) const;
  std::string get(const std::string& name) const;
  std::vector<std::string> all(const std::string& name) const;
  bool flag(const std::string& name) const { return has(name); }
  long long get_int(const std::string& name) const;
  /// get_int, refused with the range in the message when outside [lo, hi].
  long long get_int_in(const std::string& name, long long lo, long long hi) const;
  /// A finite number: nan and inf are refused.
  double get_double(const std::string& name) const;

 private:
  const OptionSpec& spec(const std::string& name) const;

  std::string command_, usage_, summary_;
  std::vector<OptionSpec> options_;
  std::vector<std::string> positionals_;
  std::map<std::string, std::vector<std::string>> values_;
  bool help_ = false;
};

}  // namespace mm::cli
