// DataSource: where the server gets one consistent read view per request.
//
// The daemon implements it over the LMDB store (server/store_data_source.h);
// handler tests implement it over engine::MemoryData (MemoryDataSource
// below). A DataSnapshot pins one revision of the data: everything read
// through its view is consistent, and it must be released before the
// request's I/O thread waits on anything (no snapshot across a long poll).
//
// Thread safety: Snapshot() may be called from any thread; a DataSnapshot is
// used by one thread.
#ifndef PORTCULLIS_SERVER_DATA_SOURCE_H_
#define PORTCULLIS_SERVER_DATA_SOURCE_H_

#include <cstdint>
#include <memory>
#include <shared_mutex>

#include "common/status.h"
#include "engine/data_view.h"
#include "engine/memory_data.h"

namespace portcullis::server {

class DataSnapshot {
 public:
  virtual ~DataSnapshot() = default;
  virtual const engine::DataView& view() const = 0;
  // The revision this snapshot shows: the number of the last committed write.
  virtual uint64_t revision() const = 0;
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  // kUnavailable when no snapshot can be opened (reader table full).
  virtual Result<std::unique_ptr<DataSnapshot>> Snapshot() = 0;
};

// A DataSource over a MemoryData owned by the caller, for tests. Readers
// hold a shared lock for the life of their snapshot; Mutate() takes the
// exclusive lock and bumps the revision.
class MemoryDataSource final : public DataSource {
 public:
  explicit MemoryDataSource(engine::MemoryData* data) : data_(data) {}

  Result<std::unique_ptr<DataSnapshot>> Snapshot() override {
    return std::unique_ptr<DataSnapshot>(std::make_unique<MemorySnapshot>(this));
  }

  // Runs fn(MemoryData&) under the exclusive lock; returns the new revision.
  template <typename Fn>
  uint64_t Mutate(Fn&& fn) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    fn(*data_);
    return ++revision_;
  }

 private:
  class MemorySnapshot final : public DataSnapshot {
   public:
    explicit MemorySnapshot(MemoryDataSource* source)
        : lock_(source->mu_), source_(source),
          revision_(source->revision_) {}
    const engine::DataView& view() const override { return *source_->data_; }
    uint64_t revision() const override { return revision_; }

   private:
    std::shared_lock<std::shared_mutex> lock_;
    MemoryDataSource* source_;
    uint64_t revision_;
  };

  engine::MemoryData* data_;
  std::shared_mutex mu_;
  uint64_t revision_ = 0;  // guarded by mu_
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_DATA_SOURCE_H_
