#include "cluster/pg.h"

#include <algorithm>
#include <cstring>

namespace portcullis::cluster {
namespace {

// libpq's error text without its trailing newline.
std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

std::string_view PgRows::GetBytes(int row, int col) const {
  return std::string_view(PQgetvalue(result_.get(), row, col),
                          static_cast<size_t>(
                              PQgetlength(result_.get(), row, col)));
}

int64_t PgRows::GetInt(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const std::string_view b = GetBytes(row, col);
  uint64_t v = 0;
  for (unsigned char c : b) v = (v << 8) | c;  // network byte order
  switch (b.size()) {
    case 2:
      return static_cast<int16_t>(v);
    case 4:
      return static_cast<int32_t>(v);
    default:
      return static_cast<int64_t>(v);
  }
}

int64_t PgRows::affected() const {
  const char* n = PQcmdTuples(result_.get());
  return (n == nullptr || *n == '\0') ? 0 : std::strtoll(n, nullptr, 10);
}

Result<std::unique_ptr<PgConnection>> PgConnection::Connect(
    const std::string& url, std::chrono::seconds timeout) {
  const std::string seconds =
      std::to_string(std::max<int64_t>(2, timeout.count()));
  // Earlier pairs are overridden by the URL's own parameters (expanded from
  // "dbname" in place). A server that vanishes without closing the
  // connection (a partition, a dead host) is noticed within seconds, not at
  // the operating system's TCP timeouts: keepalives on an idle connection,
  // tcp_user_timeout on one waiting for an answer.
  const char* keys[] = {"connect_timeout", "application_name",
                        "keepalives_idle", "keepalives_interval",
                        "keepalives_count", "tcp_user_timeout", "dbname",
                        nullptr};
  const char* values[] = {seconds.c_str(), "portcullis", "10", "5", "3",
                          "15000", url.c_str(), nullptr};
  PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (conn == nullptr) {
    return tl::unexpected(Status(StatusCode::kUnavailable,
                                 "cannot allocate a PostgreSQL connection"));
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    Status s(StatusCode::kUnavailable,
             "cannot connect to PostgreSQL at " + RedactUrl(url) + ": " +
                 Trimmed(PQerrorMessage(conn)));
    PQfinish(conn);
    return tl::unexpected(std::move(s));
  }
  return std::unique_ptr<PgConnection>(new PgConnection(conn));
}

PgConnection::~PgConnection() { PQfinish(conn_); }

bool PgConnection::ok() const { return PQstatus(conn_) == CONNECTION_OK; }

int PgConnection::socket() const { return PQsocket(conn_); }

Result<PgRows> PgConnection::Exec(std::string_view sql,
                                  const std::vector<PgParam>& params) {
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].null ? nullptr : params[i].value.data();
    lengths[i] = static_cast<int>(params[i].value.size());
    formats[i] = params[i].binary ? 1 : 0;
  }
  const std::string text(sql);
  PGresult* result = PQexecParams(
      conn_, text.c_str(), static_cast<int>(params.size()), nullptr,
      values.data(), lengths.data(), formats.data(), /*resultFormat=*/1);
  const ExecStatusType status =
      result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    return PgRows(result);
  }
  Status failure = Failure(result);
  if (result) PQclear(result);
  return tl::unexpected(std::move(failure));
}

Status PgConnection::Failure(PGresult* result) const {
  std::string message =
      Trimmed(result ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  const StatusCode code = ok() ? StatusCode::kFailedPrecondition
                               : StatusCode::kUnavailable;
  return Status(code, "PostgreSQL: " + message);
}

Result<int64_t> PgConnection::QueryInt(const std::string& sql) {
  PGresult* result = PQexec(conn_, sql.c_str());
  const ExecStatusType status =
      result ? PQresultStatus(result) : PGRES_FATAL_ERROR;
  if (status != PGRES_TUPLES_OK) {
    Status failure = Failure(result);
    if (result) PQclear(result);
    return tl::unexpected(std::move(failure));
  }
  if (PQntuples(result) < 1 || PQgetisnull(result, 0, 0)) {
    PQclear(result);
    return tl::unexpected(Status::FailedPrecondition(
        "PostgreSQL: no row from " + sql));
  }
  const int64_t v = std::strtoll(PQgetvalue(result, 0, 0), nullptr, 10);
  PQclear(result);
  return v;
}

Status PgConnection::RunPipeline(const std::vector<Statement>& statements) {
  for (size_t i = 0; i < statements.size(); i += kPipelineChunk) {
    const size_t end = std::min(statements.size(), i + kPipelineChunk);
    if (PQenterPipelineMode(conn_) == 0) return Failure(nullptr);
    Status s = RunChunk(statements, i, end);
    // Leaves pipeline mode once every result was read (RunChunk reads them
    // all, even after a failure); a lost connection leaves nothing to read.
    if (PQexitPipelineMode(conn_) == 0 && s.ok()) s = Failure(nullptr);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status PgConnection::RunChunk(const std::vector<Statement>& statements,
                              size_t begin, size_t end) {
  Status first_failure;
  size_t sent = 0;
  for (size_t i = begin; i < end; ++i) {
    const Statement& st = statements[i];
    std::vector<const char*> values(st.params.size());
    std::vector<int> lengths(st.params.size());
    std::vector<int> formats(st.params.size());
    for (size_t p = 0; p < st.params.size(); ++p) {
      values[p] = st.params[p].null ? nullptr : st.params[p].value.data();
      lengths[p] = static_cast<int>(st.params[p].value.size());
      formats[p] = st.params[p].binary ? 1 : 0;
    }
    if (PQsendQueryParams(conn_, st.sql.c_str(),
                          static_cast<int>(st.params.size()), nullptr,
                          values.data(), lengths.data(), formats.data(),
                          /*resultFormat=*/1) == 0) {
      first_failure = Failure(nullptr);
      break;
    }
    ++sent;
  }
  if (PQpipelineSync(conn_) == 0) return Failure(nullptr);
  // Each statement's result, then a null; then the sync's result.
  for (size_t i = 0; i < sent; ++i) {
    PGresult* r = PQgetResult(conn_);
    if (r == nullptr) return first_failure.ok() ? Failure(nullptr) : first_failure;
    const ExecStatusType status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK &&
        status != PGRES_PIPELINE_ABORTED && first_failure.ok()) {
      first_failure = Failure(r);
    }
    PQclear(r);
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  PGresult* sync = PQgetResult(conn_);
  if (sync == nullptr) return first_failure.ok() ? Failure(nullptr) : first_failure;
  PQclear(sync);
  return first_failure;
}

Status PgConnection::Run(std::string_view sql,
                         const std::vector<PgParam>& params) {
  Result<PgRows> r = Exec(sql, params);
  return r ? Status::Ok() : r.error();
}

Result<std::vector<std::string>> PgConnection::TakeNotifications() {
  if (PQconsumeInput(conn_) == 0) {
    return tl::unexpected(
        Status(StatusCode::kUnavailable,
               "PostgreSQL: " + Trimmed(PQerrorMessage(conn_))));
  }
  std::vector<std::string> channels;
  while (PGnotify* n = PQnotifies(conn_)) {
    channels.emplace_back(n->relname);
    PQfreemem(n);
  }
  return channels;
}

}  // namespace portcullis::cluster
