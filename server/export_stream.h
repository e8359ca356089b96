// ExportStream: the body of GET /v1/export, produced while it is sent.
//
// The export of one snapshot (storage::ExportJsonl over one ReadView) runs
// on a thread of its own and writes into an anonymous temporary file (unlinked
// at creation, so nothing is left behind even after a crash); the connection's
// I/O thread pulls what has been written so far, piece by piece, and sends
// each piece as one HTTP chunk.
//
// Why a spill file rather than a bounded queue between the two threads: the
// read transaction is then held only as long as the store takes to format
// itself at disk speed, never at the client's speed. A slow (or stalled)
// client cannot pin the LMDB snapshot, which would keep LMDB from reusing the
// pages freed by writers meanwhile and make the data file grow; and the I/O
// thread never waits for the export either (Pull returns kWait when it has
// caught up). The cost is disk space in the temporary folder equal to the
// export's size, for the duration of the download. Memory stays bounded
// (one 64 KiB buffer on each side).
//
// Thread safety: Pull is called by one thread (the connection's); the
// producer thread is internal. The destructor cancels the export (the
// producer stops at its next write, which on a huge store may follow the
// first pass over all resources that finds the roots) and joins the thread,
// so that no export outlives the Store it reads.
#ifndef PORTCULLIS_SERVER_EXPORT_STREAM_H_
#define PORTCULLIS_SERVER_EXPORT_STREAM_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/http_server.h"
#include "storage/store.h"

namespace portcullis::server {

class ExportStream final : public BodyStream {
 public:
  // Creates the temporary file in `temp_dir` and starts exporting `view`.
  // Fails (kUnavailable) if the file cannot be created.
  static Result<std::shared_ptr<ExportStream>> Start(storage::ReadView view,
                                                     const std::string& temp_dir);

  ~ExportStream() override;
  ExportStream(const ExportStream&) = delete;
  ExportStream& operator=(const ExportStream&) = delete;

  State Pull(std::string* out, size_t max) override;

  // The error that ended the export early, or OK (valid once Pull returned
  // kEnd or kFailed).
  Status status() const;

 private:
  explicit ExportStream(int fd) : fd_(fd) {}
  void Produce(storage::ReadView view);

  const int fd_;
  std::thread producer_;
  std::atomic<bool> cancel_{false};
  std::atomic<uint64_t> published_{0};  // bytes of fd_ complete and readable
  std::atomic<bool> done_{false};       // set after the last publish
  mutable std::mutex mu_;
  Status status_;        // guarded by mu_; written before done_
  uint64_t read_ = 0;    // consumer side only
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_EXPORT_STREAM_H_
