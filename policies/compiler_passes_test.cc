#include "policies/compiler_passes.h"

#include <string_view>
#include <vector>

#include <gtest/gtest.h>

namespace portcullis::policies {
namespace {

TEST(CompilerPasses, TableListsEveryPassInOrder) {
  std::vector<std::string_view> names;
  for (const CompilerPass& pass : CompilerPasses()) {
    EXPECT_NE(pass.run, nullptr) << pass.name;
    names.push_back(pass.name);
  }
  const std::vector<std::string_view> expected = {
      "ParseYaml",         "CheckShape",        "CollectNames",
      "ResolveReferences", "CheckCycles",       "CompileConditions",
      "FlattenRoleGrants", "BuildPolicy"};
  EXPECT_EQ(names, expected);
}

}  // namespace
}  // namespace portcullis::policies
