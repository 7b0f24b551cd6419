#include "service/common/api_keys.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace gemma {
namespace {

bool ValidTenant(absl::string_view tenant) {
  if (tenant.empty() || tenant.size() > 64) return false;
  for (char c : tenant) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != ':' && c != '-') return false;
  }
  return true;
}

bool ValidKey(absl::string_view key) {
  if (key.size() < 16 || key.size() > 256) return false;
  for (char c : key) {
    if (c <= ' ' || c > '~') return false;
  }
  return true;
}

// Equal, in time that depends on the lengths only.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

std::string Metadata(const grpc::ServerContext& context, const char* name) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(name);
  return it == metadata.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

absl::StatusOr<std::unique_ptr<ApiKeys>> ApiKeys::Parse(const std::string& text) {
  auto keys = std::unique_ptr<ApiKeys>(new ApiKeys());
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (fields.size() != 2 || !ValidKey(fields[0]) ||
        (fields[1] != "*" && !ValidTenant(fields[1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "API keys line ", number,
          ": expected \"<key of 16..256 printable characters> <tenant or *>\""));
    }
    for (const Entry& entry : keys->keys_) {
      if (entry.key == fields[0]) {
        return absl::InvalidArgumentError(absl::StrCat("API keys line ", number, ": duplicate key"));
      }
    }
    Entry entry{std::string(fields[0]), std::nullopt};
    if (fields[1] != "*") entry.tenant = std::string(fields[1]);
    keys->keys_.push_back(std::move(entry));
  }
  if (keys->keys_.empty()) return absl::InvalidArgumentError("API keys file: no keys");
  return keys;
}

absl::StatusOr<std::unique_ptr<ApiKeys>> ApiKeys::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read API keys file ", path));
  std::stringstream text;
  text << in.rdbuf();
  return Parse(text.str());
}

absl::StatusOr<Caller> ApiKeys::Check(const std::string& key) const {
  if (key.empty()) {
    return absl::UnauthenticatedError(
        "missing API key (metadata \"authorization: Bearer <key>\" or \"x-api-key: <key>\")");
  }
  const Entry* found = nullptr;
  for (const Entry& entry : keys_) {  // Every key compared: no early exit.
    if (ConstantTimeEquals(entry.key, key)) found = &entry;
  }
  if (found == nullptr) return absl::UnauthenticatedError("unknown API key");
  return Caller{found->tenant};
}

absl::StatusOr<Caller> ApiKeys::Authenticate(const grpc::ServerContext& context) const {
  std::string key = Metadata(context, "x-api-key");
  if (key.empty()) {
    const std::string authorization = Metadata(context, "authorization");
    if (absl::StartsWithIgnoreCase(authorization, "bearer ")) {
      key = std::string(absl::StripAsciiWhitespace(authorization.substr(7)));
    }
  }
  return Check(key);
}

}  // namespace gemma
