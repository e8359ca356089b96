// libFuzzer target: arbitrary bytes as policy YAML. The compiler must return
// a policy or a list of errors, never crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policies/policy_compiler.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = portcullis::policies::CompilePolicyText(text, "fuzz.yaml");
  if (!r && r.error().empty()) __builtin_trap();  // failure names a reason
  return 0;
}
