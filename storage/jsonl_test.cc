#include "storage/jsonl.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "tests/support/test_policies.h"

namespace portcullis::storage {
namespace {

class JsonlTest : public ::testing::Test {
 protected:
  std::unique_ptr<Store> OpenFresh(const std::string& name) {
    const std::string dir = std::filesystem::temp_directory_path() /
                            ("portcullis_jsonl_" + name + "_" +
                             std::to_string(::getpid()));
    std::filesystem::remove_all(dir);
    dirs_.push_back(dir);
    auto s = Store::Open(dir);
    EXPECT_TRUE(s) << s.error().ToString();
    return s ? std::move(*s) : nullptr;
  }
  void TearDown() override {
    for (const auto& d : dirs_) std::filesystem::remove_all(d);
  }
  std::string Export(Store& store) {
    auto view = store.Read();
    std::ostringstream out;
    auto st = ExportJsonl(*view, out);
    EXPECT_TRUE(st) << st.error().ToString();
    return out.str();
  }
  Result<ImportStats> Import(Store& store, const std::string& text,
                             size_t batch = 50000) {
    std::istringstream in(text);
    ImportOptions opts;
    opts.policy = policy_.get();
    opts.batch_size = batch;
    return ImportJsonl(store, in, opts);
  }

  std::shared_ptr<const engine::Policy> policy_ = testing::WorkspacePolicy();
  std::vector<std::string> dirs_;
};

// Lines in export order; children written before their parent's siblings.
const char kSample[] =
    R"({"kind":"resource","type":"account","id":"acme","attributes":{"plan":"pro"}})"
    "\n"
    R"({"kind":"resource","type":"group","id":"g1","parent":"account:acme","attributes":{"deep":{"x":1,"y":[1,2.5,"s",null,true]}}})"
    "\n"
    R"({"kind":"resource","type":"file","id":"f0","parent":"group:g1","attributes":{"departments":["eng"],"public":true}})"
    "\n"
    R"({"kind":"resource","type":"folder","id":"d1","parent":"group:g1"})"
    "\n"
    R"({"kind":"resource","type":"file","id":"f1","parent":"folder:d1"})"
    "\n"
    R"({"kind":"resource","type":"group","id":"g2","parent":"account:acme"})"
    "\n"
    R"({"kind":"subject","type":"email","id":"carol@example.com"})"
    "\n"
    R"({"kind":"subject","type":"user","id":"alice","attributes":{"department":"eng","email":"alice@example.com","score":0.1}})"
    "\n"
    R"({"kind":"subject","type":"user","id":"bob"})"
    "\n"
    R"({"kind":"binding","subject":"user:alice","resource":"group:g1","roles":["administrator"],"state":"active","created_by":"user:root","created_at":"2026-01-02T03:04:05Z"})"
    "\n"
    R"({"kind":"binding","subject":"user:bob","resource":"file:f1","roles":["content_creator"],"state":"pending","expires_at":"2027-01-01T00:00:00.5Z"})"
    "\n"
    R"({"kind":"restriction","subject":"user:bob","resource":"file:f1","actions":["edit"]})"
    "\n"
    R"({"kind":"invitation","id":"inv1","resource":"group:g1","invitee":"email:carol@example.com","roles":["member"],"inviter":"user:alice","message":"hi \"carol\"\n","created_at":"2026-01-02T00:00:00Z","expires_at":"2026-02-02T00:00:00Z","state":"pending"})"
    "\n";

TEST_F(JsonlTest, RoundTripIsByteIdentical) {
  auto a = OpenFresh("a");
  auto st = Import(*a, kSample, /*batch=*/4);
  ASSERT_TRUE(st) << st.error().ToString();
  EXPECT_EQ(st->records, 13u);
  EXPECT_EQ(st->batches, 4u);
  const std::string first = Export(*a);
  // The export is canonical: nested objects flattened, times normalized.
  std::string canonical = kSample;
  auto replace = [&](const std::string& from, const std::string& to) {
    const size_t at = canonical.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    canonical.replace(at, from.size(), to);
  };
  replace(R"("deep":{"x":1,"y":[1,2.5,"s",null,true]}})",
          R"("deep.x":1,"deep.y":[1,2.5,"s",null,true]})");
  replace("00:00:00.5Z", "00:00:00.500000Z");
  EXPECT_EQ(first, canonical);
  auto b = OpenFresh("b");
  ASSERT_TRUE(Import(*b, first));
  EXPECT_EQ(Export(*b), first);
  auto problems = b->Verify();
  ASSERT_TRUE(problems);
  EXPECT_TRUE(problems->empty());
  // Nested objects were flattened to dotted keys.
  auto view = b->Read();
  auto rec = view->GetResourceRecord(*engine::ParseEntityRef("group:g1"));
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->attributes.count("deep.x"), 1u);
  EXPECT_EQ(rec->attributes.at("deep.y").list.size(), 5u);
}

TEST_F(JsonlTest, BadLineIsReportedAndItsBatchNotApplied) {
  auto s = OpenFresh("bad");
  const std::string text =
      R"({"kind":"resource","type":"account","id":"a1"})"
      "\n"
      R"({"kind":"resource","type":"account","id":"a2"})"
      "\n\n"
      R"({"kind":"resource","type":"group","id":"g","parent":"account:a1"})"
      "\n"
      R"({"kind":"binding","subject":"user:x","resource":"group:g","roles":["owner"]})"
      "\n";
  auto st = Import(*s, text, /*batch=*/2);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("line 5: unknown role 'owner'"),
            std::string::npos)
      << st.error().message();
  EXPECT_NE(st.error().message().find("2 records before it"),
            std::string::npos)
      << st.error().message();
  // The first batch (a1, a2) is committed; the second (g, binding) is not.
  auto view = s->Read();
  EXPECT_TRUE(view->GetResource(*engine::ParseEntityRef("account:a2")));
  EXPECT_FALSE(view->GetResource(*engine::ParseEntityRef("group:g")));
  EXPECT_EQ(view->revision(), 1u);
}

TEST_F(JsonlTest, ParseErrorsNameLineAndField) {
  auto s = OpenFresh("parse");
  struct Case {
    std::string line;
    std::string expect;
  } cases[] = {
      {R"({"kind":"resource","type":"account"})", "line 2: id: required"},
      {R"({"kind":"resource","type":"account","id":"x",)",
       "line 2: invalid JSON"},
      {R"(["kind"])", "line 2: a record must be a JSON object"},
      {R"({"kind":"widget"})", "line 2: kind: must be"},
      {R"({"kind":"subject","type":"user","id":"u","colour":1})",
       "line 2: unknown field 'colour'"},
      {R"({"kind":"subject","type":"user","id":"u","id":"v"})",
       "line 2: field 'id' given twice"},
      {R"({"kind":"binding","subject":"user:u","resource":"account:a","roles":"member"})",
       "line 2: roles: must be a list"},
      {R"({"kind":"binding","subject":"user:u","resource":"account:a","roles":["account_administrator"],"expires_at":"tomorrow"})",
       "line 2: expires_at: must be an RFC 3339"},
      {R"({"kind":"subject","type":"user","id":"u","attributes":{"n":18446744073709551615}})",
       "integer out of range"},
      {R"({"kind":"subject","type":"user","id":"u","attributes":{"a":[{"x":1}]}})",
       "objects inside lists"},
      {R"({"kind":"resource","type":"group","id":"g","parent":"account:missing"})",
       "line 2: parent account:missing does not exist (import needs parents"},
      {std::string(R"({"kind":"subject","type":"user","id":"u","attributes":{"a":)") +
           std::string(40, '[') + std::string(40, ']') + "}}",
       "nested deeper than"},
      {std::string("{\"kind\":\"subject\",\"type\":\"user\",\"id\":\"\xff\"}"),
       "invalid JSON"},
  };
  for (const Case& c : cases) {
    const std::string text =
        std::string(R"({"kind":"resource","type":"account","id":"a"})") +
        "\n" + c.line + "\n";
    auto st = Import(*s, text);
    ASSERT_FALSE(st) << c.line;
    EXPECT_NE(st.error().message().find(c.expect), std::string::npos)
        << c.line << " -> " << st.error().message();
  }
  // Truncated input at every length never crashes and never succeeds
  // partially within its batch.
  const std::string full =
      R"({"kind":"binding","subject":"user:alice","resource":"account:a","roles":["account_administrator"]})";
  for (size_t n = 0; n < full.size(); ++n) {
    auto r = ParseJsonlRecord(std::string_view(full.data(), n));
    EXPECT_FALSE(r) << n;
  }
  EXPECT_TRUE(ParseJsonlRecord(full));
}

}  // namespace
}  // namespace portcullis::storage
