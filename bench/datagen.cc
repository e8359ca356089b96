// datagen: writes workspace-shaped JSON Lines for `portcullis import`.
//   datagen [--scale small|medium|large] [--seed N] [--users N]
//           [--groups N] [--resources N] [--out DIR] > data.jsonl
// With --out, writes DIR/workspace.jsonl, a copy of the workspace policy
// (DIR/workspace.yaml) and requests sampled from the data for the benchmark
// mixes (DIR/refs.json, see bench/loadgen_mixes.py) instead of standard
// output, as bench/run_bench.sh expects. On a terminal, a progress line
// counts the records written.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <unistd.h>

#include "bench/datagen_lib.h"

int main(int argc, char** argv) {
  using namespace portcullis;
  bench::DatagenOptions opts = *bench::ScaleOptions("small");
  std::string out_dir;
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
    } else if (arg == "--out") {
      out_dir = value;
    } else if (arg == "--groups") {
      opts.groups = std::strtoull(value, nullptr, 10);
    } else if (arg == "--resources") {
      opts.resources = std::strtoull(value, nullptr, 10);
    } else {
      std::fprintf(stderr, "datagen: unknown flag %s\n", arg.c_str());
      return 2;
    }
  }
  std::ios::sync_with_stdio(false);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    file.open(out_dir + "/workspace.jsonl", std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "datagen: cannot write in %s\n", out_dir.c_str());
      return 1;
    }
    out = &file;
    std::filesystem::copy_file(
        PORTCULLIS_SOURCE_DIR "/policies/workspace.yaml",
        out_dir + "/workspace.yaml",
        std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) {
      std::fprintf(stderr, "datagen: cannot copy the workspace policy: %s\n",
                   ec.message().c_str());
      return 1;
    }
  }
  const bool progress = ::isatty(STDERR_FILENO) != 0;
  uint64_t written = 0;
  bench::DatagenRefs refs;
  bench::Generate(
      opts,
      [&](const storage::JsonlRecord& r) {
        *out << storage::FormatJsonlRecord(r) << '\n';
        if (progress && ++written % 100000 == 0) {
          std::fprintf(stderr, "\rdatagen: %llu records",
                       static_cast<unsigned long long>(written));
        }
      },
      out_dir.empty() ? nullptr : &refs);
  if (progress) std::fprintf(stderr, "\n");
  out->flush();
  if (!*out) return 1;
  if (!out_dir.empty()) {
    std::ofstream refs_file(out_dir + "/refs.json", std::ios::binary);
    refs_file << bench::FormatRefsJson(refs);
    if (!refs_file) {
      std::fprintf(stderr, "datagen: cannot write %s/refs.json\n",
                   out_dir.c_str());
      return 1;
    }
  }
  return 0;
}
