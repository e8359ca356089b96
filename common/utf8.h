// UTF-8 checks shared by the layers that take text from outside: the server
// (paths, query strings, bodies echoed into errors and logs) and the storage
// write layer (entity ids).
//
// Thread safety: plain functions over their arguments.
#ifndef PORTCULLIS_COMMON_UTF8_H_
#define PORTCULLIS_COMMON_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace portcullis {

// The length of the well-formed UTF-8 sequence at the start of `s` (1 to 4),
// or 0 if `s` is empty or does not start with one (overlong forms,
// surrogates and code points above U+10FFFF are not well-formed).
size_t Utf8SequenceLength(std::string_view s);

// True if `s` is well-formed UTF-8.
bool IsValidUtf8(std::string_view s);

// Appends `s` to *out with every byte that is not part of a well-formed
// UTF-8 sequence written as the four characters "\xNN" (upper-case hex), so
// that *out is always valid UTF-8 and the bytes stay recognisable in error
// bodies and logs. Valid input is appended unchanged.
void AppendValidUtf8(std::string_view s, std::string* out);
std::string ValidUtf8(std::string_view s);

}  // namespace portcullis

#endif  // PORTCULLIS_COMMON_UTF8_H_
