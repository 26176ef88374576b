#include "cli/args.h"

#include <cmath>

#include "runtime/errors.h"

namespace mm::cli {

Args::Args(std::string command, std::string usage, std::string summary, std::vector<OptionSpec> options)
    : command_(std::move(command)), usage_(std::move(usage)), summary_(std::move(summary)), options_(std::move(options)) {
  // Every command takes --threads (applied by parse_or_help).
  options_.push_back({"threads", "N", "CPU threads for the engine (auto: OMP_NUM_THREADS or every core; a recipe's "
                                      "\"threads\" sets its run's)", "auto"});
}

const OptionSpec& Args::spec(const std::string& name) const {
  for (const auto& o : options_)
    if (o.name == name) return o;
  throw InputError("mmmamba " + command_ + ": unknown option --" + name, "see mmmamba " + command_ + " --help");
}

void Args::parse(const std::vector<std::string>& argv) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "-h" || a == "--help") {
      help_ = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      positionals_.push_back(a);
      continue;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) value = name.substr(eq + 1), name = name.substr(0, eq);
    const OptionSpec& o = spec(name);
    if (o.value.empty()) {
      if (inline_value) throw InputError("mmmamba " + command_ + ": --" + name + " takes no value");
    } else if (!inline_value) {
      if (i + 1 >= argv.size())
        throw InputError("mmmamba " + command_ + ": --" + name + " needs a value (" + o.value + ")",
                         "see mmmamba " + command_ + " --help");
      value = argv[++i];
    }
    auto& slot = values_[name];
    if (!slot.empty() && !o.repeat)
      throw InputError("mmmamba " + command_ + ": --" + name + " given twice");
    slot.push_back(value);
  }
}

std::string Args::help_text() const {
  std::string s = "usage: mmmamba " + command_ + " " + usage_ + "\n\n" + summary_ + "\n";
  if (!options_.empty()) s += "\noptions:\n";
  for (const auto& o : options_) {
    std::string left = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
    if (left.size() < 28) left.resize(28, ' ');
    else left += "\n" + std::string(28, ' ');
    s += left + o.help;
    if (!o.fallback.empty()) s += " (default: " + o.fallback + ")";
    if (o.repeat) s += " (repeatable)";
    s += "\n";
  }
  s += "  -h, --help                show this help\n";
  return s;
}

std::string Args::positional(size_t i, const char* what) const {
  if (i >= positionals_.size())
    throw InputError("mmmamba " + command_ + ": missing " + what, "usage: mmmamba " + command_ + " " + usage_);
  return positionals_[i];
}

bool Args::has(const std::string& name) const { return values_.count(name) > 0; }

std::string Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second.front();
  return spec(name).fallback;
}

std::vector<std::string> Args::all(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& name) const {
  const std::string v = get(name);
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  throw InputError("mmmamba " + command_ + ": --" + name + " expects an integer, got '" + v + "'",
                   "write a whole number without a fraction or exponent, e.g. --" + name + " 100");
}

double Args::get_double(const std::string& name) const {
  const std::string v = get(name);
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size() && std::isfinite(x)) return x;
  } catch (const std::exception&) {
  }
  throw InputError("mmmamba " + command_ + ": --" + name + " expects a finite number, got '" + v + "'",
                   "see mmmamba " + command_ + " --help for its range");
}

long long Args::get_int_in(const std::string& name, long long lo, long long hi) const {
  const long long x = get_int(name);
  if (x < lo || x > hi)
    throw InputError("mmmamba " + command_ + ": --" + name + " must be " + std::to_string(lo) + " to " +
                         std::to_string(hi) + ", got " + std::to_string(x),
                     "see mmmamba " + command_ + " --help");
  return x;
}

}  // namespace mm::cli
