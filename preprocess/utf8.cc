#include "preprocess/utf8.h"

namespace gemma {
namespace {

constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Allowed range of the second byte after `lead` (Unicode Table 3-7); later bytes are 80..BF.
void SecondByteRange(unsigned char lead, unsigned char* low, unsigned char* high) {
  *low = 0x80;
  *high = 0xBF;
  if (lead == 0xE0) *low = 0xA0;
  if (lead == 0xED) *high = 0x9F;
  if (lead == 0xF0) *low = 0x90;
  if (lead == 0xF4) *high = 0x8F;
}

}  // namespace

size_t WellFormedLength(absl::string_view text, size_t i) {
  const unsigned char lead = static_cast<unsigned char>(text[i]);
  const size_t length = Utf8SequenceLength(lead);
  if (length == 1 || text.size() - i < length) return 1;
  unsigned char low, high;
  SecondByteRange(lead, &low, &high);
  for (size_t j = i + 1; j < i + length; ++j) {
    const unsigned char byte = static_cast<unsigned char>(text[j]);
    if (byte < low || byte > high) return 1;
    low = 0x80;
    high = 0xBF;
  }
  return length;
}

size_t AppendUtf8(absl::string_view bytes, bool final, std::string* out) {
  size_t i = 0;
  const size_t n = bytes.size();
  while (i < n) {
    const unsigned char lead = static_cast<unsigned char>(bytes[i]);
    if (lead < 0x80) {
      // Copy the ASCII run at once.
      size_t end = i + 1;
      while (end < n && static_cast<unsigned char>(bytes[end]) < 0x80) ++end;
      out->append(bytes.data() + i, end - i);
      i = end;
      continue;
    }
    const size_t length = Utf8SequenceLength(lead);
    if (length == 1) {
      out->append(kReplacement.data(), kReplacement.size());
      ++i;
      continue;
    }
    unsigned char low, high;
    SecondByteRange(lead, &low, &high);
    size_t j = i + 1;
    bool ill_formed = false;
    while (j < i + length) {
      if (j == n) break;  // Ran out of bytes mid-character.
      const unsigned char byte = static_cast<unsigned char>(bytes[j]);
      if (byte < low || byte > high) {
        ill_formed = true;
        break;
      }
      low = 0x80;
      high = 0xBF;
      ++j;
    }
    if (!ill_formed && j == i + length) {
      out->append(bytes.data() + i, length);
    } else if (!ill_formed && !final) {
      return i;  // Incomplete tail: wait for more bytes.
    } else {
      out->append(kReplacement.data(), kReplacement.size());
    }
    i = j;
  }
  return n;
}

}  // namespace gemma
