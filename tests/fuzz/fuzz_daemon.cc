#include "tests/fuzz/fuzz_daemon.h"

#include <rapidjson/document.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "policies/policy_compiler.h"
#include "server/authzen.h"
#include "server/json.h"
#include "index/decision_index.h"
#include "storage/change_set.h"
#include "storage/jsonl.h"

namespace portcullis::fuzz {

const FuzzRoute kFuzzRoutes[] = {
    {"POST", "/v1/check"},
    {"POST", "/v1/check/batch"},
    {"POST", "/v1/actions"},
    {"POST", "/v1/lookup/resources"},
    {"POST", "/v1/lookup/subjects"},
    {"PUT", "/v1/resources/"},
    {"GET", "/v1/resources/"},
    {"DELETE", "/v1/resources/"},
    {"PUT", "/v1/subjects/"},
    {"GET", "/v1/subjects/"},
    {"DELETE", "/v1/subjects/"},
    {"PUT", "/v1/bindings"},
    {"GET", "/v1/bindings"},
    {"PUT", "/v1/restrictions"},
    {"GET", "/v1/restrictions"},
    {"GET", "/v1/changes"},
    {"POST", "/v1/import"},
    {"GET", "/v1/export"},
    {"GET", "/v1/policy"},
    {"POST", "/v1/policy/validate"},
    {"GET", "/metrics"},
    {"GET", "/healthz"},
    {"POST", "/v1/groups"},
    {"POST", "/v1/groups/"},        // {id}/invitations
    {"GET", "/v1/groups/"},         // {id}/invitations?actor=
    {"GET", "/v1/subjects/"},       // {type}/{id}/invitations
    {"POST", "/v1/invitations/"},   // {id}/accept, {id}/decline
    {"DELETE", "/v1/invitations/"},
    {"PUT", "/v1/groups/"},         // {id}/members/{subject}
    {"DELETE", "/v1/groups/"},
    {"PUT", "/v1/permissions"},
    {"PUT", "/v1/accounts/"},       // {id}/administrators/{subject}
    {"DELETE", "/v1/accounts/"},
    {"GET", "/v1/accounts/"},       // {id}/people?actor=
    {"GET", "/"},  // anything: 404 / 405 paths
};
const size_t kFuzzRouteCount = sizeof(kFuzzRoutes) / sizeof(kFuzzRoutes[0]);

FuzzDaemon& FuzzDaemon::Get() {
  static FuzzDaemon* daemon = [] {
    auto* d = new FuzzDaemon();
    atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(Get().dir_, ec);
    });
    return d;
  }();
  return *daemon;
}

FuzzDaemon::FuzzDaemon() {
  char tmpl[] = "/tmp/portcullis_fuzz_XXXXXX";
  dir_ = mkdtemp(tmpl);
  storage::StoreOptions so;
  so.no_sync = true;  // speed; durability is not under test here
  so.changelog_retention = 1000;
  auto store = storage::Store::Open(dir_ + "/data", so);
  if (!store) abort();
  store_ = std::move(*store);
  auto policy = policies::CompilePolicyFile(PORTCULLIS_SOURCE_DIR
                                            "/policies/workspace.yaml");
  if (!policy) abort();
  holder_ = std::make_unique<server::PolicyHolder>(*policy);
  server::ApiOptions o;
  o.tokens.Add(server::Scope::kCheck, kCheckToken);
  o.tokens.Add(server::Scope::kAdmin, kAdminToken);
  o.max_batch = 100;
  o.max_page = 100;
  o.default_page = 20;
  o.max_wait = std::chrono::milliseconds(0);
  server::PolicyAdmin admin;
  admin.validate = [](std::string_view yaml) {
    std::vector<server::PolicyDiagnostic> out;
    auto r = policies::CompilePolicyText(yaml, "<request>");
    if (!r) {
      for (const auto& e : r.error()) {
        out.push_back({e.file, e.line, e.column, e.message});
      }
    }
    return out;
  };
  api_ = std::make_unique<server::Api>(std::move(o), holder_.get(), store_.get(),
                                       std::move(admin));
  api_->SetReady(true);
  // cli/serve.cc's defaults (server/config.h), with a smaller import limit.
  http_.header_limit = 16 * 1024;
  http_.body_limit = 64 * 1024;
  // As cli/serve.cc: route, token and scope are checked from the header.
  http_.on_header = [api = api_.get()](const server::HttpRequestHead& head) {
    return api->CheckHead(head);
  };
  http_.body_limit_for = [](std::string_view method, std::string_view path)
      -> std::optional<size_t> {
    if (method == "POST" && path == "/v1/import") return 256 * 1024;
    return std::nullopt;
  };
}

FuzzDaemon::~FuzzDaemon() = default;

server::HttpResponse FuzzDaemon::Handle(server::HttpRequest& request) {
  server::HttpResponse r = api_->Handle(request);
  if (r.long_poll) {
    std::shared_ptr<server::LongPoll> lp = std::move(r.long_poll);
    std::optional<server::HttpResponse> first = lp->poll(false);
    if (first) return std::move(*first);
    std::optional<server::HttpResponse> last = lp->poll(true);
    if (!last) {
      server::HttpResponse bad;
      bad.status = 500;
      bad.body = "long poll gave no final answer";
      return bad;
    }
    return std::move(*last);
  }
  return r;
}

std::string CheckResponse(const server::HttpResponse& r,
                          std::string_view path) {
  switch (r.status) {
    case 200: case 400: case 401: case 403: case 404: case 405: case 409:
    case 410: case 413: case 503:
      break;
    default:
      return "unexpected status " + std::to_string(r.status) + ": " + r.body;
  }
  if (r.content_type != "application/json") return "";
  rapidjson::Document d;
  d.Parse(r.body.data(), r.body.size());
  if (d.HasParseError()) return "response is not JSON: " + r.body;
  if (r.status >= 400) {
    const bool native = d.IsObject() && d.HasMember("error") &&
                        d["error"].IsObject() && d["error"].HasMember("code") &&
                        d["error"]["code"].IsString();
    // AuthZEN's error body is a message string (routed requests); errors
    // the HTTP layer answers before routing keep the native body.
    const bool authzen = server::authzen::IsAuthzenPath(path) &&
                         d.IsString() && d.GetStringLength() > 0;
    if (!native && !authzen) {
      return "error response without error.code: " + r.body;
    }
  }
  return "";
}

namespace {

// The path of the request line that starts `input` ("PUT /a?b HTTP/1.1"
// gives "/a"), or "".
std::string_view RequestLinePath(std::string_view input) {
  const size_t start = input.find(' ');
  if (start == std::string_view::npos) return {};
  const size_t end = input.find_first_of(" ?\r\n", start + 1);
  return input.substr(start + 1, end == std::string_view::npos
                                     ? std::string_view::npos
                                     : end - start - 1);
}

void SetTarget(server::HttpRequest* r, std::string target) {
  r->target = std::move(target);
  const size_t q = r->target.find('?');
  r->path = r->target.substr(0, q);
  r->query = q == std::string::npos ? "" : r->target.substr(q + 1);
}

}  // namespace

std::string RunApiInput(std::string_view input) {
  if (input.empty()) return "";
  const FuzzRoute& route =
      kFuzzRoutes[static_cast<unsigned char>(input[0]) % kFuzzRouteCount];
  input.remove_prefix(1);
  const size_t nl = input.find('\n');
  const std::string_view suffix = input.substr(0, nl);
  const std::string_view body =
      nl == std::string_view::npos ? std::string_view() : input.substr(nl + 1);
  server::HttpRequest r;
  r.method = route.method;
  SetTarget(&r, std::string(route.path) + std::string(suffix));
  r.body = std::string(body);
  r.headers.emplace_back("authorization",
                         std::string("Bearer ") + kAdminToken);
  server::HttpResponse response = FuzzDaemon::Get().Handle(r);
  return CheckResponse(response, r.path);
}

std::string RunHttpInput(std::string_view input) {
  FuzzDaemon& d = FuzzDaemon::Get();
  // A connection answers requests in order until one is not kept alive.
  for (int i = 0; i < 16 && !input.empty(); ++i) {
    server::ParsedHttpRequest p = server::ParseHttpRequest(input, d.http_options());
    if (p.consumed > input.size()) return "parser consumed past the input";
    if (p.kind == server::ParsedHttpRequest::Kind::kClose) return "";
    if (p.kind == server::ParsedHttpRequest::Kind::kRefused) {
      // Refused from the header; the connection then closes.
      server::HttpResponse& r = p.refusal;
      if (r.status < 400) return "a refusal with status " + std::to_string(r.status);
      if (input.substr(0, 5) == "HEAD ") {
        if (!r.body.empty()) return "a HEAD answer with a body";
        r.body = "{\"error\":{\"code\":\"HEAD\"}}";
      }
      return CheckResponse(r, RequestLinePath(input));
    }
    if (p.kind == server::ParsedHttpRequest::Kind::kError) {
      if (p.error_status != 400 && p.error_status != 413) {
        return "unexpected error status " + std::to_string(p.error_status);
      }
      return "";
    }
    if (p.request.path.empty() && p.request.target.empty()) {
      return "request without a target";
    }
    server::HttpResponse r = d.Handle(p.request);
    if (p.request.method == "HEAD") {  // a HEAD answer has no body
      if (!r.body.empty()) return "a HEAD answer with a body";
      r.body = "{\"error\":{\"code\":\"HEAD\"}}";
    }
    std::string problem = CheckResponse(r, p.request.path);
    if (!problem.empty()) return problem;
    if (!p.keep_alive || p.consumed == 0) return "";
    input.remove_prefix(p.consumed);
  }
  return "";
}

std::string RunJsonlInput(std::string_view input) {
  FuzzDaemon& d = FuzzDaemon::Get();
  std::string_view rest = input;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view()
                                        : rest.substr(nl + 1);
    Result<storage::JsonlRecord> rec = storage::ParseJsonlRecord(line);
    if (!rec) {
      if (rec.error().ok()) return "a failed parse with an OK status";
      continue;
    }
    const std::string once = storage::FormatJsonlRecord(*rec);
    Result<storage::JsonlRecord> again = storage::ParseJsonlRecord(once);
    if (!again) {
      return "formatted record does not parse: " + once + " (" +
             again.error().message() + ")";
    }
    const std::string twice = storage::FormatJsonlRecord(*again);
    if (once != twice) return "format is not stable: " + once + " vs " + twice;
  }
  std::istringstream in{std::string(input)};
  storage::ImportOptions o;
  o.policy = &d.policy();
  o.actor = "fuzz";
  o.batch_size = 4;
  Result<storage::ImportStats> stats = storage::ImportJsonl(d.store(), in, o);
  if (!stats && stats.error().ok()) return "a failed import with an OK status";
  return "";
}

std::string RunChangeSetInput(std::string_view input) {
  Result<storage::ChangeSet> cs = storage::DecodeChangeSet(input);
  if (!cs) {
    if (cs.error().ok()) return "a failed decode with an OK status";
    return "";
  }
  std::string again;
  storage::EncodeChangeSet(*cs, &again);
  if (again != input) return "a decoded change set encodes differently";
  {
    index::DecisionIndex idx;
    storage::ChangeSet first = *cs;
    first.revision = first.entry.revision = 1;
    const Status s = idx.ApplyChange(first);
    if (s.ok() && idx.revision() != 1) return "index applied but not at 1";
  }
  FuzzDaemon& d = FuzzDaemon::Get();
  storage::ChangeSet next = *cs;
  next.revision = next.entry.revision = d.store().revision() + 1;
  const storage::Revision before = d.store().revision();
  Result<storage::Revision> applied = d.store().Apply(next);
  if (!applied) {
    if (applied.error().ok()) return "a failed apply with an OK status";
    if (d.store().revision() != before) return "a failed apply advanced";
  }
  return "";
}

}  // namespace portcullis::fuzz
