#include "bench/loadgen_core.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace portcullis::bench {
namespace {

TEST(ParseMix, ReadsTemplatesWithJsonAndStringBodies) {
  auto mix = ParseMix(
      "# a comment\n"
      "{\"name\":\"hit\",\"method\":\"POST\",\"path\":\"/v1/check\","
      "\"body\":{\"subject\":\"user:a\",\"n\":[1,2]},\"weight\":3}\n"
      "\n"
      "{\"name\":\"raw\",\"method\":\"POST\",\"path\":\"/x\",\"body\":\"{}\","
      "\"decisions\":100}\r\n"
      "  {\"name\":\"health\",\"method\":\"GET\",\"path\":\"/healthz\"}  ");
  ASSERT_TRUE(mix.has_value()) << mix.error().ToString();
  ASSERT_EQ(mix->size(), 3u);
  EXPECT_EQ((*mix)[0].name, "hit");
  EXPECT_EQ((*mix)[0].body, "{\"subject\":\"user:a\",\"n\":[1,2]}");
  EXPECT_TRUE((*mix)[0].has_body);
  EXPECT_EQ((*mix)[0].weight, 3.0);
  EXPECT_EQ((*mix)[1].body, "{}");
  EXPECT_EQ((*mix)[1].decisions, 100u);
  EXPECT_FALSE((*mix)[2].has_body);
  EXPECT_EQ((*mix)[2].decisions, 1u);
}

TEST(ParseMix, ErrorsNameTheLineAndField) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"{\"method\":\"GET\",\"path\":\"/\"}", "line 1, field \"name\""},
      {"\n{\"name\":\"a\",\"path\":\"/\"}", "line 2, field \"method\""},
      {"{\"name\":\"a\",\"method\":\"GET\"}", "field \"path\""},
      {"{\"name\":\"a\",\"method\":\"get\",\"path\":\"/\"}", "field \"method\""},
      {"{\"name\":\"a\",\"method\":\"GET\",\"path\":\"x\"}", "field \"path\""},
      {"{\"name\":\"a\",\"method\":\"GET\",\"path\":\"/a b\"}",
       "field \"path\""},
      {"{\"name\":\"a\",\"method\":\"GET\",\"path\":\"/\",\"weight\":0}",
       "field \"weight\""},
      {"{\"name\":\"a\",\"method\":\"GET\",\"path\":\"/\",\"decisions\":-1}",
       "field \"decisions\""},
      {"{\"name\":\"a\",\"method\":\"GET\",\"path\":\"/\",\"extra\":1}",
       "field \"extra\": unknown field"},
      {"{\"name\":\"a\",", "line 1: invalid JSON"},
      {"[1]", "expected a JSON object"},
      {"# only a comment\n\n", "no request template"},
  };
  for (const auto& c : cases) {
    auto mix = ParseMix(c.text);
    ASSERT_FALSE(mix.has_value()) << c.text;
    EXPECT_NE(mix.error().message().find(c.expected), std::string::npos)
        << c.text << " -> " << mix.error().message();
  }
}

TEST(ReadMixFile, MissingFileIsAnError) {
  auto mix = ReadMixFile("/nonexistent/mix.jsonl");
  ASSERT_FALSE(mix.has_value());
  EXPECT_NE(mix.error().message().find("/nonexistent/mix.jsonl"),
            std::string::npos);
}

TEST(BuildRawRequest, PostWithBodyAndToken) {
  RequestTemplate t{"c", "POST", "/v1/check", "{\"a\":1}", true, 1, 1};
  const std::string r = BuildRawRequest(t, "127.0.0.1:8181", "s3cret");
  EXPECT_EQ(r,
            "POST /v1/check HTTP/1.1\r\n"
            "Host: 127.0.0.1:8181\r\n"
            "Connection: keep-alive\r\n"
            "User-Agent: portcullis-loadgen\r\n"
            "Authorization: Bearer s3cret\r\n"
            "Content-Type: application/json\r\n"
            "Content-Length: 7\r\n"
            "\r\n"
            "{\"a\":1}");
}

TEST(BuildRawRequest, GetWithoutBodyOrToken) {
  RequestTemplate t{"h", "GET", "/healthz", "", false, 1, 1};
  const std::string r = BuildRawRequest(t, "h:1", "");
  EXPECT_EQ(r.find("Authorization"), std::string::npos);
  EXPECT_EQ(r.find("Content-Length"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n");
}

TEST(WeightedPicker, FollowsTheWeights) {
  std::vector<RequestTemplate> ts(3);
  ts[0].weight = 1;
  ts[1].weight = 3;
  ts[2].weight = 6;
  WeightedPicker picker(ts);
  std::vector<int> counts(3);
  uint64_t state = 1;
  const int n = 100000;
  for (int i = 0; i < n; ++i) ++counts[picker.Pick(SplitMix64(state))];
  EXPECT_NEAR(counts[0] / double(n), 0.1, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.3, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.6, 0.01);
  EXPECT_EQ(picker.Pick(UINT64_MAX), 2u);
  EXPECT_EQ(picker.Pick(0), 0u);
}

TEST(ResultJson, MergesByNameAndReportsRates) {
  std::vector<RequestTemplate> ts = {
      {"hit", "POST", "/a", "", false, 1, 1},
      {"hit", "POST", "/b", "", false, 1, 1},
      {"batch", "POST", "/c", "", false, 1, 10},
  };
  std::vector<TemplateStats> stats(3);
  stats[0].ok = 10;
  stats[0].latency.RecordN(1000, 10);
  stats[1].ok = 10;
  stats[1].errors = 2;
  stats[1].errors_by_kind["404"] = 2;
  stats[1].latency.RecordN(3000, 10);
  stats[2].ok = 4;
  stats[2].decisions = 40;
  stats[2].latency.RecordN(50000, 4);
  RunInfo info;
  info.label = "t";
  info.target = "127.0.0.1:1";
  info.duration_s = 2;
  info.connections = 2;
  info.threads = 1;
  const NameIndex index = IndexNames(ts);
  ASSERT_EQ(index.names, (std::vector<std::string>{"hit", "batch"}));
  ASSERT_EQ(index.name_of_template, (std::vector<size_t>{0, 0, 1}));
  std::vector<TemplateStats> per_name(index.names.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    per_name[index.name_of_template[i]].Merge(stats[i]);
  }
  const std::string json = ResultJson(info, index.names, per_name);
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << json;
  EXPECT_STREQ(doc["mode"].GetString(), "closed");
  EXPECT_TRUE(doc["offered_rps"].IsNull());
  EXPECT_EQ(doc["ok"].GetUint64(), 24u);
  EXPECT_EQ(doc["errors"].GetUint64(), 2u);
  EXPECT_DOUBLE_EQ(doc["throughput_rps"].GetDouble(), 13.0);
  EXPECT_EQ(doc["errors_by_kind"]["404"].GetUint64(), 2u);
  const auto& per = doc["per_name"];
  ASSERT_EQ(per.Size(), 2u);
  EXPECT_STREQ(per[0]["name"].GetString(), "hit");
  EXPECT_EQ(per[0]["latency_ns"]["count"].GetUint64(), 20u);
  EXPECT_STREQ(per[1]["name"].GetString(), "batch");
  EXPECT_DOUBLE_EQ(per[1]["decisions_per_s"].GetDouble(), 20.0);
  EXPECT_GE(per[1]["latency_ns"]["p99"].GetUint64(), 50000u);
}

}  // namespace
}  // namespace portcullis::bench
