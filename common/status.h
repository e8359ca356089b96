// Status and Result: how the data plane reports failure without exceptions.
//
// A Status is either OK or carries a code and a message. Result<T> is a value
// or the Status explaining why there is none. Both are cheap to move.
//
// Thread safety: plain values; safe to share between threads once built.
#ifndef PORTCULLIS_COMMON_STATUS_H_
#define PORTCULLIS_COMMON_STATUS_H_

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace portcullis {

// One code per class of failure. The server maps each code to exactly one
// HTTP status (see server/http_status.cc and docs/api.md).
enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // malformed input: 400
  kNotFound,            // the named thing does not exist: 404
  kAlreadyExists,       // conflicts with existing state: 409
  kFailedPrecondition,  // refused by a rule of the data model: 409
  kPermissionDenied,    // the actor may not do this: 403
  kUnauthenticated,     // no or bad credentials: 401
  kResourceExhausted,   // a size limit was exceeded: 413
  kGone,                // existed but can no longer be used (expired): 410
  kUnavailable,         // temporarily unable (shutting down): 503
  kInternal,            // a bug or a storage failure: 500
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, std::string field = {})
      : code_(code), message_(std::move(message)), field_(std::move(field)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg, std::string field = {}) {
    return Status(StatusCode::kInvalidArgument, std::move(msg),
                  std::move(field));
  }
  static Status NotFound(std::string msg) {
    return Status(StatusCode::kNotFound, std::move(msg));
  }
  static Status AlreadyExists(std::string msg) {
    return Status(StatusCode::kAlreadyExists, std::move(msg));
  }
  static Status FailedPrecondition(std::string msg, std::string field = {}) {
    return Status(StatusCode::kFailedPrecondition, std::move(msg),
                  std::move(field));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(StatusCode::kPermissionDenied, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(StatusCode::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // The request field the error is about ("subject", "checks[3].action"), or
  // empty when it is not about one field.
  const std::string& field() const { return field_; }

  // A machine-readable refinement of the code for clients that act on it
  // ("already_member", "inviter_not_entitled"), or empty. The server writes
  // it as the error's `reason`.
  const std::string& reason() const { return reason_; }
  // Returns this status with `reason` set.
  Status WithReason(std::string reason) && {
    reason_ = std::move(reason);
    return std::move(*this);
  }

  // "INVALID_ARGUMENT: message".
  std::string ToString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  std::string field_;
  std::string reason_;
};

template <typename T>
using Result = tl::expected<T, Status>;

// Shorthand for returning a failed Result: `return Fail(status);`.
inline tl::unexpected<Status> Fail(Status s) {
  return tl::unexpected<Status>(std::move(s));
}

}  // namespace portcullis

#endif  // PORTCULLIS_COMMON_STATUS_H_
