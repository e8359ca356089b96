// Pass BuildPolicy of the policy compiler (compiler_passes.h): the version
// hash and source file, then engine::Policy::Finalize().
#include "policies/compiler_passes.h"

#include "policies/yaml_util.h"

namespace portcullis::policies {

void BuildPolicy(CompileState& st) {
  st.policy->version = Fnv1a64Hex(st.source);
  st.policy->source_files = {st.file};
  st.policy->Finalize();
}

}  // namespace portcullis::policies
