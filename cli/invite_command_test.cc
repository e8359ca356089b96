// The contacts CSV reader of `portcullis invite`, on exports as Outlook and
// Google Contacts write them (cli/testdata/contacts_*.csv).
#include "cli/invite_command.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace portcullis::cli {
namespace {

std::string ReadFixture(const std::string& name) {
  std::ifstream in(std::string(PORTCULLIS_CLI_TESTDATA) + "/" + name,
                   std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ParseCsv, QuotesCommasAndLineBreaks) {
  auto rows = ParseCsv("a,\"b,c\",\"d \"\"e\"\"\"\r\n\"x\ny\",,z\n");
  ASSERT_TRUE(rows.has_value()) << rows.error().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0], (std::vector<std::string>{"a", "b,c", "d \"e\""}));
  EXPECT_EQ((*rows)[1], (std::vector<std::string>{"x\ny", "", "z"}));
}

TEST(ParseCsv, ErrorsNameTheLine) {
  auto open = ParseCsv("a,b\nc,\"never closed\n");
  ASSERT_FALSE(open.has_value());
  EXPECT_NE(open.error().message().find("line 2"), std::string::npos)
      << open.error().message();
  auto stray = ParseCsv("a,b\nc,d\"e\n");
  ASSERT_FALSE(stray.has_value());
  EXPECT_NE(stray.error().message().find("line 2"), std::string::npos);
  auto after = ParseCsv("\"a\"b,c\n");
  ASSERT_FALSE(after.has_value());
}

TEST(ParseContactsCsv, OutlookExport) {
  auto list = ParseContactsCsv(ReadFixture("contacts_outlook.csv"));
  ASSERT_TRUE(list.has_value()) << list.error().message();
  EXPECT_EQ(list->email_column, "E-mail Address");
  ASSERT_EQ(list->contacts.size(), 3u);
  EXPECT_EQ(list->contacts[0].email, "yan.li@example.com");
  EXPECT_EQ(list->contacts[0].name, "Yan Li");
  EXPECT_EQ(list->contacts[0].line, 2u);
  EXPECT_EQ(list->contacts[1].email, "greta@example.org");
  EXPECT_EQ(list->contacts[1].name, "Greta Olsen, PhD");
  EXPECT_EQ(list->contacts[2].email, "multi@example.net");
  EXPECT_EQ(list->contacts[2].line, 7u);
  ASSERT_EQ(list->skipped.size(), 3u);
  EXPECT_EQ(list->skipped[0].line, 4u);
  EXPECT_EQ(list->skipped[0].reason, "no e-mail address");
  EXPECT_EQ(list->skipped[1].reason, "not an e-mail address: not-an-address");
  EXPECT_EQ(list->skipped[2].line, 6u);
  EXPECT_NE(list->skipped[2].reason.find("listed earlier"), std::string::npos);
}

TEST(ParseContactsCsv, GoogleExport) {
  auto list = ParseContactsCsv(ReadFixture("contacts_google.csv"));
  ASSERT_TRUE(list.has_value()) << list.error().message();
  EXPECT_EQ(list->email_column, "E-mail 1 - Value");
  ASSERT_EQ(list->contacts.size(), 2u);
  EXPECT_EQ(list->contacts[0].email, "ada@example.com");
  EXPECT_EQ(list->contacts[0].name, "Ada Lovelace");
  EXPECT_EQ(list->contacts[1].email, "alan@example.org");  // "Name <addr>"
}

TEST(ParseContactsCsv, SemicolonsAndByteOrderMark) {
  auto list = ParseContactsCsv(ReadFixture("contacts_semicolon.csv"));
  ASSERT_TRUE(list.has_value()) << list.error().message();
  EXPECT_EQ(list->email_column, "Email Address");
  ASSERT_EQ(list->contacts.size(), 1u);
  EXPECT_EQ(list->contacts[0].email, "bob@example.com");
  EXPECT_EQ(list->contacts[0].name, "Bob");
}

TEST(ParseContactsCsv, PlainEmailHeaderVariants) {
  for (const char* header : {"Email", "E-mail", "email", "E-Mail Address"}) {
    auto list = ParseContactsCsv(std::string(header) + "\nx@y.org\n");
    ASSERT_TRUE(list.has_value()) << header;
    ASSERT_EQ(list->contacts.size(), 1u) << header;
  }
}

TEST(ParseContactsCsv, NoEmailColumnListsTheHeaders) {
  auto list = ParseContactsCsv(ReadFixture("contacts_no_email.csv"));
  ASSERT_FALSE(list.has_value());
  EXPECT_NE(list.error().message().find("found: Name, Phone"),
            std::string::npos)
      << list.error().message();
  EXPECT_FALSE(ParseContactsCsv("").has_value());
}

TEST(LooksLikeEmail, Cases) {
  EXPECT_TRUE(LooksLikeEmail("a@b.co"));
  EXPECT_TRUE(LooksLikeEmail("first.last+tag@sub.example.org"));
  EXPECT_FALSE(LooksLikeEmail("a@b"));
  EXPECT_FALSE(LooksLikeEmail("@b.co"));
  EXPECT_FALSE(LooksLikeEmail("a@@b.co"));
  EXPECT_FALSE(LooksLikeEmail("a b@c.de"));
  EXPECT_FALSE(LooksLikeEmail("a@b.co."));
}

TEST(HttpPost, RefusesNonHttpUrlsAndReportsConnectionFailures) {
  auto https = HttpPost("https://example.org/x", "", "{}");
  ASSERT_FALSE(https.has_value());
  EXPECT_EQ(https.error().field(), "server");
  // Port 1 on loopback: nothing listens there.
  auto refused = HttpPost("http://127.0.0.1:1/v1", "", "{}");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace portcullis::cli
