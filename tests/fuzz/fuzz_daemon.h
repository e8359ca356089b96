// Test support for the fuzz targets and their regression tests: one Api over
// a real LMDB store in a temporary directory, with the workspace policy and
// authentication on, built once per process. No sockets.
//
// CheckResponse() states what every answer must satisfy whatever the input:
// a known status (never 500), a JSON body that parses, and an error body
// {"error":{"code":...}} on every 4xx/5xx (on an AuthZEN path, the
// specification's error message string is accepted too). It returns a description of the
// first violation, or an empty string.
//
// Thread safety: FuzzDaemon::Get() is for one thread (libFuzzer runs inputs
// on one thread).
#ifndef PORTCULLIS_TESTS_FUZZ_FUZZ_DAEMON_H_
#define PORTCULLIS_TESTS_FUZZ_FUZZ_DAEMON_H_

#include <memory>
#include <string>
#include <string_view>

#include "server/api.h"
#include "server/http/http_server.h"
#include "storage/store.h"

namespace portcullis::fuzz {

inline constexpr const char* kCheckToken = "fuzz-check-token-0123456789";
inline constexpr const char* kAdminToken = "fuzz-admin-token-0123456789";

class FuzzDaemon {
 public:
  // The process-wide instance; its directory is removed at exit.
  static FuzzDaemon& Get();

  // Answers one request; a long poll is driven to its final answer at once.
  server::HttpResponse Handle(server::HttpRequest& request);

  storage::Store& store() { return *store_; }
  const engine::Policy& policy() const { return *holder_->Current()->policy; }
  // The limits a connection of the daemon applies (cli/serve.cc's defaults).
  const server::HttpServerOptions& http_options() const { return http_; }

  ~FuzzDaemon();

 private:
  FuzzDaemon();
  std::string dir_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<server::PolicyHolder> holder_;
  std::unique_ptr<server::Api> api_;
  server::HttpServerOptions http_;
};

std::string CheckResponse(const server::HttpResponse& response,
                          std::string_view path);

// The routes the API fuzz target drives: the method and the path prefix. A
// prefix ending in '/' takes the rest of the path from the input.
struct FuzzRoute {
  const char* method;
  const char* path;
};
extern const FuzzRoute kFuzzRoutes[];
extern const size_t kFuzzRouteCount;

// Runs one API fuzz input: byte 0 picks the route, the bytes up to the first
// '\n' complete the target (path parameters or query), the rest is the body.
// Returns the violation of CheckResponse, or empty.
std::string RunApiInput(std::string_view input);

// Runs one HTTP session fuzz input: requests are parsed from the bytes as a
// connection reads them (pipelined, one after another) and each is answered.
std::string RunHttpInput(std::string_view input);

// Runs one JSON Lines fuzz input: every line that parses must format back to
// a line that parses to the same text; then the whole input is imported.
std::string RunJsonlInput(std::string_view input);

// Runs one change set fuzz input (what a replica reads from its source):
// a change set that decodes must encode back to the same bytes; it is then
// applied to a decision index and to the daemon's store, as the next
// revision of each, where a malformed record image must be refused (an
// error status), never crash or half-apply.
std::string RunChangeSetInput(std::string_view input);

}  // namespace portcullis::fuzz

#endif  // PORTCULLIS_TESTS_FUZZ_FUZZ_DAEMON_H_
