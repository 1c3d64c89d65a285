// Boost.JSON is header-only here (Debian ships no compiled library for it):
// its implementation is compiled once, in this file.
#include <boost/json/src.hpp>
