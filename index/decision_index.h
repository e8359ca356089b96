// DecisionIndex: the data that checks read, kept in memory in a compact
// form beside LMDB (which stays the record of truth), so that a check costs
// a few cache misses instead of a B-tree descent per ancestor.
//
// What it holds, per entity, with dense integer ids assigned as entities
// appear:
//   resource  its "type:id", its parent's id, whether it exists (a node may
//             exist only as somebody's parent or as the target of an access
//             record, exactly as a parent reference in LMDB may dangle);
//   subject   its "type:id", whether its record exists, and what it holds
//             directly (bindings and restrictions) as one array sorted by
//             resource id;
//   role sets and restricted actions interned, each stored once;
// and, for lookups, the live resources below each resource and of each
// type as sets ordered by "type:id" (index_data.h, invariant 4), so a page
// of "everything of type T under A" is read in order. Attributes are kept
// as stored; other enumerations are read from the LMDB view
// (index/index_view.h).
//
// One function changes it: ApplyChange(ChangeSet), the same change sets that
// a Store hands its commit listener and that a replica applies
// (storage/change_set.h). Follow(store) makes the index the store's
// listener and builds it from a snapshot in the background, so the daemon
// answers at once (from LMDB) and from the index once it is built.
//
// Thread safety: every public member may be called from any thread. Readers
// (IndexView) hold the index's lock shared for the life of a view;
// ApplyChange takes it exclusively, so a reader sees one revision, never a
// half-applied change set.
//
// Invariants:
//   1. Once ready(), the index answers GetResource, SubjectExists and
//      GetAccess exactly as an LMDB view of revision() does (proven by
//      index/decision_index_test.cc against plain LMDB reads).
//   2. Ids are never reused while anything refers to them: a node is freed
//      only when its record is gone and no child, access entry (for a
//      resource) or access entry of its own (for a subject) refers to it,
//      and only after the change set that freed it is fully applied.
//   3. A change set that does not follow revision() (a gap, a malformed
//      image) makes the index unusable (ready() false, reason in stats()),
//      never wrong: views then read LMDB (and Follow's thread rebuilds it).
#ifndef PORTCULLIS_INDEX_DECISION_INDEX_H_
#define PORTCULLIS_INDEX_DECISION_INDEX_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "engine/data_view.h"
#include "storage/change_set.h"
#include "storage/store.h"

namespace portcullis::index {

class IndexView;

class DecisionIndex {
 public:
  DecisionIndex();
  ~DecisionIndex();  // stops following (see Follow) and joins the builder
  DecisionIndex(const DecisionIndex&) = delete;
  DecisionIndex& operator=(const DecisionIndex&) = delete;

  // Builds the index from `view` (a full scan), replacing what it held.
  Status Build(const storage::ReadView& view) EXCLUDES(mu_);

  // Becomes `store`'s commit listener and builds itself from a snapshot on
  // a thread of its own; change sets committed meanwhile are queued and
  // applied once the snapshot is in. ready() turns true then. The same
  // thread rebuilds the index (views read LMDB meanwhile) when a change set
  // does not follow (a commit by another process on the same store, or a
  // replica's bootstrap) and when LMDB stays ahead of the index for a second
  // with no change set on its way. `store` must outlive this index (the
  // destructor detaches from it). Call once.
  void Follow(storage::Store* store) EXCLUDES(mu_, pending_mu_);
  // Waits until the index is ready or has failed; true when ready.
  bool WaitUntilBuilt() EXCLUDES(pending_mu_);

  // The one function that changes the index: applies one committed change
  // set: cs.revision == revision() + 1, or a further part of revision()
  // (empty cs.entry.changes). Otherwise (a gap: the index cannot know what
  // it missed) the index turns unusable and the error is returned.
  Status ApplyChange(const storage::ChangeSet& cs) EXCLUDES(mu_);

  bool ready() const { return ready_.load(std::memory_order_acquire); }
  // How many times Follow's thread rebuilt the index after its first build.
  uint64_t rebuilds() const EXCLUDES(pending_mu_);
  storage::Revision revision() const EXCLUDES(mu_);

  struct Stats {
    bool ready = false;
    std::string failure;  // why the index is unusable, if it is
    storage::Revision revision = 0;
    uint64_t resources = 0;  // existing resource records
    uint64_t subjects = 0;   // existing subject records
    uint64_t access = 0;     // access entries
    uint64_t ordered_entries = 0;  // ids in the lookups' ordered sets
    uint64_t bytes = 0;      // estimated memory held
    uint64_t string_bytes = 0;  // of which long keys and attribute blobs
    double build_seconds = 0;
  };
  Stats stats() const EXCLUDES(mu_);

  // Checks invariant 4 of index_data.h against the index's own parent links
  // and liveness: every set strictly ascending by key, each member live, of
  // the set's type and below the set's resource, and as many entries as the
  // live resources' ancestors (plus one each for their type's set). One
  // line per problem (at most `max`); empty when it holds. VerifyIndex runs
  // it after comparing the parent links with LMDB.
  std::vector<std::string> CheckOrderedSets(size_t max) const EXCLUDES(mu_);

  // The contents (index/index_data.h, private to index/).
  struct Data;

 private:
  friend class IndexView;
  // The builder thread's body: builds, then rebuilds when asked.
  void Maintain() EXCLUDES(mu_, pending_mu_);
  // One build from a snapshot, then the queued change sets.
  void BuildFollowed() EXCLUDES(mu_, pending_mu_);
  void OnCommit(const storage::ChangeSet& cs) EXCLUDES(mu_, pending_mu_);
  void MarkUnusable(std::string why) EXCLUDES(mu_);

  mutable SharedMutex mu_ ACQUIRED_AFTER(pending_mu_);
  std::unique_ptr<Data> data_ GUARDED_BY(mu_);
  std::string failure_ GUARDED_BY(mu_);
  double build_seconds_ GUARDED_BY(mu_) = 0;
  std::atomic<bool> ready_{false};

  // Follow(): change sets committed while the snapshot is being built.
  mutable Mutex pending_mu_;
  CondVar built_cv_;
  CondVar work_cv_;  // rebuild_ or stopping_ set
  bool following_ GUARDED_BY(pending_mu_) = false;
  bool rebuild_ GUARDED_BY(pending_mu_) = false;
  bool stopping_ GUARDED_BY(pending_mu_) = false;
  uint64_t rebuilds_ GUARDED_BY(pending_mu_) = 0;
  bool built_ GUARDED_BY(pending_mu_) = false;  // or failed: the build ended
  std::vector<storage::ChangeSet> pending_ GUARDED_BY(pending_mu_);
  storage::Store* store_ = nullptr;
  std::thread builder_;
};

}  // namespace portcullis::index

#endif  // PORTCULLIS_INDEX_DECISION_INDEX_H_
