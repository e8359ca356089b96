// The one table from StatusCode to HTTP status (docs/api.md documents it),
// and the responses every handler builds from it: errors, JSON bodies, the
// missing data store.
//
// Thread safety: plain functions.
#ifndef PORTCULLIS_SERVER_HTTP_STATUS_H_
#define PORTCULLIS_SERVER_HTTP_STATUS_H_

#include <rapidjson/stringbuffer.h>

#include "common/status.h"
#include "server/http/http_server.h"

namespace portcullis::server {

// kOk 200, kInvalidArgument 400, kUnauthenticated 401, kPermissionDenied
// 403, kNotFound 404, kAlreadyExists 409, kFailedPrecondition 409, kGone
// 410, kResourceExhausted 413, kInternal 500, kUnavailable 503.
int HttpStatusFor(StatusCode code);

// The error response for a failed Status: the mapped HTTP status and the
// body {"error":{"code","message","field"?}}.
HttpResponse ErrorResponse(const Status& status);

// A 200 response whose body is the JSON written into `buf`.
HttpResponse JsonResponse(const rapidjson::StringBuffer& buf);

// The 503 of an endpoint that needs the data store when none is configured.
HttpResponse NoStoreResponse();

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_HTTP_STATUS_H_
