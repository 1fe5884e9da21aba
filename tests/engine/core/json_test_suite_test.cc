// JSONTestSuite (../shared/testdata/JSONTestSuite, MIT) as an outside check of the parser behind
// the record law. Each document is embedded in a record as attrs ({"doc": DOC}) and as attrs
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
  EXPECT_GT(count, 30);
}

TEST_F(JsonTestSuiteTest, SurrogateAndEncodingCasesAreUtf8) {
  // Spot checks of i_ files whose outcome the law does define.
  for (const char* name :
       {"i_string_1st_surrogate_but_2nd_missing.json",
        "i_string_incomplete_surrogate_and_escape_valid.json",
        "i_string_invalid_lonely_surrogate.json", "i_string_invalid_utf-8.json",
        "i_string_lone_second_surrogate.json", "i_string_UTF-8_invalid_sequence.json"}) {
    const std::string path = dir_ + "/" + name;
    if (!fs::exists(path)) continue;
    EXPECT_EQ(CodeName(Embedded(testing::ReadFile(path))), "Utf8") << name;
  }
}

}  // namespace
}  // namespace ron
