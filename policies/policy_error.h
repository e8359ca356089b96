// PolicyError: one problem found in a policy or policy-test file, with the
// position that caused it. Control-plane type: built while loading, printed
// by `portcullis lint` and `portcullis test`.
//
// Thread safety: a plain value; const access is safe from any thread.
//
// Invariants:
//   1. `line` and `column` are 1-based; `line` 0 means the position is
//      unknown, and ToString() then gives the file alone.
//   2. `file` is the name the loader was given (a path or a display name),
//      so the same input always gives byte-identical text.
#ifndef PORTCULLIS_POLICIES_POLICY_ERROR_H_
#define PORTCULLIS_POLICIES_POLICY_ERROR_H_

#include <cstdint>
#include <string>
#include <vector>

namespace portcullis::policies {

struct PolicyError {
  std::string file;
  uint32_t line = 0;    // 1-based; 0 when unknown
  uint32_t column = 0;  // 1-based; 0 when unknown
  std::string message;

  // "file:line:column: message" (or "file: message" without a position).
  std::string ToString() const {
    if (line == 0) return file + ": " + message;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) +
           ": " + message;
  }
};

using PolicyErrors = std::vector<PolicyError>;

}  // namespace portcullis::policies

#endif  // PORTCULLIS_POLICIES_POLICY_ERROR_H_
