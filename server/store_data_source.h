// StoreDataSource: the daemon's DataSource, one LMDB read transaction
// (storage::ReadView) per snapshot.
//
// Thread safety: Snapshot() may be called from any thread.
#ifndef PORTCULLIS_SERVER_STORE_DATA_SOURCE_H_
#define PORTCULLIS_SERVER_STORE_DATA_SOURCE_H_

#include "server/data_source.h"
#include "storage/store.h"

namespace portcullis::server {

class StoreDataSource final : public DataSource {
 public:
  explicit StoreDataSource(storage::Store* store) : store_(store) {}

  Result<std::unique_ptr<DataSnapshot>> Snapshot() override {
    Result<storage::ReadView> view = store_->Read();
    if (!view) return Fail(view.error());
    return std::unique_ptr<DataSnapshot>(
        std::make_unique<StoreSnapshot>(std::move(*view)));
  }

 private:
  class StoreSnapshot final : public DataSnapshot {
   public:
    explicit StoreSnapshot(storage::ReadView view) : view_(std::move(view)) {}
    const engine::DataView& view() const override { return view_; }
    uint64_t revision() const override { return view_.revision(); }

   private:
    storage::ReadView view_;
  };

  storage::Store* store_;
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_STORE_DATA_SOURCE_H_
