// Api: the daemon's HTTP API, from HttpRequest to HttpResponse without
// sockets. It admits a request (route, token, scope), builds its Call and
// runs the route's handler (server/handlers.h), then adds the request id,
// counts the request and writes its access-log line. No policy logic and
// no JSON of any endpoint lives here.
//
// Route, token and scope are decided from the request line and headers
// alone (Admit), so the server refuses an unauthorized request before
// reading its body (CheckHead, the server's header callback).
//
// Thread safety: Handle() and CheckHead() may be called from many threads
// at once. Each request takes one policy snapshot and opens at most one
// read view of the store.
#ifndef PORTCULLIS_SERVER_API_H_
#define PORTCULLIS_SERVER_API_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/handlers.h"
#include "server/http/http_server.h"
#include "server/router.h"

namespace portcullis::server {

class Api {
 public:
  // `store` serves every endpoint that reads or writes data; when null they
  // answer 503 (tests of routing and documents only).
  Api(ApiOptions options, PolicyHolder* policy, storage::Store* store,
      PolicyAdmin admin);

  // Answers one request. Never throws; every failure is an error response.
  HttpResponse Handle(HttpRequest& request);

  // The server's header callback (HttpServerOptions::on_header): the answer
  // Handle would give a request that its request line and headers alone
  // refuse (404 no such route, 405 wrong method, 400 bad escape, 401
  // missing or unknown token, 403 too narrow a scope), or nullopt when the
  // request may proceed to its body. The same decision as Handle's (both
  // use Admit); a refusal is counted and access-logged here.
  std::optional<HttpResponse> CheckHead(const HttpRequestHead& head);

  // Reloads the policy (see server::ReloadPolicy). Used by SIGHUP.
  Status Reload(std::vector<PolicyDiagnostic>* errors) {
    return ReloadPolicy(context_, errors);
  }

  // Checks read through `index` from now on (null: LMDB alone). It must
  // outlive the Api.
  void SetDecisionIndex(const index::DecisionIndex* index) {
    context_.index = index;
  }

  // Marks the daemon ready (readyz 200) or draining (readyz 503).
  void SetReady(bool ready) { context_.ready.store(ready); }

  Metrics& metrics() { return *context_.metrics; }

 private:
  // What the request line and the Authorization header decide: the route,
  // or the refusal (400, 404, 405, 401, 403).
  struct Admission {
    const Route* route = nullptr;
    size_t endpoint = 0;  // in the metrics ("other" when no route)
    PathSegments segments;
    Scope scope = Scope::kNone;
    std::optional<HttpResponse> refusal;
  };
  Admission Admit(std::string_view method, std::string_view path,
                  std::optional<std::string_view> authorization) const;

  // The decoded {param} segments of an admitted request into call->params,
  // or the 400 answer when one is not valid UTF-8.
  std::optional<HttpResponse> DecodeParams(const Admission& a,
                                           Call* call) const;

  // The client's X-Request-ID if usable, else a new "pc-N".
  std::string RequestId(std::optional<std::string_view> supplied);
  // Adds X-Request-ID; for HEAD, drops the body (Content-Length then says
  // its length). An error answered on an AuthZEN path (`path`) gets the
  // specification's error body (authzen::UseErrorBody).
  static void FinishResponse(HttpResponse* response,
                             const std::string& request_id, bool head,
                             std::string_view path);
  // Metrics and the access log line of one answered request.
  void Observe(std::string_view request_id, std::string_view remote,
               std::string_view method, std::string_view path,
               std::string_view query, size_t endpoint,
               const HttpResponse& response, size_t bytes_in,
               std::chrono::steady_clock::time_point start);

  ApiContext context_;
  Router router_;
  std::atomic<uint64_t> next_request_id_{1};
};

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_API_H_
