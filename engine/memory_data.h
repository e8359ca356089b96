// MemoryData: an in-memory DataView: the data of policy test files
// (`portcullis test`, policies/test_file.h), of the CLI's one-off checks
// and of the engine's own tests. The daemon never uses it: it reads LMDB
// (storage::ReadView). It owns its data; the views it returns point into it and stay
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
#include <unordered_map>
#include <vector>

#include "engine/data_view.h"
#include "engine/hash.h"

namespace portcullis::engine {

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
                  TimestampMicros expires_at = kNoExpiry);
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

  template <typename T>
  using ByRef = RefMap<T>;

  // The key of the (subject, resource) access map, and its probe.
  struct AccessKey {
    std::string subject, resource;  // "type:id" each
  };
  struct AccessProbe {
    EntityRef subject, resource;
  };
  struct AccessHash {
    using is_transparent = void;
    size_t operator()(const AccessKey& k) const;  // not noexcept: see RefHash
    size_t operator()(const AccessProbe& p) const noexcept;
  };
  struct AccessEq {
    using is_transparent = void;
    bool operator()(const AccessKey& a, const AccessKey& b) const noexcept {
      return a.subject == b.subject && a.resource == b.resource;
    }
    bool operator()(const AccessProbe& p, const AccessKey& k) const noexcept {
      return RefEq()(p.subject, k.subject) && RefEq()(p.resource, k.resource);
    }
    bool operator()(const AccessKey& k, const AccessProbe& p) const noexcept {
      return (*this)(p, k);
    }
  };

  struct Entity {
    std::string type, id;
    std::string parent_key;  // "type:id"; resources only, empty for a root
    EntityRef parent;        // views parent_key
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
    TimestampMicros expires_at = kNoExpiry;
    bool has_restriction = false;
    std::string restricted_packed;
  };
  using AccessMap = std::unordered_map<AccessKey, Access, AccessHash, AccessEq>;
  using AccessEntry = AccessMap::value_type;

  Entity* FindEntity(EntityKind kind, EntityRef e);
  const Entity* FindEntity(EntityKind kind, EntityRef e) const;
  Access& AccessFor(EntityRef subject, EntityRef resource);
  void RebuildViews(Entity* e);
  Value ToView(const OwnedValue& v, Entity* e);

  // Every map below is keyed by "type:id". Map nodes never move (rehashing
  // keeps them), so the views and pointers into them stay valid.
  ByRef<Entity> resources_;
  ByRef<Entity> subjects_;
  AccessMap access_;  // (subject, resource) -> access
  // Indexes of access_ for the enumerations: entries of one subject, and
  // entries on one resource.
  ByRef<std::vector<const AccessEntry*>> access_of_;
  ByRef<std::vector<const AccessEntry*>> access_on_;
  ByRef<std::vector<std::string>> children_;  // parent -> children
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_MEMORY_DATA_H_
