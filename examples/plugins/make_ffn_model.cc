// Writes the example plugin's model: make_ffn_model OUT.tess
#include <cstdio>
#include <string>

#include "examples/plugins/ffn_model.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_ffn_model OUT.tess\n");
    return 2;
  }
  tessera::ModelBuilder b;
  tessera::examples::BuildFfnBlock(b);
  std::string error;
  if (!b.Save(argv[1], &error)) {
    std::fprintf(stderr, "make_ffn_model: %s\n", error.c_str());
    return 1;
  }
  return 0;
}
