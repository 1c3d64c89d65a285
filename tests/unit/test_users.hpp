#pragma once
// The people of engagement "42" in the rule tests, and the clock they start at.
#include "protocol/user.hpp"

#include <cstdint>

namespace parley::test_users {

inline const user client{"c1", "Carla", user_role::client};
inline const user client2{"c2", "Chris", user_role::client};
inline const user expert{"e1", "Eve", user_role::expert};
inline const user support_user{"s1", "Sam", user_role::support};
inline const user bot{"b1", "CI bot", user_role::bot};
inline const user service{"platform", "", user_role::service};

inline constexpr std::int64_t t0 = 1'764'000'000'000;

}  // namespace parley::test_users
