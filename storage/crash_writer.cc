// A helper for storage/crash_test.cc: writes to the store in argv[1] without
// end, printing "N REVISION" on stdout after each commit is acknowledged.
// Each write puts resource account:aN and binds user:uN on it, in one
// transaction, with N = the revision that write will get.
#include <cstdio>
#include <string>

#include "storage/store.h"

int main(int argc, char** argv) {
  using namespace portcullis::storage;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  StoreOptions opts;
  opts.map_size = 1 << 20;  // small, so that crashes also hit map growth
  auto store = Store::Open(argv[1], opts);
  if (!store) {
    std::fprintf(stderr, "%s\n", store.error().ToString().c_str());
    return 1;
  }
  for (;;) {
    const Revision next = (*store)->revision() + 1;
    const std::string n = std::to_string(next);
    auto rev = (*store)->Write(nullptr, "user:crash", [&](WriteTxn& w) {
      ResourceRecord r{"account", "a" + n, "", {}};
      r.attributes["pad"].kind = portcullis::engine::ValueKind::kString;
      r.attributes["pad"].s = std::string(200, 'p');
      portcullis::Status s = w.PutResource(r);
      if (!s.ok()) return s;
      BindingRecord b;
      b.subject = "user:u" + n;
      b.resource = "account:a" + n;
      b.roles = {"account_administrator"};
      return w.SetBinding(b);
    });
    if (!rev) {
      std::fprintf(stderr, "%s\n", rev.error().ToString().c_str());
      return 1;
    }
    std::printf("%s %llu\n", n.c_str(), static_cast<unsigned long long>(*rev));
    std::fflush(stdout);
  }
}
