// TempStore: an LMDB store in a fresh temporary folder, for tests; the
// folder is removed when the TempStore is destroyed (after the store is
// closed). MakeRequest: an HttpRequest as the HTTP layer hands one to
// server::Api::Handle, from a method, a target ("/v1/x?a=b") and a body.
//
// Thread safety: a TempStore is owned by one test; its Store is as
// thread-safe as any Store.
#ifndef PORTCULLIS_TESTS_SUPPORT_TEMP_STORE_H_
#define PORTCULLIS_TESTS_SUPPORT_TEMP_STORE_H_

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "storage/store.h"

namespace portcullis::testing {

class TempStore {
 public:
  // Opens a new store in TMPDIR/portcullis_<name>_<pid>_<n>. Without
  // options: fsync off (a test needs no durability across power loss).
  explicit TempStore(std::string_view name,
                     storage::StoreOptions options = NoSync()) {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("portcullis_" + std::string(name) + "_" +
            std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    auto store = storage::Store::Open(dir_.string(), std::move(options));
    if (!store) std::abort();  // nothing a test could do without it
    store_ = std::move(*store);
  }
  ~TempStore() {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  storage::Store* get() const { return store_.get(); }
  storage::Store* operator->() const { return store_.get(); }
  const std::filesystem::path& dir() const { return dir_; }

  static storage::StoreOptions NoSync() {
    storage::StoreOptions o;
    o.no_sync = true;
    return o;
  }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace portcullis::testing

#endif  // PORTCULLIS_TESTS_SUPPORT_TEMP_STORE_H_
