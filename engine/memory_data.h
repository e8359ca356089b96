// MemoryData: an in-memory DataView, for tests, the policy test runner and
// the CLI. It owns its data; the views it returns point into it and stay
// valid until the next mutation.
//
// Thread safety: not synchronized. Mutate from one thread, then read from
// any number (no mutation while reading).
#ifndef PORTCULLIS_ENGINE_MEMORY_DATA_H_
#define PORTCULLIS_ENGINE_MEMORY_DATA_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/data_view.h"

namespace portcullis::engine {

// An owned attribute value, the counterpart of Value.
struct OwnedValue {
  ValueKind kind = ValueKind::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;
  std::vector<OwnedValue> list;

  static OwnedValue FromValue(const Value& v);
};

class MemoryData final : public DataView {
 public:
  MemoryData() = default;
  MemoryData(const MemoryData&) = delete;
  MemoryData& operator=(const MemoryData&) = delete;

  // Mutation. Parents are not checked here (the policy test loader checks
  // them against the policy); an empty parent makes a root.
  void PutResource(std::string_view type, std::string_view id,
                   std::string_view parent_type = {},
                   std::string_view parent_id = {});
  void PutSubject(std::string_view type, std::string_view id);
  void SetAttribute(EntityKind kind, std::string_view type,
                    std::string_view id, std::string_view key,
                    OwnedValue value);
  // Sets the subject's role set on the resource; an empty set removes it.
  void SetBinding(EntityRef subject, EntityRef resource,
                  const std::vector<std::string>& roles,
                  BindingState state = BindingState::kActive,
                  TimestampMicros expires_at = 0);
  // Sets restricted actions; an empty list removes the restriction.
  void SetRestriction(EntityRef subject, EntityRef resource,
                      const std::vector<std::string>& actions);

  // DataView.
  std::optional<ResourceInfo> GetResource(EntityRef resource) const override;
  bool SubjectExists(EntityRef subject) const override;
  SubjectAccess GetAccess(EntityRef subject, EntityRef resource) const override;
  std::optional<Value> GetAttribute(EntityKind kind, EntityRef entity,
                                    std::string_view key) const override;
  void ForEachChild(EntityRef parent,
                    const std::function<bool(EntityRef)>& fn) const override;
  void ForEachBindingOn(
      EntityRef resource,
      const std::function<bool(EntityRef, const StoredBinding&)>& fn)
      const override;
  void ForEachBindingOf(
      EntityRef subject,
      const std::function<bool(EntityRef, const StoredBinding&)>& fn)
      const override;
  void ForEachResourceOfType(
      std::string_view type,
      const std::function<bool(EntityRef)>& fn) const override;
  void ForEachSubjectOfType(
      std::string_view type,
      const std::function<bool(EntityRef)>& fn) const override;

 private:
  template <typename T>
  using ByName = std::map<std::string, T, std::less<>>;

  struct Entity {
    std::string type, id;
    std::string parent;  // "type:id"; resources only, empty for a root
    ByName<OwnedValue> attributes;
    // Views of `attributes`, rebuilt whenever one changes; list elements
    // live in `list_storage`.
    ByName<Value> views;
    std::vector<std::unique_ptr<std::vector<Value>>> list_storage;
  };
  struct Access {
    bool has_binding = false;
    std::string roles_packed;
    BindingState state = BindingState::kActive;
    TimestampMicros expires_at = 0;
    bool has_restriction = false;
    std::string restricted_packed;
  };

  // Every map is keyed by "type:id". Lookups build the key in a
  // thread-local buffer, so the read path does not allocate once warm.
  static std::string_view Key(EntityRef e, int slot);
  static EntityRef SplitKey(std::string_view key);
  Entity* FindEntity(EntityKind kind, EntityRef e);
  const Entity* FindEntity(EntityKind kind, EntityRef e) const;
  void RebuildViews(Entity* e);
  Value ToView(const OwnedValue& v, Entity* e);

  ByName<Entity> resources_;
  ByName<Entity> subjects_;
  ByName<ByName<Access>> access_by_subject_;   // subject -> resource -> access
  ByName<ByName<const Access*>> access_by_resource_;  // the reverse index
  ByName<std::vector<std::string>> children_;  // parent -> children
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_MEMORY_DATA_H_
