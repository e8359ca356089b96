// RevisionWaiters: reads waiting for a replica to reach a revision
// (at_least_revision), woken when it does instead of polling for it.
//
// Add() registers a callback for a revision and returns a handle; the
// callback is called once, from the thread that calls Advance() with that
// revision or a later one (the follower after an apply, the write path after
// a local commit), or at once from Add() when the revision is already there.
// Dropping the handle cancels a callback not yet called. At most
// `max_waiters` callbacks wait at a time: Add() refuses more (the server
// answers 503), so that a flood of reads asking for a future revision holds
// a bounded amount of memory.
//
// Thread safety: every member may be called from any thread. Callbacks are
// called with no lock held and must be cheap (they post to an I/O thread).
// A handle may outlive the RevisionWaiters (it then does nothing).
#ifndef PORTCULLIS_CLUSTER_REVISION_WAITERS_H_
#define PORTCULLIS_CLUSTER_REVISION_WAITERS_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>

#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "storage/change_set.h"

namespace portcullis::cluster {

class RevisionWaiters : public std::enable_shared_from_this<RevisionWaiters> {
 public:
  explicit RevisionWaiters(size_t max_waiters) : max_waiters_(max_waiters) {}
  RevisionWaiters(const RevisionWaiters&) = delete;
  RevisionWaiters& operator=(const RevisionWaiters&) = delete;

  // Registers `wake` for `revision` (see above). Null when max_waiters are
  // already waiting (nothing is registered). Create the object with
  // std::make_shared: handles refer to it weakly.
  std::shared_ptr<void> Add(storage::Revision revision,
                            std::function<void()> wake) EXCLUDES(mu_);

  // The replica is at `revision`: wakes every callback registered for it or
  // an earlier one. Revisions never go back (a smaller one is ignored).
  void Advance(storage::Revision revision) EXCLUDES(mu_);

  storage::Revision revision() const {
    return revision_.load(std::memory_order_acquire);
  }
  size_t waiting() const EXCLUDES(mu_);
  size_t max_waiters() const { return max_waiters_; }

 private:
  void Remove(storage::Revision revision, uint64_t id) EXCLUDES(mu_);

  const size_t max_waiters_;
  std::atomic<storage::Revision> revision_{0};
  mutable Mutex mu_;
  uint64_t next_id_ GUARDED_BY(mu_) = 0;
  // (revision, id) -> callback.
  std::map<std::pair<storage::Revision, uint64_t>, std::function<void()>>
      waiting_ GUARDED_BY(mu_);
};

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_REVISION_WAITERS_H_
