// Time as the engine sees it: microseconds since the Unix epoch, UTC.
#ifndef PORTCULLIS_COMMON_CLOCK_H_
#define PORTCULLIS_COMMON_CLOCK_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace portcullis {

using TimestampMicros = int64_t;

// The expiry of something that never expires: later than every instant, so
// that `expires_at <= now` is false for it with no special case. Every
// instant, the epoch itself included, is a real expiry: an expiry at or
// before now has passed.
inline constexpr TimestampMicros kNoExpiry =
    std::numeric_limits<TimestampMicros>::max();

// The current wall-clock time. Thread-safe.
TimestampMicros NowMicros();

// Parses an RFC 3339 timestamp ("2026-11-26T17:00:00Z",
// "2026-11-26T17:00:00.250+01:00"). Returns nullopt if it is not one.
std::optional<TimestampMicros> ParseRfc3339(std::string_view text);

// Formats as RFC 3339 in UTC with a trailing Z; fractions only when non-zero.
std::string FormatRfc3339(TimestampMicros t);

// The same text, written into `buf` (no heap block: the access and decision
// logs stamp every line with it). The view points into `buf`.
struct Rfc3339Buffer {
  char bytes[48];
};
std::string_view FormatRfc3339(TimestampMicros t, Rfc3339Buffer* buf);

}  // namespace portcullis

#endif  // PORTCULLIS_COMMON_CLOCK_H_
