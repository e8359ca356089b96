#include "cluster/schema.h"

#include <string_view>
#include <vector>

namespace portcullis::cluster {
namespace {

// The advisory lock key that serializes schema creation and migrations
// ("portcull" in ASCII).
constexpr int64_t kSchemaLockKey = 0x706f727463756c6cLL;

// Migration N brings the schema from version N-1 to N. Append only: a
// released migration is never edited.
struct Migration {
  int64_t version;
  std::vector<std::string_view> statements;
};

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
      {1,
       {
           "CREATE TABLE portcullis_schema ("
           " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
           " version bigint NOT NULL,"
           " cluster_id text NOT NULL,"
           " created_at timestamptz NOT NULL DEFAULT clock_timestamp())",
           "CREATE TABLE portcullis_head ("
           " one boolean PRIMARY KEY DEFAULT true CHECK (one),"
           " revision bigint NOT NULL)",
           "INSERT INTO portcullis_head (revision) VALUES (0)",
           "CREATE TABLE portcullis_records ("
           " tbl smallint NOT NULL,"
           " key bytea NOT NULL,"
           " value bytea NOT NULL,"
           " PRIMARY KEY (tbl, key))",
           "CREATE TABLE portcullis_changes ("
           " revision bigint PRIMARY KEY,"
           " change_set bytea NOT NULL,"
           " committed_at timestamptz NOT NULL DEFAULT clock_timestamp())",
       }},
  };
  return kMigrations;
}

// Runs the migrations after `from` in one transaction (the caller holds the
// advisory lock).
Status Migrate(PgConnection& conn, int64_t from) {
  Status s = conn.Run("BEGIN");
  if (!s.ok()) return s;
  for (const Migration& m : Migrations()) {
    if (m.version <= from) continue;
    for (std::string_view sql : m.statements) {
      s = conn.Run(sql);
      if (!s.ok()) {
        (void)conn.Run("ROLLBACK");
        return s;
      }
    }
    if (m.version == 1) {
      s = conn.Run(
          "INSERT INTO portcullis_schema (version, cluster_id) VALUES (1, "
          "md5(random()::text || clock_timestamp()::text))");
    } else {
      s = conn.Run("UPDATE portcullis_schema SET version = $1",
                   {PgParam::Int(m.version)});
    }
    if (!s.ok()) {
      (void)conn.Run("ROLLBACK");
      return s;
    }
  }
  return conn.Run("COMMIT");
}

Result<SchemaInfo> CheckedSchema(PgConnection& conn) {
  Result<SchemaInfo> info = ReadSchema(conn);
  if (!info) return info;
  if (info->version > kSchemaVersion) {
    return tl::unexpected(Status::FailedPrecondition(
        "the PostgreSQL database holds Portcullis schema version " +
        std::to_string(info->version) + ", newer than this build knows (" +
        std::to_string(kSchemaVersion) + "): run a newer portcullis"));
  }
  return info;
}

}  // namespace

Result<SchemaInfo> ReadSchema(PgConnection& conn) {
  Result<PgRows> exists = conn.Exec(
      "SELECT to_regclass('portcullis_schema') IS NOT NULL");
  if (!exists) return tl::unexpected(exists.error());
  if (exists->GetBytes(0, 0) != std::string_view("\x01", 1)) {
    return SchemaInfo{};
  }
  Result<PgRows> row =
      conn.Exec("SELECT version, cluster_id FROM portcullis_schema");
  if (!row) return tl::unexpected(row.error());
  if (row->size() != 1) {
    return tl::unexpected(Status::FailedPrecondition(
        "portcullis_schema holds no row: the database is not a Portcullis "
        "source"));
  }
  return SchemaInfo{row->GetInt(0, 0), std::string(row->GetBytes(0, 1))};
}

Result<SchemaInfo> EnsureSchema(PgConnection& conn) {
  Result<SchemaInfo> info = CheckedSchema(conn);
  if (!info || info->version == kSchemaVersion) return info;
  Status s = conn.Run("SELECT pg_advisory_lock($1)",
                      {PgParam::Int(kSchemaLockKey)});
  if (!s.ok()) return tl::unexpected(s);
  // Another daemon may have created or migrated it while this one waited.
  info = CheckedSchema(conn);
  if (info && info->version < kSchemaVersion) {
    s = Migrate(conn, info->version);
    info = s.ok() ? CheckedSchema(conn) : tl::unexpected(s);
  }
  (void)conn.Run("SELECT pg_advisory_unlock($1)",
                 {PgParam::Int(kSchemaLockKey)});
  return info;
}

Result<SourcePosition> ReadPosition(PgConnection& conn) {
  Result<PgRows> r = conn.Exec(
      "SELECT h.revision, coalesce((SELECT min(revision) FROM "
      "portcullis_changes), 0) FROM portcullis_head h");
  if (!r) return tl::unexpected(r.error());
  if (r->size() != 1) {
    return tl::unexpected(
        Status::FailedPrecondition("portcullis_head holds no row"));
  }
  return SourcePosition{r->GetInt(0, 0), r->GetInt(0, 1)};
}

}  // namespace portcullis::cluster
