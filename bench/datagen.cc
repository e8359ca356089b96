// datagen: writes workspace-shaped JSON Lines for `portcullis import`.
//   datagen [--scale small|medium|large] [--seed N] [--users N]
//           [--files-per-group N] > data.jsonl
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

#include "bench/datagen_lib.h"

int main(int argc, char** argv) {
  using namespace portcullis;
  bench::DatagenOptions opts = *bench::ScaleOptions("small");
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (value == nullptr) {
      std::fprintf(stderr, "datagen: %s needs a value\n", arg.c_str());
      return 2;
    }
    ++i;
    if (arg == "--scale") {
      const uint64_t seed = opts.seed;
      auto o = bench::ScaleOptions(value);
      if (!o) {
        std::fprintf(stderr, "datagen: unknown scale %s\n", value);
        return 2;
      }
      opts = *o;
      opts.seed = seed;
    } else if (arg == "--seed") {
      opts.seed = std::strtoull(value, nullptr, 10);
    } else if (arg == "--users") {
      opts.users = std::strtoull(value, nullptr, 10);
    } else if (arg == "--files-per-group") {
      opts.files_per_group = std::strtoull(value, nullptr, 10);
    } else {
      std::fprintf(stderr, "datagen: unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  std::ios::sync_with_stdio(false);
  bench::Generate(opts, [](const storage::JsonlRecord& r) {
    std::cout << storage::FormatJsonlRecord(r) << '\n';
  });
  std::cout.flush();
  return std::cout ? 0 : 1;
}
