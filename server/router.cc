#include "server/router.h"

#include <cstdlib>

namespace portcullis::server {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether the raw segment `raw` percent-decodes to `literal`, without
// decoding it into a buffer. REQUIRES: ValidEscapes(raw).
bool DecodesTo(std::string_view raw, std::string_view literal) {
  size_t j = 0;
  for (size_t i = 0; i < raw.size(); ++i, ++j) {
    char c = raw[i];
    if (c == '%') {
      c = static_cast<char>(HexDigit(raw[i + 1]) * 16 + HexDigit(raw[i + 2]));
      i += 2;
    }
    if (j >= literal.size() || literal[j] != c) return false;
  }
  return j == literal.size();
}

bool IsParamSegment(std::string_view segment) {
  return !segment.empty() && segment.front() == '{';
}

}  // namespace

bool SplitRawPath(std::string_view path, PathSegments* out) {
  out->size = 0;
  if (path.empty() || path.front() != '/') return false;
  size_t start = 1;  // skip the leading '/'
  while (start <= path.size()) {
    if (out->size == kMaxSegments) return false;  // longer than any route
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out->raw[out->size++] = path.substr(start, end - start);
    start = end + 1;
  }
  return true;
}

bool ValidEscapes(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') continue;
    if (i + 2 >= raw.size()) return false;
    if (HexDigit(raw[i + 1]) < 0 || HexDigit(raw[i + 2]) < 0) return false;
    i += 2;
  }
  return true;
}

std::vector<std::string> RouteNames() {
  std::vector<std::string> names;
  for (const Route& r : Routes()) {
    names.push_back(std::string(r.method) + " " + std::string(r.pattern));
  }
  return names;
}

Router::Router(std::span<const Route> routes) : routes_(routes) {
  nodes_.emplace_back();  // the root
  for (uint32_t r = 0; r < routes_.size(); ++r) {
    PathSegments segs;
    if (!SplitRawPath(routes_[r].pattern, &segs)) std::abort();  // bad table
    uint32_t node = 0;
    uint32_t mask = 0;
    for (size_t i = 0; i < segs.size; ++i) {
      const std::string_view seg = segs.raw[i];
      if (IsParamSegment(seg)) mask |= 1u << i;
      uint32_t next = 0;
      if (IsParamSegment(seg)) {
        next = nodes_[node].param;
      } else {
        for (const auto& [literal, child] : nodes_[node].literals) {
          if (literal == seg) next = child;
        }
      }
      if (next == 0) {
        next = static_cast<uint32_t>(nodes_.size());
        nodes_.emplace_back();
        if (IsParamSegment(seg)) {
          nodes_[node].param = next;
        } else {
          nodes_[node].literals.emplace_back(seg, next);
        }
      }
      node = next;
    }
    nodes_[node].route_ends.push_back(r);
    param_masks_.push_back(mask);
  }
}

uint32_t Router::Walk(uint32_t node, const PathSegments& segs, size_t i) const {
  if (i == segs.size) return nodes_[node].route_ends.empty() ? 0 : node;
  const Node& n = nodes_[node];
  for (const auto& [literal, child] : n.literals) {
    if (!DecodesTo(segs.raw[i], literal)) continue;
    if (uint32_t end = Walk(child, segs, i + 1)) return end;
  }
  if (n.param != 0 && !segs.raw[i].empty()) {
    return Walk(n.param, segs, i + 1);
  }
  return 0;
}

Router::Match Router::Find(std::string_view method,
                           const PathSegments& segs) const {
  Match m;
  const uint32_t end = segs.size == 0 ? 0 : Walk(0, segs, 0);
  if (end == 0) return m;
  for (uint32_t r : nodes_[end].route_ends) {
    const Route& route = routes_[r];
    if (route.method == method || (method == "HEAD" && route.method == "GET")) {
      m.route = &route;
      m.index = r;
      m.allowed.clear();
      return m;
    }
    if (!m.allowed.empty()) m.allowed += ", ";
    m.allowed.append(route.method);
  }
  return m;
}

}  // namespace portcullis::server
