// PolicyHolder: the running compiled policy, swapped atomically on reload.
//
// Readers take one snapshot per request (Current()) and keep it for the
// whole request, so a reload never changes a decision half-way. A reload
// builds the new policy off the request path and publishes it with one
// atomic store; a policy that failed to compile is never published.
//
// Thread safety: all methods may be called from any thread.
#ifndef PORTCULLIS_SERVER_POLICY_HOLDER_H_
#define PORTCULLIS_SERVER_POLICY_HOLDER_H_

#include <atomic>
#include <memory>

#include "common/clock.h"
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

  std::shared_ptr<const LoadedPolicy> Current() const {
    return current_.load(std::memory_order_acquire);
  }

  void Publish(std::shared_ptr<const engine::Policy> policy) {
    auto loaded = std::make_shared<LoadedPolicy>();
    loaded->policy = std::move(policy);
    loaded->loaded_at = NowMicros();
    current_.store(std::move(loaded), std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const LoadedPolicy>> current_;
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_POLICY_HOLDER_H_
