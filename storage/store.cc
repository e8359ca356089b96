// The free functions of store.h (invitation states, invitation ids) and the
// helpers store_internal.h declares for the other storage/*.cc files.
#include "storage/store.h"

#include <random>

#include "storage/store_internal.h"

namespace portcullis::storage {
namespace internal {

Status LmdbError(std::string_view what, int rc) {
  std::string msg = "lmdb ";
  msg.append(what).append(": ").append(mdb_strerror(rc));
  if (rc == MDB_READERS_FULL) {
    return Status(StatusCode::kUnavailable,
                  msg + " (raise StoreOptions::max_readers)");
  }
  return Status::Internal(std::move(msg));
}

BindingRecord MakeBinding(std::string_view subject, std::string_view resource,
                          const layout::AccessValue& a) {
  BindingRecord b;
  b.subject = std::string(subject);
  b.resource = std::string(resource);
  b.roles = layout::Unpack(a.roles);
  b.state = a.state;
  b.expires_at = a.expires_at;
  b.created_by = std::string(a.created_by);
  b.created_at = a.created_at;
  return b;
}

AccessRecord MakeAccess(std::string_view subject, std::string_view resource,
                        const layout::AccessValue& a) {
  AccessRecord r;
  r.subject = std::string(subject);
  r.resource = std::string(resource);
  if (a.flags & layout::kHasBinding) {
    r.binding = MakeBinding(subject, resource, a);
  }
  if (a.flags & layout::kHasRestriction) {
    r.restriction =
        RestrictionRecord{r.subject, r.resource, layout::Unpack(a.actions)};
  }
  return r;
}

Status CheckLimit(size_t limit) {
  if (limit == 0)
    return Status::InvalidArgument("limit must be at least 1", "limit");
  return Status::Ok();
}

}  // namespace internal

std::string_view InvitationStateName(InvitationState s) {
  switch (s) {
    case InvitationState::kPending:
      return "pending";
    case InvitationState::kAccepted:
      return "accepted";
    case InvitationState::kDeclined:
      return "declined";
    case InvitationState::kRevoked:
      return "revoked";
    case InvitationState::kExpired:
      return "expired";
  }
  return "unknown";
}

std::optional<InvitationState> ParseInvitationState(std::string_view name) {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(InvitationState::kExpired);
       ++i) {
    const auto s = static_cast<InvitationState>(i);
    if (InvitationStateName(s) == name) return s;
  }
  return std::nullopt;
}

std::string GenerateInvitationId() {
  std::random_device rd;  // getrandom(2) / /dev/urandom on Linux
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(32);
  for (int i = 0; i < 4; ++i) {
    uint32_t x = rd();
    for (int j = 0; j < 8; ++j) {
      id.push_back(kHex[x & 15]);
      x >>= 4;
    }
  }
  return id;
}

}  // namespace portcullis::storage
