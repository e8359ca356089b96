// Pass ParseYaml of the policy compiler (compiler_passes.h): text -> YAML
// nodes; a syntax error is reported with its position and stops the run.
#include "policies/compiler_passes.h"

#include <string>

#include <yaml-cpp/yaml.h>

#include "policies/yaml_util.h"

namespace portcullis::policies {

void ParseYaml(CompileState& st) {
  if (st.root) return;  // the caller parsed the text (CompilePolicyNode)
  try {
    st.root = YAML::Load(std::string(st.source));
  } catch (const YAML::Exception& e) {
    st.errors.push_back(PolicyError{st.file, MarkLine(e.mark),
                                    MarkColumn(e.mark),
                                    "YAML syntax error: " + e.msg});
  }
}

}  // namespace portcullis::policies
