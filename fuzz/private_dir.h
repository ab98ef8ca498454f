// A fuzz target's private folder for the files it writes per input: made once, under /dev/shm
// when it exists (a file write per input costs no disk I/O), removed with the named files when
// the process exits normally (a crash leaves it, next to the crashing input).
//
//   const std::string& dir = fuzz::private_dir("shrink_h5_fuzz", {"model.h5", "again.h5"});
#pragma once
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace fuzz {

/// The folder, made at the first call (`tag` names it; later calls return the same folder).
inline const std::string& private_dir(const char* tag, std::initializer_list<const char*> files) {
  struct Dir {
    std::string path;
    std::vector<std::string> files;
    ~Dir() {
      for (const std::string& f : files) std::remove((path + "/" + f).c_str());
      std::remove(path.c_str());
    }
  };
  static const Dir dir = [&] {
    std::string tmpl = std::string(access("/dev/shm", W_OK) == 0 ? "/dev/shm/" : "/tmp/") + tag + "_XXXXXX";
    if (!mkdtemp(tmpl.data())) std::abort();
    return Dir{tmpl, std::vector<std::string>(files.begin(), files.end())};
  }();
  return dir.path;
}

}  // namespace fuzz
