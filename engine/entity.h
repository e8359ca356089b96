// EntityRef: a non-owning reference to a subject or resource, "type:id",
// and the rule for which characters entity ids and type names may hold.
//
// Thread safety: EntityRef is a plain value; a const one may be read from
// any number of threads. The functions here are pure.
//
// Invariants:
//  1. An EntityRef owns nothing: `type` and `id` view memory that must
//     outlive it.
//  2. A stored `type` never contains ':' (storage::layout::CheckName refuses
//     it), so "type:id" splits at its first colon and
//     ParseEntityRef(ToString()) gives back the same ref when both halves are
//     non-empty.
#ifndef PORTCULLIS_ENGINE_ENTITY_H_
#define PORTCULLIS_ENGINE_ENTITY_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/utf8.h"

namespace portcullis::engine {

// Names one entity by its type and its id within that type. It does not own
// its characters: it is valid only while the string it views lives (a request
// body, a policy, or a storage transaction).
struct EntityRef {
  std::string_view type;
  std::string_view id;

  bool empty() const { return type.empty() && id.empty(); }
  std::string ToString() const {
    std::string s;
    s.reserve(type.size() + 1 + id.size());
    s.append(type).append(":").append(id);
    return s;
  }
  friend bool operator==(const EntityRef&, const EntityRef&) = default;
};

// Splits "type:id" at the first colon. Returns nullopt if either side is
// empty or there is no colon. The id may itself contain colons
// ("email:a@b.c" has id "a@b.c"; "doc:x:y" has id "x:y").
inline std::optional<EntityRef> ParseEntityRef(std::string_view text) {
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 ||
      colon + 1 == text.size()) {
    return std::nullopt;
  }
  return EntityRef{text.substr(0, colon), text.substr(colon + 1)};
}

// The characters an entity id or type name may hold, one rule that every
// write applies (storage::layout::CheckRef/CheckName, hence the data API,
// the workflows and import): valid UTF-8 without '/', without ASCII control
// characters (0x00-0x1F, 0x7F) and without spaces. '/' is excluded so that
// every id can be one segment of an API path (/v1/resources/{type}/{id});
// control characters and spaces so that ids print unambiguously in logs,
// error messages and the CLI. Lengths are checked by the caller (storage
// keys have their own limits). Returns an empty view if `name` is
// acceptable, else what is wrong with it ("contains '/'").
inline std::string_view EntityNameProblem(std::string_view name) {
  for (const char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '/') return "contains '/'";
    if (c < 0x20 || c == 0x7f) return "contains a control character";
    if (c == ' ') return "contains a space";
  }
  if (!IsValidUtf8(name)) return "is not valid UTF-8";
  return {};
}

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_ENTITY_H_
