#include "server/http_status.h"

#include "server/json.h"

namespace portcullis::server {

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kFailedPrecondition: return 409;
    case StatusCode::kGone: return 410;
    case StatusCode::kResourceExhausted: return 413;
    case StatusCode::kInternal: return 500;
    case StatusCode::kUnavailable: return 503;
  }
  return 500;
}

HttpResponse ErrorResponse(const Status& status) {
  HttpResponse r;
  r.status = HttpStatusFor(status.code());
  r.body = ErrorJson(StatusCodeName(status.code()), status.message(),
                     status.field(), status.reason());
  return r;
}

HttpResponse JsonResponse(const rapidjson::StringBuffer& buf) {
  HttpResponse r;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

HttpResponse NoStoreResponse() {
  return ErrorResponse(
      Status(StatusCode::kUnavailable, "no data store is configured"));
}

}  // namespace portcullis::server
