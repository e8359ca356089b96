// OpenID AuthZEN Authorization API 1.0: request parsing shared by the
// AuthZEN endpoints (server/authzen.cc holds the Api handlers).
//
// Mapping to the engine:
//  - subject {type, id, properties?} and resource {type, id, properties?}
//    become EntityRef{type, id}; action {name, properties?} the action name.
//  - properties and the request context reach conditions as AttributeMaps
//    (nested objects flattened to dotted keys). Request properties override
//    stored attributes of the same name; stored attributes fill in the rest.
//  - Missing or mistyped required fields are INVALID_ARGUMENT naming the
//    field ("subject.type", "evaluations[1].resource"); unknown fields are
//    ignored.
//
// Thread safety: plain functions over one request's JSON document.
#ifndef PORTCULLIS_SERVER_AUTHZEN_H_
#define PORTCULLIS_SERVER_AUTHZEN_H_

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

#include "common/status.h"
#include "engine/evaluator.h"
#include "server/http/http_server.h"
#include "server/json.h"

namespace portcullis::server::authzen {

// options.evaluations_semantic of an Access Evaluations request.
enum class Semantic { kExecuteAll, kDenyOnFirstDeny, kPermitOnFirstPermit };

// Reads options.evaluations_semantic; execute_all when absent. Fails on an
// unknown value or when `options` is not an object.
Result<Semantic> ParseSemantic(const rapidjson::Value& doc);

// One evaluation, resolved and ready for the evaluator. The CheckRequest's
// views point into the JSON document, the arena and the vectors here, so an
// Evaluation must not be copied or moved after Resolve() filled it.
struct Evaluation {
  engine::CheckRequest request;
  std::vector<engine::Attribute> subject_properties;
  std::vector<engine::Attribute> resource_properties;
  std::vector<engine::Attribute> action_properties;
  std::vector<engine::Attribute> context;

  void Clear();
};

// Resolves the 4-tuple of `item` (an object, or null for a single Access
// Evaluation where the defaults are the whole request) over `defaults`
// (null when there are none). Per the specification ("Default values"): a
// key (subject, action, resource, context) present in `item` overrides the
// default of that key as a whole; a required field (type, id, name) that
// the item's entity lacks is an error naming it
// ("evaluations[2].resource.id is required"), never taken from the
// default. `prefix` names the item in errors ("evaluations[2]."; "" for top
// level).
Status ResolveEvaluation(const rapidjson::Value* item,
                         const rapidjson::Value* defaults,
                         std::string_view prefix, AttributeArena* arena,
                         Evaluation* out);

// A search request's entities. `need_*_id` says whether that entity's id is
// required (subject search ignores subject.id, resource search
// resource.id; action search has no action).
struct SearchInput {
  engine::EntityRef subject;  // id empty when not required
  engine::EntityRef resource;
  std::string_view action;    // empty for action search
  std::vector<engine::Attribute> subject_properties;
  std::vector<engine::Attribute> resource_properties;
  std::vector<engine::Attribute> action_properties;
  std::vector<engine::Attribute> context;
  // As sent (empty for the first page); the handler opens it with the
  // daemon's PageTokenKey. The field it came in: page.token, or the
  // draft's page.next_token.
  std::string page_token;
  std::string page_token_field;
  size_t limit = 0;
};

enum class SearchKind { kSubject, kResource, kAction };

// Parses a search request. `page` is {token?, limit?} (the draft's
// `next_token` is accepted for `token`); `limit` must be a non-negative
// integer (a JSON number: "1" is an error naming page.limit); 0 and an
// absent limit mean `default_limit`, and a limit above `max_limit` is
// lowered to it.
//
// The endpoint's name and the request's canonical text (SearchQueryText)
// are what its page tokens are bound to.
Status ParseSearch(const rapidjson::Value& doc, SearchKind kind,
                   size_t default_limit, size_t max_limit,
                   AttributeArena* arena, SearchInput* out);

// What a search's page tokens are bound to: the request's canonical text
// without its `page`.
std::string SearchQueryText(const rapidjson::Value& doc);

// OK when the Content-Type header names application/json (parameters such
// as charset are allowed); INVALID_ARGUMENT otherwise, including when it is
// missing.
Status CheckJsonContentType(const std::string* content_type);

// The PDP's base URL: `configured` (trailing '/' removed) when non-empty,
// else "http://" + the Host header. INVALID_ARGUMENT when neither is usable.
Result<std::string> BaseUrl(std::string_view configured,
                            const std::string* host);

// The metadata document of GET /.well-known/authzen-configuration.
std::string MetadataJson(std::string_view base_url);

// True for a request path (query excluded) of the AuthZEN API: under
// /access/v1/, or the metadata document.
bool IsAuthzenPath(std::string_view path);

// Rewrites an error response (status 400 or above) into the
// specification's error format ("Error Responses": the body is an error
// message string): the JSON string of the message that the body
// {"error":{"message":...}} held, which names the field at fault
// ("page.limit must be ..."). The status and the Content-Type
// (application/json) stay. A body without such a message is left alone.
void UseErrorBody(HttpResponse* response);

}  // namespace portcullis::server::authzen

#endif  // PORTCULLIS_SERVER_AUTHZEN_H_
