// The trained slimmable members shipped in models/ (resnet8-slim-s*.shoal), sorted by name:
// tests take them by position, so retrained members replace the old ones without a change here.
#ifndef SHOAL_TESTS_SHIPPED_MEMBERS_H_
#define SHOAL_TESTS_SHIPPED_MEMBERS_H_

#include <glob.h>

#include <string>
#include <vector>

namespace shoal::testing {

inline std::vector<std::string> shipped_members() {
  std::vector<std::string> files;
  glob_t found{};
  if (glob(SHOAL_SOURCE_DIR "/models/resnet8-slim-s*.shoal", 0, nullptr, &found) == 0) {
    for (size_t i = 0; i < found.gl_pathc; ++i) files.push_back(found.gl_pathv[i]);  // glob sorts
  }
  globfree(&found);
  return files;
}

}  // namespace shoal::testing

#endif  // SHOAL_TESTS_SHIPPED_MEMBERS_H_
