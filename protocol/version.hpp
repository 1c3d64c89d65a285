#pragma once
namespace parley {
// The server's release: shown only with --expose-version (nothing to fingerprint)
// and by --version. The one place it is written: CMakeLists.txt reads it for
// the project and the Debian package (parley_<version>_amd64.deb).
inline constexpr const char* version = "0.1.0";
// The wire protocol's version (PROTOCOL.md), always in the hello reply so
// that a client can tell which additions it may use.
inline constexpr const char* protocol_version = "1.1";
}  // namespace parley
