// The locks of Portcullis: the standard library's mutexes and condition
// variable, wrapped so that Clang's thread-safety analysis can check their
// use (common/thread_annotations.h). libstdc++'s std::mutex carries no
// capability attributes, so code that locks a std::mutex is not checked;
// production code locks these types instead.
//
//   Mutex            exclusive lock (std::mutex)
//   MutexLock        holds a Mutex for its own scope
//   SharedMutex      reader/writer lock with a timed exclusive try
//                    (std::shared_timed_mutex)
//   WriterMutexLock  holds a SharedMutex exclusively for its own scope
//   ReaderMutexLock  holds a SharedMutex shared for its own scope
//   CondVar          waits, with a Mutex held, for another thread's notice
//                    (std::condition_variable)
//
// Example:
//   class Counter {
//    public:
//     void Add(int n) EXCLUDES(mu_) { MutexLock lock(&mu_); total_ += n; }
//    private:
//     Mutex mu_;
//     int total_ GUARDED_BY(mu_) = 0;
//   };
//
// Thread safety: every lock may be shared between threads (that is what it
// is for); a scoped guard belongs to the thread that made it.
//
// Invariants:
//   1. No lock is recursive: a thread taking a lock it already holds
//      deadlocks, as with the standard types.
//   2. A lock is released by the thread that took it.
//   3. CondVar's waits return with the mutex held, as it was on entry. A
//      wait may return without a notice (a spurious wake-up): wait in a loop
//      on the condition. All threads waiting on one CondVar at the same time
//      pass the same Mutex.
//   4. AssertHeld and AssertReaderHeld check nothing at run time: they tell
//      the analysis what the caller knows and it cannot see.
#ifndef PORTCULLIS_COMMON_MUTEX_H_
#define PORTCULLIS_COMMON_MUTEX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <shared_mutex>

#include "common/thread_annotations.h"

namespace portcullis {

class CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Takes the mutex if it is free; true if it did.
  bool TryLock() TRY_ACQUIRE(true) { return mu_.try_lock(); }
  // The caller holds this mutex (see invariant 4).
  void AssertHeld() const ASSERT_CAPABILITY(this) {}

 private:
  friend class CondVar;
  std::mutex mu_;
};

// Holds `*mu` from construction to destruction.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ACQUIRE(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() RELEASE() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// Many readers or one writer. A member GUARDED_BY a SharedMutex may be read
// with it held shared and written only with it held exclusively.
class CAPABILITY("mutex") SharedMutex {
 public:
  SharedMutex() = default;
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  // Exclusive (writer) hold.
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // Takes the mutex exclusively if it becomes free within `timeout`; true
  // if it did.
  template <typename Rep, typename Period>
  bool TryLockFor(const std::chrono::duration<Rep, Period>& timeout)
      TRY_ACQUIRE(true) {
    return mu_.try_lock_for(timeout);
  }

  // Shared (reader) hold.
  void LockShared() ACQUIRE_SHARED() { mu_.lock_shared(); }
  void UnlockShared() RELEASE_SHARED() { mu_.unlock_shared(); }

  // The caller holds this mutex exclusively (AssertHeld) or at least shared
  // (AssertReaderHeld); see invariant 4.
  void AssertHeld() const ASSERT_CAPABILITY(this) {}
  void AssertReaderHeld() const ASSERT_SHARED_CAPABILITY(this) {}

 private:
  std::shared_timed_mutex mu_;
};

// Holds `*mu` exclusively from construction to destruction.
class SCOPED_CAPABILITY WriterMutexLock {
 public:
  explicit WriterMutexLock(SharedMutex* mu) ACQUIRE(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~WriterMutexLock() RELEASE() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// Holds `*mu` shared from construction to destruction.
class SCOPED_CAPABILITY ReaderMutexLock {
 public:
  explicit ReaderMutexLock(SharedMutex* mu) ACQUIRE_SHARED(mu) : mu_(mu) {
    mu_->LockShared();
  }
  ~ReaderMutexLock() RELEASE() { mu_->UnlockShared(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  SharedMutex* const mu_;
};

// A condition variable used with a Mutex. Each wait takes the mutex the
// caller holds, releases it while asleep and holds it again on return
// (invariant 3):
//   MutexLock lock(&mu_);
//   while (queue_.empty()) ready_.Wait(&mu_);
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  // Sleeps until notified (or woken spuriously).
  void Wait(Mutex* mu) REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    cv_.wait(lock);
    lock.release();  // the caller keeps holding it
  }

  // Sleeps until notified (or woken spuriously) or until `deadline`.
  // Returns false if it returned because the deadline passed.
  template <typename Clock, typename Duration>
  bool WaitUntil(Mutex* mu,
                 const std::chrono::time_point<Clock, Duration>& deadline)
      REQUIRES(mu) {
    std::unique_lock<std::mutex> lock(mu->mu_, std::adopt_lock);
    const std::cv_status status = cv_.wait_until(lock, deadline);
    lock.release();
    return status == std::cv_status::no_timeout;
  }

  // As WaitUntil(mu, now + timeout).
  template <typename Rep, typename Period>
  bool WaitFor(Mutex* mu, const std::chrono::duration<Rep, Period>& timeout)
      REQUIRES(mu) {
    return WaitUntil(mu, std::chrono::steady_clock::now() + timeout);
  }

  // Wakes one waiter (NotifyOne) or all of them (NotifyAll). The caller need
  // not hold the mutex.
  void NotifyOne() { cv_.notify_one(); }
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace portcullis

#endif  // PORTCULLIS_COMMON_MUTEX_H_
