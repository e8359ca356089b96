// A deterministic generator of workspace-shaped data (issue 3's benchmark
// input): accounts, groups with Zipf-like sizes, folders nested up to 8
// deep, files, users with attributes, role bindings, 1% of files with a
// restriction or a raise, and some pending invitations. The same seed and
// scale always give the same records in the same order (parents first).
//
// Types and roles are those of the workspace policy: resources account,
// group, folder, file; subject user; roles account_administrator,
// administrator, content_creator, member.
#ifndef PORTCULLIS_BENCH_DATAGEN_LIB_H_
#define PORTCULLIS_BENCH_DATAGEN_LIB_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "storage/jsonl.h"

namespace portcullis::bench {

struct DatagenOptions {
  uint64_t seed = 1;
  uint64_t users = 1000;
  uint64_t groups = 0;            // 0: users / 20
  uint64_t folders_per_group = 4;
  uint64_t files_per_group = 20;
};

// "small" (1k users), "medium" (100k), "large" (1M); nullopt otherwise.
std::optional<DatagenOptions> ScaleOptions(const std::string& scale);

// Calls `emit` for every record, parents before children.
void Generate(const DatagenOptions& options,
              const std::function<void(const storage::JsonlRecord&)>& emit);

}  // namespace portcullis::bench

#endif  // PORTCULLIS_BENCH_DATAGEN_LIB_H_
