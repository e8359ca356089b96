// The one table from StatusCode to HTTP status (docs/api.md documents it).
#ifndef PORTCULLIS_SERVER_HTTP_STATUS_H_
#define PORTCULLIS_SERVER_HTTP_STATUS_H_

#include "common/status.h"
#include "server/http_server.h"

namespace portcullis::server {

// kOk 200, kInvalidArgument 400, kUnauthenticated 401, kPermissionDenied
// 403, kNotFound 404, kAlreadyExists 409, kFailedPrecondition 409, kGone
// 410, kResourceExhausted 413, kInternal 500, kUnavailable 503.
int HttpStatusFor(StatusCode code);

// The error response for a failed Status: the mapped HTTP status and the
// body {"error":{"code","message","field"?}}.
HttpResponse ErrorResponse(const Status& status);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_HTTP_STATUS_H_
