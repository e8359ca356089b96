#include "server/json.h"

#include <gtest/gtest.h>

namespace portcullis::server {
namespace {

TEST(ParseJson, BoundsDepthAndValidatesUtf8) {
  rapidjson::Document d;
  EXPECT_TRUE(ParseJson("[[[]]]", &d, 3).ok());
  EXPECT_FALSE(ParseJson("[[[[]]]]", &d, 3).ok());
  EXPECT_FALSE(ParseJson(std::string(100000, '['), &d).ok());
  EXPECT_FALSE(ParseJson("\"\xc3\"", &d).ok());
  // Explicit length: bytes after the view are not read.
  std::string_view truncated("{\"a\":1}garbage", 7);
  EXPECT_TRUE(ParseJson(truncated, &d).ok());
  EXPECT_FALSE(ParseJson(std::string_view("{\"a\":1}", 6), &d).ok());
}

TEST(AttributeArena, FlattensNestedObjectsToDottedKeys) {
  rapidjson::Document d;
  ASSERT_TRUE(ParseJson(R"({"device":{"ip":"10.0.0.1","trust":{"level":3}},"tags":["a",2],"ok":true,"x":null})", &d).ok());
  AttributeArena arena;
  std::vector<engine::Attribute> attrs;
  ASSERT_TRUE(arena.Flatten(d, "context", &attrs).ok());
  const engine::Value* ip = engine::FindAttribute(attrs, "device.ip");
  ASSERT_NE(ip, nullptr);
  EXPECT_EQ(ip->s, "10.0.0.1");
  const engine::Value* level = engine::FindAttribute(attrs, "device.trust.level");
  ASSERT_NE(level, nullptr);
  EXPECT_EQ(level->i, 3);
  const engine::Value* tags = engine::FindAttribute(attrs, "tags");
  ASSERT_NE(tags, nullptr);
  ASSERT_EQ(tags->list.size(), 2u);
  EXPECT_EQ(tags->list[1].i, 2);
  EXPECT_TRUE(engine::FindAttribute(attrs, "ok")->b);
  rapidjson::Document arr;
  ASSERT_TRUE(ParseJson("[1]", &arr).ok());
  EXPECT_FALSE(arena.Flatten(arr, "context", &attrs).ok());
}

TEST(ErrorJson, OmitsEmptyField) {
  EXPECT_EQ(ErrorJson("NOT_FOUND", "x"),
            R"({"error":{"code":"NOT_FOUND","message":"x"}})");
  EXPECT_EQ(ErrorJson("INVALID_ARGUMENT", "m", "f"),
            R"({"error":{"code":"INVALID_ARGUMENT","message":"m","field":"f"}})");
}

}  // namespace
}  // namespace portcullis::server

namespace portcullis::server {
namespace {

// Regression (tests/hostile InvalidUtf8Is400): ids from the path reached the
// store without UTF-8 validation.
TEST(IsValidUtf8, AcceptsUtf8AndRejectsEverythingElse) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("file-1"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xff\xfe"));
  EXPECT_FALSE(IsValidUtf8("\xc3\x28"));          // bad continuation
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("ab\xe2\x82"));        // truncated
  EXPECT_FALSE(IsValidUtf8("\xe2"));
}

}  // namespace
}  // namespace portcullis::server
