// libFuzzer target: see RunApiInput/RunHttpInput/RunChangeSetInput in
// tests/fuzz/fuzz_daemon.h. Any violation of the response contract traps.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_daemon.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string problem = portcullis::fuzz::RunChangeSetInput(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!problem.empty()) {
    fprintf(stderr, "changeset_fuzz: %s\n", problem.c_str());
    __builtin_trap();
  }
  return 0;
}
