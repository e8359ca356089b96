// ExportSpool: the JSON Lines export of one snapshot (ExportJsonl over one
// ReadView), produced by a thread of its own into an anonymous temporary file
// (unlinked at creation, so nothing is left behind even after a crash) and
// read back, piece by piece, by a consumer such as an HTTP response.
//
// Why a spill file rather than a bounded queue between the two threads: the
// read transaction is then held only as long as the store takes to format
// itself at disk speed, never at the consumer's speed. A slow (or stalled)
// consumer cannot pin the LMDB snapshot, which would keep LMDB from reusing
// the pages freed by writers meanwhile and make the data file grow; and the
// consumer never waits for the export either (Pull returns kWait when it has
// caught up). The cost is disk space in the temporary folder equal to the
// export's size, for the life of the spool. Memory stays bounded (one 64 KiB
// buffer on each side).
//
// Thread safety: Pull and status are called by one consumer thread at a time;
// the producer thread is internal. The destructor cancels the export (the
// producer stops at its next write, which on a huge store may follow the
// first pass over all resources that finds the roots) and joins the thread,
// so that no export outlives the Store it reads.
//
// Invariants:
//   1. The bytes Pull returns, in order, are a prefix of ExportJsonl's output
//      for the view's snapshot; after kEnd, all of it.
//   2. The read transaction ends when the producer finishes, whether or not
//      anything has been pulled.
//   3. Once Pull returned kEnd or kFailed, status() is final: OK after kEnd,
//      the error after kFailed.
#ifndef PORTCULLIS_STORAGE_EXPORT_SPOOL_H_
#define PORTCULLIS_STORAGE_EXPORT_SPOOL_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "storage/store.h"

namespace portcullis::storage {

class ExportSpool {
 public:
  enum class State {
    kData,    // *out holds the next piece (not empty)
    kWait,    // nothing new yet: ask again in a moment
    kEnd,     // the export is complete and everything was pulled
    kFailed,  // the export cannot be completed (see status())
  };

  // Creates the temporary file in `temp_dir` and starts exporting `view`.
  // Fails (kUnavailable) if the file cannot be created.
  static Result<std::unique_ptr<ExportSpool>> Start(
      ReadView view, const std::string &temp_dir);

  ~ExportSpool();
  ExportSpool(const ExportSpool &) = delete;
  ExportSpool &operator=(const ExportSpool &) = delete;

  // Replaces *out with at most `max` bytes of the export that follow what
  // was pulled before.
  State Pull(std::string *out, size_t max) EXCLUDES(mu_);

  // The error that ended the export early, or OK (final once Pull returned
  // kEnd or kFailed).
  Status status() const EXCLUDES(mu_);

 private:
  explicit ExportSpool(int fd) : fd_(fd) {}
  void Produce(ReadView view) EXCLUDES(mu_);

  const int fd_;
  std::thread producer_;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> published_{0};  // bytes of fd_ complete and readable
  std::atomic<bool> done_{false};       // set after the last publish
  mutable Mutex mu_;
  Status status_ GUARDED_BY(mu_);  // written before done_
  uint64_t read_ = 0;              // consumer side only
};

}  // namespace portcullis::storage

#endif  // PORTCULLIS_STORAGE_EXPORT_SPOOL_H_
