// Parses the "fits on" lines of `shrink-rt inspect` (runtime/tools/shrink_rt_main.cc, docs/mcu.md):
//   fits on Cortex-M4 128 KB flash / 64 KB RAM: no (estimate: flash 501036 = file 437440 +
//   firmware 63596, RAM 30520 = Cortex-M4 arena 14463 + decoded 0 + firmware 16057 bytes; ...)
//
//   FitsLine f = fits_line(out, "Cortex-M4 128 KB flash / 64 KB RAM");
//   EXPECT_EQ(f.flash, f.file + f.fw_flash);
#pragma once
#include <cstdio>
#include <string>

namespace shrink::test {

struct FitsLine {
  bool found = false;
  std::string verdict;  ///< "yes" / "no"
  unsigned long long flash = 0, file = 0, fw_flash = 0, ram = 0, arena = 0, decoded = 0, fw_ram = 0;
};

/// The "fits on <target>: ..." line of an inspect output (found false when absent or malformed).
inline FitsLine fits_line(const std::string& out, const std::string& target) {
  FitsLine f;
  const std::string key = "fits on " + target + ": ";
  const size_t at = out.find(key);
  if (at == std::string::npos) return f;
  const std::string line = out.substr(at + key.size(), out.find('\n', at) - at - key.size());
  char verdict[8] = {0};
  f.found = std::sscanf(line.c_str(),
                        "%3s (estimate: flash %llu = file %llu + firmware %llu, RAM %llu = Cortex-M4 arena %llu + "
                        "decoded %llu + firmware %llu bytes",
                        verdict, &f.flash, &f.file, &f.fw_flash, &f.ram, &f.arena, &f.decoded, &f.fw_ram) == 8;
  f.verdict = verdict;
  return f;
}

}  // namespace shrink::test
