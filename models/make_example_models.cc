// Writes the bundled example models into a folder (default: models/ of the
// source tree, passed by CMake). Usage: make_example_models [OUT_DIR]
#include <cstdio>
#include <string>

#include "models/example_models.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  for (const tessera::models::ExampleModel& model : tessera::models::ExampleModels()) {
    tessera::ModelBuilder b;
    model.build(b);
    std::string error;
    const std::string path = dir + "/" + model.file;
    if (!b.Save(path, &error)) {
      std::fprintf(stderr, "make_example_models: %s: %s\n", model.file, error.c_str());
      return 1;
    }
    std::printf("wrote %s\n", path.c_str());
  }
  return 0;
}
