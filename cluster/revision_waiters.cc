#include "cluster/revision_waiters.h"

#include <utility>
#include <vector>

namespace portcullis::cluster {

std::shared_ptr<void> RevisionWaiters::Add(storage::Revision revision,
                                           std::function<void()> wake) {
  uint64_t id;
  {
    MutexLock lock(&mu_);
    // Checked under the lock: Advance sets revision_ before it takes the
    // lock to collect, so a revision reached after this check finds the
    // callback registered.
    if (revision_.load(std::memory_order_acquire) < revision) {
      if (waiting_.size() >= max_waiters_) return nullptr;
      id = next_id_++;
      waiting_.emplace(std::make_pair(revision, id), std::move(wake));
      std::weak_ptr<RevisionWaiters> weak = weak_from_this();
      return std::shared_ptr<void>(new char(0), [weak, revision, id](void* p) {
        delete static_cast<char*>(p);
        if (auto self = weak.lock()) self->Remove(revision, id);
      });
    }
  }
  wake();
  return std::make_shared<int>(0);
}

void RevisionWaiters::Remove(storage::Revision revision, uint64_t id) {
  MutexLock lock(&mu_);
  waiting_.erase(std::make_pair(revision, id));
}

void RevisionWaiters::Advance(storage::Revision revision) {
  storage::Revision seen = revision_.load(std::memory_order_acquire);
  while (seen < revision &&
         !revision_.compare_exchange_weak(seen, revision,
                                          std::memory_order_acq_rel)) {
  }
  std::vector<std::function<void()>> due;
  {
    MutexLock lock(&mu_);
    auto end = waiting_.upper_bound(std::make_pair(revision, UINT64_MAX));
    for (auto it = waiting_.begin(); it != end; ++it) {
      due.push_back(std::move(it->second));
    }
    waiting_.erase(waiting_.begin(), end);
  }
  for (auto& wake : due) wake();
}

size_t RevisionWaiters::waiting() const {
  MutexLock lock(&mu_);
  return waiting_.size();
}

}  // namespace portcullis::cluster
