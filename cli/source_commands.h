// import, export and verify against a PostgreSQL source (cluster mode,
// docs/scale-out.md): `portcullis import|export|verify --source URL`.
//
// Each works through a replica (cluster/replica.h) in `data_dir`, or, when
// `data_dir` is empty, in a temporary folder removed afterwards:
//   import  writes through the replica, so every batch is one revision at
//           the source, checked by the same rules as the daemon's writes;
//   export  writes the source's content at its head revision as JSON Lines;
//   verify  bootstraps a fresh copy of the source and checks its indexes;
//           with `data_dir`, also brings that replica (a stopped node's
//           folder) to the same revision and checks that it holds exactly
//           the source's records. Exit code 2 when it finds problems.
// Return the process exit code (0 success, 1 failure); never throw.
//
// Thread safety: reentrant; each call opens its own replica.
#ifndef PORTCULLIS_CLI_SOURCE_COMMANDS_H_
#define PORTCULLIS_CLI_SOURCE_COMMANDS_H_

#include <iosfwd>
#include <string>

#include "engine/policy.h"

namespace portcullis::cli {

int RunSourceImportCommand(const std::string& file, const std::string& source,
                           const std::string& data_dir,
                           const engine::Policy* policy, std::ostream& out,
                           std::ostream& err);
int RunSourceExportCommand(const std::string& source,
                           const std::string& data_dir, std::ostream& out,
                           std::ostream& err);
int RunSourceVerifyCommand(const std::string& source,
                           const std::string& data_dir, std::ostream& out,
                           std::ostream& err);

}  // namespace portcullis::cli

#endif  // PORTCULLIS_CLI_SOURCE_COMMANDS_H_
