// EntityRef: a non-owning reference to a subject or resource, "type:id".
#ifndef PORTCULLIS_ENGINE_ENTITY_H_
#define PORTCULLIS_ENGINE_ENTITY_H_

#include <optional>
#include <string>
#include <string_view>

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

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_ENTITY_H_
