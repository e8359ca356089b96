// Page tokens of the API's paged answers (AuthZEN searches, the native
// lookups and listings): opaque to clients and bound to the query and the
// endpoint that issued them.
//
// A token is the base64url text of
//   version (1 byte, 1) | nonce (12 bytes) | AES-256-GCM(cursor) | tag (16)
// where the cursor is the engine's or the store's own position (the last
// "type:id" of the page, or the last action name) and the additional
// authenticated data is the endpoint's name and the query's canonical text
// (QueryText). So a client can neither read the ids in a token nor forge
// one, and a token is refused by any other endpoint, by any other query
// (other subject, action, type, properties, context...), and by a daemon
// holding another key. The page size may change from page to page.
//
// The key is 32 bytes: SHA-256 of the configured secret
// (`page_token_key_file`), so tokens outlive a restart, or random at start.
//
// Thread safety: a PageTokenKey is immutable after construction; Seal and
// Open are const and may be called from any thread at once.
#ifndef PORTCULLIS_SERVER_PAGE_TOKEN_H_
#define PORTCULLIS_SERVER_PAGE_TOKEN_H_

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "common/status.h"

namespace portcullis::server {

class PageTokenKey {
 public:
  // A random key (tokens die with the process).
  PageTokenKey();
  // The key derived from `secret`; INVALID_ARGUMENT if it is shorter than
  // 16 bytes (`field` names where it came from).
  static Result<PageTokenKey> FromSecret(std::string_view secret,
                                         std::string_view field);

  // The token for `cursor` (not empty) on `endpoint` for `query`.
  std::string Seal(std::string_view endpoint, std::string_view query,
                   std::string_view cursor) const;
  // The cursor of `token`, or INVALID_ARGUMENT naming `field` ("page.token",
  // "page_token") when it is not a token this key issued for `endpoint`
  // and `query`.
  Result<std::string> Open(std::string_view token, std::string_view endpoint,
                           std::string_view query,
                           std::string_view field) const;

 private:
  std::array<uint8_t, 32> key_{};
};

// The canonical text of a JSON request for binding its page tokens: the
// object's members, at every depth, sorted by name and written without
// spaces, leaving out the top-level members named in `paging` (the token
// and the page size, which change from page to page).
std::string QueryText(const rapidjson::Value& request,
                      std::initializer_list<std::string_view> paging);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_PAGE_TOKEN_H_
