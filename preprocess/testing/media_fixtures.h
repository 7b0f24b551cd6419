// Small encoded media for tests, written by hand so the bytes are exactly known.
#ifndef GEMMA_PREPROCESS_TESTING_MEDIA_FIXTURES_H_
#define GEMMA_PREPROCESS_TESTING_MEDIA_FIXTURES_H_

#include <zlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gemma::testing {

inline std::string BigEndian32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

inline std::string LittleEndian(uint32_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
  return s;
}

// One PNG chunk: length, type, data, CRC.
inline std::string PngChunk(const std::string& type, const std::string& data) {
  const std::string body = type + data;
  return BigEndian32(data.size()) + body +
         BigEndian32(crc32(0, reinterpret_cast<const Bytef*>(body.data()), body.size()));
}

inline std::string PngHeader(uint32_t width, uint32_t height) {
  return std::string("\x89PNG\r\n\x1a\n", 8) +
         PngChunk("IHDR", BigEndian32(width) + BigEndian32(height) +
                              std::string("\x08\x02\x00\x00\x00", 5));  // 8-bit RGB.
}

// An 8-bit RGB PNG of `pixels` (height rows of width * 3 bytes).
inline std::string Png(int width, int height, const std::vector<uint8_t>& pixels) {
  std::string raw;
  for (int y = 0; y < height; ++y) {
    raw.push_back(0);  // Filter: none.
    raw.append(reinterpret_cast<const char*>(pixels.data()) + y * width * 3, width * 3);
  }
  uLongf size = compressBound(raw.size());
  std::string compressed(size, '\0');
  compress(reinterpret_cast<Bytef*>(&compressed[0]), &size,
           reinterpret_cast<const Bytef*>(raw.data()), raw.size());
  compressed.resize(size);
  return PngHeader(width, height) + PngChunk("IDAT", compressed) + PngChunk("IEND", "");
}

// A canonical WAV: format 1 (PCM, 16-bit samples) or 3 (IEEE float, 32-bit).
inline std::string Wav(int rate, int channels, int format, const std::string& data) {
  const int bits = format == 1 ? 16 : 32;
  const std::string fmt = LittleEndian(format, 2) + LittleEndian(channels, 2) +
                          LittleEndian(rate, 4) + LittleEndian(rate * channels * bits / 8, 4) +
                          LittleEndian(channels * bits / 8, 2) + LittleEndian(bits, 2);
  const std::string body = "WAVEfmt " + LittleEndian(16, 4) + fmt + "data" +
                           LittleEndian(data.size(), 4) + data;
  return "RIFF" + LittleEndian(body.size(), 4) + body;
}

inline std::string Pcm16(const std::vector<int16_t>& samples) {
  return std::string(reinterpret_cast<const char*>(samples.data()), samples.size() * 2);
}

}  // namespace gemma::testing

#endif  // GEMMA_PREPROCESS_TESTING_MEDIA_FIXTURES_H_
