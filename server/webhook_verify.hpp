#pragma once
// `parley webhook-verify --secret-file F [--tolerance SECONDS]`: reads one
// HTTP request as a receiver got it (request line, headers, blank line, body)
// on stdin and checks its Parley-Signature (protocol §9.8) against the body
// with the secret, within the tolerance (5 minutes by default), and that
// Parley-Event-Id is the body's id.
#include <istream>
#include <ostream>
#include <string>
#include <vector>

namespace parley {

// `args` are the words after "webhook-verify". Exit status: 0 when the request
// is signed (`ok <event id>` on `out`), 1 when it is not (the reason on `err`),
// 2 for bad usage or a secret file that cannot be read.
int webhook_verify_command(const std::vector<std::string>& args, std::istream& in, std::ostream& out,
                           std::ostream& err, std::int64_t now_s);

}  // namespace parley
