// PgConnection and PgRows: the one thin layer over libpq (PostgreSQL's C
// client). Every libpq call of Portcullis is in cluster/, and this header
// is the only one that includes libpq-fe.h; it is internal to the folder.
//
// A PgConnection is one session. Exec() runs one statement with positional
// parameters ($1, $2, ...) and returns its rows in binary form: bytea
// columns come back as their bytes, integer columns as integers (GetInt
// accepts smallint, integer and bigint). Failures are Status values, never
// exceptions: kUnavailable when the connection is lost or cannot be made
// (the server is away), kFailedPrecondition for a statement PostgreSQL
// refuses (a constraint, a serialization failure), with PostgreSQL's
// message.
//
// Thread safety: a PgConnection and the PgRows it returns are used by one
// thread at a time (libpq's rule for one PGconn). Distinct connections may
// be used on distinct threads.
#ifndef PORTCULLIS_CLUSTER_PG_H_
#define PORTCULLIS_CLUSTER_PG_H_

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/follower.h"  // RedactUrl
#include "common/status.h"

namespace portcullis::cluster {

// One statement parameter: text (integers are passed as their decimal
// text), or bytes (bytea), or NULL.
struct PgParam {
  static PgParam Text(std::string text) { return {std::move(text), false, false}; }
  static PgParam Int(int64_t v) { return {std::to_string(v), false, false}; }
  static PgParam Bytes(std::string_view bytes) {
    return {std::string(bytes), true, false};
  }
  static PgParam Null() { return {{}, false, true}; }
  std::string value;
  bool binary = false;
  bool null = false;
};

// The rows of one statement. Invariant: holds a successful result
// (PGRES_TUPLES_OK or PGRES_COMMAND_OK).
class PgRows {
 public:
  explicit PgRows(PGresult* result) : result_(result, &PQclear) {}
  int size() const { return PQntuples(result_.get()); }
  bool IsNull(int row, int col) const {
    return PQgetisnull(result_.get(), row, col) != 0;
  }
  // The column's bytes (bytea, text), valid while this PgRows lives.
  std::string_view GetBytes(int row, int col) const;
  // A smallint, integer or bigint column; 0 when NULL.
  int64_t GetInt(int row, int col) const;
  // Rows affected by an INSERT, UPDATE or DELETE.
  int64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> result_;
};

class PgConnection {
 public:
  // Connects to `url` (a postgresql:// URL or a key=value string), giving
  // up after `timeout` (libpq's connect_timeout, at least 2 s), with TCP
  // keepalives and a 15 s tcp_user_timeout; the URL's own parameters win.
  // kUnavailable with libpq's message on failure.
  static Result<std::unique_ptr<PgConnection>> Connect(
      const std::string& url, std::chrono::seconds timeout);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one statement. See the file comment for the error codes.
  Result<PgRows> Exec(std::string_view sql,
                      const std::vector<PgParam>& params = {});
  // Exec for statements whose rows do not matter.
  Status Run(std::string_view sql, const std::vector<PgParam>& params = {});

  // Runs `sql` (one or more statements without parameters, in one round
  // trip) and returns the first column of the first row of the last
  // statement's result, an integer. kFailedPrecondition if it has no row.
  Result<int64_t> QueryInt(const std::string& sql);

  // One statement of a pipeline.
  struct Statement {
    std::string sql;
    std::vector<PgParam> params;
  };
  // Runs the statements in order, sent together (libpq's pipeline mode):
  // one round trip per kPipelineChunk statements instead of one each.
  // Stops at the first failure (PostgreSQL skips the rest of its chunk)
  // and returns it; rows are not returned. Inside a transaction, a failure
  // leaves it aborted, as Run would.
  static constexpr size_t kPipelineChunk = 500;
  Status RunPipeline(const std::vector<Statement>& statements);

  // False once the connection is known to be lost; then every Exec fails
  // with kUnavailable and the caller should connect again.
  bool ok() const;
  // The socket, for poll(2) while waiting for notifications.
  int socket() const;
  // Reads what the server sent and returns the channels of the
  // notifications received (LISTEN). kUnavailable if the connection is
  // lost.
  Result<std::vector<std::string>> TakeNotifications();

 private:
  explicit PgConnection(PGconn* conn) : conn_(conn) {}
  // One chunk of RunPipeline, in pipeline mode.
  Status RunChunk(const std::vector<Statement>& statements, size_t begin,
                  size_t end);
  // The Status of a failed result (consumes nothing).
  Status Failure(PGresult* result) const;
  PGconn* conn_;
};

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_PG_H_
