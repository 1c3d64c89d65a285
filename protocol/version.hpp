#pragma once
namespace parley {
inline constexpr const char* version = "0.1.0";
}
