// Where the embedded demo models live: beside an installed binary, in the source tree of a build, or
// wherever MMMAMBA_MODELS points.
#pragma once

#include <string>
#include <vector>

namespace mm {

/// The directories searched, in order: $MMMAMBA_MODELS, <exe dir>/../share/mmmamba/models (installed),
/// the source tree's resources/models (a build run in place).
std::vector<std::string> embedded_model_roots();

/// The embedded model `name` ("demo-teacher", "demo-linear", "demo-hybrid") as a checkpoint directory,
/// or "" when no root holds it.
std::string find_embedded_model(const std::string& name);

/// A shipped example recipe (`name`.json, e.g. "demo-linear") from <exe dir>/../share/mmmamba/recipes
/// (installed) or the source tree's examples/recipes, or "" when neither holds it.
std::string find_shipped_recipe(const std::string& name);

/// The names of the embedded models, teacher first.
const std::vector<std::string>& embedded_model_names();

}  // namespace mm
