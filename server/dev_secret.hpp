#pragma once
// In development mode (--dev) without a configured secret, the server makes a secret and prints
// sign-in tokens for a demo engagement, so that a newcomer can use it at once.
#include <filesystem>
#include <ostream>
#include <string>

namespace parley {

// The secret in <data_dir>/dev-secret, made (random, mode 0600) when missing.
// Throws std::runtime_error when it can neither be read nor written.
std::string load_or_create_dev_secret(const std::filesystem::path& data_dir);

// Prints links with tokens for a client, an expert, a support user and a bot of engagement "demo".
void print_demo_tokens(std::ostream& out, const std::string& base_url, const std::string& secret);

}  // namespace parley
