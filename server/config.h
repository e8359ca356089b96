// ServeConfig: everything `portcullis serve` can be told, from a YAML config
// file and command-line flags (flags win). Defaults are safe: loopback only,
// authentication on.
//
// Config file keys (all optional; unknown or duplicate keys are errors with
// their line and column):
//   listen: "127.0.0.1:8181"   data: DIR      policy: PATH
//   threads: 2                 tokens: FILE   auth: true
//   source: "postgresql://..." (cluster mode: docs/scale-out.md)
//   limits:   {header_bytes, body_bytes, import_body_bytes, batch, page}
//   timeouts: {read_ms, write_ms, idle_ms, long_poll_ms, invitation_sweep_ms,
//              revision_wait_ms}
//   log:      {access: PATH|"-"|"", decisions: PATH|"-"|""}
//   public_url: "https://pdp.example.com"  (AuthZEN metadata base URL)
//   page_token_key_file: FILE  (a secret of 16 bytes or more: page tokens
//                               then outlive a restart; else a random key)
//   decision_index: true       (false: checks read LMDB alone)
//
// Thread safety: plain values and functions; a ServeConfig is built once at
// start-up and then only read.
#ifndef PORTCULLIS_SERVER_CONFIG_H_
#define PORTCULLIS_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace portcullis::server {

struct ServeConfig {
  std::string listen = "127.0.0.1:8181";
  std::string data_dir = "portcullis-data";
  // Cluster mode: the PostgreSQL source of truth (a postgresql:// URL); the
  // store in data_dir is then its replica. Empty: the embedded mode.
  std::string source;
  std::string policy_path;  // required
  int threads = 2;
  std::string tokens_file;
  bool auth = true;  // off only by explicit config (`auth: false`, --no-auth)
  size_t header_limit = 16 * 1024;
  size_t body_limit = 1024 * 1024;
  size_t import_body_limit = 256 * 1024 * 1024;
  size_t max_batch = 1000;
  size_t max_page = 10000;
  int64_t read_timeout_ms = 10000;
  int64_t write_timeout_ms = 10000;
  int64_t idle_timeout_ms = 60000;
  int64_t long_poll_ms = 30000;
  // How often expired invitations are written as expired (0: never).
  int64_t invitation_sweep_ms = 60000;
  // How long a read with at_least_revision waits for the replica.
  int64_t revision_wait_ms = 2000;
  std::string access_log;    // "" off, "-" stderr, else a file path
  std::string decision_log;  // same
  std::string public_url;    // "" : derived from each request's Host
  // A file holding the secret of the page tokens (server/page_token.h);
  // "": a random key at start, and tokens die with the process.
  std::string page_token_key_file;
  // Checks read through the in-memory decision index (index/), built in the
  // background at start-up; false: LMDB alone (for comparisons).
  bool decision_index = true;
};

// Applies the keys of the YAML config file at `path` over *config.
Status LoadConfigFile(const std::string& path, ServeConfig* config);
// The same for YAML text (for tests); `name` appears in errors.
Status ParseConfigText(std::string_view text, std::string_view name,
                       ServeConfig* config);

struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
// "127.0.0.1:8181", "[::1]:0". INVALID_ARGUMENT naming "listen" otherwise.
Result<ListenAddress> ParseListen(std::string_view text);

}  // namespace portcullis::server

#endif  // PORTCULLIS_SERVER_CONFIG_H_
