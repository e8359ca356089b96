// A deterministic generator of workspace-shaped data (the benchmark input of
// issues 3 and 6), for the workspace policy (policies/workspace.yaml):
//
//   accounts (one per 10 groups), each with an account administrator;
//   groups whose sizes are Zipf-like twice over: a few groups hold most
//     members and most content, most groups are small;
//   folders (a tenth of each group's resources) nested up to 8 deep;
//   files (the rest), each with an `owner` attribute naming a contributor
//     of its group, so the owner condition of `delete` has work to do;
//   users with `department` and `email` attributes, each in 1 to
//     `max_groups_per_user` groups with different permission sets
//     (administrator, content_creator, member);
//   a content_creator share on half the folders of a group for one member;
//   1% of files with an override: half a raise (content_creator on the file),
//     half a restriction, for one member of the file's group;
//   pending invitations (one per 100 users) to e-mail addresses.
//
// The same options always give the same records in the same order, parents
// before children and subjects before their bindings. The generator also
// samples requests of every kind the benchmarks use (DatagenRefs), from a
// random stream of its own so that asking for them does not change the data.
#ifndef PORTCULLIS_BENCH_DATAGEN_LIB_H_
#define PORTCULLIS_BENCH_DATAGEN_LIB_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/jsonl.h"

namespace portcullis::bench {

struct DatagenOptions {
  uint64_t seed = 1;
  uint64_t users = 1000;
  uint64_t groups = 50;
  uint64_t resources = 10000;  // folders and files, over all groups
  uint32_t max_groups_per_user = 5;
};

// small: 1k users, 10k resources; medium: 100k users, 1M resources;
// large: 1M users, 10M resources (and about as many bindings).
std::optional<DatagenOptions> ScaleOptions(const std::string& scale);

// One request of a benchmark mix. `action` is empty for "what may the
// subject do here" (actions); `resource` names a type for lookups.
struct DatagenRequest {
  std::string subject;
  std::string action;
  std::string resource;
};

// Requests drawn from the generated data, by kind (up to `kRefsPerKind`
// each; a kind may have fewer on tiny data sets):
//   hit        a member views a file of their group (allowed)
//   miss       a user views a file of a group they are not in (denied)
//   deep       a member views a file 6-8 folders below the group
//   override   the member holding a raise (edit: allowed) or a restriction
//              (view or edit: denied) on that file
//   condition  a content creator deletes a file of their group: allowed
//              only for its owner (half of these are the owner)
//   actions    a member asks what they may do on a file of their group
//   lookup_small / lookup_large   "which files may X view": a member of a
//              single small group / a member of the largest group
struct DatagenRefs {
  static constexpr size_t kRefsPerKind = 4096;
  std::vector<DatagenRequest> hit, miss, deep, override_, condition, actions,
      lookup_small, lookup_large;
};

// Calls `emit` for every record, parents before children; fills `refs` if
// given.
void Generate(const DatagenOptions& options,
              const std::function<void(const storage::JsonlRecord&)>& emit,
              DatagenRefs* refs = nullptr);

// The refs as bench/loadgen_mixes.py reads them (--refs): an object keyed by
// mix kind (check_hit, ..., actions, lookup_small, lookup_large).
std::string FormatRefsJson(const DatagenRefs& refs);

}  // namespace portcullis::bench

#endif  // PORTCULLIS_BENCH_DATAGEN_LIB_H_
