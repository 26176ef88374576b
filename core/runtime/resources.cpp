#include "runtime/resources.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace mm {
namespace fs = std::filesystem;

std::vector<std::string> embedded_model_roots() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("MMMAMBA_MODELS"); env && *env) roots.push_back(env);
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back((exe.parent_path().parent_path() / "share" / "mmmamba" / "models").string());
#ifdef MM_SOURCE_MODELS_DIR
  roots.push_back(MM_SOURCE_MODELS_DIR);
#endif
  return roots;
}

std::string find_embedded_model(const std::string& name) {
  for (const std::string& root : embedded_model_roots()) {
    std::error_code ec;
    const fs::path dir = fs::path(root) / name;
    if (fs::is_regular_file(dir / "config.json", ec)) return dir.string();
  }
  return {};
}

std::string find_shipped_recipe(const std::string& name) {
  std::vector<fs::path> roots;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(exe.parent_path().parent_path() / "share" / "mmmamba" / "recipes");
#ifdef MM_SOURCE_RECIPES_DIR
  roots.push_back(MM_SOURCE_RECIPES_DIR);
#endif
  for (const fs::path& root : roots)
    if (fs::is_regular_file(root / (name + ".json"), ec)) return (root / (name + ".json")).string();
  return {};
}

const std::vector<std::string>& embedded_model_names() {
  static const std::vector<std::string> names = {"demo-teacher", "demo-linear", "demo-hybrid"};
  return names;
}

}  // namespace mm
