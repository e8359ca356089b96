#include "common/mutex.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace portcullis {
namespace {

using std::chrono::milliseconds;

TEST(Mutex, MutexLockMakesIncrementsExclusive) {
  Mutex mu;
  int total = 0;  // guarded by mu (a local: the analysis checks members)
  auto add = [&] {
    for (int i = 0; i < 10000; ++i) {
      MutexLock lock(&mu);
      ++total;
    }
  };
  std::thread a(add), b(add);
  a.join();
  b.join();
  MutexLock lock(&mu);
  EXPECT_EQ(total, 20000);
}

TEST(Mutex, TryLockFailsWhileAnotherThreadHoldsIt) {
  Mutex mu;
  mu.Lock();
  bool got = true;
  std::thread([&] {
    got = false;
    if (mu.TryLock()) {
      got = true;
      mu.Unlock();
    }
  }).join();
  EXPECT_FALSE(got);
  mu.Unlock();
  std::thread([&] {
    got = false;
    if (mu.TryLock()) {
      got = true;
      mu.Unlock();
    }
  }).join();
  EXPECT_TRUE(got);
}

TEST(CondVar, WaitReturnsWithTheMutexHeldAfterANotice) {
  Mutex mu;
  CondVar cv;
  bool ready = false;
  std::thread notifier([&] {
    {
      MutexLock lock(&mu);
      ready = true;
    }
    cv.NotifyAll();
  });
  mu.Lock();
  while (!ready) cv.Wait(&mu);
  // Held on return: another thread cannot take it.
  bool other_got_it = true;
  std::thread([&] {
    other_got_it = false;
    if (mu.TryLock()) {
      other_got_it = true;
      mu.Unlock();
    }
  }).join();
  mu.Unlock();
  notifier.join();
  EXPECT_TRUE(ready);
  EXPECT_FALSE(other_got_it);
}

TEST(CondVar, TimedWaitsReturnFalseOnlyOnceTheDeadlinePassed) {
  Mutex mu;
  CondVar cv;
  MutexLock lock(&mu);
  // Nobody notifies: only a spurious wake-up returns true, and early.
  auto start = std::chrono::steady_clock::now();
  const auto deadline = start + milliseconds(20);
  while (cv.WaitUntil(&mu, deadline)) {
  }
  EXPECT_GE(std::chrono::steady_clock::now(), deadline);
  start = std::chrono::steady_clock::now();
  while (cv.WaitFor(&mu, milliseconds(5))) {
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(5));
}

TEST(SharedMutex, ReadersShareAndAWriterWaitsForThem) {
  SharedMutex mu;
  std::atomic<bool> writer_done{false};
  {
    ReaderMutexLock first(&mu);
    bool second_reader = false;
    std::thread([&] {
      ReaderMutexLock second(&mu);  // would block if readers did not share
      second_reader = true;
    }).join();
    EXPECT_TRUE(second_reader);
    bool writer_got_it = true;
    std::thread([&] {
      writer_got_it = false;
      if (mu.TryLockFor(milliseconds(10))) {
        writer_got_it = true;
        mu.Unlock();
      }
    }).join();
    EXPECT_FALSE(writer_got_it);
  }
  std::thread([&] {
    WriterMutexLock lock(&mu);
    writer_done = true;
  }).join();
  EXPECT_TRUE(writer_done);
  bool free_again = false;
  if (mu.TryLockFor(milliseconds(10))) {
    free_again = true;
    mu.Unlock();
  }
  EXPECT_TRUE(free_again);
}

}  // namespace
}  // namespace portcullis
