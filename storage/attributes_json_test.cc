#include "storage/attributes_json.h"

#include <gtest/gtest.h>

#include <string>

namespace portcullis::storage {
namespace {

Status Parse(const char* json, Attributes* out) {
  rapidjson::Document doc;
  doc.Parse(json);
  EXPECT_FALSE(doc.HasParseError()) << json;
  return ParseAttributesJson(doc, "attributes", out);
}

std::string Write(const Attributes& a) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  WriteAttributesJson(w, a);
  return std::string(buf.GetString(), buf.GetSize());
}

TEST(AttributesJson, FlattensObjectsAndRoundTrips) {
  Attributes a;
  ASSERT_TRUE(Parse(R"({"n":null,"b":true,"i":-3,"d":1.5,"s":"x",
                        "l":[1,"two",[3]],"device":{"ip":"10.0.0.1"}})",
                    &a)
                  .ok());
  EXPECT_EQ(a.size(), 7u);
  ASSERT_TRUE(a.count("device.ip"));
  EXPECT_EQ(a.at("device.ip").s, "10.0.0.1");
  EXPECT_EQ(a.at("i").kind, engine::ValueKind::kInt);
  const std::string written = Write(a);
  Attributes again;
  rapidjson::Document doc;
  doc.Parse(written.c_str());
  ASSERT_TRUE(ParseAttributesJson(doc, "attributes", &again).ok());
  EXPECT_EQ(Write(again), written);
}

TEST(AttributesJson, RefusesWhatItCannotStoreNamingTheAttribute) {
  struct Case {
    const char* json;
    const char* message;
    const char* field;
  } cases[] = {
      {R"({"big":18446744073709551615})",
       "attributes.big: integer out of range", "attributes.big"},
      {R"({"l":[{"a":1}]})",
       "attributes.l: objects inside lists are not supported",
       "attributes.l"},
      {R"({"":1})", "attributes: invalid attribute name", "attributes"},
      {R"({"a.b":1,"a":{"b":2}})", "attributes: duplicate attribute 'a.b'",
       "attributes"},
  };
  for (const Case& c : cases) {
    Attributes a;
    const Status s = Parse(c.json, &a);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.json;
    EXPECT_EQ(s.message(), c.message) << c.json;
    EXPECT_EQ(s.field(), c.field) << c.json;
  }
  rapidjson::Document doc;
  doc.Parse("[1]");
  Attributes a;
  EXPECT_EQ(ParseAttributesJson(doc, "attributes", &a).message(),
            "attributes: must be an object");
}

}  // namespace
}  // namespace portcullis::storage
