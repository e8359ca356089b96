// libFuzzer target: arbitrary bytes as a condition. Parsing must succeed or
// report errors; a parsed condition must evaluate without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "policies/condition_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace pp = portcullis::policies;
  namespace pe = portcullis::engine;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = pp::ParseCondition(text, pp::ConditionOrigin{"fuzz", 1, 1, 1},
                              nullptr);
  if (!r) {
    if (r.error().empty()) __builtin_trap();
    return 0;
  }
  const pe::Attribute context[] = {
      {"a", pe::Value::Int(1)},
      {"b", pe::Value::String("x")},
      {"soft", pe::Value::Bool(true)},
  };
  pe::ConditionInputs in;
  in.subject = {"user", "alice"};
  in.resource = {"file", "f1"};
  in.action = "view";
  in.context = context;
  in.now = 1700000000000000;
  pe::EvalError err;
  (*r)->Evaluate(in, &err);
  return 0;
}
