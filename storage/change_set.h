// ChangeSet: everything one committed revision changed, as the final images
// of the records it touched. It is the one unit in which changes leave a
// Store: the commit listener (the decision index) receives one per revision,
// a WriteGate (a source of truth such as PostgreSQL) receives one before the
// local commit, and a replica applies one with Store::Apply. Also the
// changelog's own types (Change, ChangelogEntry), which a ChangeSet carries.
//
// Thread safety: plain values; the functions are pure and safe from any
// thread.
//
// Invariants:
//   1. `records` is sorted by (table, key), each key at most once, and holds
//      the state after the commit: a value exactly as stored (the codecs of
//      storage/layout.h), or nullopt for a record that no longer exists.
//      Only primary records appear; the secondary indexes (children, by
//      type, access by resource, invitations by resource or invitee) follow
//      from them.
//   2. entry.revision == revision.
//   3. DecodeChangeSet(EncodeChangeSet(cs)) == cs; DecodeChangeSet refuses
//      (kInvalidArgument) any input EncodeChangeSet of this format version
//      did not produce, and never reads past its input.
#ifndef PORTCULLIS_STORAGE_CHANGE_SET_H_
#define PORTCULLIS_STORAGE_CHANGE_SET_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace portcullis::storage {

using Revision = uint64_t;

// One item of a changelog entry. `op` names what was done:
//   "resource.put", "resource.move" (related = new parent),
//   "resource.delete" (the whole subtree and everything attached to it),
//   "subject.put", "subject.delete", "binding.set", "binding.remove"
//   (entity = subject, related = resource), "restriction.set",
//   "restriction.remove", "invitation.create", "invitation.state"
//   (entity = invitation id, related = new state name).
struct Change {
  std::string op;
  std::string entity;
  std::string related;
  friend bool operator==(const Change&, const Change&) = default;
};

struct ChangelogEntry {
  Revision revision = 0;
  TimestampMicros time = 0;
  std::string actor;  // "type:id", or empty for system writes (import)
  std::vector<Change> changes;
  bool truncated = false;    // more changes were made than recorded
  uint64_t change_count = 0;  // how many changes were made in all
  friend bool operator==(const ChangelogEntry&,
                         const ChangelogEntry&) = default;
};

// The primary tables of storage/layout.h.
enum class Table : uint8_t {
  kResources = 0,
  kSubjects = 1,
  kAccess = 2,
  kInvitations = 3,
};
inline constexpr uint8_t kTableCount = 4;
std::string_view TableName(Table t);  // "resources", "subjects", ...

// One record's state after a commit.
struct RecordChange {
  Table table = Table::kResources;
  // The record's key: "type:id" (resources, subjects), "subject\0resource"
  // (access), the invitation id (invitations).
  std::string key;
  // The record as stored; nullopt: it was deleted (or never existed).
  std::optional<std::string> value;
  friend bool operator==(const RecordChange&, const RecordChange&) = default;
};

struct ChangeSet {
  Revision revision = 0;  // the revision this commit creates
  ChangelogEntry entry;   // recorded in the changelog with it
  std::vector<RecordChange> records;
  friend bool operator==(const ChangeSet&, const ChangeSet&) = default;
};

// A versioned binary form, for shipping change sets (a source's change log).
void EncodeChangeSet(const ChangeSet& cs, std::string* out);
Result<ChangeSet> DecodeChangeSet(std::string_view bytes);

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_CHANGE_SET_H_
