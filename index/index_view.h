// IndexView: the DataView a decision reads through. It answers what checks
// read on every request (a resource and its parent, whether a subject
// exists, what a subject holds on a resource) from a DecisionIndex, and
// everything else (attributes, the enumerations of lookups, failures) from
// the LMDB view it wraps, both at one revision.
//
// It reads from the index only when the index is ready and at the revision
// of the LMDB view: when the view is older, it is refreshed to the newest
// snapshot first; when LMDB is then newer than the index (a commit whose
// change set is still being applied), or the index is not ready (building,
// or unusable after a failure), every read goes to LMDB, which gives the
// same answers more slowly.
//
// Thread safety: one thread at a time, like the ReadView it wraps. While it
// reads from the index it holds the index's lock shared, from construction
// to destruction: keep it for one request and never across a wait.
//
// Invariants: everything it returns is valid until it is destroyed; the
// index and `view` outlive it.
#ifndef PORTCULLIS_INDEX_INDEX_VIEW_H_
#define PORTCULLIS_INDEX_INDEX_VIEW_H_

#include <array>
#include <cstdint>

#include "common/thread_annotations.h"
#include "engine/data_view.h"
#include "index/decision_index.h"
#include "storage/store.h"

namespace portcullis::index {

class IndexView final : public engine::DataView {
 public:
  // `index` may be null: then every read goes to `view`.
  IndexView(const DecisionIndex* index, storage::ReadView* view);
  ~IndexView() override;
  IndexView(const IndexView&) = delete;
  IndexView& operator=(const IndexView&) = delete;

  // Whether reads go to the index.
  bool indexed() const { return data_ != nullptr; }
  // The revision every read sees.
  storage::Revision revision() const { return view_->revision(); }
  const storage::ReadView& store_view() const { return *view_; }

  // engine::DataView.
  std::optional<engine::ResourceInfo> GetResource(
      engine::EntityRef resource) const override;
  bool SubjectExists(engine::EntityRef subject) const override;
  engine::SubjectAccess GetAccess(engine::EntityRef subject,
                                  engine::EntityRef resource) const override;
  // Scalars from the index; lists (decoded into the LMDB view's cache) and
  // anything the index cannot decode from the LMDB view, at the same
  // revision.
  std::optional<engine::Value> GetAttribute(
      engine::EntityKind kind, engine::EntityRef entity,
      std::string_view key) const override;
  void ForEachChild(engine::EntityRef parent,
                    const std::function<bool(engine::EntityRef)>& fn)
      const override {
    view_->ForEachChild(parent, fn);
  }
  void ForEachBindingOn(
      engine::EntityRef resource,
      const std::function<bool(engine::EntityRef,
                               const engine::StoredBinding&)>& fn)
      const override {
    view_->ForEachBindingOn(resource, fn);
  }
  void ForEachBindingOf(
      engine::EntityRef subject,
      const std::function<bool(engine::EntityRef,
                               const engine::StoredBinding&)>& fn)
      const override {
    view_->ForEachBindingOf(subject, fn);
  }
  void ForEachResourceOfType(
      std::string_view type,
      const std::function<bool(engine::EntityRef)>& fn) const override {
    view_->ForEachResourceOfType(type, fn);
  }
  void ForEachSubjectOfType(
      std::string_view type,
      const std::function<bool(engine::EntityRef)>& fn) const override {
    view_->ForEachSubjectOfType(type, fn);
  }
  // Stage 0: the id tables' slots of both; 1: their nodes; 2: the
  // resource's parent and key, the subject's access array.
  void Prefetch(engine::EntityRef subject, engine::EntityRef resource,
                int stage) const override;
  // From the index's ordered sets; null when reads go to LMDB.
  std::unique_ptr<engine::ResourceCursor> ResourcesInOrder(
      engine::EntityRef root, std::string_view type,
      std::string_view after) const override;
  bool failed() const override { return view_->failed(); }
  std::string_view failure() const override { return view_->failure(); }

 private:
  class Cursor;
  // Makes the next ResolveResource of `ref` (a node's own key) a pointer
  // comparison.
  void Remember(const std::string& ref, uint32_t id) const {
    recent_[recent_next_] = {ref.data(), id};
    recent_next_ = (recent_next_ + 1) % kRecent;
  }
  // The index's data, read while the caller holds its lock shared (which
  // the analysis cannot see: the view holds it across calls).
  static const DecisionIndex::Data* HeldData(const DecisionIndex* index)
      NO_THREAD_SAFETY_ANALYSIS;
  // The resource's id, or kNone; remembers the answer for the next call.
  uint32_t ResolveResource(engine::EntityRef r) const;
  uint32_t ResolveSubject(engine::EntityRef r) const;

  const DecisionIndex* index_ = nullptr;
  const DecisionIndex::Data* data_ = nullptr;  // null: read LMDB
  storage::ReadView* view_;
  // Ids resolved lately: parents handed out (their refs point into the
  // index, so a pointer comparison finds them) and the last resource and
  // subject looked up by value.
  static constexpr size_t kRecent = 16;
  mutable std::array<std::pair<const char*, uint32_t>, kRecent> recent_{};
  mutable size_t recent_next_ = 0;
  mutable uint32_t last_resource_;
  mutable uint32_t last_subject_;
};

}  // namespace portcullis::index

#endif  // PORTCULLIS_INDEX_INDEX_VIEW_H_
