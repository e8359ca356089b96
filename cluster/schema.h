// The PostgreSQL schema of a Portcullis cluster, and its migrations.
//
// Tables (all prefixed portcullis_, so that a database may hold others):
//   portcullis_schema   one row: the schema version and the cluster's id
//                       (random, made with the schema; a replica remembers
//                       which cluster it was made from)
//   portcullis_head     one row: the newest committed revision. Every write
//                       transaction takes its revision with
//                       UPDATE ... SET revision = revision + 1 RETURNING,
//                       which locks the row until it commits: revisions are
//                       gap-free and in commit order.
//   portcullis_records  (tbl smallint, key bytea, value bytea): every record
//                       of the store as storage/layout.h encodes it; tbl is
//                       storage::Table.
//   portcullis_changes  (revision bigint, change_set bytea, committed_at):
//                       the change log, one encoded storage::ChangeSet per
//                       revision; the oldest rows may be deleted (retention).
// A commit sends NOTIFY portcullis_changes.
//
// Migrations go forward only: a database at an older version is migrated
// by the first daemon that connects; one at a newer version is refused.
//
// Thread safety: free functions over a PgConnection the caller owns (one
// thread at a time).
#ifndef PORTCULLIS_CLUSTER_SCHEMA_H_
#define PORTCULLIS_CLUSTER_SCHEMA_H_

#include <cstdint>
#include <string>

#include "cluster/pg.h"
#include "common/status.h"

namespace portcullis::cluster {

// The schema version this build creates and reads.
inline constexpr int64_t kSchemaVersion = 1;
// The NOTIFY channel of commits.
inline constexpr const char* kChangesChannel = "portcullis_changes";

struct SchemaInfo {
  int64_t version = 0;
  std::string cluster_id;
};

// Creates the schema in an empty database, or migrates an older one to
// kSchemaVersion, under a PostgreSQL advisory lock so that daemons starting
// together do it once. kFailedPrecondition if the database's schema is
// newer than this build knows; kUnavailable if PostgreSQL cannot be reached.
Result<SchemaInfo> EnsureSchema(PgConnection& conn);

// Reads the schema row without creating anything; version 0 when the
// database holds no Portcullis schema.
Result<SchemaInfo> ReadSchema(PgConnection& conn);

// The source's head revision and the oldest revision still in its change
// log (0 when the log is empty), read in one statement.
struct SourcePosition {
  int64_t head = 0;
  int64_t oldest_change = 0;
};
Result<SourcePosition> ReadPosition(PgConnection& conn);

}  // namespace portcullis::cluster

#endif  // PORTCULLIS_CLUSTER_SCHEMA_H_
