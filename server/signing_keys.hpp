#pragma once
// The keys of the signed decision log (protocol §9.11): the one that signs
// new records and the retired ones that still verify old records.
#include "protocol/signing.hpp"
#include "server/config.hpp"

#include <memory>

namespace parley {

struct signing_keys {
  std::shared_ptr<const ed25519_key> signer;
  key_set keys;  // the signer's public key first, then every verify key
};

// Loads --signing-key-file and each --verify-key-file. Without a signing key
// file, a development server uses <data-dir>/dev-signing-key.pem (made once,
// mode 0600) and any other server refuses to start. Throws
// std::runtime_error with one line naming the file or option at fault.
signing_keys load_signing_keys(const config& cfg, bool dev);

}  // namespace parley
