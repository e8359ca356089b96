// DataView: the engine's window onto the data it decides on.
//
// The evaluator never sees how data is stored. Storage implements this
// interface over one LMDB read transaction (storage::ReadView in storage/store.h); tests
// and the CLI implement it in memory (engine/memory_data.h). Everything a
// DataView returns (string_views, spans) is valid only while the view lives:
// a decision must be turned into its reply before the view is released.
//
// Thread safety: a DataView is used by one thread at a time. Many views may
// exist at once, each on its own consistent snapshot.
#ifndef PORTCULLIS_ENGINE_DATA_VIEW_H_
#define PORTCULLIS_ENGINE_DATA_VIEW_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "common/clock.h"
#include "engine/entity.h"
#include "engine/value.h"

namespace portcullis::engine {

// A list of names packed as "a\0b\0c" (no trailing NUL), viewed without
// copying. Storage keeps role sets and restricted actions in this form.
class PackedNames {
 public:
  PackedNames() = default;
  explicit PackedNames(std::string_view packed) : packed_(packed) {}
  std::string_view packed() const { return packed_; }
  bool empty() const { return packed_.empty(); }

  // Calls fn(std::string_view) for each name, in stored order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    size_t start = 0;
    while (start < packed_.size()) {
      size_t end = packed_.find('\0', start);
      if (end == std::string_view::npos) end = packed_.size();
      fn(packed_.substr(start, end - start));
      start = end + 1;
    }
  }

 private:
  std::string_view packed_;
};

enum class BindingState : uint8_t {
  kActive = 0,
  kPending = 1,  // an invitation not yet accepted: grants nothing
};

// A subject's role set on one resource.
struct StoredBinding {
  PackedNames roles;
  BindingState state = BindingState::kActive;
  TimestampMicros expires_at = kNoExpiry;
};

// The actions restricted for one subject on one resource (and everything
// below it). The single name "*" restricts every action the policy lets a
// restriction touch.
struct StoredRestriction {
  PackedNames actions;
};

// What one subject holds directly on one resource.
struct SubjectAccess {
  std::optional<StoredBinding> binding;
  std::optional<StoredRestriction> restriction;
};

struct ResourceInfo {
  EntityRef parent;  // empty for a root resource
};

enum class EntityKind : uint8_t { kSubject, kResource };

// A stream of resources in ascending "type:id" order (byte order), from a
// DataView that keeps them sorted (DataView::ResourcesInOrder).
//
// Thread safety: like the view it came from; it must not outlive it.
class ResourceCursor {
 public:
  virtual ~ResourceCursor() = default;
  // The next resource, or false at the end. *out is valid while the view
  // lives.
  virtual bool Next(EntityRef* out) = 0;
};

class DataView {
 public:
  virtual ~DataView() = default;

  // Returns nullopt if the resource does not exist.
  virtual std::optional<ResourceInfo> GetResource(EntityRef resource) const = 0;

  // Returns false if the subject has no record. Storage creates a record for
  // every subject that holds a binding, a restriction or an invitation.
  virtual bool SubjectExists(EntityRef subject) const = 0;

  // The binding and restriction `subject` holds directly on `resource`
  // (not inherited); both empty when it holds neither.
  virtual SubjectAccess GetAccess(EntityRef subject,
                                  EntityRef resource) const = 0;

  // Returns nullopt if the entity or the attribute does not exist.
  virtual std::optional<Value> GetAttribute(EntityKind kind, EntityRef entity,
                                            std::string_view key) const = 0;

  // Enumerations for the lookup queries. Each calls `fn` once per item and
  // stops early when `fn` returns false. Order is unspecified.
  virtual void ForEachChild(EntityRef parent,
                            const std::function<bool(EntityRef)>& fn) const = 0;
  virtual void ForEachBindingOn(
      EntityRef resource,
      const std::function<bool(EntityRef subject, const StoredBinding&)>& fn)
      const = 0;
  virtual void ForEachBindingOf(
      EntityRef subject,
      const std::function<bool(EntityRef resource, const StoredBinding&)>& fn)
      const = 0;
  virtual void ForEachResourceOfType(
      std::string_view type, const std::function<bool(EntityRef)>& fn) const = 0;
  virtual void ForEachSubjectOfType(
      std::string_view type, const std::function<bool(EntityRef)>& fn) const = 0;

  // The existing resources of `type` strictly below `root` (every one of
  // the type when `root` is empty) whose "type:id" is greater than `after`,
  // in ascending "type:id" order, at a cost that grows with what is read
  // and not with the size of the subtree. Null when this view keeps no
  // such order: lookups then traverse with ForEachChild.
  virtual std::unique_ptr<ResourceCursor> ResourcesInOrder(
      EntityRef /*root*/, std::string_view /*type*/,
      std::string_view /*after*/) const {
    return nullptr;
  }

  // A hint that a check of `subject` on `resource` comes a few checks later
  // (a batch): the view may start loading what that check will read, so
  // that the memory latency of several checks overlaps. Stages 0 to
  // kPrefetchStages - 1 are given in turn for the same pair, each a few
  // checks later than the one before, each going one step further along
  // what the check reads. Never changes an answer.
  static constexpr int kPrefetchStages = 3;
  virtual void Prefetch(EntityRef /*subject*/, EntityRef /*resource*/,
                        int /*stage*/) const {}

  // A storage read failed (I/O error, corruption, reader table full). The
  // view is sticky: once failed, it stays failed, and the evaluator denies
  // every decision made through it, naming the failure.
  virtual bool failed() const { return false; }
  virtual std::string_view failure() const { return {}; }
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_DATA_VIEW_H_
