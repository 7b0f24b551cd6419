#include "service/common/api_keys.h"

#include "gtest/gtest.h"

namespace gemma {
namespace {

constexpr char kFile[] = R"(# security tools
sk-0123456789abcdef  soc-team
sk-fedcba9876543210  *

)";

TEST(ApiKeysTest, BoundAndUnboundKeys) {
  auto keys = ApiKeys::Parse(kFile);
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)->size(), 2u);
  auto bound = (*keys)->Check("sk-0123456789abcdef");
  ASSERT_TRUE(bound.ok());
  EXPECT_EQ(bound->tenant, "soc-team");
  auto unbound = (*keys)->Check("sk-fedcba9876543210");
  ASSERT_TRUE(unbound.ok());
  EXPECT_FALSE(unbound->tenant.has_value());
}

TEST(ApiKeysTest, MissingOrUnknownKeysAreUnauthenticatedWithoutEchoingThem) {
  auto keys = ApiKeys::Parse(kFile);
  ASSERT_TRUE(keys.ok());
  absl::StatusOr<Caller> missing = (*keys)->Check("");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(missing.status().message().find("x-api-key"), std::string::npos);
  for (const std::string& wrong : {"sk-0123456789abcdeF", "sk-0123456789abcde", "sk-0123456789abcdef0"}) {
    absl::StatusOr<Caller> caller = (*keys)->Check(wrong);
    EXPECT_EQ(caller.status().code(), absl::StatusCode::kUnauthenticated) << wrong;
    EXPECT_EQ(caller.status().message().find(wrong), std::string::npos);
  }
}

TEST(ApiKeysTest, BadFilesNameTheLine) {
  for (const std::string& bad : {std::string("short *\n"), std::string("sk-0123456789abcdef\n"),
                                 std::string("sk-0123456789abcdef bad/tenant\n"),
                                 std::string("sk-0123456789abcdef a\nsk-0123456789abcdef b\n")}) {
    auto keys = ApiKeys::Parse(bad);
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(keys.status().message().find("line"), std::string::npos) << bad;
  }
  EXPECT_EQ(ApiKeys::Parse("# nothing\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ApiKeys::Load("/nonexistent/keys").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace gemma
