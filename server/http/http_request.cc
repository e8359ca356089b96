// The parts of HttpRequest, BodyStream and percent-decoding that need no
// Beast (declared in http_server.h): kept out of the Beast translation unit.
#include <algorithm>
#include <chrono>
#include <thread>

#include "server/http/http_server.h"

namespace portcullis::server {

namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = HexValue(s[i + 1]);
    const int lo = HexValue(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

Result<std::string> DrainBodyStream(BodyStream& stream,
                                    std::chrono::milliseconds poll) {
  std::string all, piece;
  for (;;) {
    switch (stream.Pull(&piece, 64 * 1024)) {
      case BodyStream::State::kData:
        all += piece;
        break;
      case BodyStream::State::kWait:
        std::this_thread::sleep_for(poll);
        break;
      case BodyStream::State::kEnd:
        return all;
      case BodyStream::State::kFailed:
        return Fail(Status::Internal("the response body failed midway"));
    }
  }
}

const std::string* HttpRequest::Header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return &value;
  }
  return nullptr;
}

std::optional<std::string> HttpRequest::QueryParam(
    std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    if (eq == std::string_view::npos) return std::string();
    return PercentDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string_view> HttpRequest::RepeatedQueryParam() const {
  if (query.empty()) return std::nullopt;
  // Keys of a query that fits the header limit: compared pairwise while
  // few, sorted when many (a 16 KiB query may hold thousands).
  std::vector<std::string_view> keys;
  std::string_view q = query;
  while (!q.empty()) {
    const size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    std::string_view key = pair.substr(0, pair.find('='));
    if (keys.size() < 16) {
      for (std::string_view k : keys) {
        if (k == key) return key;
      }
    }
    keys.push_back(key);
  }
  if (keys.size() <= 16) return std::nullopt;
  std::sort(keys.begin(), keys.end());
  const auto dup = std::adjacent_find(keys.begin(), keys.end());
  if (dup == keys.end()) return std::nullopt;
  return *dup;
}

}  // namespace portcullis::server
