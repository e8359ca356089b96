#include "storage/change_set.h"

#include "storage/layout.h"

namespace portcullis::storage {
namespace {

// "PCS" and the format version of the encoding below.
constexpr std::string_view kMagic = "PCS\x01";

}  // namespace

std::string_view TableName(Table t) {
  switch (t) {
    case Table::kResources: return "resources";
    case Table::kSubjects: return "subjects";
    case Table::kAccess: return "access";
    case Table::kInvitations: return "invitations";
  }
  return "unknown";
}

// magic, u64 revision, u32-length changelog entry (layout's codec), u64
// record count, then per record: u8 table, u8 present, u32-length key,
// [u32-length value].
void EncodeChangeSet(const ChangeSet& cs, std::string* out) {
  layout::Writer w(out);
  w.Raw(kMagic);
  w.Put<uint64_t>(cs.revision);
  std::string entry;
  layout::EncodeChangelog(cs.entry, &entry);
  w.Str32(entry);
  w.Put<uint64_t>(cs.records.size());
  for (const RecordChange& r : cs.records) {
    w.Put<uint8_t>(static_cast<uint8_t>(r.table));
    w.Put<uint8_t>(r.value ? 1 : 0);
    w.Str32(r.key);
    if (r.value) w.Str32(*r.value);
  }
}

Result<ChangeSet> DecodeChangeSet(std::string_view bytes) {
  auto bad = [](std::string_view why) {
    return Fail(Status::InvalidArgument("malformed change set: " +
                                        std::string(why)));
  };
  layout::Reader r(bytes);
  if (r.Bytes(kMagic.size()) != kMagic) return bad("unknown format");
  ChangeSet cs;
  cs.revision = r.Get<uint64_t>();
  const std::string_view entry = r.Str32();
  if (!r.ok()) return bad("truncated");
  auto decoded = layout::DecodeChangelog(cs.revision, entry);
  if (!decoded) return bad("bad changelog entry");
  // One encoding per change set: a flag byte other than 0 or 1 decodes,
  // but is not what EncodeChangeSet writes.
  std::string canonical;
  layout::EncodeChangelog(*decoded, &canonical);
  if (canonical != entry) return bad("non-canonical changelog entry");
  cs.entry = std::move(*decoded);
  const uint64_t n = r.Get<uint64_t>();
  // Each record takes at least 6 bytes: bound the count by the input.
  if (!r.ok() || n > bytes.size() / 6) return bad("bad record count");
  cs.records.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    RecordChange rc;
    const uint8_t table = r.Get<uint8_t>();
    const uint8_t present = r.Get<uint8_t>();
    if (table >= kTableCount || present > 1) return bad("bad record header");
    rc.table = static_cast<Table>(table);
    rc.key = std::string(r.Str32());
    if (present) rc.value = std::string(r.Str32());
    if (!r.ok()) return bad("truncated record");
    if (!cs.records.empty()) {
      const RecordChange& prev = cs.records.back();
      if (std::pair(prev.table, std::string_view(prev.key)) >=
          std::pair(rc.table, std::string_view(rc.key))) {
        return bad("records out of order");
      }
    }
    cs.records.push_back(std::move(rc));
  }
  if (!r.done()) return bad("trailing bytes");
  return cs;
}

}  // namespace portcullis::storage
