#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "shrink_rt.h"

TEST(RuntimeStatus, EveryCodeHasADistinctName) {
  const shrink_rt_status all[] = {SHRINK_RT_OK, SHRINK_RT_INVALID_ARGUMENT, SHRINK_RT_UNSUPPORTED,
                                  SHRINK_RT_OUT_OF_MEMORY, SHRINK_RT_CORRUPT_MODEL};
  for (size_t i = 0; i < 5; ++i)
    for (size_t j = i + 1; j < 5; ++j)
      EXPECT_STRNE(shrink_rt_status_str(all[i]), shrink_rt_status_str(all[j]));
  EXPECT_STREQ(shrink_rt_status_str(SHRINK_RT_CORRUPT_MODEL), "corrupt model");
}

TEST(RuntimeStatus, VersionMatchesTheProject) {
  EXPECT_EQ(std::string(shrink_rt_version()), SHRINK_VERSION);
}
