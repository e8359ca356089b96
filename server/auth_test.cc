#include "server/auth.h"

#include <gtest/gtest.h>

namespace portcullis::server {
namespace {

TEST(TokenSet, ParsesScopesAndSkipsComments) {
  auto set = TokenSet::Parse(
      "# comment\n\ncheck aaaaaaaaaaaaaaaa\r\nadmin  bbbbbbbbbbbbbbbb\n", "t");
  ASSERT_TRUE(set.has_value()) << set.error().message();
  EXPECT_EQ(set->size(), 2u);
  std::string h = "Bearer aaaaaaaaaaaaaaaa";
  EXPECT_EQ(set->Authenticate(&h), Scope::kCheck);
  h = "bearer bbbbbbbbbbbbbbbb";
  EXPECT_EQ(set->Authenticate(&h), Scope::kAdmin);
  h = "Bearer bbbbbbbbbbbbbbbc";
  EXPECT_EQ(set->Authenticate(&h), Scope::kNone);
  h = "Basic bbbbbbbbbbbbbbbb";
  EXPECT_EQ(set->Authenticate(&h), Scope::kNone);
  EXPECT_EQ(set->Authenticate(nullptr), Scope::kNone);
}

TEST(TokenSet, ErrorsNameTheLine) {
  auto set = TokenSet::Parse("check aaaaaaaaaaaaaaaa\nroot bbbbbbbbbbbbbbbb\n",
                             "tokens.txt");
  ASSERT_FALSE(set.has_value());
  EXPECT_NE(set.error().message().find("tokens.txt:2"), std::string::npos);
  EXPECT_FALSE(TokenSet::Parse("check short\n", "t").has_value());
  EXPECT_FALSE(TokenSet::Parse("check\n", "t").has_value());
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

}  // namespace
}  // namespace portcullis::server
