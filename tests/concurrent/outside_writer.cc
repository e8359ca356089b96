// A process that writes to a store another process serves: opens the store
// in argv[1] and commits argv[2] random write transactions (seed argv[3]),
// as `portcullis import` into a running daemon's folder would. Exits 0 when
// every transaction was attempted (refused ones included), 1 if the store
// could not be opened. Used by index_concurrent_test.cc.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/store.h"
#include "tests/support/random_writes.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: outside_writer DIR COUNT SEED\n");
    return 2;
  }
  portcullis::storage::StoreOptions options;
  options.must_exist = true;
  auto store = portcullis::storage::Store::Open(argv[1], options);
  if (!store) {
    std::fprintf(stderr, "outside_writer: %s\n",
                 store.error().ToString().c_str());
    return 1;
  }
  portcullis::testing::RandomWrites gen(
      static_cast<uint32_t>(std::atoi(argv[3])), 1'800'000'000'000'000);
  for (int i = 0; i < std::atoi(argv[2]); ++i) gen.Step(store->get());
  return 0;
}
