// Input of the thread_safety.* tests (tests/thread_safety/CMakeLists.txt):
// compiled, never run, with `clang++ -fsyntax-only -Wthread-safety -Werror`.
// Without a PORTCULLIS_TSA_MISTAKE_* macro every lock is taken where the
// annotations say, and the file must compile. Each macro adds one mistake
// that the analysis must turn into a compile error.
#include <chrono>

#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace portcullis::tsa_test {

// A balance guarded by a Mutex, with a CondVar to wait for funds, and an
// audit count guarded by a SharedMutex.
class Account {
 public:
  void Deposit(int amount) EXCLUDES(mu_) {
#ifdef PORTCULLIS_TSA_MISTAKE_WRITE_WITHOUT_LOCK
    balance_ += amount;  // the lock is forgotten
#else
    MutexLock lock(&mu_);
    balance_ += amount;
#endif
    funds_.NotifyAll();
  }

  int Balance() EXCLUDES(mu_) {
#ifdef PORTCULLIS_TSA_MISTAKE_READ_WITHOUT_LOCK
    return balance_;
#else
    MutexLock lock(&mu_);
    return balance_;
#endif
  }

  // Waits until the balance covers `amount`, then takes it out.
  void Withdraw(int amount) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    while (balance_ < amount) funds_.Wait(&mu_);
    TakeLocked(amount);
  }

  // As Withdraw, giving up after `timeout`; true if it took the amount.
  bool WithdrawWithin(int amount, std::chrono::milliseconds timeout)
      EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    mu_.Lock();
    while (balance_ < amount && funds_.WaitUntil(&mu_, deadline)) {
    }
    const bool ok = balance_ >= amount;
    if (ok) TakeLocked(amount);
    mu_.Unlock();
    return ok;
  }

  bool TryTake(int amount) EXCLUDES(mu_) {
    if (!mu_.TryLock()) return false;
    const bool ok = balance_ >= amount;
    if (ok) TakeLocked(amount);
    mu_.Unlock();
    return ok;
  }

  // Calls TakeLocked, which REQUIRES mu_.
  void Take(int amount) EXCLUDES(mu_) {
#ifdef PORTCULLIS_TSA_MISTAKE_CALL_WITHOUT_LOCK
    TakeLocked(amount);
#else
    MutexLock lock(&mu_);
    TakeLocked(amount);
#endif
  }

  int Audits() EXCLUDES(audit_mu_) {
    ReaderMutexLock lock(&audit_mu_);
    return audits_;
  }

  void Audit() EXCLUDES(audit_mu_) {
#ifdef PORTCULLIS_TSA_MISTAKE_WRITE_UNDER_READER_LOCK
    ReaderMutexLock lock(&audit_mu_);  // a reader lock does not allow writes
#else
    WriterMutexLock lock(&audit_mu_);
#endif
    ++audits_;
  }

  bool AuditWithin(std::chrono::milliseconds timeout) EXCLUDES(audit_mu_) {
    if (!audit_mu_.TryLockFor(timeout)) return false;
    ++audits_;
    audit_mu_.Unlock();
    return true;
  }

  void WaitForFunds() EXCLUDES(mu_) {
#ifdef PORTCULLIS_TSA_MISTAKE_WAIT_WITHOUT_LOCK
    funds_.Wait(&mu_);
#else
    MutexLock lock(&mu_);
    funds_.Wait(&mu_);
#endif
  }

#ifdef PORTCULLIS_TSA_MISTAKE_LOCK_HELD_ON_RETURN
  void Freeze() { mu_.Lock(); }  // returns holding mu_, and says not so
#endif

 private:
  void TakeLocked(int amount) REQUIRES(mu_) { balance_ -= amount; }

  Mutex mu_;
  CondVar funds_;
  int balance_ GUARDED_BY(mu_) = 0;

  SharedMutex audit_mu_;
  int audits_ GUARDED_BY(audit_mu_) = 0;
};

}  // namespace portcullis::tsa_test
