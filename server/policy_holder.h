// PolicyHolder: the running compiled policy, swapped atomically on reload.
//
// Readers take one snapshot per request (Current()) and keep it for the
// whole request, so a reload never changes a decision half-way. A reload
// builds the new policy off the request path and publishes it with one
// atomic store; a policy that failed to compile is never published.
//
// Thread safety: all methods may be called from any thread. The pointer is
// guarded by a mutex (current_ GUARDED_BY mu_) held only to copy or swap it
// (a reader never waits for a compile). std::atomic<std::shared_ptr> is not
// used: libstdc++ 12's implementation unlocks its internal lock with relaxed
// ordering after a load, which ThreadSanitizer reports as a data race
// between a check and a reload (tests/concurrent, ChecksDuringReload).
#ifndef PORTCULLIS_SERVER_POLICY_HOLDER_H_
#define PORTCULLIS_SERVER_POLICY_HOLDER_H_

#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "engine/policy.h"

namespace portcullis::server {

struct LoadedPolicy {
  std::shared_ptr<const engine::Policy> policy;
  TimestampMicros loaded_at = 0;
};

class PolicyHolder {
 public:
  explicit PolicyHolder(std::shared_ptr<const engine::Policy> initial) {
    Publish(std::move(initial));
  }

  std::shared_ptr<const LoadedPolicy> Current() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return current_;
  }

  void Publish(std::shared_ptr<const engine::Policy> policy) EXCLUDES(mu_) {
    auto loaded = std::make_shared<LoadedPolicy>();
    loaded->policy = std::move(policy);
    loaded->loaded_at = NowMicros();
    std::shared_ptr<const LoadedPolicy> old;
    {
      MutexLock lock(&mu_);
      old = std::exchange(current_, std::move(loaded));
    }
    // `old` is released here, outside the lock.
  }

 private:
  mutable Mutex mu_;
  std::shared_ptr<const LoadedPolicy> current_ GUARDED_BY(mu_);
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_POLICY_HOLDER_H_
