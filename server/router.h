// The route table and the router over it.
//
// A Route names a method, a path pattern whose "{param}" segments match any
// non-empty segment, the scope a token needs, and the handler. The table
// (routes.cc) is the one list of the API's endpoints; docs/openapi.yaml
// lists the same set (a test checks it).
//
// Router matches a raw request path against the table in time proportional
// to the path, not to the number of routes: the patterns form a tree of
// segments, and a path walks it once, trying a literal segment before a
// parameter. The raw path is split at '/' first and each segment is
// compared percent-decoded, so an escaped '/' ("%2F") stays inside its
// segment. Matching allocates nothing unless the method is wrong (the 405
// answer lists the allowed ones).
//
// Thread safety: a Router is immutable after construction and may be shared.
#ifndef PORTCULLIS_SERVER_ROUTER_H_
#define PORTCULLIS_SERVER_ROUTER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/auth.h"
#include "server/handlers.h"

namespace portcullis::server {

struct Route {
  std::string_view method;
  std::string_view pattern;  // "/v1/resources/{type}/{id}"
  Scope scope;               // kNone: no token needed
  Handler handler;
};

// The API's routes, in the order the documentation lists them.
std::span<const Route> Routes();

// Every route as "METHOD /pattern/{param}", in table order.
std::vector<std::string> RouteNames();

// A raw path split at '/', segments still percent-encoded. No route has
// more than kMaxSegments segments.
inline constexpr size_t kMaxSegments = 8;
struct PathSegments {
  std::array<std::string_view, kMaxSegments> raw;
  size_t size = 0;
};

// False if `path` does not start with '/' or has more segments than any
// route may have (then no route matches it).
bool SplitRawPath(std::string_view path, PathSegments* out);

// Whether every '%' in `raw` starts a two-hex-digit escape.
bool ValidEscapes(std::string_view raw);

class Router {
 public:
  // Aborts on a table no router can serve (a pattern with more than
  // kMaxSegments segments): a bug, caught by every test.
  explicit Router(std::span<const Route> routes);

  struct Match {
    // The route for the method, or null (then `allowed` lists the methods
    // of the path, comma-separated, or is empty when no route has the path).
    const Route* route = nullptr;
    size_t index = 0;  // of `route` in the table
    std::string allowed;
  };
  // REQUIRES: every segment of `segs` has ValidEscapes. HEAD matches a GET
  // route.
  Match Find(std::string_view method, const PathSegments& segs) const;

  // Bit i is set when segment i of route `index`'s pattern is a {param}.
  uint32_t ParamMask(size_t index) const { return param_masks_[index]; }

  std::span<const Route> routes() const { return routes_; }

 private:
  struct Node {
    std::vector<std::pair<std::string_view, uint32_t>> literals;  // child
    uint32_t param = 0;                // child for a {param}; 0: none
    std::vector<uint32_t> route_ends;  // routes whose pattern ends here
  };
  // The node the path's segments [i, size) lead to from `node` that ends
  // at least one route, or 0.
  uint32_t Walk(uint32_t node, const PathSegments& segs, size_t i) const;

  std::span<const Route> routes_;
  std::vector<Node> nodes_;            // nodes_[0] is the root
  std::vector<uint32_t> param_masks_;  // one per route
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_ROUTER_H_
