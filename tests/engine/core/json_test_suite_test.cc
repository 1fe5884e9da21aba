// JSONTestSuite (MIT; fetched by `make deps` into build/testdata/JSONTestSuite, see
// tools/testdata/fetch.sh) as an outside check of the parser behind the record law. The
// suite's 25 documents that are not UTF-8 do not survive its npm packaging; the last tests
// here hold the parser to the same kinds of bytes, written out by us. Each document is embedded in a record as attrs ({"doc": DOC}) and as attrs
// itself. Every n_ document must be rejected; every y_ document accepted unless the record law
// forbids it (the table below names each such file and why); i_ documents must not crash.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "engine/core/canonical.h"
#include "tests/test_util.h"

namespace ron {
namespace {

namespace fs = std::filesystem;

std::string HexOf(const std::string& bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// y_ documents the record law rejects, with the rule that does it.
const std::map<std::string, Code>& LawRejects() {
  static const std::map<std::string, Code> kRejects = {
      // duplicate keys → Schema
      {"y_object_duplicated_key.json", Code::kSchema},
      {"y_object_duplicated_key_and_value.json", Code::kSchema},
      // numbers with a fraction or exponent → Float
      {"y_number.json", Code::kFloat},
      {"y_number_0e+1.json", Code::kFloat},
      {"y_number_0e1.json", Code::kFloat},
      {"y_number_double_close_to_zero.json", Code::kFloat},
      {"y_number_int_with_exp.json", Code::kFloat},
      {"y_number_real_capital_e.json", Code::kFloat},
      {"y_number_real_capital_e_neg_exp.json", Code::kFloat},
      {"y_number_real_capital_e_pos_exp.json", Code::kFloat},
      {"y_number_real_exponent.json", Code::kFloat},
      {"y_number_real_fraction_exponent.json", Code::kFloat},
      {"y_number_real_neg_exp.json", Code::kFloat},
      {"y_number_real_pos_exponent.json", Code::kFloat},
      {"y_number_simple_real.json", Code::kFloat},
      {"y_object_extreme_numbers.json", Code::kFloat},
      {"y_structure_lonely_negative_real.json", Code::kFloat},
      // an integer below int64's range → Schema
      {"y_number_very_big_negative_int.json", Code::kSchema},
  };
  return kRejects;
}

class JsonTestSuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TestDataDir() + "/JSONTestSuite/test_parsing";
    ASSERT_TRUE(fs::is_directory(dir_)) << "missing " << dir_ << " (set RON_TESTDATA_DIR)";
  }
  // Code of the record with `doc` embedded as {"doc": DOC}.
  Code Embedded(const std::string& doc) {
    return canonicalizer_
        .Canonicalize(testing::RecordJson(1, "b3:0", "{\"doc\":" + doc + "}"), &record_)
        .code();
  }
  Code AsAttrs(const std::string& doc) {
    return canonicalizer_.Canonicalize(testing::RecordJson(1, "b3:0", doc), &record_).code();
  }
  template <typename Fn>
  int ForEach(const std::string& prefix, Fn fn) {
    int count = 0;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(prefix, 0) != 0) continue;
      fn(name, testing::ReadFile(entry.path().string()));
      ++count;
    }
    return count;
  }

  std::string dir_;
  Canonicalizer canonicalizer_;
  CanonicalRecord record_;
};

TEST_F(JsonTestSuiteTest, EveryInvalidDocumentIsRejected) {
  const int count = ForEach("n_", [&](const std::string& name, const std::string& doc) {
    EXPECT_NE(Embedded(doc), Code::kOk) << name;
    EXPECT_NE(AsAttrs(doc), Code::kOk) << name;
  });
  EXPECT_GT(count, 150);
}

TEST_F(JsonTestSuiteTest, EveryValidDocumentIsAcceptedUnlessTheLawForbidsIt) {
  const auto& rejects = LawRejects();
  const int count = ForEach("y_", [&](const std::string& name, const std::string& doc) {
    const auto it = rejects.find(name);
    const Code expected = it == rejects.end() ? Code::kOk : it->second;
    EXPECT_EQ(CodeName(Embedded(doc)), CodeName(expected)) << name;
    // As attrs itself, only objects qualify.
    const Code as_attrs = AsAttrs(doc);
    if (as_attrs != expected) {
      EXPECT_EQ(as_attrs, Code::kSchema) << name;
    }
  });
  EXPECT_GT(count, 90);
}

TEST_F(JsonTestSuiteTest, ImplementationDefinedDocumentsGetALawCode) {
  const int count = ForEach("i_", [&](const std::string& name, const std::string& doc) {
    const Code code = Embedded(doc);
    EXPECT_TRUE(code == Code::kOk || code == Code::kSchema || code == Code::kFloat ||
                code == Code::kUtf8)
        << name << " " << CodeName(code);
  });
  EXPECT_GT(count, 20);
}

TEST_F(JsonTestSuiteTest, SurrogateEscapesAreUtf8) {
  // Spot checks of i_ files whose outcome the law does define.
  for (const char* name : {"i_string_1st_surrogate_but_2nd_missing.json",
                           "i_string_incomplete_surrogate_and_escape_valid.json",
                           "i_string_invalid_lonely_surrogate.json",
                           "i_string_lone_second_surrogate.json"}) {
    const std::string path = dir_ + "/" + name;
    ASSERT_TRUE(fs::exists(path)) << path;
    EXPECT_EQ(CodeName(Embedded(testing::ReadFile(path))), "Utf8") << name;
  }
}

// The kinds of document the suite holds that are not UTF-8 (and so are missing from its npm
// packaging): bytes that are no UTF-8 inside a string are Utf8; outside a string, or a
// document in UTF-16, nothing is accepted.
TEST_F(JsonTestSuiteTest, BytesThatAreNotUtf8AreNeverAccepted) {
  const std::string in_strings[] = {
      "\xff",                      // invalid byte
      "\xe9",                      // ISO Latin-1
      "\x81",                      // lone continuation byte
      "\xc0\xaf",                  // overlong, 2 bytes
      "\xfc\x83\xbf\xbf\xbf\xbf",  // overlong, 6 bytes
      "\xfc\x80\x80\x80\x80\x80",  // overlong NUL, 6 bytes
      "\xed\xa0\x80",              // surrogate U+D800 encoded
      "\xf4\xbf\xbf\xbf",          // beyond U+10FFFF
      "\xe0\xff",                  // truncated sequence
      "\xe6\x97\xa5\xd1\x88\xfa",  // valid characters, then an invalid byte
  };
  for (const std::string& bytes : in_strings) {
    EXPECT_EQ(CodeName(Embedded("[\"" + bytes + "\"]")), "Utf8") << HexOf(bytes);
    EXPECT_EQ(CodeName(AsAttrs("{\"" + bytes + "\":1}")), "Utf8") << HexOf(bytes);
  }
  const std::string elsewhere[] = {
      "[\xff]", "[a\xe5]", "[123\xe5]", "[1e1\xe5]", "[0\xe5]\n", "[1e\xe5]",
      "{\"\xb9\":\"0\",}", "[\"\\u\xe5\"]", "[\"\\\xe5\"]", "\xef\xbb{}", "\xe5", "\xe9",
      std::string("\xff\xfe[\0\"\0\xe9\0\"\0]\0", 12),  // UTF-16LE with a BOM
      std::string("[\0\"\0\xe9\0\"\0]\0", 10),          // UTF-16LE
      std::string("\0[\0\"\0\xe9\0\"\0]", 10),          // UTF-16BE
  };
  for (const std::string& doc : elsewhere) {
    EXPECT_NE(Embedded(doc), Code::kOk) << HexOf(doc);
    EXPECT_NE(AsAttrs(doc), Code::kOk) << HexOf(doc);
  }
}

}  // namespace
}  // namespace ron
