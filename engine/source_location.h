// SourceLocation: where in which policy file a construct was written.
//
// Thread safety: a plain value. Invariant: line and column are 1-based, and
// 0 means unknown (a construct built in code, not read from a file).
#ifndef PORTCULLIS_ENGINE_SOURCE_LOCATION_H_
#define PORTCULLIS_ENGINE_SOURCE_LOCATION_H_

#include <cstdint>
#include <string>

namespace portcullis::engine {

struct SourceLocation {
  std::string file;
  uint32_t line = 0;    // 1-based; 0 when unknown
  uint32_t column = 0;  // 1-based; 0 when unknown

  // "policies/workspace.yaml:12:7".
  std::string ToString() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

}  // namespace portcullis::engine

#endif  // PORTCULLIS_ENGINE_SOURCE_LOCATION_H_
